"""Google Ads `customers/{id}:uploadClickConversions`.

What Google checks: docs/platforms.md, Google Ads: click conversions.

`partialFailure` must be true; each bad row gets its own error in
`partialFailureError` and an empty result, the good rows are recorded. With
`validateOnly` every row is checked the same way but nothing is recorded, and the answer
carries only the errors (no results, no job id). `order_id`
is the idempotency key: a resend answers ORDER_ID_ALREADY_IN_USE, as Google does.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Response

from usher.sandbox.google_common import (
    GOOGLE,
    AdsError,
    AdsFailure,
    BadRequestFailure,
    camel_keys,
    int64,
    partial_failure_error,
)
from usher.sandbox.platform import Call, json_response
from usher.sandbox.state import SandboxState
from usher.sandbox.validation import is_number, is_one_of, is_sha256

MAX_CONVERSIONS_PER_REQUEST = 2000
MAX_USER_IDENTIFIERS = 5
# The longest click-through lookback Google allows is 90 days.
CONVERSION_MAX_AGE_SECONDS = 90 * 24 * 3600
CONVERSION_FUTURE_TOLERANCE_SECONDS = 60
MAX_JOB_ID = 2**31
CLICK_ID = re.compile(r"^[A-Za-z0-9_-]{10,}$")
CONVERSION_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$")
CONSENT_VALUES = frozenset({"UNSPECIFIED", "UNKNOWN", "GRANTED", "DENIED"})
CONVERSION_ENVIRONMENTS = frozenset({"UNSPECIFIED", "UNKNOWN", "APP", "WEB"})
SUPPORTED_IDENTIFIERS = frozenset({"hashed_email", "hashed_phone_number"})


def conversion_timestamp(text: str) -> float:
    """Unix seconds of "yyyy-mm-dd hh:mm:ss[.ffffff]+hh:mm" (fractions ignored)."""
    return datetime.strptime(text[:19] + text[-6:], "%Y-%m-%d %H:%M:%S%z").timestamp()


def upload_click_conversions(state: SandboxState, call: Call) -> Response:
    """customers/{cid}:uploadClickConversions: per-row errors with partialFailure."""
    version = call.params["version"]
    body = call.body if isinstance(call.body, dict) else {}
    customer_id = call.account or ""
    try:
        conversions = _check_request(body)
        _check_types(conversions)
    except AdsFailure as failure:
        return failure.response(version)
    except BadRequestFailure as failure:
        return failure.response()
    now = state.now()
    registered = state.account(GOOGLE, customer_id)
    actions = registered.settings.get("conversion_actions") if registered else None
    seen_orders: set[tuple[str, str]] = set()
    results: list[dict[str, Any]] = []
    errors: list[AdsError] = []
    accepted: list[tuple[dict[str, Any], str, float]] = []
    for index, conversion in enumerate(conversions):
        problem = _check_conversion(
            state, customer_id, conversion, index, now, actions, seen_orders
        )
        if problem is not None:
            errors.append(problem)
            results.append({})
            continue
        action_id = conversion["conversion_action"].rsplit("/", 1)[1]
        when = conversion_timestamp(conversion["conversion_date_time"])
        accepted.append((conversion, action_id, when))
        keep = (
            "gclid",
            "gbraid",
            "wbraid",
            "conversion_action",
            "conversion_date_time",
            "user_identifiers",
        )
        results.append(camel_keys({key: conversion[key] for key in keep if key in conversion}))
    if body.get("validate_only"):
        # Validated, not executed: nothing recorded, and Google answers only the errors.
        answer: dict[str, Any] = {}
    else:
        for conversion, action_id, when in accepted:
            _remember(state, customer_id, action_id, conversion)
            state.record_event(
                GOOGLE, customer_id, action_id, conversion.get("order_id"), when, conversion, None
            )
        job_id = int64(body.get("job_id")) or int(state.next_id(GOOGLE, 0))
        answer = {"results": results, "jobId": str(job_id)}
    if errors:
        answer["partialFailureError"] = partial_failure_error(version, errors)
    return json_response(answer)


def _check_request(body: dict[str, Any]) -> list[dict[str, Any]]:
    conversions = body.get("conversions")
    if not isinstance(conversions, list) or not conversions:
        raise AdsFailure(
            [
                AdsError(
                    "fieldError",
                    "REQUIRED_NONEMPTY_LIST",
                    "The field must contain at least one element.",
                    [("conversions", None)],
                )
            ]
        )
    if len(conversions) > MAX_CONVERSIONS_PER_REQUEST:
        raise AdsFailure(
            [
                AdsError(
                    "conversionUploadError",
                    "TOO_MANY_CONVERSIONS_IN_REQUEST",
                    f"Upload fewer than {MAX_CONVERSIONS_PER_REQUEST + 1} events in a single request.",
                    [("conversions", None)],
                )
            ]
        )
    if body.get("partial_failure") is not True:
        raise AdsFailure(
            [
                AdsError(
                    "partialFailureError",
                    "PARTIAL_FAILURE_MODE_REQUIRED",
                    "The partial failure field must be set to true.",
                    [("partial_failure", None)],
                )
            ]
        )
    job_id = body.get("job_id")
    if job_id is not None and not (int64(job_id) is not None and 0 < int64(job_id) < MAX_JOB_ID):
        raise AdsFailure(
            [
                AdsError(
                    "conversionUploadError",
                    "INVALID_JOB_ID",
                    "A job ID must be a positive integer in the range [1, 2^31).",
                    [("job_id", None)],
                )
            ]
        )
    return conversions


def _check_types(conversions: list[Any]) -> None:
    """Wrong JSON types fail the whole request, as Google's JSON parser does."""
    violations: list[tuple[str, str]] = []
    for index, conversion in enumerate(conversions):
        where = f"conversions[{index}]"
        if not isinstance(conversion, dict):
            violations.append(
                (
                    where,
                    f"Invalid value at '{where}' (type.googleapis.com/google.ads.googleads.v25.services.ClickConversion), not an object",
                )
            )
            continue
        for key in (
            "gclid",
            "gbraid",
            "wbraid",
            "conversion_action",
            "conversion_date_time",
            "currency_code",
            "order_id",
        ):
            if conversion.get(key) is not None and not isinstance(conversion[key], str):
                violations.append(
                    (
                        f"{where}.{key}",
                        f"Invalid value at '{where}.{key}' (TYPE_STRING), {conversion[key]!r}",
                    )
                )
        value = conversion.get("conversion_value")
        if value is not None and not is_number(value):
            violations.append(
                (
                    f"{where}.conversion_value",
                    f"Invalid value at '{where}.conversion_value' (TYPE_DOUBLE), {conversion['conversion_value']!r}",
                )
            )
        environment = conversion.get("conversion_environment")
        if environment is not None and not is_one_of(environment, CONVERSION_ENVIRONMENTS):
            violations.append(
                (
                    f"{where}.conversion_environment",
                    f"Invalid value at '{where}.conversion_environment' (type.googleapis.com/google.ads.googleads.v25.enums.ConversionEnvironmentEnum.ConversionEnvironment), {environment!r}",
                )
            )
        consent = conversion.get("consent", {})
        for key in ("ad_user_data", "ad_personalization"):
            value = consent.get(key) if isinstance(consent, dict) else None
            if value is not None and not is_one_of(value, CONSENT_VALUES):
                violations.append(
                    (
                        f"{where}.consent.{key}",
                        f"Invalid value at '{where}.consent.{key}' (type.googleapis.com/google.ads.googleads.v25.enums.ConsentStatusEnum.ConsentStatus), {value!r}",
                    )
                )
        identifiers = conversion.get("user_identifiers", [])
        if not isinstance(identifiers, list) or not all(
            isinstance(item, dict) for item in identifiers
        ):
            violations.append(
                (
                    f"{where}.user_identifiers",
                    f"Invalid value at '{where}.user_identifiers', expected a list of UserIdentifier objects",
                )
            )
    if violations:
        raise BadRequestFailure(violations)


def _check_conversion(
    state: SandboxState,
    customer_id: str,
    conversion: dict[str, Any],
    index: int,
    now: float,
    actions: list[str] | None,
    seen_orders: set[tuple[str, str]],
) -> AdsError | None:
    """The first per-row error Google would report for this conversion, or None."""

    def error(category: str, code: str, message: str, *fields: str) -> AdsError:
        return AdsError(
            category, code, message, [("conversions", index), *((f, None) for f in fields)]
        )

    click_ids = [key for key in ("gclid", "gbraid", "wbraid") if conversion.get(key)]
    identifiers = conversion.get("user_identifiers") or []
    if "gbraid" in click_ids and "wbraid" in click_ids:
        return error(
            "conversionUploadError",
            "GBRAID_WBRAID_BOTH_SET",
            "Can't use both gbraid and wbraid parameters.",
            "wbraid",
        )
    if len(click_ids) > 1:
        return error(
            "fieldError",
            "VALUE_MUST_BE_UNSET",
            "Set only one of gclid, gbraid and wbraid.",
            click_ids[1],
        )
    if not click_ids and not identifiers:
        return error(
            "fieldError",
            "REQUIRED",
            "A click id (gclid, gbraid or wbraid) or user identifiers are required.",
            "gclid",
        )
    for key in click_ids:
        if not CLICK_ID.match(conversion[key]):
            return error(
                "conversionUploadError",
                f"UNPARSEABLE_{key.upper()}",
                f"The imported {key} could not be decoded.",
                key,
            )
    action = conversion.get("conversion_action")
    if not action:
        return error(
            "fieldError", "REQUIRED", "The required field was not present.", "conversion_action"
        )
    found = re.fullmatch(r"customers/([0-9]+)/conversionActions/([0-9]+)", action)
    if not found:
        return error(
            "requestError",
            "RESOURCE_NAME_MALFORMED",
            "The resource name is malformed.",
            "conversion_action",
        )
    if actions is not None and found.group(2) not in {str(a) for a in actions}:
        return error(
            "conversionUploadError",
            "NO_CONVERSION_ACTION_FOUND",
            "The conversion action specified in the upload request cannot be found.",
            "conversion_action",
        )
    when_text = conversion.get("conversion_date_time")
    if not when_text:
        return error(
            "fieldError", "REQUIRED", "The required field was not present.", "conversion_date_time"
        )
    if not CONVERSION_DATE_TIME.match(when_text):
        return error(
            "dateError",
            "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET",
            "The string date time's format should be yyyy-mm-dd hh:mm:ss+|-hh:mm.",
            "conversion_date_time",
        )
    try:
        when = conversion_timestamp(when_text)
    except ValueError:
        return error(
            "dateError",
            "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET",
            "The conversion date time is not a valid date.",
            "conversion_date_time",
        )
    if when > now + CONVERSION_FUTURE_TOLERANCE_SECONDS:
        return error(
            "dateError",
            "LATER_THAN_MAXIMUM_DATE",
            "The conversion date time is in the future.",
            "conversion_date_time",
        )
    if when < now - CONVERSION_MAX_AGE_SECONDS:
        return error(
            "conversionUploadError",
            "EXPIRED_EVENT",
            "The imported event's click occurred before this conversion's click-through window.",
            "conversion_date_time",
        )
    currency = conversion.get("currency_code")
    if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency):
        return error(
            "fieldError",
            "INVALID_VALUE",
            "currency_code must be an ISO 4217 code such as EUR.",
            "currency_code",
        )
    if len(identifiers) > MAX_USER_IDENTIFIERS:
        return error(
            "collectionSizeError",
            "TOO_MANY",
            f"At most {MAX_USER_IDENTIFIERS} user identifiers are allowed.",
            "user_identifiers",
        )
    for position, identifier in enumerate(identifiers):
        kinds = [key for key in identifier if key != "user_identifier_source"]
        where = [("conversions", index), ("user_identifiers", position)]
        if len(kinds) != 1 or kinds[0] not in SUPPORTED_IDENTIFIERS:
            return AdsError(
                "conversionUploadError",
                "UNSUPPORTED_USER_IDENTIFIER",
                "Use only hashed email or phone number.",
                where,
            )
        if not is_sha256(identifier[kinds[0]]):
            return AdsError(
                "conversionUploadError",
                "INVALID_USER_IDENTIFIER",
                "Hash user provided data using SHA-256 after normalizing it.",
                [*where, (kinds[0], None)],
            )
    order_id = conversion.get("order_id")
    action_id = found.group(2)
    if order_id:
        if "@" in order_id:
            return error(
                "conversionUploadError",
                "ORDER_ID_CONTAINS_PII",
                "Order ids can't contain personally-identifiable information.",
                "order_id",
            )
        if (action_id, order_id) in seen_orders:
            return error(
                "conversionUploadError",
                "DUPLICATE_ORDER_ID",
                "Imported events include multiple conversions with the same order ID.",
                "order_id",
            )
        seen_orders.add((action_id, order_id))
        if state.get_object(GOOGLE, f"order:{customer_id}:{action_id}:{order_id}"):
            return error(
                "conversionUploadError",
                "ORDER_ID_ALREADY_IN_USE",
                "The imported event includes an order ID that was previously recorded.",
                "order_id",
            )
    elif click_ids and state.get_object(
        GOOGLE, f"click:{customer_id}:{action_id}:{conversion[click_ids[0]]}:{when_text}"
    ):
        return error(
            "conversionUploadError",
            "CLICK_CONVERSION_ALREADY_EXISTS",
            "The imported event has the same click and conversion_date_time as an existing conversion.",
            click_ids[0],
        )
    return None


def _remember(
    state: SandboxState, customer_id: str, action_id: str, conversion: dict[str, Any]
) -> None:
    """Keys that make a resend fail the way Google's do (order id, or click + time)."""
    record = {"type": "click_conversion", "account": customer_id, "fields": conversion}
    if conversion.get("order_id"):
        state.put_object(
            GOOGLE,
            f"order:{customer_id}:{action_id}:{conversion['order_id']}",
            dict(record, id=conversion["order_id"]),
        )
    click = next((conversion[k] for k in ("gclid", "gbraid", "wbraid") if conversion.get(k)), None)
    if click:
        key = f"click:{customer_id}:{action_id}:{click}:{conversion['conversion_date_time']}"
        state.put_object(GOOGLE, key, dict(record, id=key))
