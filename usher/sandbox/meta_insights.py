"""Meta insights: `GET /act_<id>/insights` and `GET /{campaign|adset|ad}/insights`.

Numbers come from `state.metrics` (zeros until the market simulator exists) and
are formatted as Graph does: counts and money as strings, purchases as
`actions`/`action_values` rows that are omitted when there are none.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Response

from usher.sandbox.meta_common import META, MetaProblem, json_param, unknown_object
from usher.sandbox.metrics import Metrics, days_between, total
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
# Web purchases (pixel + CAPI) and all channels; PLATFORMS.md §5 says pick one, don't sum.
PURCHASE_ACTION_TYPES = ("offsite_conversion.fb_pixel_purchase", "omni_purchase")
MAXIMUM_LOOKBACK_DAYS = 37 * 30


def _preset_range(preset: str, today: date) -> tuple[date, date]:
    yesterday = today - timedelta(days=1)
    if preset == "today":
        return today, today
    if preset == "yesterday":
        return yesterday, yesterday
    if preset.startswith("last_") and preset.endswith("d") and preset[5:-1].isdigit():
        days = int(preset[5:-1])
        return today - timedelta(days=days), yesterday
    if preset == "this_month":
        return today.replace(day=1), today
    if preset == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if preset == "maximum":
        return today - timedelta(days=MAXIMUM_LOOKBACK_DAYS), today
    raise MetaProblem("Invalid date_preset", f"Unsupported date_preset {preset!r}.")


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
        since, until = _date_range(call, datetime.fromtimestamp(state.now(), UTC).date())
    except MetaProblem as problem:
        return problem.response()
    buckets = _buckets(since, until, call.field("time_increment"))
    rows = []
    for start, stop in buckets:
        for obj in _objects_at_level(state, account, node, level):
            metrics = total(
                state.metrics.metrics_for(META, account, level, obj["id"], day)
                for day in days_between(start, stop)
            )
            rows.append(
                _row(state, account, obj, fields or list(DEFAULT_FIELDS), metrics, start, stop)
            )
    return json_response(
        {"data": rows, "paging": {"cursors": {"before": "MAZDZD", "after": "MAZDZD"}}}
    )


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
