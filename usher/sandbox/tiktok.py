"""TikTok Business API v1.3 stand-in: routing, credentials, throttling, Events API.

Paths below `/tiktok` are TikTok's, e.g. `POST /tiktok/open_api/v1.3/event/track/`
(the trailing slash is required; without it TikTok answers 404). Audiences live in
`tiktok_audiences`, campaigns/ad groups/ads and reports in `tiktok_ads`.
"""

from __future__ import annotations

import math
from typing import Any

from werkzeug.wrappers import Request, Response

from usher.sandbox.platform import Call, PlatformAPI, route
from usher.sandbox.state import SandboxState
from usher.sandbox.tiktok_ads import (
    create_ad,
    create_adgroup,
    create_campaign,
    get_objects,
    report,
    update_object,
    update_status,
)
from usher.sandbox.tiktok_audiences import (
    create_audience,
    create_lookalike,
    create_rule_audience,
    get_audiences,
    segment_audience,
    segment_mapping,
    update_audience,
    upload_file,
)
from usher.sandbox.tiktok_catalog import create_catalog, delete_products, upload_products
from usher.sandbox.tiktok_common import (
    CODE_INVALID_PARAMS,
    CODE_NO_PERMISSION,
    CODE_RATE_LIMITED,
    CODE_SYSTEM_ERROR,
    CODE_TOKEN_INVALID,
    CODE_TOKEN_MISSING,
    TIKTOK,
    TikTokProblem,
    tiktok_error,
    tiktok_ok,
)
from usher.sandbox.tiktok_files import upload_material
from usher.sandbox.validation import (
    CURRENCY,
    TIKTOK_ADVERTISER_ID,
    TIKTOK_PIXEL_CODE,
    as_int,
    as_number,
    is_ip_address,
    is_one_of,
    is_sha256,
    time_problem,
    values_of,
)

MAX_EVENTS_PER_REQUEST = 1000
# TikTok's accepted event_time window is unverified [U]; 7 days back mirrors Meta.
EVENT_MAX_AGE_SECONDS = 7 * 24 * 3600
EVENT_FUTURE_TOLERANCE_SECONDS = 60
DEDUP_WINDOW_SECONDS = 48 * 3600
EVENT_SOURCES = frozenset({"web", "app", "offline", "crm"})
HASHED_USER_FIELDS = ("email", "phone", "external_id")
CONTENT_TYPES = frozenset({"product", "product_group"})

BASE = r"/open_api/(?P<version>v1\.3)"


def track_events(state: SandboxState, call: Call) -> Response:
    """POST /event/track/: all events are checked before any is recorded."""
    body = call.body if isinstance(call.body, dict) else {}
    try:
        source = body.get("event_source")
        if source not in EVENT_SOURCES:
            raise TikTokProblem(f"event_source: must be one of {', '.join(sorted(EVENT_SOURCES))}.")
        if not body.get("event_source_id"):
            raise TikTokProblem("event_source_id: Missing data for required field.")
        data = body.get("data")
        if not isinstance(data, list) or not data:
            raise TikTokProblem("data: Missing data for required field.")
        if len(data) > MAX_EVENTS_PER_REQUEST:
            raise TikTokProblem(f"data: Length must be between 1 and {MAX_EVENTS_PER_REQUEST}.")
        now = state.now()
        for index, event in enumerate(data):
            _check_event(event, index, now)
    except TikTokProblem as problem:
        return problem.response()
    for event in data:
        event_id = event.get("event_id")
        state.record_event(
            TIKTOK,
            call.account or "",
            event["event"],
            str(event_id) if event_id not in (None, "") else None,
            as_int(event["event_time"]),
            event,
            DEDUP_WINDOW_SECONDS,
            test=bool(body.get("test_event_code")),
        )
    return tiktok_ok({})


def _check_event(event: Any, index: int, now: float) -> None:
    where = f"data[{index}]"
    if not isinstance(event, dict):
        raise TikTokProblem(f"{where}: must be an object.")
    if not isinstance(event.get("event"), str) or not event["event"]:
        raise TikTokProblem(f"{where}.event: Missing data for required field.")
    if "event_time" not in event:
        raise TikTokProblem(f"{where}.event_time: Missing data for required field.")
    event_time = as_int(event["event_time"])
    if event_time is None:
        raise TikTokProblem(f"{where}.event_time: Not a valid integer (Unix seconds).")
    window = time_problem(event_time, now, EVENT_MAX_AGE_SECONDS, EVENT_FUTURE_TOLERANCE_SECONDS)
    if window:
        side = "older than 7 days" if window == "too_old" else "in the future"
        raise TikTokProblem(f"{where}.event_time: The event time is {side}.")
    if "event_id" in event and not isinstance(event["event_id"], str | int):
        raise TikTokProblem(f"{where}.event_id: Not a valid string.")
    user = event.get("user", {})
    if not isinstance(user, dict):
        raise TikTokProblem(f"{where}.user: must be an object.")
    for key in HASHED_USER_FIELDS:
        if key in user and not all(is_sha256(value) for value in values_of(user[key])):
            raise TikTokProblem(
                f"{where}.user.{key}: must be SHA-256 hashed (64 lowercase hex characters)."
            )
    if "ip" in user and not is_ip_address(user["ip"]):
        raise TikTokProblem(f"{where}.user.ip: Not a valid IP address.")
    properties = event.get("properties", {})
    if not isinstance(properties, dict):
        raise TikTokProblem(f"{where}.properties: must be an object.")
    if "value" in properties and as_number(properties["value"]) is None:
        raise TikTokProblem(f"{where}.properties.value: Not a valid number.")
    currency = properties.get("currency")
    if currency is not None and not (isinstance(currency, str) and CURRENCY.match(currency)):
        raise TikTokProblem(f"{where}.properties.currency: Not a valid ISO 4217 code.")
    if "content_type" in properties and not is_one_of(properties["content_type"], CONTENT_TYPES):
        raise TikTokProblem(f"{where}.properties.content_type: must be product or product_group.")
    _check_contents(properties, f"{where}.properties")


def _check_contents(properties: dict[str, Any], where: str) -> None:
    """`contents`: objects with a `content_id`, an integer `quantity` and a number
    `price` when present; `num_items` an integer (docs/platforms.md, TikTok: Events API)."""
    if "num_items" in properties and as_int(properties["num_items"]) is None:
        raise TikTokProblem(f"{where}.num_items: Not a valid integer.")
    contents = properties.get("contents")
    if contents is None:
        return
    if not isinstance(contents, list):
        raise TikTokProblem(f"{where}.contents: must be an array.")
    for position, item in enumerate(contents):
        here = f"{where}.contents[{position}]"
        if not isinstance(item, dict) or not isinstance(item.get("content_id"), str | int):
            raise TikTokProblem(f"{here}.content_id: Missing data for required field.")
        if "quantity" in item and as_int(item["quantity"]) is None:
            raise TikTokProblem(f"{here}.quantity: Not a valid integer.")
        if "price" in item and as_number(item["price"]) is None:
            raise TikTokProblem(f"{here}.price: Not a valid number.")


class TikTokAPI(PlatformAPI):
    name = TIKTOK
    routes = (
        route("POST", f"{BASE}/event/track/", track_events, "events"),
        route("POST", f"{BASE}/dmp/custom_audience/file/upload/", upload_file, "audiences"),
        route("POST", f"{BASE}/dmp/custom_audience/create/", create_audience, "audiences"),
        route("POST", f"{BASE}/dmp/custom_audience/update/", update_audience, "audiences"),
        route(
            "POST", f"{BASE}/dmp/custom_audience/lookalike/create/", create_lookalike, "audiences"
        ),
        route(
            "POST", f"{BASE}/dmp/custom_audience/rule/create/", create_rule_audience, "audiences"
        ),
        route("GET", f"{BASE}/dmp/custom_audience/get/", get_audiences, "audiences"),
        route("POST", f"{BASE}/segment/audience/", segment_audience, "audiences"),
        route("POST", f"{BASE}/segment/mapping/", segment_mapping, "audiences"),
        route("POST", f"{BASE}/file/(?P<material>image|video)/ad/upload/", upload_material, "ads"),
        route("POST", f"{BASE}/catalog/create/", create_catalog, "catalog"),
        route("POST", f"{BASE}/catalog/product/upload/", upload_products, "catalog"),
        route("POST", f"{BASE}/catalog/product/delete/", delete_products, "catalog"),
        route("POST", f"{BASE}/campaign/create/", create_campaign, "ads"),
        route("POST", f"{BASE}/adgroup/create/", create_adgroup, "ads"),
        route("POST", f"{BASE}/ad/create/", create_ad, "ads"),
        route("POST", f"{BASE}/(?P<kind>campaign|adgroup)/update/", update_object, "ads"),
        route("POST", f"{BASE}/(?P<kind>campaign|adgroup|ad)/status/update/", update_status, "ads"),
        route("GET", f"{BASE}/(?P<kind>campaign|adgroup|ad)/get/", get_objects, "ads"),
        route("GET", f"{BASE}/report/integrated/get/", report, "reports"),
    )

    def resolve_account(self, state: SandboxState, call: Call) -> str | None:
        if call.family == "events":
            body = call.body if isinstance(call.body, dict) else {}
            code = body.get("event_source_id") or body.get("pixel_code")
            return str(code) if code else None
        advertiser = call.field("advertiser_id")
        if advertiser is None:
            ids = call.field("advertiser_ids")
            advertiser = ids[0] if isinstance(ids, list) and ids else None
        return str(advertiser) if advertiser not in (None, "") else None

    def authenticate(self, state: SandboxState, call: Call) -> Response | None:
        token = call.request.headers.get("Access-Token", "").strip()
        call.token = token
        if not token:
            return tiktok_error(
                CODE_TOKEN_MISSING, "Access-Token is missing in the request header."
            )
        if not state.token_valid(TIKTOK, call.account, token):
            return tiktok_error(
                CODE_TOKEN_INVALID, "Access token is incorrect or has been revoked."
            )
        if call.account is None:
            if call.family == "events":
                return None  # track_events reports the missing event_source_id
            return tiktok_error(
                CODE_INVALID_PARAMS, "advertiser_id: Missing data for required field."
            )
        well_formed = TIKTOK_PIXEL_CODE if call.family == "events" else TIKTOK_ADVERTISER_ID
        what = "pixel" if call.family == "events" else "advertiser"
        if not well_formed.match(call.account):
            return tiktok_error(CODE_INVALID_PARAMS, f"Invalid {what} id: {call.account!r}.")
        if not state.is_known(TIKTOK, call.account):
            return tiktok_error(
                CODE_NO_PERMISSION, f"No permission to operate {what} {call.account}."
            )
        return None

    def throttled(self, state: SandboxState, call: Call, retry_after: float) -> Response:
        seconds = math.ceil(retry_after)
        return tiktok_error(
            CODE_RATE_LIMITED, f"Too many requests. Please retry in {seconds} seconds."
        )

    def server_error(self, state: SandboxState, call: Call, status: int) -> Response:
        return tiktok_error(CODE_SYSTEM_ERROR, "System error, please try again later.", status)

    def not_found(self, request: Request, subpath: str, path_exists: bool) -> Response:
        if path_exists:
            return tiktok_error(
                CODE_INVALID_PARAMS, f"Method {request.method} is not allowed.", 405
            )
        return Response("404 page not found", status=404, content_type="text/plain")

    def bad_body(self, request: Request, reason: str) -> Response:
        return tiktok_error(CODE_INVALID_PARAMS, f"Invalid JSON: {reason}")
