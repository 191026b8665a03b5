"""An audience's criteria (plan 2.3), validated once and read as a typed value.

The stored JSON keeps the plan's keys so the API, the admin and the plan speak alike;
`Criteria.from_json` is the one reader, raising `InvalidInput` naming the field for
anything a builder could not honour. Custom filters are the ones Usher can compute from
orders: total spend, number of orders and recency (days since the last order). The
plan's RFM segment and engagement score are not offered: Usher has no engagement score,
and RFM is these three numbers, which can be combined directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from usher.lib.errors import InvalidInput

SOURCE_EVENTS = ("page_view", "view_item", "add_to_cart", "begin_checkout", "purchase")
MAX_TIME_WINDOW_DAYS = 540  # Google's longest membership; Meta website audiences keep 180
DEFAULT_TIME_WINDOW_DAYS = 30
MAX_MIN_ACTIONS = 1000
LOOKALIKE_PERCENT_RANGE = (1, 10)  # Meta's 1-10 % (ratio 0.01-0.10 of the country)
CUSTOM_FILTER_KEYS = ("min_spend", "min_orders", "max_days_since_last_order")
CRITERIA_KEYS = (
    "source_events",
    "time_window_days",
    "min_actions",
    "exclude_purchasers",
    "lookalike_source_id",
    "lookalike_percentage",
    "custom_filters",
)


@dataclass(frozen=True)
class CustomFilters:
    """Filters over a buyer's orders in the window; None means "not filtered on"."""

    min_spend: Decimal | None = None
    min_orders: int | None = None
    max_days_since_last_order: int | None = None


@dataclass(frozen=True)
class Criteria:
    source_events: tuple[str, ...] = ("view_item",)
    time_window_days: int = DEFAULT_TIME_WINDOW_DAYS
    min_actions: int = 1
    exclude_purchasers: bool = False
    lookalike_source_id: int | None = None
    lookalike_percentage: int | None = None
    custom_filters: CustomFilters = field(default_factory=CustomFilters)

    @classmethod
    def from_json(cls, raw: Any, loc: tuple[str, ...] = ("body", "criteria")) -> Criteria:
        """Validated criteria; unknown keys and out-of-range values are a 422 at `loc`."""
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise InvalidInput(loc, "must be an object")
        unknown = sorted(set(raw) - set(CRITERIA_KEYS))
        if unknown:
            raise InvalidInput((*loc, unknown[0]), f"unknown criterion; use {CRITERIA_KEYS}")
        values: dict[str, Any] = {}
        if "source_events" in raw:
            events = raw["source_events"]
            if (
                not isinstance(events, list)
                or not events
                or not all(e in SOURCE_EVENTS for e in events)
            ):
                raise InvalidInput((*loc, "source_events"), f"a non-empty list of {SOURCE_EVENTS}")
            values["source_events"] = tuple(dict.fromkeys(events))
        if "time_window_days" in raw:
            values["time_window_days"] = _int(
                raw["time_window_days"], (*loc, "time_window_days"), 1, MAX_TIME_WINDOW_DAYS
            )
        if "min_actions" in raw:
            values["min_actions"] = _int(
                raw["min_actions"], (*loc, "min_actions"), 1, MAX_MIN_ACTIONS
            )
        if "exclude_purchasers" in raw:
            if not isinstance(raw["exclude_purchasers"], bool):
                raise InvalidInput((*loc, "exclude_purchasers"), "must be true or false")
            values["exclude_purchasers"] = raw["exclude_purchasers"]
        if raw.get("lookalike_source_id") is not None:
            values["lookalike_source_id"] = _int(
                raw["lookalike_source_id"], (*loc, "lookalike_source_id"), 1, None
            )
        if raw.get("lookalike_percentage") is not None:
            low, high = LOOKALIKE_PERCENT_RANGE
            values["lookalike_percentage"] = _int(
                raw["lookalike_percentage"], (*loc, "lookalike_percentage"), low, high
            )
        if "custom_filters" in raw:
            values["custom_filters"] = _custom_filters(
                raw["custom_filters"], (*loc, "custom_filters")
            )
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """The stored form: the plan's keys, JSON types (Decimal as a string)."""
        data = asdict(self)
        data["source_events"] = list(self.source_events)
        filters = {k: v for k, v in data.pop("custom_filters").items() if v is not None}
        if filters.get("min_spend") is not None:
            filters["min_spend"] = str(filters["min_spend"])
        data["custom_filters"] = filters
        return {k: v for k, v in data.items() if v is not None}


def _int(value: Any, loc: tuple[str, ...], low: int, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(loc, "must be a whole number")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidInput(loc, f"must be {bound}")
    return value


def _custom_filters(raw: Any, loc: tuple[str, ...]) -> CustomFilters:
    if not isinstance(raw, Mapping):
        raise InvalidInput(loc, "must be an object")
    unknown = sorted(set(raw) - set(CUSTOM_FILTER_KEYS))
    if unknown:
        # The plan's segment/RFM/engagement_score filters land here: see the module docstring.
        raise InvalidInput((*loc, unknown[0]), f"unsupported filter; use {CUSTOM_FILTER_KEYS}")
    min_spend = None
    if raw.get("min_spend") is not None:
        try:
            min_spend = Decimal(str(raw["min_spend"]))
        except InvalidOperation:
            raise InvalidInput((*loc, "min_spend"), "must be a decimal amount") from None
        if not min_spend.is_finite() or min_spend < 0:
            raise InvalidInput((*loc, "min_spend"), "must be a non-negative amount")
    min_orders = (
        _int(raw["min_orders"], (*loc, "min_orders"), 1, None)
        if raw.get("min_orders") is not None
        else None
    )
    recency = (
        _int(raw["max_days_since_last_order"], (*loc, "max_days_since_last_order"), 1, 3650)
        if raw.get("max_days_since_last_order") is not None
        else None
    )
    return CustomFilters(min_spend, min_orders, recency)
