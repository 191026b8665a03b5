"""Meta insights: `GET /act_<id>/insights` and `GET /{campaign|adset|ad}/insights`.

Numbers come from `state.metrics` (the market simulator when a scenario is loaded)
and are formatted as Graph does: counts and money as strings, purchases as
`actions`/`action_values` rows that are omitted when there are none, no row at all for
an object or period that delivered nothing (so `data` is empty when nothing ran).
Days are the ad account's (`timezone_name` setting); the hourly breakdown
`hourly_stats_aggregated_by_advertiser_time_zone` gives one row per hour that delivered.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Response

from usher.sandbox.meta_common import META, MetaProblem, json_param, unknown_object
from usher.sandbox.metrics import Metrics, account_today, days_between, total
from usher.sandbox.platform import Call, json_response
from usher.sandbox.state import SandboxState
from usher.sandbox.validation import as_int

LEVELS = ("account", "campaign", "adset", "ad")
INSIGHT_FIELDS = frozenset(
    {
        "impressions",
        "clicks",
        "spend",
        "reach",
        "frequency",
        "ctr",
        "cpc",
        "cpm",
        "actions",
        "action_values",
        "cost_per_action_type",
        "purchase_roas",
        "website_purchase_roas",
        "conversions",
        "conversion_values",
        "inline_link_clicks",
        "account_currency",
        "account_id",
        "account_name",
        "campaign_id",
        "campaign_name",
        "adset_id",
        "adset_name",
        "ad_id",
        "ad_name",
        "objective",
        "date_start",
        "date_stop",
    }
)
DEFAULT_FIELDS = ("impressions", "spend")
# Web purchases (pixel + CAPI) and all channels: pick one, don't sum (docs/platforms.md, Meta:
# insights).
PURCHASE_ACTION_TYPES = ("offsite_conversion.fb_pixel_purchase", "omni_purchase")
MAXIMUM_LOOKBACK_DAYS = 37 * 30
# Exactly the SDK's AdsInsights.DatePreset list (facebook-python-business-sdk, v25).
DATE_PRESETS = frozenset(
    {
        "today",
        "yesterday",
        "this_month",
        "last_month",
        "this_quarter",
        "maximum",
        "data_maximum",
        "last_3d",
        "last_7d",
        "last_14d",
        "last_28d",
        "last_30d",
        "last_90d",
        "last_week_mon_sun",
        "last_week_sun_sat",
        "last_quarter",
        "last_year",
        "this_week_mon_today",
        "this_week_sun_today",
        "this_year",
    }
)
HOURLY_BREAKDOWN = "hourly_stats_aggregated_by_advertiser_time_zone"


def _quarter_start(day: date) -> date:
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


def _preset_range(preset: str, today: date) -> tuple[date, date]:
    """A preset's first and last day; `last_Nd` ends yesterday, as Meta counts."""
    if preset not in DATE_PRESETS:
        raise MetaProblem("Invalid date_preset", f"Unsupported date_preset {preset!r}.")
    yesterday = today - timedelta(days=1)
    monday = today - timedelta(days=today.weekday())
    sunday = today - timedelta(days=(today.weekday() + 1) % 7)
    if preset.startswith("last_") and preset.endswith("d") and preset[5:-1].isdigit():
        return today - timedelta(days=int(preset[5:-1])), yesterday
    if preset in ("last_month", "last_quarter", "last_year"):
        this_start = {
            "last_month": today.replace(day=1),
            "last_quarter": _quarter_start(today),
            "last_year": today.replace(month=1, day=1),
        }[preset]
        end = this_start - timedelta(days=1)
        start = {
            "last_month": end.replace(day=1),
            "last_quarter": _quarter_start(end),
            "last_year": end.replace(month=1, day=1),
        }[preset]
        return start, end
    ranges = {
        "today": (today, today),
        "yesterday": (yesterday, yesterday),
        "this_month": (today.replace(day=1), today),
        "this_quarter": (_quarter_start(today), today),
        "this_year": (today.replace(month=1, day=1), today),
        "this_week_mon_today": (monday, today),
        "this_week_sun_today": (sunday, today),
        "last_week_mon_sun": (monday - timedelta(days=7), monday - timedelta(days=1)),
        "last_week_sun_sat": (sunday - timedelta(days=7), sunday - timedelta(days=1)),
    }
    return ranges.get(preset, (today - timedelta(days=MAXIMUM_LOOKBACK_DAYS), today))


def _date_range(call: Call, today: date) -> tuple[date, date]:
    time_range = json_param(call.field("time_range"))
    if time_range:
        try:
            since = date.fromisoformat(time_range["since"])
            until = date.fromisoformat(time_range["until"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MetaProblem(
                "Invalid time_range", 'time_range must be {"since": "YYYY-MM-DD", "until": ...}.'
            ) from exc
        if since > until:
            raise MetaProblem("Invalid time_range", "since must not be after until.")
        return since, until
    return _preset_range(str(call.field("date_preset") or "last_30d"), today)


def _objects_at_level(
    state: SandboxState, account: str, node: dict[str, Any] | None, level: str
) -> list[dict[str, Any]]:
    if level == "account":
        return [{"id": account, "type": "account", "account": account, "fields": {}}]
    candidates = state.objects_of(META, account, level)
    if node is None:
        return candidates
    key = f"{node['type']}_id"
    return [
        obj for obj in candidates if obj["id"] == node["id"] or obj["fields"].get(key) == node["id"]
    ]


def insights(state: SandboxState, call: Call) -> Response:
    node = None
    if "ad_account" in call.params:
        account, node_level = call.params["ad_account"], "account"
    else:
        node = state.get_object(META, call.params["object_id"])
        if not node or node["type"] not in LEVELS:
            return unknown_object(call.params["object_id"], "get")
        account, node_level = node["account"], node["type"]
    try:
        level = str(call.field("level") or node_level)
        if level not in LEVELS or LEVELS.index(level) < LEVELS.index(node_level):
            raise MetaProblem(
                "Invalid level",
                f"level must be one of {', '.join(LEVELS[LEVELS.index(node_level) :])}.",
            )
        fields = [f.strip() for f in str(call.field("fields") or "").split(",") if f.strip()]
        for name in fields:
            if name not in INSIGHT_FIELDS:
                raise MetaProblem("", "", message=f"(#100) {name} is not valid for fields param.")
        since, until = _date_range(call, account_today(state, META, account))
        hourly = _hourly_breakdown(call.field("breakdowns"))
    except MetaProblem as problem:
        return problem.response()
    buckets = _buckets(since, until, call.field("time_increment"))
    rows = []
    for start, stop in buckets:
        for obj in _objects_at_level(state, account, node, level):
            for hour, metrics in _delivery(state, account, level, obj["id"], start, stop, hourly):
                row = _row(
                    state, account, obj, fields or list(DEFAULT_FIELDS), metrics, start, stop
                )
                if hour is not None:
                    row[HOURLY_BREAKDOWN] = f"{hour:02d}:00:00 - {hour:02d}:59:59"
                rows.append(row)
    return json_response(
        {"data": rows, "paging": {"cursors": {"before": "MAZDZD", "after": "MAZDZD"}}}
    )


def _hourly_breakdown(value: Any) -> bool:
    """Whether the hourly breakdown was asked for; other breakdowns are not simulated."""
    names = json_param(value) or []
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [name for name in names if name != HOURLY_BREAKDOWN]
    if unknown:
        raise MetaProblem(
            "Invalid breakdowns", f"The sandbox reports only the {HOURLY_BREAKDOWN} breakdown."
        )
    return bool(names)


def _delivery(
    state: SandboxState,
    account: str,
    level: str,
    object_id: str,
    start: date,
    stop: date,
    hourly: bool,
) -> list[tuple[int | None, Metrics]]:
    """(hour or None, metrics) per row; nothing for a period without delivery."""
    if hourly:
        by_hour: dict[int, Metrics] = {}
        for day in days_between(start, stop):
            for hour, metrics in state.metrics.hourly_for(META, account, level, object_id, day):
                by_hour[hour] = by_hour.get(hour, Metrics()) + metrics
        found = sorted(by_hour.items())
    else:
        found = [
            (
                None,
                total(
                    state.metrics.metrics_for(META, account, level, object_id, day)
                    for day in days_between(start, stop)
                ),
            )
        ]
    return [(hour, m) for hour, m in found if m.impressions or m.spend]


def _buckets(since: date, until: date, increment: Any) -> list[tuple[date, date]]:
    step = as_int(increment)
    if not step or step <= 0:  # "all_days" or absent: one row for the whole range
        return [(since, until)]
    days = days_between(since, until)
    return [(days[i], days[min(i + step, len(days)) - 1]) for i in range(0, len(days), step)]


def _row(
    state: SandboxState,
    account: str,
    obj: dict[str, Any],
    fields: list[str],
    m: Metrics,
    start: date,
    stop: date,
) -> dict[str, Any]:
    registered = state.account(META, account)
    settings = registered.settings if registered else {}
    names = {
        "account_id": account,
        "account_name": settings.get("name", f"Sandbox ad account {account}"),
    }
    for level in ("campaign", "adset", "ad"):
        owner = (
            obj
            if obj["type"] == level
            else state.get_object(META, str(obj["fields"].get(f"{level}_id", "")))
        )
        if owner:
            names[f"{level}_id"] = owner["id"]
            names[f"{level}_name"] = owner["fields"].get("name")
    campaign = state.get_object(META, str(names.get("campaign_id", "")))
    purchases = [{"action_type": t, "value": f"{m.conversions:g}"} for t in PURCHASE_ACTION_TYPES]
    values = {
        "impressions": str(m.impressions),
        "clicks": str(m.clicks),
        "inline_link_clicks": str(m.clicks),
        "reach": str(m.reach),
        "spend": f"{m.spend:.2f}",
        "frequency": f"{(m.impressions / m.reach) if m.reach else 0:g}",
        "ctr": f"{m.ctr:g}",
        "cpc": f"{m.cpc:.2f}",
        "cpm": f"{m.cpm:.2f}",
        "account_currency": settings.get("currency", "EUR"),
        "objective": campaign["fields"].get("objective") if campaign else None,
        **names,
    }
    if m.conversions:
        roas = f"{(m.conversion_value / m.spend) if m.spend else 0:.4f}"
        values.update(
            actions=purchases,
            conversions=purchases,
            action_values=[
                {"action_type": t, "value": f"{m.conversion_value:.2f}"}
                for t in PURCHASE_ACTION_TYPES
            ],
            conversion_values=[
                {"action_type": t, "value": f"{m.conversion_value:.2f}"}
                for t in PURCHASE_ACTION_TYPES
            ],
            cost_per_action_type=[
                {"action_type": t, "value": f"{m.spend / Decimal(str(m.conversions)):.2f}"}
                for t in PURCHASE_ACTION_TYPES
            ],
            purchase_roas=[{"action_type": "omni_purchase", "value": roas}],
            website_purchase_roas=[
                {"action_type": "offsite_conversion.fb_pixel_purchase", "value": roas}
            ],
        )
    row = {name: values[name] for name in fields if values.get(name) is not None}
    row.update(date_start=start.isoformat(), date_stop=stop.isoformat())
    return row
