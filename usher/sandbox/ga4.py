"""GA4 Measurement Protocol stand-in: `/mp/collect` and `/debug/mp/collect`.

docs/platforms.md, GA4 Measurement Protocol: `/mp/collect` answers 2xx even for malformed
payloads and silently drops them; `/debug/mp/collect` answers
`{"validationMessages": [...]}` and records nothing. The sandbox records valid collect hits as events and notes in
the request log why an invalid one was dropped, so tests can see what GA4 would have
discarded.

Counting follows GA4: a `purchase` is deduplicated by its `transaction_id` for the same
user (client id); any other event, and a purchase without a transaction id, is counted
every time it arrives, so a resend counts twice.
"""

from __future__ import annotations

import json
import re
from typing import Any

from werkzeug.wrappers import Request, Response

from usher.sandbox.platform import Call, PlatformAPI, json_response, route
from usher.sandbox.state import SandboxState
from usher.sandbox.validation import GA4_MEASUREMENT_ID, is_int

GA4 = "ga4"
MAX_EVENTS = 25
MAX_PARAMS_PER_EVENT = 25
MAX_USER_PROPERTIES = 25
MAX_NAME_CHARS = 40
MAX_USER_PROPERTY_NAME_CHARS = 24
MAX_PARAM_VALUE_CHARS = 100
MAX_USER_PROPERTY_VALUE_CHARS = 36
MAX_BODY_BYTES = 130 * 1024
BACKDATE_LIMIT_SECONDS = 72 * 3600
PURCHASE = "purchase"
# Google states no window for its purchase deduplication: the sandbox keeps it forever.
PURCHASE_DEDUP_WINDOW_SECONDS = float("inf")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Google's reserved event names (the full list is [U]: docs/platforms.md, Not verified).
RESERVED_EVENT_NAMES = frozenset(
    {
        "ad_activeview",
        "ad_click",
        "ad_exposure",
        "ad_query",
        "ad_reward",
        "adunit_exposure",
        "app_background",
        "app_clear_data",
        "app_exception",
        "app_remove",
        "app_store_refund",
        "app_update",
        "app_upgrade",
        "error",
        "first_open",
        "first_visit",
        "in_app_purchase",
        "notification_dismiss",
        "notification_foreground",
        "notification_open",
        "notification_receive",
        "os_update",
        "session_start",
        "user_engagement",
    }
)
RESERVED_PREFIXES = ("_", "firebase_", "ga_", "google_", "gtag.")


def _message(path: str, description: str, code: str) -> dict[str, str]:
    return {"fieldPath": path, "description": description, "validationCode": code}


def validate(body: Any, query: Any, now: float, body_size: int) -> list[dict[str, str]]:
    """The validationMessages GA4's debug endpoint would answer for this hit."""
    problems: list[dict[str, str]] = []
    if not query.get("api_secret"):
        problems.append(_message("api_secret", "api_secret is required.", "VALUE_REQUIRED"))
    if body_size > MAX_BODY_BYTES:
        problems.append(
            _message(
                "", f"The payload must be under {MAX_BODY_BYTES} bytes.", "VALUE_OUT_OF_BOUNDS"
            )
        )
    if not isinstance(body, dict):
        return [*problems, _message("", "The body must be a JSON object.", "VALUE_INVALID")]
    ids = [key for key in ("client_id", "app_instance_id") if key in body]
    if not ids:
        problems.append(
            _message(
                "client_id",
                "client_id (web) or app_instance_id (app) is required.",
                "VALUE_REQUIRED",
            )
        )
    for key in ids:
        if not isinstance(body[key], str) or not body[key]:
            problems.append(_message(key, f"{key} must be a non-empty string.", "VALUE_INVALID"))
    if "timestamp_micros" in body:
        micros = body["timestamp_micros"]
        if not is_int(micros) and not (isinstance(micros, str) and micros.isdigit()):
            problems.append(
                _message(
                    "timestamp_micros", "timestamp_micros must be an integer.", "VALUE_INVALID"
                )
            )
        elif not now - BACKDATE_LIMIT_SECONDS <= int(micros) / 1_000_000 <= now + 60:
            problems.append(
                _message(
                    "timestamp_micros",
                    "Events can be backdated at most 72 hours and not set in the future.",
                    "VALUE_OUT_OF_BOUNDS",
                )
            )
    problems.extend(_check_user_properties(body.get("user_properties")))
    events = body.get("events")
    if not isinstance(events, list) or not events:
        problems.append(_message("events", "events must be a non-empty array.", "VALUE_REQUIRED"))
        return problems
    if len(events) > MAX_EVENTS:
        problems.append(
            _message(
                "events",
                f"A request can hold at most {MAX_EVENTS} events.",
                "EXCEEDED_MAX_ENTITIES",
            )
        )
    for index, event in enumerate(events):
        problems.extend(_check_event(event, f"events[{index}]"))
    return problems


def _check_event(event: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(event, dict):
        return [_message(where, "Each event must be an object.", "VALUE_INVALID")]
    name = event.get("name")
    if not name:
        return [_message(f"{where}.name", "The event name is required.", "VALUE_REQUIRED")]
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS or not NAME.match(name):
        return [
            _message(
                f"{where}.name",
                f"Event names have at most {MAX_NAME_CHARS} letters, digits or underscores and start with a letter.",
                "NAME_INVALID",
            )
        ]
    if name in RESERVED_EVENT_NAMES or name.startswith(RESERVED_PREFIXES):
        return [_message(f"{where}.name", f"{name} is a reserved event name.", "NAME_RESERVED")]
    params = event.get("params", {})
    if not isinstance(params, dict):
        return [_message(f"{where}.params", "params must be an object.", "VALUE_INVALID")]
    problems = []
    if len(params) > MAX_PARAMS_PER_EVENT:
        problems.append(
            _message(
                f"{where}.params",
                f"An event can have at most {MAX_PARAMS_PER_EVENT} params.",
                "EXCEEDED_MAX_ENTITIES",
            )
        )
    for key, value in params.items():
        path = f"{where}.params.{key}"
        if len(key) > MAX_NAME_CHARS or not NAME.match(key):
            problems.append(
                _message(
                    path,
                    "Param names have at most 40 letters, digits or underscores and start with a letter.",
                    "NAME_INVALID",
                )
            )
        elif key.startswith(RESERVED_PREFIXES):
            problems.append(_message(path, f"{key} is a reserved param name.", "NAME_RESERVED"))
        elif isinstance(value, str) and len(value) > MAX_PARAM_VALUE_CHARS:
            problems.append(
                _message(
                    path,
                    f"Param values have at most {MAX_PARAM_VALUE_CHARS} characters.",
                    "VALUE_OUT_OF_BOUNDS",
                )
            )
    if "value" in params and not isinstance(params["value"], int | float):
        problems.append(
            _message(f"{where}.params.value", "value must be a number.", "VALUE_INVALID")
        )
    if "currency" in params and not (
        isinstance(params["currency"], str) and re.fullmatch(r"[A-Z]{3}", params["currency"])
    ):
        problems.append(
            _message(
                f"{where}.params.currency",
                "currency must be an ISO 4217 code such as EUR.",
                "VALUE_INVALID",
            )
        )
    return problems


def _check_user_properties(properties: Any) -> list[dict[str, str]]:
    if properties is None:
        return []
    if not isinstance(properties, dict):
        return [_message("user_properties", "user_properties must be an object.", "VALUE_INVALID")]
    problems = []
    if len(properties) > MAX_USER_PROPERTIES:
        problems.append(
            _message(
                "user_properties",
                f"At most {MAX_USER_PROPERTIES} user properties.",
                "EXCEEDED_MAX_ENTITIES",
            )
        )
    for key, item in properties.items():
        path = f"user_properties.{key}"
        if len(key) > MAX_USER_PROPERTY_NAME_CHARS or not NAME.match(key):
            problems.append(
                _message(
                    path,
                    f"User property names have at most {MAX_USER_PROPERTY_NAME_CHARS} characters.",
                    "NAME_INVALID",
                )
            )
        value = item.get("value") if isinstance(item, dict) else None
        if isinstance(value, str) and len(value) > MAX_USER_PROPERTY_VALUE_CHARS:
            problems.append(
                _message(
                    path,
                    f"User property values have at most {MAX_USER_PROPERTY_VALUE_CHARS} characters.",
                    "VALUE_OUT_OF_BOUNDS",
                )
            )
    return problems


def collect(state: SandboxState, call: Call) -> Response:
    """/mp/collect: 204 whatever happens; only valid hits with a valid secret are kept."""
    problems = validate(call.body, call.query, state.now(), len(call.request.get_data()))
    secret = call.query.get("api_secret")
    if secret and not state.token_valid(GA4, call.account, secret):
        problems.append(
            _message("api_secret", "Unknown api_secret for this measurement_id.", "VALUE_INVALID")
        )
    if (
        call.account is None
        or not GA4_MEASUREMENT_ID.match(call.account)
        or not state.is_known(GA4, call.account)
    ):
        problems.append(
            _message("measurement_id", "Unknown or missing measurement_id.", "VALUE_INVALID")
        )
    if problems:
        call.notes.append("dropped by GA4 (collect never reports errors)")
        call.notes.extend(
            f"{p['validationCode']} {p['fieldPath']}: {p['description']}" for p in problems
        )
        return Response(status=204)
    body = call.body
    timestamp = (
        int(body["timestamp_micros"]) / 1_000_000 if "timestamp_micros" in body else state.now()
    )
    client_id = body.get("client_id") or body.get("app_instance_id")
    for event in body["events"]:
        transaction = (event.get("params") or {}).get("transaction_id")
        # GA4 deduplicates only purchases, by transaction_id for the same user; every
        # other event (and a purchase without a transaction_id) counts each time it comes.
        deduplicated = event["name"] == PURCHASE and bool(transaction)
        state.record_event(
            GA4,
            call.account or "",
            event["name"],
            str(transaction) if deduplicated else None,
            timestamp,
            dict(event, client_id=client_id),
            PURCHASE_DEDUP_WINDOW_SECONDS if deduplicated else None,
            dedup_scope=client_id if deduplicated else None,
        )
    return Response(status=204)


def debug_collect(state: SandboxState, call: Call) -> Response:
    """/debug/mp/collect: the validation messages, and nothing recorded."""
    problems = validate(call.body, call.query, state.now(), len(call.request.get_data()))
    if call.account is None:
        problems.insert(
            0, _message("measurement_id", "measurement_id is required.", "VALUE_REQUIRED")
        )
    elif not GA4_MEASUREMENT_ID.match(call.account):
        problems.insert(
            0, _message("measurement_id", "measurement_id looks like G-XXXXXXX.", "VALUE_INVALID")
        )
    return json_response({"validationMessages": problems})


class GA4API(PlatformAPI):
    name = GA4
    routes = (
        route("POST", "/mp/collect", collect, "collect"),
        route("POST", "/debug/mp/collect", debug_collect, "collect"),
    )

    def parse(self, request: Request) -> Any:
        """The body is JSON whatever the Content-Type (Google's samples send text/plain)."""
        try:
            return json.loads(request.get_data(cache=True) or b"null")
        except (ValueError, UnicodeDecodeError):
            return None  # GA4 does not answer bad JSON differently; validation reports it

    def resolve_account(self, state: SandboxState, call: Call) -> str | None:
        return call.query.get("measurement_id") or call.query.get("firebase_app_id") or None

    def authenticate(self, state: SandboxState, call: Call) -> Response | None:
        return None  # GA4 never refuses a hit; collect() notes bad secrets in the log

    def throttled(self, state: SandboxState, call: Call, retry_after: float) -> Response:
        return Response(status=429)

    def server_error(self, state: SandboxState, call: Call, status: int) -> Response:
        return Response("Internal Server Error", status=status, content_type="text/plain")

    def not_found(self, request: Request, subpath: str, path_exists: bool) -> Response:
        return Response(status=404 if not path_exists else 405)

    def bad_body(self, request: Request, reason: str) -> Response:
        return Response(status=204)
