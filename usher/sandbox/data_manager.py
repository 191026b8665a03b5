"""A stand-in for Google's Data Manager API: audience members and conversion events.

Since April 2026 the Google Ads API refuses Customer Match (and new conversion uploads) from
developers it has not allowlisted and points them here (docs/platforms.md, Google Ads:
Customer Match). Paths below `/data-manager` are the API's own
(`datamanager.googleapis.com`):

- `POST /v1/audienceMembers:ingest` and `:remove`: hashed members of a Google Ads
  Customer Match user list (`productDestinationId` = the user list id);
- `POST /v1/events:ingest`: conversions of a conversion action
  (`productDestinationId` = the conversion action id).

Auth is an OAuth bearer token (scope `datamanager`) and no developer token. Answers
are `{"requestId"}`; errors follow google.rpc: `{"error": {"code", "message", "status",
"details": [{"@type": "...BadRequest", "fieldViolations": [...]}]}}`. The request and
field names come from Google's reference; limits and error reasons are [U].
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from usher.sandbox.google_common import GOOGLE, BadRequestFailure, snake_keys
from usher.sandbox.google_oauth import ACCESS_TOKEN_PREFIX, access_token_refusal
from usher.sandbox.platform import Call, PlatformAPI, json_response, parse_body, route, trace_id
from usher.sandbox.state import SandboxState
from usher.sandbox.validation import GOOGLE_CUSTOMER_ID, is_number, is_sha256, list_or_empty

MAX_AUDIENCE_MEMBERS_PER_REQUEST = 10_000  # [U]
MAX_EVENTS_PER_REQUEST = 2_000  # [U] mirrors UploadClickConversions
MAX_IDENTIFIERS_PER_MEMBER = 10  # [U]
CONSENT_VALUES = frozenset({"CONSENT_GRANTED", "CONSENT_DENIED"})
HASHED_IDENTIFIERS = ("email_address", "phone_number")
AD_IDENTIFIERS = ("gclid", "gbraid", "wbraid")
# Data Manager takes its own version of the Ads API's "oauth token" refusals; only
# the status matters to a client, so the answer is the plain google.rpc form.
AUTH_MESSAGE = "Request had invalid authentication credentials."


def _violation(field: str, description: str) -> BadRequestFailure:
    return BadRequestFailure([(field, description)])


def _destinations(call: Call) -> list[dict[str, Any]]:
    body = call.body if isinstance(call.body, dict) else {}
    destinations = body.get("destinations")
    if not isinstance(destinations, list) or not destinations:
        raise _violation("destinations", "At least one destination is required.")
    for index, destination in enumerate(destinations):
        account = destination.get("operating_account") if isinstance(destination, dict) else None
        if not isinstance(account, dict) or account.get("account_type") != "GOOGLE_ADS":
            raise _violation(
                f"destinations[{index}].operating_account",
                "operatingAccount with accountType GOOGLE_ADS and accountId is required.",
            )
        if str(account.get("account_id")) != call.account:
            raise _violation(
                f"destinations[{index}].operating_account.account_id",
                "All destinations of one request must use the same operating account.",
            )
        if not str(destination.get("product_destination_id") or "").isdigit():
            raise _violation(
                f"destinations[{index}].product_destination_id",
                "productDestinationId must be the numeric id of the destination.",
            )
    return destinations


def _consent(value: Any, field: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or any(
        value.get(key) not in CONSENT_VALUES
        for key in ("ad_user_data", "ad_personalization")
        if key in value
    ):
        raise _violation(field, "consent values must be CONSENT_GRANTED or CONSENT_DENIED.")


def _member_keys(member: Any, index: int) -> list[str]:
    """The member keys of one audience member, as the Ads API's Customer Match stores them."""
    where = f"audience_members[{index}]"
    user_data = member.get("user_data") if isinstance(member, dict) else None
    identifiers = list_or_empty(user_data.get("user_identifiers") if user_data else None)
    if not identifiers:
        raise _violation(f"{where}.user_data", "userData needs at least one userIdentifier.")
    if len(identifiers) > MAX_IDENTIFIERS_PER_MEMBER:
        raise _violation(
            f"{where}.user_data.user_identifiers",
            f"At most {MAX_IDENTIFIERS_PER_MEMBER} identifiers per member.",
        )
    keys = []
    for position, identifier in enumerate(identifiers):
        field = f"{where}.user_data.user_identifiers[{position}]"
        if not isinstance(identifier, dict):
            raise _violation(field, "A user identifier must be an object.")
        for name in HASHED_IDENTIFIERS:
            if name in identifier:
                if not is_sha256(identifier[name]):
                    raise _violation(
                        f"{field}.{name}",
                        "Expected a SHA-256 hash, hex-encoded in lowercase (encoding HEX).",
                    )
                legacy_name = "hashed_email" if name == "email_address" else "hashed_phone_number"
                keys.append(f"{legacy_name}:{identifier[name]}")
        if "address" in identifier:
            keys.append(f"address:{sorted(identifier['address'].items())}")
    if not keys:
        raise _violation(where, "No supported user identifier was set.")
    return keys


def _user_list(state: SandboxState, customer: str, list_id: str, index: int) -> str:
    key = f"userLists:{customer}:{list_id}"
    user_list = state.get_object(GOOGLE, key)
    if user_list is None or "crm_based_user_list" not in user_list["fields"]:
        raise _violation(
            f"destinations[{index}].product_destination_id",
            "The destination is not a Customer Match user list of the operating account.",
        )
    return key


def _ingest_audience(state: SandboxState, call: Call, add: bool) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    customer = call.account or ""
    try:
        destinations = _destinations(call)
        lists = [
            _user_list(state, customer, str(d["product_destination_id"]), i)
            for i, d in enumerate(destinations)
        ]
        members = body.get("audience_members")
        if not isinstance(members, list) or not members:
            raise _violation("audience_members", "At least one audience member is required.")
        if len(members) > MAX_AUDIENCE_MEMBERS_PER_REQUEST:
            raise _violation(
                "audience_members",
                f"At most {MAX_AUDIENCE_MEMBERS_PER_REQUEST} audience members per request.",
            )
        if body.get("encoding") not in ("HEX", None):
            raise _violation("encoding", "Only HEX encoding is supported by the sandbox.")
        terms = body.get("terms_of_service")
        status = (
            terms.get("customer_match_terms_of_service_status") if isinstance(terms, dict) else None
        )
        if add and status != "ACCEPTED":
            raise _violation(
                "terms_of_service.customer_match_terms_of_service_status",
                "The Customer Match terms of service must be ACCEPTED.",
            )
        _consent(body.get("consent"), "consent")
        keys = []
        for index, member in enumerate(members):
            _consent(
                member.get("consent") if isinstance(member, dict) else None,
                f"audience_members[{index}].consent",
            )
            keys.extend(_member_keys(member, index))
    except BadRequestFailure as failure:
        return failure.response()
    if not body.get("validate_only"):
        for key in lists:
            target = state.members_of(GOOGLE, key)
            if add:
                target.update(keys)
            else:
                target.difference_update(keys)
        state.dirty = True
    return json_response({"requestId": trace_id()})


def ingest_audience_members(state: SandboxState, call: Call) -> Response:
    return _ingest_audience(state, call, add=True)


def remove_audience_members(state: SandboxState, call: Call) -> Response:
    return _ingest_audience(state, call, add=False)


def _event_time(value: Any, field: str) -> float:
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise _violation(field, "eventTimestamp must be an RFC 3339 time.") from exc
    if when.tzinfo is None:
        raise _violation(field, "eventTimestamp needs a time zone (e.g. Z).")
    return when.timestamp()


def ingest_events(state: SandboxState, call: Call) -> Response:
    """events:ingest: conversions with a click id or user data, recorded per transactionId."""
    body = call.body if isinstance(call.body, dict) else {}
    customer = call.account or ""
    try:
        destinations = _destinations(call)
        events = body.get("events")
        if not isinstance(events, list) or not events:
            raise _violation("events", "At least one event is required.")
        if len(events) > MAX_EVENTS_PER_REQUEST:
            raise _violation("events", f"At most {MAX_EVENTS_PER_REQUEST} events per request.")
        checked = []
        for index, event in enumerate(events):
            where = f"events[{index}]"
            if not isinstance(event, dict):
                raise _violation(where, "An event must be an object.")
            when = _event_time(event.get("event_timestamp"), f"{where}.event_timestamp")
            ad_ids = event.get("ad_identifiers")
            has_click = isinstance(ad_ids, dict) and any(ad_ids.get(k) for k in AD_IDENTIFIERS)
            if not has_click and not isinstance(event.get("user_data"), dict):
                raise _violation(where, "An event needs adIdentifiers or userData.")
            if isinstance(event.get("user_data"), dict):
                _member_keys({"user_data": event["user_data"]}, index)
            value = event.get("conversion_value")
            if value is not None and not (is_number(value) and math.isfinite(value)):
                raise _violation(f"{where}.conversion_value", "conversionValue must be a number.")
            _consent(event.get("consent"), f"{where}.consent")
            checked.append((event, when))
    except BadRequestFailure as failure:
        return failure.response()
    if not body.get("validate_only"):
        for destination in destinations:
            for event, when in checked:
                state.record_event(
                    GOOGLE,
                    customer,
                    f"conversionActions/{destination['product_destination_id']}",
                    event.get("transaction_id"),
                    when,
                    event,
                    None,  # Google dedupes by transactionId per action; not modelled here
                )
    return json_response({"requestId": trace_id()})


V1 = "/v1"


class DataManagerAPI(PlatformAPI):
    """Accounts, faults, limits and the request log are the Google Ads customer's."""

    name = GOOGLE
    routes = (
        route("POST", f"{V1}/audienceMembers:ingest", ingest_audience_members, "data_manager"),
        route("POST", f"{V1}/audienceMembers:remove", remove_audience_members, "data_manager"),
        route("POST", f"{V1}/events:ingest", ingest_events, "data_manager"),
    )

    def parse(self, request: Request) -> Any:
        return snake_keys(parse_body(request))

    def resolve_account(self, state: SandboxState, call: Call) -> str | None:
        body = call.body if isinstance(call.body, dict) else {}
        first = list_or_empty(body.get("destinations"))[:1]
        account = (
            first[0].get("operating_account") if first and isinstance(first[0], dict) else None
        )
        account_id = account.get("account_id") if isinstance(account, dict) else None
        return str(account_id) if account_id not in (None, "") else None

    def authenticate(self, state: SandboxState, call: Call) -> Response | None:
        auth = call.request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        call.token = token
        customer = call.account or ""
        if not token:
            return _status(
                401, "UNAUTHENTICATED", "Request is missing required authentication credential."
            )
        if token.startswith(ACCESS_TOKEN_PREFIX):
            refusal = access_token_refusal(state, "v25", token, customer)
            if refusal is not None:
                return _status(
                    refusal.status_code,
                    "UNAUTHENTICATED" if refusal.status_code == 401 else "PERMISSION_DENIED",
                    AUTH_MESSAGE,
                )
        elif not state.token_valid(GOOGLE, customer, token):
            return _status(401, "UNAUTHENTICATED", AUTH_MESSAGE)
        if not GOOGLE_CUSTOMER_ID.match(customer):
            return BadRequestFailure(
                [
                    (
                        "destinations[0].operating_account.account_id",
                        "A Google Ads customer id: 10 digits, no dashes.",
                    )
                ]
            ).response()
        if not state.is_known(GOOGLE, customer):
            return _status(403, "PERMISSION_DENIED", "The caller does not have permission")
        return None

    def throttled(self, state: SandboxState, call: Call, retry_after: float) -> Response:
        return _status(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")

    def server_error(self, state: SandboxState, call: Call, status: int) -> Response:
        if status == 503:
            return _status(503, "UNAVAILABLE", "The service is currently unavailable.")
        return _status(status, "INTERNAL", "Internal error encountered.")

    def not_found(self, request: Request, subpath: str, path_exists: bool) -> Response:
        return _status(
            404, "NOT_FOUND", f"The requested URL {request.path} was not found on this server."
        )

    def bad_body(self, request: Request, reason: str) -> Response:
        return _status(400, "INVALID_ARGUMENT", f"Invalid JSON payload received. {reason}")


def _status(code: int, status: str, message: str) -> Response:
    return json_response(
        {"error": {"code": code, "message": message, "status": status}}, status=code
    )
