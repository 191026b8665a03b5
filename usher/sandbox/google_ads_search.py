"""Google Ads `googleAds:search` / `:searchStream`: GAQL over the stored objects.

Resource fields come from what Usher created; metrics come from `state.metrics`
(the market simulator when a scenario is loaded), formatted as proto3 JSON does: int64
values (ids, impressions, clicks, cost_micros) as strings, doubles as numbers, camelCase
keys. Days are the customer's (`time_zone` setting). Segments: `segments.date`,
`segments.week` (the week's Monday), `segments.hour` (0-23, only hours that delivered)
and `segments.device` (not modelled: all delivery is reported as MOBILE). `search`
answers pages of SEARCH_PAGE_ROWS rows with a `nextPageToken` for the next one.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from werkzeug.wrappers import Response

from usher.sandbox.gaql import Condition, GaqlError, Query, parse
from usher.sandbox.google_common import GOOGLE, AdsError, AdsFailure, camel, camel_keys
from usher.sandbox.metrics import Metrics, account_today, days_between, total
from usher.sandbox.platform import Call, json_response, trace_id
from usher.sandbox.state import SandboxState

# resource -> (stored collection, {attributed resource: field holding its resource name}, has metrics)
RESOURCES: dict[str, tuple[str | None, dict[str, str], bool]] = {
    "campaign": ("campaigns", {"campaign_budget": "campaign_budget"}, True),
    "campaign_budget": ("campaignBudgets", {}, False),
    "ad_group": ("adGroups", {"campaign": "campaign"}, True),
    "ad_group_ad": ("adGroupAds", {"ad_group": "ad_group"}, True),
    "ad_group_criterion": ("adGroupCriteria", {"ad_group": "ad_group"}, False),
    "campaign_criterion": ("campaignCriteria", {"campaign": "campaign"}, False),
    "user_list": ("userLists", {}, False),
    "offline_user_data_job": ("offlineUserDataJobs", {}, False),
    "customer": (None, {}, True),
}
COLLECTION_OF = {name: spec[0] for name, spec in RESOURCES.items()}
INT64_METRICS = frozenset({"impressions", "clicks", "cost_micros", "interactions"})
DOUBLE_METRICS = frozenset(
    {
        "conversions",
        "conversions_value",
        "all_conversions",
        "all_conversions_value",
        "ctr",
        "average_cpc",
        "average_cpm",
        "cost_per_conversion",
        "value_per_conversion",
    }
)
SEGMENTS = frozenset({"date", "week", "hour", "device"})
DATED_SEGMENTS = ("segments.date", "segments.week")
REPORTED_DEVICE = "MOBILE"
SEARCH_PAGE_ROWS = 10_000  # Google's fixed page size since v17
DATE_LITERALS = frozenset(
    {
        "TODAY",
        "YESTERDAY",
        "LAST_7_DAYS",
        "LAST_14_DAYS",
        "LAST_30_DAYS",
        "THIS_MONTH",
        "LAST_MONTH",
        "THIS_WEEK_MON_TODAY",
        "THIS_WEEK_SUN_TODAY",
        "LAST_WEEK_MON_SUN",
        "LAST_WEEK_SUN_SAT",
        "LAST_BUSINESS_WEEK",
    }
)
LIFETIME_DAYS_CAP = 3 * 365


def _query_error(code: str, message: str) -> AdsFailure:
    return AdsFailure([AdsError("queryError", code, message)])


def search(state: SandboxState, call: Call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    try:
        answer = _run(state, call)
        results = answer.pop("results", [])
        offset = _page_offset(body.get("page_token"), body.get("query", ""))
    except AdsFailure as failure:
        return failure.response(call.params["version"])
    page = results[offset : offset + SEARCH_PAGE_ROWS]
    if page:
        answer["results"] = page
    if offset + SEARCH_PAGE_ROWS < len(results):
        answer["nextPageToken"] = _page_token(offset + SEARCH_PAGE_ROWS, body.get("query", ""))
    if body.get("return_total_results_count") in (True, "true"):
        answer["totalResultsCount"] = str(len(results))
    return json_response(answer)


def search_stream(state: SandboxState, call: Call) -> Response:
    """searchStream answers a JSON array of batches of up to SEARCH_PAGE_ROWS rows."""
    try:
        answer = _run(state, call)
    except AdsFailure as failure:
        return failure.response(call.params["version"])
    results = answer.pop("results", [])
    batches = [
        dict(answer, results=results[i : i + SEARCH_PAGE_ROWS])
        for i in range(0, len(results), SEARCH_PAGE_ROWS)
    ]
    return json_response(batches or [dict(answer, results=[])])


def _page_token(offset: int, query: str) -> str:
    digest = hashlib.sha256(query.encode()).hexdigest()[:16]
    return base64.urlsafe_b64encode(f"{offset}:{digest}".encode()).decode()


def _page_offset(token: Any, query: str) -> int:
    """The row offset a page token stands for; a token of another query is refused."""
    if not token:
        return 0
    try:
        offset, digest = base64.urlsafe_b64decode(str(token)).decode().split(":")
        if digest != hashlib.sha256(query.encode()).hexdigest()[:16]:
            raise ValueError("token of another query")
        return int(offset)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AdsFailure(
            [AdsError("requestError", "INVALID_PAGE_TOKEN", "Page token is invalid.")]
        ) from exc


def _run(state: SandboxState, call: Call) -> dict[str, Any]:
    body = call.body if isinstance(call.body, dict) else {}
    if "page_size" in body:
        raise AdsFailure(
            [
                AdsError(
                    "requestError",
                    "PAGE_SIZE_NOT_SUPPORTED",
                    "page_size is not supported; pages hold 10,000 rows.",
                )
            ]
        )
    try:
        query = parse(body.get("query", ""))
    except GaqlError as exc:
        raise _query_error(exc.code, str(exc)) from exc
    if query.resource not in RESOURCES:
        raise _query_error(
            "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE", f"{query.resource!r} is not a supported resource."
        )
    _check_fields(query)
    customer = call.account or ""
    today = account_today(state, GOOGLE, customer)
    date_range = _date_range(query, today)
    if date_range is None and any(name in query.fields for name in DATED_SEGMENTS):
        raise _query_error(
            "EXPECTED_FILTERS_ON_DATE_RANGE",
            "Selecting segments.date or segments.week needs a finite date range in WHERE.",
        )
    rows = _rows(state, customer, query, date_range, today)
    for name, descending in reversed(query.order_by):
        rows.sort(key=lambda v, n=name: _sort_key(v.raw(n)), reverse=descending)
    if query.limit:
        rows = rows[: query.limit]
    answer: dict[str, Any] = {
        "fieldMask": ",".join(".".join(camel(p) for p in f.split(".")) for f in query.fields),
        "requestId": trace_id(),
    }
    if rows:
        answer["results"] = [_row(values, query) for values in rows]
    return answer


def _rows(
    state: SandboxState,
    customer: str,
    query: Query,
    date_range: tuple[date, date] | None,
    today: date,
) -> list[_Values]:
    """One row per object and selected segment values that passes the WHERE clause."""
    wants_metrics = any(f.startswith("metrics.") for f in query.fields) or any(
        c.field.startswith("metrics.") for c in query.conditions
    )
    rows = []
    conditions = [c for c in query.conditions if c.field != "segments.date"]
    for context in _contexts(state, customer, query.resource):
        obj = context[query.resource]
        for segments, metrics in _segmented(
            state, customer, query, obj["id"], date_range or _lifetime(obj, today), wants_metrics
        ):
            values = _Values(state, customer, context, metrics, segments)
            if all(_holds(values.raw(c.field), c) for c in conditions):
                rows.append(values)
    return rows


def _segmented(
    state: SandboxState,
    customer: str,
    query: Query,
    object_id: str,
    span: tuple[date, date],
    wants_metrics: bool,
) -> list[tuple[dict[str, Any], Metrics]]:
    """(segment values, metrics) per row of one object, grouped by the selected segments."""
    selected = {name.partition(".")[2] for name in query.fields if name.startswith("segments.")}
    groups: dict[tuple[Any, ...], list[date]] = {}
    for day in days_between(*span):
        key = (
            day.isoformat() if "date" in selected else None,
            (day - timedelta(days=day.weekday())).isoformat() if "week" in selected else None,
        )
        groups.setdefault(key, []).append(day)
    rows = []
    for (day_value, week_value), days in groups.items():
        base = {"date": day_value, "week": week_value, "device": REPORTED_DEVICE}
        if "hour" in selected:
            by_hour: dict[int, Metrics] = {}
            for day in days:
                for hour, metrics in state.metrics.hourly_for(
                    GOOGLE, customer, query.resource, object_id, day
                ):
                    by_hour[hour] = by_hour.get(hour, Metrics()) + metrics
            rows += [(dict(base, hour=hour), m) for hour, m in sorted(by_hour.items())]
            continue
        metrics = Metrics()
        if wants_metrics:
            metrics = total(
                state.metrics.metrics_for(GOOGLE, customer, query.resource, object_id, day)
                for day in days
            )
        rows.append((base, metrics))
    return rows


def _check_fields(query: Query) -> None:
    _, attributed, has_metrics = RESOURCES[query.resource]
    allowed = {query.resource, *attributed, "customer"}
    if query.resource == "ad_group_ad":
        allowed.add("campaign")
    for name in [
        *query.fields,
        *(c.field for c in query.conditions),
        *(o for o, _ in query.order_by),
    ]:
        head, _, rest = name.partition(".")
        if head == "metrics":
            if not has_metrics:
                raise _query_error(
                    "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
                    f"{query.resource} has no metrics.",
                )
            if rest not in INT64_METRICS | DOUBLE_METRICS:
                raise _query_error(
                    "UNRECOGNIZED_FIELD", f"Unrecognized field in the query: {name!r}."
                )
        elif head == "segments":
            if rest not in SEGMENTS:
                raise _query_error(
                    "UNRECOGNIZED_FIELD", f"Unrecognized field in the query: {name!r}."
                )
        elif head not in allowed or not rest:
            raise _query_error("UNRECOGNIZED_FIELD", f"Unrecognized field in the query: {name!r}.")


def _contexts(state: SandboxState, customer: str, resource: str) -> list[dict[str, dict[str, Any]]]:
    """One dict per row: the FROM object plus the objects attributed to it."""
    customer_obj = _customer(state, customer)
    if resource == "customer":
        return [{"customer": customer_obj}]
    contexts = []
    for obj in state.objects_of(GOOGLE, customer, resource):
        context = {resource: obj, "customer": customer_obj}
        for attributed, key in RESOURCES[resource][1].items():
            parent = _by_name(state, customer, attributed, obj["fields"].get(key))
            if parent:
                context[attributed] = parent
                if attributed == "ad_group":
                    campaign = _by_name(
                        state, customer, "campaign", parent["fields"].get("campaign")
                    )
                    if campaign:
                        context["campaign"] = campaign
        contexts.append(context)
    return contexts


def _by_name(state: SandboxState, customer: str, resource: str, name: Any) -> dict[str, Any] | None:
    if not isinstance(name, str):
        return None
    return state.get_object(
        GOOGLE, f"{COLLECTION_OF[resource]}:{customer}:{name.rsplit('/', 1)[-1]}"
    )


def _customer(state: SandboxState, customer: str) -> dict[str, Any]:
    registered = state.account(GOOGLE, customer)
    settings = registered.settings if registered else {}
    return {
        "id": customer,
        "created_at": None,
        "fields": {
            "resource_name": f"customers/{customer}",
            "id": customer,
            "descriptive_name": settings.get("descriptive_name", f"Sandbox customer {customer}"),
            "currency_code": settings.get("currency_code", "EUR"),
            "time_zone": settings.get("time_zone", "Etc/UTC"),
            "status": "ENABLED",
            "manager": False,
            "test_account": True,
            "conversion_tracking_setting": {
                "accepted_customer_data_terms": settings.get("accepted_customer_data_terms", True),
                "conversion_tracking_id": str(settings.get("conversion_tracking_id", customer)),
            },
        },
    }


class _Values:
    """Field lookups for one row."""

    def __init__(
        self,
        state: SandboxState,
        customer: str,
        context: dict[str, Any],
        metrics: Metrics,
        segments: dict[str, Any],
    ) -> None:
        self.state = state
        self.customer = customer
        self.context = context
        self.metrics = metrics
        self.segments = segments

    def raw(self, name: str) -> Any:
        head, _, rest = name.partition(".")
        if head == "segments":
            return self.segments.get(rest)
        if head == "metrics":
            return _metric(self.metrics, rest)
        obj = self.context.get(head)
        if obj is None:
            return None
        if head == "user_list" and rest in ("size_for_search", "size_for_display"):
            return str(len(self.state.members_of(GOOGLE, f"userLists:{self.customer}:{obj['id']}")))
        value: Any = obj["fields"]
        for part in rest.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value


def _metric(m: Metrics, name: str) -> Any:
    micros = int(m.spend * 1_000_000)
    values: dict[str, Any] = {
        "impressions": str(m.impressions),
        "clicks": str(m.clicks),
        "interactions": str(m.clicks),
        "cost_micros": str(micros),
        "conversions": float(m.conversions),
        "all_conversions": float(m.conversions),
        "conversions_value": float(m.conversion_value),
        "all_conversions_value": float(m.conversion_value),
        "ctr": m.clicks / m.impressions if m.impressions else 0.0,
        "average_cpc": micros / m.clicks if m.clicks else 0.0,
        "average_cpm": micros * 1000 / m.impressions if m.impressions else 0.0,
        "cost_per_conversion": micros / m.conversions if m.conversions else 0.0,
        "value_per_conversion": float(m.conversion_value) / m.conversions if m.conversions else 0.0,
    }
    return values[name]


def _row(values: _Values, query: Query) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in query.fields:
        head, _, rest = name.partition(".")
        value = values.raw(name)
        if value is None:
            continue
        target = row.setdefault(camel(head), {})
        obj = values.context.get(head)
        if obj is not None and "resource_name" in obj["fields"]:
            target.setdefault("resourceName", obj["fields"]["resource_name"])
        parts = rest.split(".")
        for part in parts[:-1]:
            target = target.setdefault(camel(part), {})
        target[camel(parts[-1])] = camel_keys(value)
    return row


def _date_range(query: Query, today: date) -> tuple[date, date] | None:
    low: date | None = None
    high: date | None = None
    for condition in query.conditions:
        if condition.field != "segments.date":
            continue
        try:
            if condition.operator == "DURING":
                return _during(str(condition.value), today)
            if condition.operator == "BETWEEN":
                return date.fromisoformat(str(condition.value[0])), date.fromisoformat(
                    str(condition.value[1])
                )
            if condition.operator in (">=", ">"):
                low = date.fromisoformat(str(condition.value)) + timedelta(
                    days=condition.operator == ">"
                )
            elif condition.operator in ("<=", "<"):
                high = date.fromisoformat(str(condition.value)) - timedelta(
                    days=condition.operator == "<"
                )
            elif condition.operator == "=":
                low = high = date.fromisoformat(str(condition.value))
        except ValueError as exc:
            raise _query_error(
                "INVALID_VALUE_WITH_DURING_OPERATOR"
                if condition.operator == "DURING"
                else "BAD_VALUE",
                str(exc),
            ) from exc
    return (low, high) if low and high else None


def _during(literal: str, today: date) -> tuple[date, date]:
    if literal not in DATE_LITERALS:
        raise ValueError(f"Unsupported date range {literal!r}")
    yesterday = today - timedelta(days=1)
    if literal == "TODAY":
        return today, today
    if literal == "YESTERDAY":
        return yesterday, yesterday
    if literal == "THIS_MONTH":
        return today.replace(day=1), today
    if literal == "LAST_MONTH":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    monday = today - timedelta(days=today.weekday())
    sunday = today - timedelta(days=(today.weekday() + 1) % 7)
    weeks = {
        "THIS_WEEK_MON_TODAY": (monday, today),
        "THIS_WEEK_SUN_TODAY": (sunday, today),
        "LAST_WEEK_MON_SUN": (monday - timedelta(days=7), monday - timedelta(days=1)),
        "LAST_WEEK_SUN_SAT": (sunday - timedelta(days=7), sunday - timedelta(days=1)),
        "LAST_BUSINESS_WEEK": (monday - timedelta(days=7), monday - timedelta(days=3)),
    }
    if literal in weeks:
        return weeks[literal]
    days = int(re.findall(r"\d+", literal)[0])
    return today - timedelta(days=days), yesterday


def _lifetime(obj: dict[str, Any], today: date) -> tuple[date, date]:
    created = obj.get("created_at")
    start = (
        datetime.fromtimestamp(created, UTC).date()
        if created
        else today - timedelta(days=LIFETIME_DAYS_CAP)
    )
    return max(start, today - timedelta(days=LIFETIME_DAYS_CAP)), today


def _holds(value: Any, condition: Condition) -> bool:
    op, expected = condition.operator, condition.value
    if op in ("IN", "NOT IN"):
        found = str(value) in {
            str(item) for item in (expected if isinstance(expected, list) else [expected])
        }
        return found if op == "IN" else not found
    if op == "LIKE":
        pattern = re.escape(str(expected)).replace("%", ".*").replace("_", ".")
        return re.fullmatch(pattern, str(value or "")) is not None
    if op in ("=", "!="):
        equal = (
            str(value).lower() == str(expected).lower()
            if isinstance(value, bool)
            else str(value) == str(expected)
        )
        return equal if op == "=" else not equal
    try:
        left, right = float(value), float(expected)
    except (TypeError, ValueError):
        left, right = str(value), str(expected)  # type: ignore[assignment]
    return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op]


def _sort_key(value: Any) -> tuple[int, Any]:
    try:
        return 0, float(value)
    except (TypeError, ValueError):
        return 1, str(value)
