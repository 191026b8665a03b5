"""The contract between Usher's campaigns app and the platforms' management connectors.

Like `usher.platforms.base` for conversions: plain dataclasses and Protocols, so the
budgets, campaigns and optimizer code never sees a platform's JSON and each platform
package (`campaigns.py`, `insights.py`) can be replaced without touching them.

Money crosses this contract as `Decimal` in the account currency's major units; minor
units (Meta) and micros (Google) exist only inside the platform packages. Times are
timezone-aware. Every failure is a `usher.platforms.base.PlatformError` whose `kind`
tells the caller what to do (a throttled caller gets `RATE_LIMITED` with
`retry_after_seconds`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable


class CampaignType(StrEnum):
    """The four kinds of the plan; also the bracketed tag at the end of a campaign name."""

    PROSPECTING = "prospecting"
    RETARGETING = "retargeting"
    LOOKALIKE = "lookalike"
    DYNAMIC_REMARKETING = "dynamic_remarketing"


class Objective(StrEnum):
    CONVERSIONS = "conversions"
    TRAFFIC = "traffic"
    AWARENESS = "awareness"


class BidStrategy(StrEnum):
    """Platform-neutral bid strategies; each connector maps them to its own enum."""

    LOWEST_COST = "lowest_cost"  # maximize conversions within the budget
    COST_CAP = "cost_cap"  # average cost per result at most `bid_amount`
    BID_CAP = "bid_cap"  # no auction bid above `bid_amount`
    MIN_ROAS = "min_roas"  # return on ad spend at least `roas_floor`


class MetricsLevel(StrEnum):
    CAMPAIGN = "campaign"
    AD_GROUP = "ad_group"  # Meta ad set, Google ad group, TikTok ad group
    AD = "ad"


class DeliveryStatus(StrEnum):
    """A campaign's or an ad's effective status, in Usher's words."""

    ACTIVE = "active"
    PAUSED = "paused"
    PENDING_REVIEW = "pending_review"
    DISAPPROVED = "disapproved"
    WITH_ISSUES = "with_issues"  # running with a problem the platform reports
    ENDED = "ended"
    DELETED = "deleted"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DISAPPROVED = "disapproved"


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware")


def _require_money(name: str, value: Decimal | None) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal (money is never a float)")
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{name} must be a positive amount")


@dataclass(frozen=True)
class AdAccount:
    """The platform account campaigns are managed on, with its management credential.

    `account_id`: Meta `act_<digits>`, Google Ads customer id (10 digits, no dashes),
    TikTok advertiser id. `settings` holds platform extras that may be secret (Google
    `login_customer_id` and `refresh_token`, Meta `pixel_id` and `page_id`, TikTok
    `pixel_id` and `identity_id`), so it and the token stay out of `repr`.
    """

    platform: str
    account_id: str
    access_token: str = field(default="", repr=False)
    currency: str = "EUR"
    timezone: str = "UTC"
    settings: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Location:
    """A point with a radius around it (a venue's city); `name` is for humans only."""

    latitude: float
    longitude: float
    radius_km: float
    name: str = ""


@dataclass(frozen=True)
class TargetingSpec:
    """Who sees the ads. Audience ids are the platform's own (from the audiences app)."""

    countries: list[str] = field(default_factory=list)  # ISO 3166-1 alpha-2
    locations: list[Location] = field(default_factory=list)
    age_min: int | None = None
    age_max: int | None = None
    interests: list[str] = field(default_factory=list)  # free-text interests or genres
    include_audience_ids: list[str] = field(default_factory=list)
    exclude_audience_ids: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)  # ISO 639-1

    def __post_init__(self) -> None:
        for name in ("age_min", "age_max"):
            age = getattr(self, name)
            if age is not None and not 13 <= age <= 65:
                raise ValueError(f"{name} must be between 13 and 65")
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError("age_min must not exceed age_max")


@dataclass(frozen=True)
class CreativeSpec:
    """One ad's content. `reference` is Usher's stable id of the creative (variant).

    `landing_url` already carries the UTM tags and the Usher campaign id, so orders
    can be attributed to the campaign whatever the platform reports.
    """

    reference: str
    headline: str
    description: str
    landing_url: str
    call_to_action: str = "BUY_TICKETS"  # Meta's CTA vocabulary; connectors map it
    image_url: str | None = None
    video_url: str | None = None


# How far back a catalog campaign reaches the people who viewed an item or put it in
# their cart (Meta's product audiences take up to 180 days).
MAX_CATALOG_RETENTION_DAYS = 180


@dataclass(frozen=True)
class CatalogSpec:
    """The event catalog a dynamic remarketing campaign shows items of.

    `catalog_id` is the platform's catalog (what the catalog app synced); `content_ids`
    the items the campaign may show (one event, or every event a general budget funds),
    which the connector turns into a product set. People who viewed one of them or put
    it in their cart in the last `retention_days`, and did not buy, see the item they
    looked at.
    """

    catalog_id: str
    content_ids: tuple[str, ...]
    retention_days: int = 30

    def __post_init__(self) -> None:
        if not self.catalog_id.strip():
            raise ValueError("catalog_id must be a non-empty string")
        if not self.content_ids or not all(i.strip() for i in self.content_ids):
            raise ValueError("a catalog campaign needs at least one content id")
        if not 1 <= self.retention_days <= MAX_CATALOG_RETENTION_DAYS:
            raise ValueError(f"retention_days must be between 1 and {MAX_CATALOG_RETENTION_DAYS}")


@dataclass(frozen=True)
class CampaignSpec:
    """Everything a connector needs to create one campaign with its ad group and ads.

    `reference` (e.g. `usher-c-42`) is written into the platform objects' names (and an
    external field where the platform has one), so `publish` can find what an earlier,
    interrupted attempt created. Exactly one of `daily_budget` / `lifetime_budget`.
    `conversion_id` is what the platform optimizes for: Meta pixel id, Google Ads
    conversion action id, TikTok pixel id (falls back to the account's settings).
    `dsa_beneficiary` / `dsa_payor` are required by Meta when targeting the EU.
    `catalog` makes a dynamic remarketing campaign a catalog campaign (only given to
    connectors whose `catalog_campaigns` is true); None runs it on its audience and
    creatives like retargeting.
    """

    reference: str
    name: str
    campaign_type: CampaignType
    objective: Objective
    currency: str
    start_time: datetime
    targeting: TargetingSpec
    creatives: list[CreativeSpec]
    daily_budget: Decimal | None = None
    lifetime_budget: Decimal | None = None
    end_time: datetime | None = None
    bid_strategy: BidStrategy = BidStrategy.LOWEST_COST
    bid_amount: Decimal | None = None
    roas_floor: Decimal | None = None
    conversion_id: str | None = None
    dsa_beneficiary: str | None = None
    dsa_payor: str | None = None
    catalog: CatalogSpec | None = None

    def __post_init__(self) -> None:
        if not self.reference or not self.reference.strip():
            raise ValueError("reference must be a non-empty string")
        if (self.daily_budget is None) == (self.lifetime_budget is None):
            raise ValueError("exactly one of daily_budget and lifetime_budget is required")
        _require_money("daily_budget", self.daily_budget)
        _require_money("lifetime_budget", self.lifetime_budget)
        _require_money("bid_amount", self.bid_amount)
        _require_money("roas_floor", self.roas_floor)
        _require_aware("start_time", self.start_time)
        _require_aware("end_time", self.end_time)
        if self.lifetime_budget is not None and self.end_time is None:
            raise ValueError("a lifetime budget needs an end_time")
        if self.end_time is not None and self.end_time <= self.start_time:
            raise ValueError("end_time must be after start_time")
        if not self.creatives:
            raise ValueError("a campaign needs at least one creative")
        references = [creative.reference for creative in self.creatives]
        if len(set(references)) != len(references):
            raise ValueError("creative references must be unique within a campaign")
        if self.bid_strategy in (BidStrategy.COST_CAP, BidStrategy.BID_CAP) and (
            self.bid_amount is None
        ):
            raise ValueError(f"bid strategy {self.bid_strategy} needs bid_amount")
        if self.bid_strategy == BidStrategy.MIN_ROAS and self.roas_floor is None:
            raise ValueError("bid strategy min_roas needs roas_floor")
        if self.catalog is not None and (
            self.campaign_type != CampaignType.DYNAMIC_REMARKETING
            or self.objective != Objective.CONVERSIONS
        ):
            raise ValueError("only a dynamic remarketing conversions campaign takes a catalog")


@dataclass(frozen=True)
class PublishedCampaign:
    """The platform's ids for a published campaign; what Usher stores to manage it."""

    campaign_id: str
    ad_group_id: str
    budget_id: str | None = None  # Google campaign budget; None on Meta and TikTok
    ads: dict[str, str] = field(default_factory=dict)  # creative reference -> ad id


@dataclass(frozen=True)
class AdState:
    ad_id: str
    status: DeliveryStatus
    review_status: ReviewStatus
    review_feedback: str | None = None  # why it was disapproved, as the platform says


@dataclass(frozen=True)
class CampaignState:
    """What the platform says about a published campaign right now."""

    campaign_id: str
    status: DeliveryStatus
    ads: list[AdState] = field(default_factory=list)
    learning_phase: str | None = None  # e.g. "LEARNING", "SUCCESS", "FAIL"; None if unknown
    raw_status: str = ""  # the platform's own word, for logs and the admin

    @property
    def disapproved_ads(self) -> list[AdState]:
        return [ad for ad in self.ads if ad.review_status == ReviewStatus.DISAPPROVED]


@dataclass(frozen=True)
class MetricsRow:
    """One row of delivery as the platform reports it (platforms over-count conversions).

    `hour` is 0 to 23 in the account's time zone for hourly rows, None for daily rows.
    `spend` and `conversion_value` are Decimal in the account currency's major units.
    """

    level: MetricsLevel
    campaign_id: str
    date: date
    ad_group_id: str | None = None
    ad_id: str | None = None
    hour: int | None = None
    impressions: int = 0
    clicks: int = 0
    spend: Decimal = Decimal("0")
    conversions: Decimal = Decimal("0")
    conversion_value: Decimal = Decimal("0")


@runtime_checkable
class CampaignsConnector(Protocol):
    """Publishing and steering campaigns on one platform (each platform's campaigns.py).

    Spend safety: `daily_overdelivery_factor` is how far over a daily budget the
    platform may spend in one day (Meta 1.75, Google 2.0); `weekly_overdelivery_factor`
    is how many daily budgets it may spend in a calendar week (Meta 7; None where the
    platform states no weekly cap).

    Optional class attributes (read with `getattr(..., False)`, so fakes need not
    declare them): `lifetime_budget_hard_cap` (the platform never spends past a lifetime
    budget: Meta, TikTok; not Google, whose connector spreads a lifetime amount into a
    daily one), `budget_type_locked_once_live` (a live campaign cannot switch between
    daily and lifetime budgets: Meta, TikTok), `catalog_campaigns` (`publish` turns a
    spec's `catalog` into a catalog campaign: Meta) and `end_time_bounds_daily_budget`
    (the platform serves nothing past a campaign's end time and the connector moves it
    with `set_end_time(account, published, end_time)`: Google, whose daily budgets may
    spend twice over every day until then), `budget_changes_per_hour` (how many times a
    campaign's budget may change in an hour before the platform refuses: Meta 4).
    """

    platform: ClassVar[str]
    daily_overdelivery_factor: ClassVar[Decimal]
    weekly_overdelivery_factor: ClassVar[Decimal | None]

    def minimum_daily_budget(self, currency: str) -> Decimal: ...

    def publish(self, account: AdAccount, spec: CampaignSpec) -> PublishedCampaign: ...

    def set_status(
        self, account: AdAccount, published: PublishedCampaign, active: bool
    ) -> None: ...

    def set_ad_status(self, account: AdAccount, ad_id: str, active: bool) -> None: ...

    def set_budget(
        self,
        account: AdAccount,
        published: PublishedCampaign,
        *,
        daily_budget: Decimal | None = None,
        lifetime_budget: Decimal | None = None,
    ) -> None: ...

    def read_state(self, account: AdAccount, published: PublishedCampaign) -> CampaignState: ...


@runtime_checkable
class InsightsConnector(Protocol):
    """Delivery read-back (each platform's insights.py).

    One batched call (paged) per account and level, never one per campaign:
    `campaign_ids` only filters that one call.
    """

    platform: ClassVar[str]

    def fetch_metrics(
        self,
        account: AdAccount,
        *,
        level: MetricsLevel,
        since: date,
        until: date,
        hourly: bool,
        campaign_ids: Sequence[str] | None = None,
    ) -> list[MetricsRow]: ...
