"""Delivery metrics behind insights, Google search and TikTok reports.

The market simulator (`usher.sandbox.market`) implements `MetricsSource` and installs
itself with `state.metrics = ...` when a scenario is loaded; without one every campaign
object reports zeros, which is what a paused, brand-new campaign shows. Days are days
of the account's time zone. Platform modules only format these numbers into their own
shapes (Meta strings, Google micros, TikTok strings), so the simulator stays
platform-neutral. `outage` lets a scenario take a platform's whole API down.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from usher.sandbox.state import SandboxState

# The account setting naming its reporting time zone, per platform (their field names).
TIME_ZONE_SETTINGS = {"meta": "timezone_name", "google_ads": "time_zone", "tiktok": "timezone"}


@dataclass(frozen=True)
class Metrics:
    """One object's delivery over one day, money in the account currency's major units."""

    impressions: int = 0
    reach: int = 0
    clicks: int = 0
    spend: Decimal = Decimal("0")
    conversions: float = 0.0
    conversion_value: Decimal = Decimal("0")

    def __add__(self, other: Metrics) -> Metrics:
        return Metrics(
            impressions=self.impressions + other.impressions,
            reach=self.reach + other.reach,
            clicks=self.clicks + other.clicks,
            spend=self.spend + other.spend,
            conversions=self.conversions + other.conversions,
            conversion_value=self.conversion_value + other.conversion_value,
        )

    @property
    def ctr(self) -> float:
        return (self.clicks / self.impressions * 100) if self.impressions else 0.0

    @property
    def cpc(self) -> Decimal:
        return (self.spend / self.clicks) if self.clicks else Decimal("0")

    @property
    def cpm(self) -> Decimal:
        return (self.spend * 1000 / self.impressions) if self.impressions else Decimal("0")


class MetricsSource(Protocol):
    """Answers 'how did this object deliver on this day (and in each of its hours)?'."""

    def metrics_for(
        self, platform: str, account: str, object_type: str, object_id: str, day: date
    ) -> Metrics: ...

    def hourly_for(
        self, platform: str, account: str, object_type: str, object_id: str, day: date
    ) -> list[tuple[int, Metrics]]:
        """(hour of the day, delivery) for the hours that delivered something."""
        ...

    def outage(self, platform: str) -> str | None:
        """ "5xx", "429" or "timeout" while the platform's API is down, else None."""
        ...


class ZeroMetrics:
    """The default source: nothing has delivered yet."""

    def metrics_for(
        self, platform: str, account: str, object_type: str, object_id: str, day: date
    ) -> Metrics:
        return Metrics()

    def hourly_for(
        self, platform: str, account: str, object_type: str, object_id: str, day: date
    ) -> list[tuple[int, Metrics]]:
        return []

    def outage(self, platform: str) -> str | None:
        return None


def days_between(start: date, end: date) -> list[date]:
    """Every day from start to end, both included (empty when start > end)."""
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def total(items: Iterable[Metrics]) -> Metrics:
    result = Metrics()
    for item in items:
        result = result + item
    return result


def account_zone(state: SandboxState, platform: str, account: str) -> ZoneInfo:
    """The account's reporting time zone (its registered setting), UTC by default.

    Platforms cut reporting days at the account's midnight, not UTC's.
    """
    registered = state.account(platform, account)
    name = registered.settings.get(TIME_ZONE_SETTINGS.get(platform, "")) if registered else None
    try:
        return ZoneInfo(str(name)) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def account_today(state: SandboxState, platform: str, account: str) -> date:
    """Today in the account's time zone, by the sandbox's (maybe simulated) clock."""
    return (
        datetime.fromtimestamp(state.now(), UTC)
        .astimezone(account_zone(state, platform, account))
        .date()
    )
