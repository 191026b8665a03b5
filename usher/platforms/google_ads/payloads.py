"""Google Ads API click-conversion uploads: the request and the per-row answer.

`GoogleAdsUploadApi` is the one implementation of the connector's `GoogleConversionsApi`
seam (conversions.py): it builds `customers/{cid}:uploadClickConversions` (REST JSON,
lowerCamelCase) and reads `partialFailureError` back into per-event outcomes. Building is
pure; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

from django.conf import settings

from usher.platforms.base import (
    ConversionEvent,
    Destination,
    ErrorKind,
    EventOutcome,
    OutcomeStatus,
    PlatformError,
)
from usher.platforms.normalize import normalize_user_data
from usher.platforms.payload_common import consent_status, money, rejection

PLATFORM = "google_ads"
# TOO_MANY_CONVERSIONS_IN_REQUEST above (docs/platforms.md, Google Ads: click conversions).
MAX_CONVERSIONS_PER_REQUEST = 2000
CONVERSION_DATE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S+00:00"  # "yyyy-mm-dd hh:mm:ss+|-hh:mm", in UTC
# Google refuses a conversion whose click came before the conversion action's
# click-through lookback window (EXPIRED_EVENT); no window is longer than 90 days, and a
# conversion follows its click, so an older conversion can count on no action.
MAX_EVENT_AGE = timedelta(days=90)
CLICK_ID_ORDER = ("gclid", "gbraid", "wbraid")  # exactly one may be sent; gclid is the richest
# Every conversion Usher uploads happened on the marketplace's website (ConversionEnvironment).
CONVERSION_ENVIRONMENT = "WEB"

NO_CONVERSION_ACTION = "no_conversion_action"
NO_MATCH_KEY = "no_click_id_or_user_identifiers"

# Per-row error codes that mean "Google already has this conversion": a resend after a
# crash or timeout hits them, and the order id / click+time made it idempotent
# (docs/platforms.md, Retries and idempotency).
ALREADY_RECORDED_CODES = frozenset({"ORDER_ID_ALREADY_IN_USE", "CLICK_CONVERSION_ALREADY_EXISTS"})
# Per-row codes worth another attempt: too-fresh clicks/actions (wait ~6 h), quota, races.
RETRYABLE_ROW_CODES = frozenset(
    {
        "TOO_RECENT_EVENT",
        "TOO_RECENT_CONVERSION_ACTION",
        "RESOURCE_EXHAUSTED",
        "RESOURCE_TEMPORARILY_EXHAUSTED",
        "CONCURRENT_MODIFICATION",
        "INTERNAL_ERROR",
        "TRANSIENT_ERROR",
    }
)
_SEVERITY = {OutcomeStatus.DELIVERED: 0, OutcomeStatus.RETRY: 1, OutcomeStatus.REJECTED: 2}


@dataclass
class GoogleRequest:
    """One upload call as the connector sends it; `events` are in the body's row order."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    secrets: list[str]
    events: list[ConversionEvent] = field(default_factory=list)
    rejected: list[tuple[ConversionEvent, EventOutcome]] = field(default_factory=list)


def customer_id(account_id: str) -> str:
    """The 10-digit customer id Google wants, from "123-456-7890" or "1234567890"."""
    return "".join(ch for ch in str(account_id) if ch.isdigit())


def conversion_date_time(event: ConversionEvent) -> str:
    return event.event_time.astimezone(UTC).strftime(CONVERSION_DATE_TIME_FORMAT)


def conversion_action(destination: Destination, cid: str, event_name: str) -> str | None:
    """The resource name configured for `event_name`, or None when it has none.

    `settings["conversion_actions"][event_name]` may be a bare action id or a full
    `customers/{cid}/conversionActions/{id}` resource name; a bare id gets our customer.
    """
    actions = destination.settings.get("conversion_actions") or {}
    action = actions.get(event_name) if isinstance(actions, dict) else None
    text = str(action).strip() if action not in (None, "") else ""
    if not text:
        return None
    return f"customers/{cid}/conversionActions/{text}" if text.isdigit() else text


def user_identifiers(event: ConversionEvent) -> list[dict[str, str]]:
    """Hashed email and phone, one UserIdentifier each (it is a oneof), at most 5 in all.

    Withheld when the visitor denied ad_user_data: Google may not use them then, and
    data not allowed to be used is not sent. Click conversions accept only email and phone.
    """
    if event.ad_user_data is False:
        return []
    normalized = normalize_user_data(PLATFORM, event.user_data, "conversions")
    identifiers = []
    if "email" in normalized:
        identifiers.append({"hashedEmail": normalized["email"]})
    if "phone" in normalized:
        identifiers.append({"hashedPhoneNumber": normalized["phone"]})
    return identifiers


def click_conversion(event: ConversionEvent, action: str) -> dict[str, Any] | None:
    """One ClickConversion, or None when Google would have nothing to match it on."""
    click_key = next((key for key in CLICK_ID_ORDER if getattr(event, key)), None)
    identifiers = user_identifiers(event)
    # Identifiers ride along with a gclid (enhanced conversions for leads); Google documents
    # them with gclid uploads only, so gbraid/wbraid rows go without them [U].
    if click_key not in (None, "gclid"):
        identifiers = []
    if click_key is None and not identifiers:
        return None
    row: dict[str, Any] = {
        "conversionAction": action,
        "conversionDateTime": conversion_date_time(event),
        # order_id is the idempotency key per action; the event id stands in for events
        # without an order so a resend after a crash is recognized, not counted twice.
        "orderId": event.order_id or event.event_id,
        "conversionEnvironment": CONVERSION_ENVIRONMENT,
        "consent": {
            "adUserData": consent_status(event.ad_user_data),
            "adPersonalization": consent_status(event.ad_personalization),
        },
    }
    if click_key is not None:
        row[click_key] = getattr(event, click_key)
    if identifiers:
        row["userIdentifiers"] = identifiers
    if event.value is not None:
        row["conversionValue"] = money(event.value)
        if event.currency:
            row["currencyCode"] = event.currency.upper()
    return row


class GoogleAdsUploadApi:
    """`ConversionUploadService.UploadClickConversions` of the Google Ads API (REST)."""

    http_platform = PLATFORM
    max_events_per_request = MAX_CONVERSIONS_PER_REQUEST

    def build_request(
        self, destination: Destination, events: Sequence[ConversionEvent]
    ) -> GoogleRequest:
        # The Ads customer may sit in the code's settings while account_id is its AW- tag.
        cid = customer_id(destination.settings.get("customer_id") or destination.account_id)
        developer_token = str(destination.settings.get("developer_token") or "")
        if not developer_token:
            raise PlatformError(
                ErrorKind.PERMANENT,
                "destination.settings has no developer_token (required by the Google Ads API)",
                platform=PLATFORM,
            )
        # No Authorization here: the connector signs the call with an OAuth access token
        # it exchanges for the destination's refresh token (oauth.py).
        headers = {"developer-token": developer_token}
        login_customer_id = customer_id(destination.settings.get("login_customer_id") or "")
        if login_customer_id:
            headers["login-customer-id"] = login_customer_id  # acting through a manager account
        request = GoogleRequest(
            path=f"/{settings.GOOGLE_ADS_API_VERSION}/customers/{cid}:uploadClickConversions",
            body={},
            headers=headers,
            secrets=[developer_token],
        )
        rows: list[dict[str, Any]] = []
        for event in events:
            action = conversion_action(destination, cid, event.event_name)
            row = click_conversion(event, action) if action else None
            if row is None:
                request.rejected.append((event, _local_rejection(event, action)))
                continue
            rows.append(row)
            request.events.append(event)
        # partialFailure is required ("should always be true"): one bad row must not
        # cost the others, and the answer then says which rows failed.
        request.body = {"conversions": rows, "partialFailure": True}
        if destination.test_event_code:
            # Google Ads has no test-events view: a code in test mode has its uploads
            # validated (every row checked, the same per-row errors) and never recorded.
            request.body["validateOnly"] = True
        return request

    def outcomes(self, answer: Any, events: Sequence[ConversionEvent]) -> list[EventOutcome]:
        """Per-row outcomes from `results[]` and `partialFailureError`, in row order."""
        answer = answer if isinstance(answer, dict) else {}
        results = answer.get("results") if isinstance(answer.get("results"), list) else []
        failure = answer.get("partialFailureError")
        failure = failure if isinstance(failure, dict) else None
        by_row, unplaced = _row_errors(failure, len(events))
        outcomes = []
        for index, event in enumerate(events):
            if index in by_row:
                outcomes.append(_row_outcome(event, by_row[index]))
                continue
            result = results[index] if index < len(results) else None
            # A validate-only answer has no results: a row without an error passed.
            if failure is not None and not result and "results" in answer:
                # An empty result is how Google marks a failed row; the error had no index.
                code, message = (unplaced or [("PARTIAL_FAILURE", "")])[0]
                message = message or str(failure.get("message") or "row not accepted")
                outcomes.append(EventOutcome(event.event_id, OutcomeStatus.REJECTED, message, code))
            else:
                outcomes.append(EventOutcome(event.event_id, OutcomeStatus.DELIVERED))
        return outcomes


def _local_rejection(event: ConversionEvent, action: str | None) -> EventOutcome:
    if action is None:
        return rejection(
            event,
            NO_CONVERSION_ACTION,
            f"no Google Ads conversion action configured for {event.event_name!r}",
        )
    return rejection(
        event,
        NO_MATCH_KEY,
        "no gclid, gbraid or wbraid, and no hashed email or phone (or ad_user_data denied)",
    )


def _row_errors(
    failure: dict[str, Any] | None, rows: int
) -> tuple[dict[int, list[tuple[str, str]]], list[tuple[str, str]]]:
    """Errors by row index, and those without one; every detail and error is read."""
    by_row: dict[int, list[tuple[str, str]]] = {}
    unplaced: list[tuple[str, str]] = []
    if failure is None:
        return by_row, unplaced
    for detail in failure.get("details") or []:
        errors = detail.get("errors") if isinstance(detail, dict) else None
        for error in errors if isinstance(errors, list) else []:
            if not isinstance(error, dict):
                continue
            entry = (_error_code(error), str(error.get("message") or ""))
            index = _row_index(error)
            if index is not None and 0 <= index < rows:
                by_row.setdefault(index, []).append(entry)
            else:
                unplaced.append(entry)
    return by_row, unplaced


def _row_index(error: dict[str, Any]) -> int | None:
    """`location.fieldPathElements[{fieldName: "conversions", index: N}]` -> N."""
    location = error.get("location")
    elements = location.get("fieldPathElements") if isinstance(location, dict) else None
    for element in elements or []:
        if isinstance(element, dict) and element.get("fieldName") == "conversions":
            index = element.get("index")
            if isinstance(index, int) and not isinstance(index, bool):
                return index
            if isinstance(index, str) and index.isdigit():
                return int(index)
            return None
    return None


def _error_code(error: dict[str, Any]) -> str:
    """`{"errorCode": {"conversionUploadError": "TOO_RECENT_EVENT"}}` -> "TOO_RECENT_EVENT"."""
    code = error.get("errorCode")
    if isinstance(code, dict) and code:
        return str(next(iter(code.values())))
    return "UNKNOWN"


def _row_outcome(event: ConversionEvent, errors: list[tuple[str, str]]) -> EventOutcome:
    """The most severe verdict among a row's errors (rejected > retry > already recorded)."""
    statuses = [_status_for(code) for code, _ in errors]
    worst = max(range(len(errors)), key=lambda i: _SEVERITY[statuses[i]])
    message = "; ".join(message for _, message in errors if message) or errors[worst][0]
    return EventOutcome(event.event_id, statuses[worst], message, errors[worst][0])


def _status_for(code: str) -> OutcomeStatus:
    if code in ALREADY_RECORDED_CODES:
        return OutcomeStatus.DELIVERED
    if code in RETRYABLE_ROW_CODES:
        return OutcomeStatus.RETRY
    return OutcomeStatus.REJECTED
