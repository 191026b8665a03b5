"""What the optimizer is given: plain, immutable snapshots of one budget's campaigns.

The hourly job builds these from the database (metrics synced from the platforms,
orders attributed through the closed loop, staff overrides); the benchmark builds them
from the simulator's platform-shaped reports. Nothing here touches either. Money is
Decimal where it crosses this boundary; the numeric core works in floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class DayMetrics:
    """One flight day of one campaign. ``complete`` once every hour of it is reported.

    ``attributed_*`` are Usher's own orders traced to the campaign (click ids, UTM);
    ``platform_*`` are what the platform reports (it over-counts view-through sales).
    ``budget`` is the daily budget that was in force (for the delivery ratio).
    """

    day: int
    spend: float
    budget: float
    attributed_conversions: int = 0
    attributed_revenue: float = 0.0
    attributed_tickets: float = 0.0
    platform_conversions: float = 0.0
    platform_revenue: float = 0.0
    complete: bool = True
    active_creatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreativeState:
    """One ad (creative variant) of a campaign, with its totals while it ran.

    ``clicks`` are the platform's reported clicks: far denser than sales, they show a
    better creative long before its sales do (see ``creatives.py``). ``content`` says
    what the ad shows (its copy and media), the same for the same ad in every campaign
    of the suite: the creative test pools a variant's clicks across campaigns by it, not
    by ``name``, which labels the variant within its campaign ("A", "B") and may stand
    for another ad elsewhere. Empty: shown nowhere else (nothing is pooled).
    """

    creative_id: str
    name: str
    active: bool
    spend: float = 0.0
    attributed_conversions: int = 0
    platform_conversions: float = 0.0
    hours_live: float = 0.0
    clicks: float = 0.0
    content: str = ""


@dataclass(frozen=True)
class Override:
    """A staff override: it wins over the optimizer until staff lift it."""

    paused: bool = False
    daily_budget: Decimal | None = None


@dataclass(frozen=True)
class CampaignState:
    """One platform campaign of the budget's suite, as of now."""

    campaign_id: str
    platform: str
    campaign_type: str
    active: bool
    daily_budget: Decimal
    days: tuple[DayMetrics, ...] = ()
    creatives: tuple[CreativeState, ...] = ()
    override: Override | None = None
    # The flight day its budget was last set by the daily rebalance (None: never).
    budget_set_day: int | None = None
    min_daily_budget: Decimal = Decimal("1.00")
    # Paused by a guard rail (CPA): stays paused; only staff bring it back.
    paused_by_rule: bool = False
    # The platform's weekly delivery cap in daily budgets (Meta: 7 per calendar week),
    # from its connector; None where the platform has none.
    weekly_cap_days: float | None = None
    # On a lifetime budget (its `daily_budget` is then 0: none in force): the daily budget
    # asked of it, which spend control turns into its lifetime share; None on a daily one.
    lifetime_wish: Decimal | None = None


@dataclass(frozen=True)
class SuiteState:
    """One budget: its campaigns, its money and where the flight stands.

    ``spent`` is the platform-reported spend through ``reported_hours`` hours since the
    flight's start; ``hour_of_flight`` is now. Reports lag (and stop during outages), so
    the spend between the two is unknown and bounded by the budgets in force.
    """

    budget_id: str
    total_budget: Decimal
    spent: Decimal
    daily_limit: Decimal | None
    target_cpa: Decimal | None
    target_roas: Decimal | None
    flight_days: int
    first_weekday: int
    hour_of_flight: int
    reported_hours: int
    campaigns: tuple[CampaignState, ...] = field(default_factory=tuple)
    # Share of a day's delivery per UTC hour, as the platforms' hourly reports show it
    # (sums to 1); None until known.
    hourly_profile: tuple[float, ...] | None = None
    currency: str = ""  # the budget's, for the decisions' texts

    def money(self, amount: float) -> str:
        """An amount as the decisions' texts show it: whole units and the currency."""
        return f"{amount:.0f} {self.currency}".rstrip()

    @property
    def sales_value_known(self) -> bool:
        """Whether any finished day priced a sale (Usher's orders or the platforms'):
        until then the optimizer values every sale alike, at a placeholder of 1, which
        ranks campaigns but is no amount to show anyone."""
        return any(
            d.complete and (d.attributed_revenue > 0 or d.platform_revenue > 0)
            for c in self.campaigns
            for d in c.days
        )

    @property
    def day(self) -> int:
        return self.hour_of_flight // 24

    @property
    def hour(self) -> int:
        return self.hour_of_flight % 24
