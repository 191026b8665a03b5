"""Meta Graph API stand-in: routing, credentials, throttling, and the Conversions API.

Custom audiences live in `meta_audiences`, campaigns/ad sets/ads and insights in
`meta_ads`. Paths below the `/meta` prefix are Graph's own, e.g.
`POST /meta/v25.0/{pixel_id}/events`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from werkzeug.wrappers import Request, Response

from usher.sandbox.meta_ads import (
    create_ad_object,
    delete_object,
    minimum_budgets_edge,
    update_object,
    upload_image,
)
from usher.sandbox.meta_audiences import add_users, create_audience, remove_users, replace_users
from usher.sandbox.meta_catalog import (
    create_catalog,
    create_product_set,
    items_batch,
    list_product_sets,
)
from usher.sandbox.meta_common import META, MetaProblem, meta_error, unknown_object
from usher.sandbox.meta_insights import insights
from usher.sandbox.meta_read import is_pixel_read, list_edge, read_ad_account, read_object
from usher.sandbox.platform import Call, PlatformAPI, json_response, route, trace_id
from usher.sandbox.state import SandboxState
from usher.sandbox.validation import (
    CURRENCY,
    META_PIXEL_ID,
    as_int,
    as_number,
    is_ip_address,
    is_one_of,
    is_sha256,
    time_problem,
    values_of,
)

CAPI_MAX_EVENTS = 1000
EVENT_MAX_AGE_SECONDS = 7 * 24 * 3600
# Meta documents no tolerance for future times [U]; a minute absorbs clock skew.
EVENT_FUTURE_TOLERANCE_SECONDS = 60
DEDUP_WINDOW_SECONDS = 48 * 3600
# Graph v23 and older are retired (docs/platforms.md, Versions; Meta's SDK 25.0 pins v25.0).
OLDEST_SUPPORTED_VERSION = 24.0
ACTION_SOURCES = frozenset(
    {
        "email",
        "website",
        "app",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    }
)
# docs/platforms.md, Meta: hashing: SHA-256 after normalising; hashing external_id is only advised.
HASHED_USER_FIELDS = ("em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country")
RAW_USER_FIELDS = (
    "external_id",
    "client_ip_address",
    "client_user_agent",
    "fbc",
    "fbp",
    "subscription_id",
    "fb_login_id",
    "lead_id",
    "anon_id",
    "madid",
    "page_id",
    "page_scoped_user_id",
    "ctwa_clid",
    "ig_account_id",
    "ig_sid",
)
# Which Business Use Case counter a throttled call hits (docs/platforms.md, Meta: errors and
# rate limits).
THROTTLE_CODES = {
    "capi": (4, "(#4) Application request limit reached", None),
    "custom_audience": (
        80003,
        "(#80003) There have been too many calls to this ad-account. Wait a bit and try again.",
        "custom_audience",
    ),
    "ads_management": (
        80004,
        "(#80004) There have been too many calls to this ad-account. Wait a bit and try again.",
        "ads_management",
    ),
    "catalog": (
        80014,
        "(#80014) There have been too many calls for the batch uploads to this catalog "
        "account. Wait a bit and try again.",
        "catalog_batch",
    ),
    "ads_insights": (
        80000,
        "(#80000) There have been too many calls from this ad-account. Wait a bit and try again.",
        "ads_insights",
    ),
}

V = r"(?P<version>v[0-9]+\.[0-9]+)"
ACT = r"act_(?P<ad_account>[0-9]+)"
OBJ = r"(?P<object_id>[0-9]+)"


def capi_events(state: SandboxState, call: Call) -> Response:
    """POST /{pixel_id}/events: all-or-nothing, as Meta processes a batch."""
    data = call.json_field("data")
    if data is None:
        return meta_error("(#100) The parameter data is required", 100)
    if not isinstance(data, list) or not data:
        return meta_error("(#100) param data must be an array.", 100)
    if len(data) > CAPI_MAX_EVENTS:
        return meta_error(
            "Invalid parameter",
            100,
            user_title="Too Many Events",
            user_msg=f"A request can hold at most {CAPI_MAX_EVENTS} events; this one has "
            f"{len(data)}. Split it into smaller batches.",
        )
    now = state.now()
    try:
        for index, event in enumerate(data):
            check_capi_event(event, index, now)
    except MetaProblem as problem:
        return problem.response()
    test_code = call.field("test_event_code")
    for event in data:
        event_id = event.get("event_id")
        state.record_event(
            META,
            call.account or "",
            event["event_name"],
            None if event_id in (None, "") else str(event_id),
            as_int(event["event_time"]),
            event,
            DEDUP_WINDOW_SECONDS,
            test=bool(test_code),
        )
    return json_response({"events_received": len(data), "messages": [], "fbtrace_id": trace_id()})


def _invalid(index: int, path: list[Any], title: str, msg: str, **kwargs: Any) -> MetaProblem:
    return MetaProblem(title, msg, blame=["data", index, *path], **kwargs)


def check_capi_event(event: Any, index: int, now: float) -> None:
    """Raise MetaProblem for the first thing Meta would reject in this event."""
    if not isinstance(event, dict):
        raise _invalid(index, [], "Invalid Event", f"data[{index}] must be a JSON object.")
    name = event.get("event_name")
    if not isinstance(name, str) or not name.strip():
        raise _invalid(
            index, ["event_name"], "Missing event_name", f"data[{index}] has no event_name."
        )
    if "event_time" not in event:
        raise _invalid(
            index, ["event_time"], "Missing event_time", f"data[{index}] has no event_time."
        )
    event_time = as_int(event["event_time"])
    if event_time is None:
        raise _invalid(
            index,
            ["event_time"],
            "Invalid event_time",
            "event_time must be a Unix timestamp in seconds (an integer).",
        )
    window = time_problem(event_time, now, EVENT_MAX_AGE_SECONDS, EVENT_FUTURE_TOLERANCE_SECONDS)
    if window == "too_old":
        raise _invalid(
            index,
            ["event_time"],
            "Event Timestamp Too Old",
            "The timestamp for this event is more than 7 days in the past. Events must be "
            "sent within 7 days of when they occurred.",
            subcode=2804003,
        )
    if window == "in_future":
        raise _invalid(
            index,
            ["event_time"],
            "Event Timestamp In Future",
            "The timestamp for this event is in the future. Send event_time in Unix seconds.",
        )
    source = event.get("action_source")
    if source is None:
        raise _invalid(
            index, ["action_source"], "Missing action_source", "action_source is required."
        )
    if not is_one_of(source, ACTION_SOURCES):
        raise _invalid(
            index,
            ["action_source"],
            "Invalid action_source",
            f"action_source must be one of {', '.join(sorted(ACTION_SOURCES))}.",
        )
    if event.get("event_id") is not None and not isinstance(event["event_id"], str | int):
        raise _invalid(index, ["event_id"], "Invalid event_id", "event_id must be a string.")
    _check_user_data(event.get("user_data"), index, website=source == "website")
    if source == "website" and not isinstance(event.get("event_source_url"), str):
        raise _invalid(
            index,
            ["event_source_url"],
            "Missing event_source_url",
            "Website events need event_source_url.",
        )
    _check_custom_data(event.get("custom_data"), index, name)
    options = event.get("data_processing_options")
    if options is not None and not isinstance(options, list):
        raise _invalid(
            index,
            ["data_processing_options"],
            "Invalid data_processing_options",
            'data_processing_options must be an array, e.g. ["LDU"] or [].',
        )


def _check_user_data(user_data: Any, index: int, website: bool) -> None:
    if not isinstance(user_data, dict) or not user_data:
        raise _invalid(index, ["user_data"], "Missing user_data", "user_data is required.")
    present = [key for key in (*HASHED_USER_FIELDS, *RAW_USER_FIELDS) if user_data.get(key)]
    if not present:
        raise _invalid(
            index,
            ["user_data"],
            "Missing Customer Information",
            "user_data needs at least one customer information parameter.",
        )
    for key in HASHED_USER_FIELDS:
        if key in user_data and not all(is_sha256(v) for v in values_of(user_data[key])):
            raise _invalid(
                index,
                ["user_data", key],
                "Unhashed Customer Information",
                f"user_data.{key} must be normalised and SHA-256 hashed "
                "(64 lowercase hex characters).",
            )
    ip = user_data.get("client_ip_address")
    if ip is not None and not is_ip_address(ip):
        raise _invalid(
            index,
            ["user_data", "client_ip_address"],
            "Invalid client_ip_address",
            "client_ip_address must be a raw IPv4 or IPv6 address (never hashed).",
        )
    if website and not isinstance(user_data.get("client_user_agent"), str):
        raise _invalid(
            index,
            ["user_data", "client_user_agent"],
            "Missing client_user_agent",
            "Website events need user_data.client_user_agent.",
        )


def _check_custom_data(custom: Any, index: int, event_name: str) -> None:
    if custom is None:
        custom = {}
    if not isinstance(custom, dict):
        raise _invalid(
            index, ["custom_data"], "Invalid custom_data", "custom_data must be an object."
        )
    if "value" in custom:
        value = as_number(custom["value"])
        if value is None or not math.isfinite(value):
            raise _invalid(
                index, ["custom_data", "value"], "Invalid value", "value must be a number."
            )
    currency = custom.get("currency")
    if currency is not None and not (isinstance(currency, str) and CURRENCY.match(currency)):
        raise _invalid(
            index,
            ["custom_data", "currency"],
            "Invalid currency",
            "currency must be an ISO 4217 code such as EUR.",
        )
    _check_contents(custom, index)
    if event_name == "Purchase" and ("value" not in custom or not currency):
        raise _invalid(
            index,
            ["custom_data"],
            "Missing Purchase Value",
            "Purchase events need custom_data.currency and custom_data.value.",
        )


def _check_contents(custom: dict[str, Any], index: int) -> None:
    """`contents`: objects with an `id` and an integer `quantity` (`item_price` a number);
    `num_items` an integer (docs/platforms.md, Meta: event fields and time window)."""
    num_items = custom.get("num_items")
    if num_items is not None and as_int(num_items) is None:
        raise _invalid(
            index,
            ["custom_data", "num_items"],
            "Invalid num_items",
            "num_items must be an integer.",
        )
    contents = custom.get("contents")
    if contents is None:
        return
    if not isinstance(contents, list):
        raise _invalid(
            index, ["custom_data", "contents"], "Invalid contents", "contents must be an array."
        )
    for position, item in enumerate(contents):
        where = ["custom_data", "contents", str(position)]
        if not isinstance(item, dict) or not isinstance(item.get("id"), str | int):
            raise _invalid(index, where, "Invalid contents", "Each content needs an id.")
        if as_int(item.get("quantity")) is None:
            raise _invalid(
                index, [*where, "quantity"], "Invalid contents", "quantity must be an integer."
            )
        price = item.get("item_price")
        if price is not None and as_number(price) is None:
            raise _invalid(
                index, [*where, "item_price"], "Invalid contents", "item_price must be a number."
            )


class MetaAPI(PlatformAPI):
    name = META
    routes = (
        route("POST", f"/{V}/(?P<pixel_id>[0-9]+)/events", capi_events, "capi"),
        route("POST", f"/{V}/{ACT}/customaudiences", create_audience, "custom_audience"),
        route("GET", f"/{V}/{ACT}/(?P<edge>customaudiences)", list_edge, "custom_audience"),
        route("POST", f"/{V}/{OBJ}/users", add_users, "custom_audience"),
        route("DELETE", f"/{V}/{OBJ}/users", remove_users, "custom_audience"),
        route("POST", f"/{V}/{OBJ}/usersreplace", replace_users, "custom_audience"),
        route(
            "POST",
            f"/{V}/{ACT}/(?P<edge>campaigns|adsets|ads|adcreatives)",
            create_ad_object,
            "ads_management",
        ),
        route("POST", f"/{V}/{ACT}/adimages", upload_image, "ads_management"),
        route(
            "GET",
            f"/{V}/{ACT}/(?P<edge>campaigns|adsets|ads|adcreatives)",
            list_edge,
            "ads_management",
        ),
        route("GET", f"/{V}/{ACT}/minimum_budgets", minimum_budgets_edge, "ads_management"),
        route("POST", f"/{V}/{OBJ}/owned_product_catalogs", create_catalog, "catalog"),
        route("POST", f"/{V}/{OBJ}/items_batch", items_batch, "catalog"),
        route("POST", f"/{V}/{OBJ}/product_sets", create_product_set, "catalog"),
        route("GET", f"/{V}/{OBJ}/product_sets", list_product_sets, "catalog"),
        route("GET", f"/{V}/{ACT}/insights", insights, "ads_insights"),
        route("GET", f"/{V}/{OBJ}/insights", insights, "ads_insights"),
        route("GET", f"/{V}/{ACT}", read_ad_account, "ads_management"),
        route("GET", f"/{V}/{OBJ}", read_object, "ads_management"),
        route("POST", f"/{V}/{OBJ}", update_object, "ads_management"),
        route("DELETE", f"/{V}/{OBJ}", delete_object, "ads_management"),
    )

    def resolve_account(self, state: SandboxState, call: Call) -> str | None:
        if "pixel_id" in call.params:
            return call.params["pixel_id"]
        if "ad_account" in call.params:
            return call.params["ad_account"]
        object_id = call.params.get("object_id", "")
        obj = state.get_object(META, object_id)
        if obj is None and call.request.method == "GET" and is_pixel_read(object_id):
            return object_id  # GET /{pixel_id}: the pixel is the account
        return obj["account"] if obj else None

    def authenticate(self, state: SandboxState, call: Call) -> Response | None:
        version = float(call.params["version"][1:])
        if version < OLDEST_SUPPORTED_VERSION:
            return meta_error(
                "(#2635) You are calling a deprecated version of the Ads API. Please update "
                "to the latest version: v25.0.",
                2635,
            )
        token = call.field("access_token")
        auth = call.request.headers.get("Authorization", "")
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        call.token = token
        if not token:
            return meta_error("An access token is required to request this resource.", 104)
        if not state.token_valid(META, call.account, token):
            return meta_error("Invalid OAuth access token - Cannot parse access token", 190)
        pixel = call.params.get("pixel_id")
        if pixel is not None and not META_PIXEL_ID.match(pixel):
            return unknown_object(pixel, call.request.method)
        if call.account and not state.is_known(META, call.account):
            shown = f"act_{call.account}" if "ad_account" in call.params else call.account
            return unknown_object(shown, call.request.method)
        return None

    def throttled(self, state: SandboxState, call: Call, retry_after: float) -> Response:
        code, message, usage_type = THROTTLE_CODES.get(call.family, THROTTLE_CODES["capi"])
        minutes = max(1, math.ceil(retry_after / 60))
        usage = {"call_count": 100, "total_cputime": 100, "total_time": 100}
        if usage_type is None:
            headers = {"X-App-Usage": json.dumps(usage)}
        else:
            entry = dict(usage, type=usage_type, estimated_time_to_regain_access=minutes)
            headers = {"X-Business-Use-Case-Usage": json.dumps({call.account or "": [entry]})}
        return meta_error(message, code, transient=True, headers=headers)

    def server_error(self, state: SandboxState, call: Call, status: int) -> Response:
        return meta_error(
            "An unexpected error has occurred. Please retry your request later.",
            2,
            transient=True,
            status=status,
        )

    def not_found(self, request: Request, subpath: str, path_exists: bool) -> Response:
        if path_exists:
            return meta_error(
                f"Unsupported {request.method.lower()} request.",
                100,
                error_type="GraphMethodException",
            )
        return meta_error(f"Unknown path components: {subpath}", 2500)

    def bad_body(self, request: Request, reason: str) -> Response:
        return meta_error(f"(#100) Invalid JSON for postbody: {reason}", 100)
