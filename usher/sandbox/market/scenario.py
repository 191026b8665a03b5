"""Scenario files: the hidden truth of a simulated market, loaded and validated.

The format is `scenario.schema.json` (version 1), shared with tools outside this
repository, so it is validated by a JSON Schema library rather than by hand and never
extended here. A broken file is refused with a `ScenarioError` naming the JSON path
of the offending field (`$.segments[2].cpm`). What the schema cannot say (a parseable
start time, a change point inside the flight) is checked after it, with paths too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = Path(__file__).with_name("scenario.schema.json")
PLATFORMS = ("meta", "google_ads", "tiktok")
HOURS_PER_DAY = 24


class ScenarioError(ValueError):
    """A scenario that cannot be run; `path` is the JSON path of the offending field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Creative:
    name: str
    performance: float


@dataclass(frozen=True)
class ChangePoint:
    day: int
    max_daily_conversions_multiplier: float = 1.0
    half_saturation_spend_multiplier: float = 1.0


@dataclass(frozen=True)
class Segment:
    """One (platform, campaign type): how it turns spend into sales."""

    index: int
    platform: str
    campaign_type: str
    cpm: float
    ctr: float
    max_daily_conversions: float
    half_saturation_spend: float
    average_order_value: float
    creatives: tuple[Creative, ...]
    max_daily_spend: float | None = None
    order_value_cv: float = 0.0
    tickets_per_order: float = 1.0
    platform_reporting_factor: float = 1.0
    change_points: tuple[ChangePoint, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.campaign_type}"


@dataclass(frozen=True)
class Outage:
    platform: str
    from_hour: float
    to_hour: float
    error: str


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    currency: str
    start: datetime
    days: int
    total_budget: float
    segments: tuple[Segment, ...]
    description: str = ""
    daily_budget_limit: float | None = None
    target_cpa: float | None = None
    target_roas: float | None = None
    overdelivery: float = 0.0
    reporting_delay_hours: float = 0.0
    ramp: float = 0.0
    weekday: tuple[float, ...] = (1.0,) * 7
    hourly: tuple[float, ...] = field(default=(1.0 / HOURS_PER_DAY,) * HOURS_PER_DAY)
    outages: tuple[Outage, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def hours(self) -> int:
        return self.days * HOURS_PER_DAY

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    def segment_for(self, platform: str, campaign_type: str) -> Segment | None:
        """The first segment of this platform and type (scenarios hold one per pair)."""
        for segment in self.segments:
            if segment.platform == platform and segment.campaign_type == campaign_type:
                return segment
        return None

    def with_changes(self, **changes: Any) -> Scenario:
        """A copy with top-level fields replaced (e.g. seed or overdelivery), revalidated."""
        return parse_scenario({**self.raw, **changes})


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time", raises=ValueError)(_parse_time)
    return jsonschema.Draft202012Validator(schema, format_checker=checker)


def _parse_time(value: Any) -> datetime:
    """RFC 3339 with a zone; the flight is in UTC whatever offset was written."""
    if not isinstance(value, str):
        return True  # type: ignore[return-value]  # the type keyword reports non-strings
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("a date-time needs a time zone (e.g. Z)")
    return parsed.astimezone(UTC)


def _json_path(error: jsonschema.ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    # A missing or unexpected property is the error of its parent object: name it.
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            path += f".{missing[0]}"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(name for name in error.instance if name not in allowed)
        if extra:
            path += f".{extra[0]}"
    return path


def parse_scenario(data: Any) -> Scenario:
    """A validated Scenario from decoded JSON, or ScenarioError naming the field."""
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        error = jsonschema.exceptions.best_match(errors) or errors[0]
        raise ScenarioError(_json_path(error), error.message)
    demand = data.get("demand", {})
    hourly = demand.get("hourly")
    if hourly is not None and sum(hourly) <= 0:
        raise ScenarioError("$.demand.hourly", "at least one hour must have a positive share")
    segments = tuple(
        _segment(index, item, data["days"]) for index, item in enumerate(data["segments"])
    )
    outages = []
    for index, item in enumerate(data.get("outages", [])):
        if item["to_hour"] < item["from_hour"]:
            raise ScenarioError(f"$.outages[{index}].to_hour", "must not be before from_hour")
        outages.append(Outage(**item))
    start = _parse_time(data["start"])
    if start.minute or start.second or start.microsecond:
        # reports cut days and hours at whole hours of the accounts' time zones
        raise ScenarioError("$.start", "must be on a whole hour")
    total_share = sum(hourly) if hourly is not None else 0.0
    return Scenario(
        name=data["name"],
        seed=data["seed"],
        currency=data["currency"],
        start=start,
        days=data["days"],
        total_budget=float(data["total_budget"]),
        segments=segments,
        description=data.get("description", ""),
        daily_budget_limit=_optional_float(data.get("daily_budget_limit")),
        target_cpa=_optional_float(data.get("target_cpa")),
        target_roas=_optional_float(data.get("target_roas")),
        overdelivery=float(data.get("overdelivery", 0)),
        reporting_delay_hours=float(data.get("reporting_delay_hours", 0)),
        ramp=float(demand.get("ramp", 0)),
        weekday=tuple(float(v) for v in demand.get("weekday", [1.0] * 7)),
        hourly=(
            tuple(v / total_share for v in hourly)
            if hourly is not None
            else (1.0 / HOURS_PER_DAY,) * HOURS_PER_DAY
        ),
        outages=tuple(outages),
        raw=json.loads(json.dumps(data)),
    )


def _segment(index: int, item: dict[str, Any], days: int) -> Segment:
    points = []
    for number, point in enumerate(item.get("change_points", [])):
        if point["day"] >= days:
            raise ScenarioError(
                f"$.segments[{index}].change_points[{number}].day",
                f"must be a day of the flight (0 to {days - 1})",
            )
        points.append(ChangePoint(**point))
    names = [creative["name"] for creative in item["creatives"]]
    if len(set(names)) != len(names):
        raise ScenarioError(f"$.segments[{index}].creatives", "creative names must be unique")
    return Segment(
        index=index,
        platform=item["platform"],
        campaign_type=item["campaign_type"],
        cpm=float(item["cpm"]),
        ctr=float(item["ctr"]),
        max_daily_conversions=float(item["max_daily_conversions"]),
        half_saturation_spend=float(item["half_saturation_spend"]),
        average_order_value=float(item["average_order_value"]),
        creatives=tuple(Creative(c["name"], float(c["performance"])) for c in item["creatives"]),
        max_daily_spend=_optional_float(item.get("max_daily_spend")),
        order_value_cv=float(item.get("order_value_cv", 0)),
        tickets_per_order=float(item.get("tickets_per_order", 1)),
        platform_reporting_factor=float(item.get("platform_reporting_factor", 1)),
        change_points=tuple(sorted(points, key=lambda p: p.day)),
    )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def load_scenario(source: str | Path | dict[str, Any]) -> Scenario:
    """A Scenario from a file path or an already decoded dict."""
    if isinstance(source, dict):
        return parse_scenario(source)
    try:
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ScenarioError("$", f"not valid JSON: {exc}") from exc
    return parse_scenario(data)
