"""TikTok campaigns, ad groups and ads (create, budget/name updates, status, get) and reports.

Objects keep what Usher set. Budgets are floats in the account currency's major units ([U]:
docs/platforms.md, TikTok: campaigns and budgets). Reports read `state.metrics` (the market
simulator when a scenario is loaded), per day or per hour (`stat_time_hour`, one day at
most) of the advertiser's time zone (`timezone` setting).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Response

from usher.sandbox.behaviour import account_behaviour, review_status
from usher.sandbox.metrics import Metrics, account_today, days_between, total
from usher.sandbox.platform import Call
from usher.sandbox.state import SandboxState
from usher.sandbox.tiktok_common import (
    TIKTOK,
    TIKTOK_ID_BASE,
    TikTokProblem,
    enum,
    id_list,
    param,
    required,
    tiktok_ok,
)
from usher.sandbox.validation import as_int, as_number, list_or_empty

OBJECTIVES = frozenset(
    {
        "WEB_CONVERSIONS",
        "TRAFFIC",
        "REACH",
        "VIDEO_VIEWS",
        "LEAD_GENERATION",
        "PRODUCT_SALES",
        "APP_PROMOTION",
        "ENGAGEMENT",
    }
)
BUDGET_MODES = frozenset(
    {
        "BUDGET_MODE_DAY",
        "BUDGET_MODE_TOTAL",
        "BUDGET_MODE_INFINITE",
        "BUDGET_MODE_DYNAMIC_DAILY_BUDGET",
    }
)
AD_GROUP_BUDGET_MODES = frozenset({"BUDGET_MODE_DAY", "BUDGET_MODE_TOTAL"})
PACING_MODES = frozenset({"PACING_MODE_SMOOTH", "PACING_MODE_FAST"})
# docs/platforms.md, TikTok: campaigns and budgets: daily budgets above $50 a campaign and
# $20 an ad group (a lifetime ad group budget: $20 x its days) [U: applied in the account
# currency; the campaign lifetime minimum is taken to be the same $50].
MIN_CAMPAIGN_BUDGET = 50.0
MIN_ADGROUP_DAILY_BUDGET = 20.0
DAY_SECONDS = 86_400
OPERATION_STATUSES = frozenset({"ENABLE", "DISABLE"})
# An ad's secondary_status by review state [U: the partial-approval value].
AD_REVIEW_STATUSES = {
    "IN_REVIEW": "AD_STATUS_IN_REVIEW",
    "DISAPPROVED": "AD_STATUS_REVIEW_FAIL",
    "WITH_ISSUES": "AD_STATUS_PARTIAL_AUDIT_DELIVERY_OK",
    "APPROVED": "AD_STATUS_DELIVERY_OK",
}
STATUS_ACTIONS = frozenset({"ENABLE", "DISABLE", "DELETE"})
SCHEDULE_TYPES = frozenset({"SCHEDULE_START_END", "SCHEDULE_FROM_NOW"})
OPTIMIZATION_GOALS = frozenset(
    {"CONVERT", "CLICK", "REACH", "SHOW", "VALUE", "TRAFFIC_LANDING_PAGE_VIEW"}
)
BILLING_EVENTS = frozenset({"CPC", "CPM", "OCPM", "CPV"})
DATA_LEVELS = {
    "AUCTION_ADVERTISER": ("advertiser", "advertiser_id"),
    "AUCTION_CAMPAIGN": ("campaign", "campaign_id"),
    "AUCTION_ADGROUP": ("adgroup", "adgroup_id"),
    "AUCTION_AD": ("ad", "ad_id"),
}
REPORT_METRICS = frozenset(
    {
        "spend",
        "impressions",
        "clicks",
        "ctr",
        "cpc",
        "cpm",
        "reach",
        "conversion",
        "cost_per_conversion",
        "conversion_rate",
        "complete_payment",
        "total_purchase_value",
        "complete_payment_roas",
        # web purchases (Complete Payment) as integrators read them
        "cost_per_complete_payment",
        "complete_payment_rate",
        "total_complete_payment_rate",  # TikTok's name for the purchases' total value
        "value_per_complete_payment",
    }
)
TIME_DIMENSIONS = ("stat_time_day", "stat_time_hour")
MAX_REPORT_DIMENSIONS = 4
MAX_PAGE_SIZE = 1000
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
UPDATABLE = {
    "campaign": {"campaign_name", "budget", "budget_mode"},
    "adgroup": {
        "adgroup_name",
        "budget",
        "budget_mode",
        "location_ids",
        "audience_ids",
        "excluded_audience_ids",
        "schedule_end_time",
        "bid_price",
    },
}


def _object(state: SandboxState, advertiser: str, kind: str, object_id: Any) -> dict[str, Any]:
    found = state.get_object(TIKTOK, str(object_id))
    if not found or found["type"] != kind or found["account"] != advertiser:
        raise TikTokProblem(f"{kind}_id: {object_id} does not exist.")
    return found


def _positive_budget(value: Any) -> float:
    budget = as_number(value)
    if budget is None or budget <= 0 or not math.isfinite(budget):
        raise TikTokProblem("budget: must be a positive number (account currency).")
    return budget


def _campaign_budget(call: Call) -> dict[str, Any]:
    """budget_mode and budget of a campaign; CBO (budget_optimize_on) needs a real budget."""
    cbo = param(call, "budget_optimize_on", False)
    if cbo not in (True, False):
        raise TikTokProblem("budget_optimize_on: must be true or false.")
    mode = enum(param(call, "budget_mode", "BUDGET_MODE_INFINITE"), "budget_mode", BUDGET_MODES)
    fields: dict[str, Any] = {"budget_mode": mode, "budget_optimize_on": cbo}
    if mode == "BUDGET_MODE_INFINITE":
        if cbo:
            raise TikTokProblem(
                "budget_mode: campaign budget optimization needs BUDGET_MODE_DAY or "
                "BUDGET_MODE_TOTAL with a budget."
            )
        return fields
    fields["budget"] = _positive_budget(param(call, "budget"))
    if fields["budget"] < MIN_CAMPAIGN_BUDGET:
        raise TikTokProblem(
            f"budget: the campaign budget must be at least {MIN_CAMPAIGN_BUDGET:g}."
        )
    return fields


def _adgroup_budget(call: Call, schedule_days: int | None) -> dict[str, Any]:
    """An ad group's own budget_mode, budget and pacing (required unless the campaign has CBO)."""
    fields: dict[str, Any] = {
        "budget_mode": enum(required(call, "budget_mode"), "budget_mode", AD_GROUP_BUDGET_MODES),
        "budget": _positive_budget(required(call, "budget")),
        "pacing": enum(required(call, "pacing"), "pacing", PACING_MODES),
    }
    _check_adgroup_minimum(fields["budget_mode"], fields["budget"], schedule_days)
    return fields


def _check_adgroup_minimum(mode: str, budget: float, schedule_days: int | None) -> None:
    if mode == "BUDGET_MODE_TOTAL":
        if schedule_days is None:
            raise TikTokProblem(
                "schedule_type: a BUDGET_MODE_TOTAL ad group needs SCHEDULE_START_END."
            )
        minimum = MIN_ADGROUP_DAILY_BUDGET * schedule_days
    else:
        minimum = MIN_ADGROUP_DAILY_BUDGET
    if budget < minimum:
        raise TikTokProblem(f"budget: the ad group budget must be at least {minimum:g}.")


def _schedule_days(fields: dict[str, Any]) -> int | None:
    if fields["schedule_type"] != "SCHEDULE_START_END":
        return None
    start = datetime.strptime(fields["schedule_start_time"], TIME_FORMAT)
    end = datetime.strptime(fields["schedule_end_time"], TIME_FORMAT)
    if end <= start:
        raise TikTokProblem("schedule_end_time: must be after schedule_start_time.")
    return max(1, math.ceil((end - start).total_seconds() / DAY_SECONDS))


def _store(
    state: SandboxState, advertiser: str, kind: str, fields: dict[str, Any]
) -> dict[str, Any]:
    object_id = state.next_id(TIKTOK, TIKTOK_ID_BASE)
    now = datetime.fromtimestamp(state.now(), UTC).strftime(TIME_FORMAT)
    fields.update(
        {
            f"{kind}_id": object_id,
            "advertiser_id": advertiser,
            "create_time": now,
            "modify_time": now,
        }
    )
    fields.setdefault("operation_status", "ENABLE")
    state.put_object(
        TIKTOK,
        object_id,
        {
            "id": object_id,
            "type": kind,
            "account": advertiser,
            "fields": fields,
            "created_at": state.now(),
        },
    )
    return fields


def create_campaign(state: SandboxState, call: Call) -> Response:
    try:
        fields = {
            "campaign_name": required(call, "campaign_name"),
            "objective_type": enum(required(call, "objective_type"), "objective_type", OBJECTIVES),
            "operation_status": enum(
                param(call, "operation_status", "ENABLE"), "operation_status", OPERATION_STATUSES
            ),
            **_campaign_budget(call),
        }
    except TikTokProblem as problem:
        return problem.response()
    return tiktok_ok(_store(state, call.account or "", "campaign", fields))


def create_adgroup(state: SandboxState, call: Call) -> Response:
    advertiser = call.account or ""
    try:
        campaign = _object(state, advertiser, "campaign", required(call, "campaign_id"))
        fields: dict[str, Any] = {
            "campaign_id": campaign["id"],
            "adgroup_name": required(call, "adgroup_name"),
            "placement_type": param(call, "placement_type", "PLACEMENT_TYPE_AUTOMATIC"),
            "location_ids": _list(call, "location_ids"),
            "schedule_type": enum(required(call, "schedule_type"), "schedule_type", SCHEDULE_TYPES),
            "schedule_start_time": _time(
                required(call, "schedule_start_time"), "schedule_start_time"
            ),
            "optimization_goal": enum(
                required(call, "optimization_goal"), "optimization_goal", OPTIMIZATION_GOALS
            ),
            "billing_event": enum(required(call, "billing_event"), "billing_event", BILLING_EVENTS),
            "operation_status": enum(
                param(call, "operation_status", "ENABLE"), "operation_status", OPERATION_STATUSES
            ),
        }
        if fields["schedule_type"] == "SCHEDULE_START_END":
            fields["schedule_end_time"] = _time(
                required(call, "schedule_end_time"), "schedule_end_time"
            )
        if campaign["fields"].get("budget_optimize_on"):
            if param(call, "budget") is not None:
                raise TikTokProblem(
                    "budget: the campaign uses campaign budget optimization; its ad groups "
                    "take no budget of their own."
                )
        else:
            fields.update(_adgroup_budget(call, _schedule_days(fields)))
        if fields["optimization_goal"] in ("CONVERT", "VALUE"):
            fields["pixel_id"] = required(call, "pixel_id")
            fields["optimization_event"] = required(call, "optimization_event")
        for key in ("audience_ids", "excluded_audience_ids"):
            ids = param(call, key) or []
            if not isinstance(ids, list):
                raise TikTokProblem(f"{key}: must be a list.")
            for audience_id in ids:
                _object(state, advertiser, "audience", audience_id)
            fields[key] = [str(i) for i in ids]
        for key in ("bid_type", "bid_price", "gender", "age_groups", "languages"):
            if param(call, key) is not None:
                fields[key] = param(call, key)
    except TikTokProblem as problem:
        return problem.response()
    return tiktok_ok(_store(state, advertiser, "adgroup", fields))


def _list(call: Call, name: str) -> list[Any]:
    value = required(call, name)
    if not isinstance(value, list):
        raise TikTokProblem(f"{name}: must be a list.")
    return value


def _time(value: Any, name: str) -> str:
    try:
        datetime.strptime(str(value), TIME_FORMAT)
    except ValueError as exc:
        raise TikTokProblem(f"{name}: must look like 2026-01-31 12:00:00 (UTC).") from exc
    return str(value)


def create_ad(state: SandboxState, call: Call) -> Response:
    advertiser = call.account or ""
    try:
        adgroup = _object(state, advertiser, "adgroup", required(call, "adgroup_id"))
        creatives = _list(call, "creatives")
        for index, creative in enumerate(creatives):
            if not isinstance(creative, dict):
                raise TikTokProblem(f"creatives[{index}]: must be an object.")
            for key in ("ad_name", "ad_text", "landing_page_url"):
                if not creative.get(key):
                    raise TikTokProblem(
                        f"creatives[{index}].{key}: Missing data for required field."
                    )
            if not (creative.get("video_id") or creative.get("image_ids")):
                raise TikTokProblem(f"creatives[{index}]: needs a video_id or image_ids.")
    except TikTokProblem as problem:
        return problem.response()
    ad_ids = []
    for creative in creatives:
        fields = dict(
            creative, adgroup_id=adgroup["id"], campaign_id=adgroup["fields"]["campaign_id"]
        )
        ad_ids.append(_store(state, advertiser, "ad", fields)["ad_id"])
    return tiktok_ok({"ad_ids": ad_ids})


def update_object(state: SandboxState, call: Call) -> Response:
    """campaign/update/ and adgroup/update/: names, budgets, targeting lists."""
    kind = call.params["kind"]
    try:
        obj = _object(state, call.account or "", kind, required(call, f"{kind}_id"))
        if obj["fields"].get("operation_status") == "DELETE":
            raise TikTokProblem(f"{kind}_id: a deleted {kind} cannot be edited.")
        changes: dict[str, Any] = {}
        for key in UPDATABLE[kind]:
            value = param(call, key)
            if value is not None:
                changes[key] = value
        _check_budget_update(obj, changes)
    except TikTokProblem as problem:
        return problem.response()
    obj["fields"].update(
        changes, modify_time=datetime.fromtimestamp(state.now(), UTC).strftime(TIME_FORMAT)
    )
    state.dirty = True
    return tiktok_ok(obj["fields"])


def _check_budget_update(obj: dict[str, Any], changes: dict[str, Any]) -> None:
    """Budgets change only where the object has one; a live budget keeps its type."""
    fields = obj["fields"]
    mode = fields.get("budget_mode")
    new_mode = changes.get("budget_mode", mode)
    if new_mode != mode:
        if fields.get("operation_status") == "ENABLE":
            raise TikTokProblem(
                "budget_mode: the budget type of a live campaign or ad group cannot change."
            )
        allowed = AD_GROUP_BUDGET_MODES if obj["type"] == "adgroup" else BUDGET_MODES
        enum(new_mode, "budget_mode", allowed)
    if "budget" not in changes and new_mode == mode:
        return
    if new_mode in (None, "BUDGET_MODE_INFINITE"):
        if "budget" in changes:
            raise TikTokProblem(
                "budget: this object has no budget of its own (BUDGET_MODE_INFINITE, or an ad "
                "group under campaign budget optimization)."
            )
        return
    changes["budget"] = _positive_budget(changes.get("budget", fields.get("budget")))
    if obj["type"] == "campaign" and changes["budget"] < MIN_CAMPAIGN_BUDGET:
        raise TikTokProblem(
            f"budget: the campaign budget must be at least {MIN_CAMPAIGN_BUDGET:g}."
        )
    if obj["type"] == "adgroup":
        _check_adgroup_minimum(new_mode, changes["budget"], _schedule_days(fields))


def update_status(state: SandboxState, call: Call) -> Response:
    kind = call.params["kind"]
    try:
        ids = id_list(call, f"{kind}_ids", limit=100)
        status = enum(required(call, "operation_status"), "operation_status", STATUS_ACTIONS)
        objects = [_object(state, call.account or "", kind, object_id) for object_id in ids]
    except TikTokProblem as problem:
        return problem.response()
    for obj in objects:
        obj["fields"]["operation_status"] = status
    state.dirty = True
    return tiktok_ok({f"{kind}_ids": ids, "status": status})


def get_objects(state: SandboxState, call: Call) -> Response:
    kind = call.params["kind"]
    try:
        filtering = param(call, "filtering") or {}
        if not isinstance(filtering, dict):
            raise TikTokProblem("filtering: must be an object.")
        page = max(1, as_int(param(call, "page", 1)) or 1)
        page_size = min(MAX_PAGE_SIZE, max(1, as_int(param(call, "page_size", 10)) or 10))
    except TikTokProblem as problem:
        return problem.response()
    wanted = {str(i) for i in list_or_empty(filtering.get(f"{kind}_ids"))}
    objects = [
        _shown(state, obj)
        for obj in state.objects_of(TIKTOK, call.account or "", kind)
        if (not wanted or obj["id"] in wanted) and obj["fields"].get("operation_status") != "DELETE"
    ]
    return tiktok_ok(
        {
            "list": objects[(page - 1) * page_size : page * page_size],
            "page_info": _page_info(page, page_size, len(objects)),
        }
    )


def _shown(state: SandboxState, obj: dict[str, Any]) -> dict[str, Any]:
    """An object as /get/ lists it; ads add their review-driven secondary_status."""
    if obj["type"] != "ad":
        return obj["fields"]
    behaviour = account_behaviour(state, TIKTOK, obj["account"])
    review = review_status(behaviour, obj.get("created_at", 0.0), state.now())
    if review in ("IN_REVIEW", "DISAPPROVED"):
        status = AD_REVIEW_STATUSES[review]
    elif obj["fields"].get("operation_status") == "DISABLE":
        status = "AD_STATUS_DISABLE"
    else:
        status = AD_REVIEW_STATUSES[review]
    return dict(obj["fields"], secondary_status=status)


def _report_periods(
    state: SandboxState,
    advertiser: str,
    kind: str,
    object_id: str,
    start: date,
    end: date,
    dimensions: list[Any],
) -> list[tuple[dict[str, str], Metrics]]:
    """(time dimension, metrics) per row: per day, per hour that delivered, or the range."""
    if "stat_time_hour" in dimensions:
        return [
            ({"stat_time_hour": f"{start.isoformat()} {hour:02d}:00:00"}, metrics)
            for hour, metrics in state.metrics.hourly_for(
                TIKTOK, advertiser, kind, object_id, start
            )
        ]
    if "stat_time_day" in dimensions:
        return [
            (
                {"stat_time_day": f"{day.isoformat()} 00:00:00"},
                state.metrics.metrics_for(TIKTOK, advertiser, kind, object_id, day),
            )
            for day in days_between(start, end)
        ]
    return [
        (
            {},
            total(
                state.metrics.metrics_for(TIKTOK, advertiser, kind, object_id, day)
                for day in days_between(start, end)
            ),
        )
    ]


def _page_info(page: int, page_size: int, total_number: int) -> dict[str, int]:
    return {
        "page": page,
        "page_size": page_size,
        "total_number": total_number,
        "total_page": math.ceil(total_number / page_size),
    }


def report(state: SandboxState, call: Call) -> Response:
    """report/integrated/get/ (BASIC): one row per object (and per day with stat_time_day)."""
    advertiser = call.account or ""
    try:
        enum(required(call, "report_type"), "report_type", frozenset({"BASIC"}))
        level = enum(required(call, "data_level"), "data_level", frozenset(DATA_LEVELS))
        kind, id_dimension = DATA_LEVELS[level]
        dimensions = _list(call, "dimensions")
        if (
            len(dimensions) > MAX_REPORT_DIMENSIONS
            or any(d not in (id_dimension, *TIME_DIMENSIONS) for d in dimensions)
            or all(d in dimensions for d in TIME_DIMENSIONS)
        ):
            raise TikTokProblem(
                f"dimensions: use {id_dimension} and stat_time_day or stat_time_hour for {level}."
            )
        metrics = param(call, "metrics") or ["spend", "impressions"]
        if not isinstance(metrics, list):
            raise TikTokProblem("metrics: must be a JSON list.")
        unknown = [m for m in metrics if m not in REPORT_METRICS]
        if unknown:
            raise TikTokProblem(f"metrics: unknown metrics {', '.join(map(str, unknown))}.")
        if param(call, "query_lifetime") in (True, "true"):
            today = account_today(state, TIKTOK, advertiser)
            start, end = date(today.year - 1, today.month, 1), today
        else:
            start = date.fromisoformat(str(required(call, "start_date")))
            end = date.fromisoformat(str(required(call, "end_date")))
            if start > end:
                raise TikTokProblem("start_date: must not be after end_date.")
            if "stat_time_hour" in dimensions and start != end:
                raise TikTokProblem("start_date: an hourly report covers one day at most.")
        page = max(1, as_int(param(call, "page", 1)) or 1)
        page_size = min(MAX_PAGE_SIZE, max(1, as_int(param(call, "page_size", 10)) or 10))
    except TikTokProblem as problem:
        return problem.response()
    except ValueError:
        return TikTokProblem("start_date/end_date: must look like 2026-01-31.").response()
    objects = (
        [advertiser]
        if kind == "advertiser"
        else [o["id"] for o in state.objects_of(TIKTOK, advertiser, kind)]
    )
    rows = []
    for object_id in objects:
        for time_dimension, m in _report_periods(
            state, advertiser, kind, object_id, start, end, dimensions
        ):
            values = {
                "spend": f"{m.spend:.2f}",
                "impressions": str(m.impressions),
                "clicks": str(m.clicks),
                "reach": str(m.reach),
                "ctr": f"{m.ctr:.2f}",
                "cpc": f"{m.cpc:.2f}",
                "cpm": f"{m.cpm:.2f}",
                "conversion": f"{m.conversions:g}",
                "complete_payment": f"{m.conversions:g}",
                "cost_per_conversion": f"{(m.spend / int(m.conversions)) if m.conversions >= 1 else 0:.2f}",
                "conversion_rate": f"{(m.conversions / m.clicks * 100) if m.clicks else 0:.2f}",
                "total_purchase_value": f"{m.conversion_value:.2f}",
                "complete_payment_roas": f"{(m.conversion_value / m.spend) if m.spend else 0:.2f}",
                "cost_per_complete_payment": f"{(m.spend / Decimal(str(m.conversions))) if m.conversions else 0:.2f}",
                "complete_payment_rate": f"{(m.conversions / m.clicks * 100) if m.clicks else 0:.2f}",
                "total_complete_payment_rate": f"{m.conversion_value:.2f}",
                "value_per_complete_payment": f"{(m.conversion_value / Decimal(str(m.conversions))) if m.conversions else 0:.2f}",
            }
            row_dimensions = {id_dimension: object_id, **time_dimension}
            rows.append(
                {
                    "dimensions": {d: row_dimensions[d] for d in dimensions},
                    "metrics": {m_: values[m_] for m_ in metrics},
                }
            )
    return tiktok_ok(
        {
            "list": rows[(page - 1) * page_size : page * page_size],
            "page_info": _page_info(page, page_size, len(rows)),
        }
    )
