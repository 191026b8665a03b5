"""Meta reads: `GET /{id}`, `GET /act_<id>`, `GET /act_<id>/{edge}` (Graph paging).

Reads follow Graph: only `id` unless `fields=` asks for more, and an unknown field
is an error (`Tried accessing nonexisting field`) rather than silently missing, so a
typo in Usher's connector fails in tests the way it would in production.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from usher.sandbox.behaviour import (
    LEARNING_WINDOW_SECONDS,
    account_behaviour,
    learning_status,
    reported_size,
    review_status,
    size_step,
)
from usher.sandbox.meta_common import META, MetaProblem, json_param, now_iso, unknown_object
from usher.sandbox.meta_specs import budget_of
from usher.sandbox.metrics import days_between, total
from usher.sandbox.platform import Call, json_response
from usher.sandbox.state import SandboxState
from usher.sandbox.validation import as_int

EDGE_TYPES = {
    "campaigns": "campaign",
    "adsets": "adset",
    "ads": "ad",
    "adcreatives": "adcreative",
    "customaudiences": "customaudience",
}
NODE_NAMES = {
    "campaign": "Campaign",
    "adset": "AdSet",
    "ad": "Ad",
    "adcreative": "AdCreative",
    "customaudience": "CustomAudience",
    "adaccount": "AdAccount",
}
COMMON_READ = {"id", "name", "account_id", "created_time", "updated_time"}
READ_FIELDS = {
    "campaign": COMMON_READ
    | {
        "objective",
        "status",
        "configured_status",
        "effective_status",
        "daily_budget",
        "lifetime_budget",
        "budget_remaining",
        "bid_strategy",
        "issues_info",
        "special_ad_categories",
        "buying_type",
        "is_adset_budget_sharing_enabled",
        "promoted_object",
    },
    "adset": COMMON_READ
    | {
        "campaign_id",
        "status",
        "configured_status",
        "effective_status",
        "daily_budget",
        "lifetime_budget",
        "budget_remaining",
        "bid_strategy",
        "bid_amount",
        "bid_constraints",
        "billing_event",
        "optimization_goal",
        "targeting",
        "promoted_object",
        "start_time",
        "end_time",
        "learning_stage_info",
        "dsa_beneficiary",
        "dsa_payor",
        "issues_info",
    },
    "ad": COMMON_READ
    | {
        "adset_id",
        "campaign_id",
        "creative",
        "status",
        "configured_status",
        "effective_status",
        "tracking_specs",
        "url_tags",
        "ad_review_feedback",
        "issues_info",
    },
    "adcreative": COMMON_READ | {"object_story_spec", "product_set_id", "url_tags", "status"},
    "customaudience": COMMON_READ
    | {
        "subtype",
        "description",
        "customer_file_source",
        "approximate_count_lower_bound",
        "approximate_count_upper_bound",
        "lookalike_spec",
        "origin_audience_id",
        "rule",
        "retention_days",
        "operation_status",
        "delivery_status",
        "time_created",
        "time_updated",
        "time_content_updated",
    },
}
AD_ACCOUNT_FIELDS = {
    "id",
    "account_id",
    "name",
    "currency",
    "timezone_name",
    "account_status",
    "amount_spent",
    "balance",
    "disable_reason",
}
DEFAULT_PAGE_SIZE = 25
PIXEL_ID_FOR_READS = re.compile(r"^[0-9]{15,16}$")
PIXEL_FIELDS = {"id", "name", "is_unavailable", "last_fired_time"}
# Graph's marker for a count it will not tell [U].
UNKNOWN_COUNT = -1
AUDIENCE_POPULATING = (
    "We're finding people who fit your audience criteria. This can take up to a few hours."
)
AUDIENCE_TOO_SMALL = "This audience is too small. Add more people to use it in ads."
# What a disapproved sandbox ad carries: one policy and its reason, as ad_review_feedback does.
DISAPPROVAL_FEEDBACK = {
    "Misleading or false content": "Your ad makes claims the landing page does not support."
}
# [U] issues_info also carries an error_code; Meta's list of them was not read.
DELIVERY_ISSUE = {
    "error_summary": "Ad delivery limited",
    "error_message": "This ad is delivering to fewer people because of a policy issue.",
    "error_type": "SOFT_ERROR",
}


def render(state: SandboxState, obj: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    """The object as Graph returns it: id plus the requested fields that are set."""
    fields = obj["fields"]
    out: dict[str, Any] = {"id": obj["id"]}
    for name in wanted:
        if name == "account_id":
            out[name] = obj["account"]
        elif name == "configured_status":
            out[name] = fields.get("status")
        elif name == "effective_status":
            out[name] = effective_status(state, obj)
        elif name == "budget_remaining":
            budget = budget_of(fields)
            out[name] = str(budget[1]) if budget else "0"
        elif name in ("approximate_count_lower_bound", "approximate_count_upper_bound"):
            out[name] = _approximate_count(state, obj, upper=name.endswith("upper_bound"))
        elif name in ("operation_status", "delivery_status") and obj["type"] == "customaudience":
            out[name] = _audience_status(state, obj)[name]
        elif name == "learning_stage_info":
            out[name] = _learning_stage_info(state, obj)
        elif name in ("ad_review_feedback", "issues_info"):
            value = _review_findings(state, obj).get(name)
            if value is not None:
                out[name] = value
        elif name in ("daily_budget", "lifetime_budget", "bid_amount") and name in fields:
            out[name] = str(fields[name])  # Graph returns budgets as strings
        elif fields.get(name) is not None:
            out[name] = fields[name]
    return out


def _review(state: SandboxState, obj: dict[str, Any]) -> str:
    """The ad's review state on the sandbox clock (objects saved before reviews: approved)."""
    behaviour = account_behaviour(state, META, obj["account"])
    return review_status(behaviour, obj.get("created_at", 0.0), state.now())


def effective_status(state: SandboxState, obj: dict[str, Any]) -> str:
    """Own status first, then review (ads), then what a paused parent does to delivery.

    [U] Meta's precedence between review and a paused ad is not documented; here a
    review in progress or a disapproval shows over PAUSED, as Ads Manager lists them.
    """
    status = obj["fields"].get("status", "ACTIVE")
    if status in ("DELETED", "ARCHIVED"):
        return status
    review = _review(state, obj) if obj["type"] == "ad" else "APPROVED"
    if review == "DISAPPROVED":
        return "DISAPPROVED"
    if review == "IN_REVIEW":
        return "PENDING_REVIEW"
    if status != "ACTIVE":
        return status
    for parent_key, paused in (("adset_id", "ADSET_PAUSED"), ("campaign_id", "CAMPAIGN_PAUSED")):
        parent = state.get_object(META, str(obj["fields"].get(parent_key, "")))
        if parent and parent["fields"].get("status") != "ACTIVE":
            return paused
    return "WITH_ISSUES" if review == "WITH_ISSUES" else "ACTIVE"


def _review_findings(state: SandboxState, obj: dict[str, Any]) -> dict[str, Any]:
    """ad_review_feedback for a disapproved ad, issues_info for one with issues."""
    if obj["type"] != "ad":
        return {}
    review = _review(state, obj)
    if review == "DISAPPROVED":
        return {"ad_review_feedback": {"global": dict(DISAPPROVAL_FEEDBACK)}}
    if review == "WITH_ISSUES":
        return {"issues_info": [dict(DELIVERY_ISSUE, level="AD")]}
    return {}


def _learning_stage_info(state: SandboxState, obj: dict[str, Any]) -> dict[str, Any] | None:
    """Meta's learning phase: events since the last significant edit, from the metrics."""
    if obj["type"] != "adset":
        return None
    since = float(obj.get("significant_edit_at", 0.0))
    now = state.now()
    first_day = datetime.fromtimestamp(max(since, now - LEARNING_WINDOW_SECONDS), UTC).date()
    today = datetime.fromtimestamp(now, UTC).date()
    conversions = total(
        state.metrics.metrics_for(META, obj["account"], "adset", obj["id"], day)
        for day in days_between(first_day, today)
    ).conversions
    learning = account_behaviour(state, META, obj["account"]).learning_phase
    return {
        "status": learning_status(conversions, since, now) if learning else "SUCCESS",
        "conversions": int(conversions),
        "last_sig_edit_ts": int(since),
        "attribution_windows": ["7d_click", "1d_view"],
    }


def _audience_ready(state: SandboxState, obj: dict[str, Any]) -> bool:
    behaviour = account_behaviour(state, META, obj["account"])
    fill = (
        behaviour.lookalike_fill_seconds
        if obj["fields"].get("subtype") == "LOOKALIKE"
        else behaviour.audience_fill_seconds
    )
    return state.now() >= float(obj.get("content_updated_at", 0.0)) + fill


def _approximate_count(state: SandboxState, obj: dict[str, Any], upper: bool) -> int:
    """Rounded counts once the audience has filled; -1 while unknown [U: Meta's marker]."""
    behaviour = account_behaviour(state, META, obj["account"])
    size = reported_size(
        behaviour, len(state.members_of(META, obj["id"])), _audience_ready(state, obj)
    )
    if size is None:
        return UNKNOWN_COUNT
    if upper and behaviour.rounded_audience_sizes:
        return size + size_step(size)
    return size


def _audience_status(state: SandboxState, obj: dict[str, Any]) -> dict[str, Any]:
    """operation_status / delivery_status: populating, too small, or ready [U: codes]."""
    if not _audience_ready(state, obj):
        return {
            "operation_status": {"code": 441, "description": AUDIENCE_POPULATING},
            "delivery_status": {"code": 300, "description": AUDIENCE_TOO_SMALL},
        }
    if _approximate_count(state, obj, upper=False) == UNKNOWN_COUNT:
        return {
            "operation_status": {"code": 200, "description": "Normal"},
            "delivery_status": {"code": 300, "description": AUDIENCE_TOO_SMALL},
        }
    return {
        "operation_status": {"code": 200, "description": "Normal"},
        "delivery_status": {"code": 200, "description": "This audience is ready for use."},
    }


def _wanted(call: Call, node: str, allowed: set[str]) -> list[str]:
    raw = call.field("fields") or ""
    wanted = [name.strip() for name in str(raw).split(",") if name.strip()]
    for name in wanted:
        if name not in allowed:
            raise MetaProblem(
                "",
                "",
                message=f"(#100) Tried accessing nonexisting field ({name}) on node type ({node})",
            )
    return wanted


def is_pixel_read(object_id: str) -> bool:
    """Real pixel ids have 15-16 digits (docs/platforms.md, ID formats); sandbox objects have 18."""
    return bool(PIXEL_ID_FOR_READS.match(object_id))


def read_pixel(state: SandboxState, call: Call, pixel_id: str) -> Response:
    """GET /{pixel_id}: lets Usher check a pixel id and token before saving a tracking code."""
    try:
        wanted = _wanted(call, "AdsPixel", PIXEL_FIELDS)
    except MetaProblem as problem:
        return problem.response()
    registered = state.account(META, pixel_id)
    settings = registered.settings if registered else {}
    received = [
        e["received_at"] for e in state.events if e["platform"] == META and e["account"] == pixel_id
    ]
    values = {
        "name": settings.get("name", f"Sandbox pixel {pixel_id}"),
        "is_unavailable": False,
        "last_fired_time": now_iso(max(received)) if received else None,
    }
    out: dict[str, Any] = {"id": pixel_id}
    out.update({name: values[name] for name in wanted if values.get(name) is not None})
    return json_response(out)


def read_object(state: SandboxState, call: Call) -> Response:
    obj = state.get_object(META, call.params["object_id"])
    if obj is None and is_pixel_read(call.params["object_id"]):
        return read_pixel(state, call, call.params["object_id"])
    if not obj or obj["type"] not in READ_FIELDS:
        return unknown_object(call.params["object_id"], "get")
    try:
        wanted = _wanted(call, NODE_NAMES[obj["type"]], READ_FIELDS[obj["type"]])
    except MetaProblem as problem:
        return problem.response()
    return json_response(render(state, obj, wanted))


def read_ad_account(state: SandboxState, call: Call) -> Response:
    account = call.params["ad_account"]
    try:
        wanted = _wanted(call, "AdAccount", AD_ACCOUNT_FIELDS)
    except MetaProblem as problem:
        return problem.response()
    registered = state.account(META, account)
    settings = registered.settings if registered else {}
    values = {
        "account_id": account,
        "name": settings.get("name", f"Sandbox ad account {account}"),
        "currency": settings.get("currency", "EUR"),
        "timezone_name": settings.get("timezone_name", "Etc/UTC"),
        "account_status": 1,
        "amount_spent": "0",
        "balance": "0",
        "disable_reason": 0,
    }
    out = {"id": f"act_{account}"}
    out.update({name: values[name] for name in wanted if name in values})
    return json_response(out)


def list_edge(state: SandboxState, call: Call) -> Response:
    """GET /act_<id>/{edge}: cursor-paged like Graph; deleted objects only when asked for."""
    object_type = EDGE_TYPES[call.params["edge"]]
    try:
        wanted = _wanted(call, NODE_NAMES[object_type], READ_FIELDS[object_type])
    except MetaProblem as problem:
        return problem.response()
    statuses = json_param(call.field("effective_status"))
    objects = [
        obj
        for obj in state.objects_of(META, call.params["ad_account"], object_type)
        if (
            effective_status(state, obj) in statuses
            if isinstance(statuses, list)
            else obj["fields"].get("status") != "DELETED"
        )
    ]
    limit = max(1, as_int(call.field("limit")) or DEFAULT_PAGE_SIZE)
    start = _cursor_index(call.field("after"))
    page = objects[start : start + limit]
    body: dict[str, Any] = {"data": [render(state, obj, wanted) for obj in page]}
    if page:
        body["paging"] = {
            "cursors": {"before": _cursor(start), "after": _cursor(start + len(page) - 1)}
        }
        if start + limit < len(objects):
            args = call.request.args.to_dict()
            args["after"] = _cursor(start + len(page) - 1)
            body["paging"]["next"] = f"{call.request.base_url}?{urlencode(args)}"
    return json_response(body)


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(str(index).encode()).decode()


def _cursor_index(cursor: Any) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.urlsafe_b64decode(str(cursor).encode()).decode()) + 1
    except (ValueError, binascii.Error):
        return 0
