"""Request and response schemas of the organizer's campaigns API (the plan's
CampaignController). Shapes only; rules live in the services."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field, HttpUrl

from usher.campaigns import accounts, ledger, reports, services
from usher.campaigns.models import (
    AdCampaignBudget,
    AllocationStrategy,
    AutomatedCampaign,
    BudgetLedgerEntry,
    CampaignCreative,
    OptimizationLogEntry,
)
from usher.lib.validation import MAX_ID_DIGITS, UtcDatetime
from usher.marketplace.schemas import Currency

# A row id the database can hold (a larger one is a 422, not an overflow).
RowId = Annotated[int, Field(ge=1, le=10**MAX_ID_DIGITS - 1)]

# Rows of the ledger and decision log a detail answer carries (the rest is paginated).
DETAIL_ROWS = 50


class PlatformAllocationIn(Schema):
    percentage: Decimal = Field(ge=0, le=100, max_digits=5, decimal_places=2)
    daily_limit: Decimal | None = Field(None, gt=0, max_digits=12, decimal_places=2)


class BudgetIn(Schema):
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    event: RowId | None = Field(None, description="One of your event ids; empty: all your events.")
    currency: Currency | None = Field(None, description="Defaults to the marketplace's currency.")
    daily_budget_limit: Decimal | None = Field(None, gt=0, max_digits=12, decimal_places=2)
    allocation_strategy: AllocationStrategy = AllocationStrategy.EQUAL_SPLIT
    platform_allocations: dict[str, PlatformAllocationIn] = Field(
        default_factory=dict,
        description="Per platform (`meta`, `google_ads`, `tiktok`): percentage, daily_limit.",
    )
    target_cpa: Decimal | None = Field(None, gt=0, max_digits=12, decimal_places=2)
    target_roas: Decimal | None = Field(None, gt=0, max_digits=8, decimal_places=2)
    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None
    image_url: HttpUrl | None = Field(None, description="The image of your ads.")
    video_url: HttpUrl | None = None
    notes: str = Field("", max_length=2000)

    def to_request(self) -> services.BudgetRequest:
        """The service's input (the API and the organizer panel's form both send this)."""
        return services.BudgetRequest(
            amount=self.amount,
            event_id=self.event,
            currency=self.currency,
            daily_budget_limit=self.daily_budget_limit,
            allocation_strategy=self.allocation_strategy,
            platform_allocations={k: v.dict() for k, v in self.platform_allocations.items()},
            target_cpa=self.target_cpa,
            target_roas=self.target_roas,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            image_url=str(self.image_url or ""),
            video_url=str(self.video_url or ""),
            notes=self.notes,
        )


class TargetsIn(Schema):
    target_cpa: Decimal | None = Field(None, gt=0, max_digits=12, decimal_places=2)
    target_roas: Decimal | None = Field(None, gt=0, max_digits=8, decimal_places=2)


class BudgetOut(Schema):
    id: int
    event: int | None
    status: str
    status_reason: str
    currency: str
    requested_amount: Decimal
    total_budget: Decimal
    spent_budget: Decimal
    remaining: Decimal
    daily_budget_limit: Decimal | None
    allocation_strategy: str
    platform_allocations: dict[str, Any]
    target_cpa: Decimal | None
    target_roas: Decimal | None
    payment_reference: str
    paid_at: datetime | None
    started_at: datetime | None
    ends_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_event(obj: AdCampaignBudget) -> int | None:
        return obj.event_id


class LedgerEntryOut(Schema):
    id: int
    kind: str
    amount: Decimal
    currency: str
    campaign: int | None
    spend_date: date | None
    reference: str
    note: str
    created_at: datetime

    @staticmethod
    def resolve_campaign(obj) -> int | None:
        return obj.campaign_id


class BalancesOut(Schema):
    paid_in: Decimal
    adjustments: Decimal
    refunded: Decimal
    spent: Decimal
    committed: Decimal = Field(description="Reserved for what the platforms may still spend.")
    remaining: Decimal
    available: Decimal


class AdAccountOut(Schema):
    platform: str
    account_id: str
    owner: str = Field(description="`organizer` (your own) or `marketplace`.")


class BudgetDetailOut(BudgetOut):
    balances: BalancesOut
    ad_accounts: list[AdAccountOut]
    ledger: list[LedgerEntryOut] = Field(description="The newest entries; all under /ledger.")

    @staticmethod
    def resolve_balances(obj: AdCampaignBudget) -> dict[str, Decimal]:
        current = ledger.balances(obj)
        return {
            "paid_in": current.paid_in,
            "adjustments": current.adjustments,
            "refunded": current.refunded,
            "spent": current.spent,
            "committed": current.outstanding,
            "remaining": current.remaining,
            "available": current.available,
        }

    @staticmethod
    def resolve_ad_accounts(obj: AdCampaignBudget) -> list[dict[str, str]]:
        """The account each of the budget's platforms publishes on."""
        found = [accounts.ad_account_for(obj.organizer, p) for p in services.budget_platforms(obj)]
        return [
            {
                "platform": account.platform,
                "account_id": account.account_id,
                "owner": "organizer" if account.organizer_id else "marketplace",
            }
            for account in found
            if account is not None
        ]

    @staticmethod
    def resolve_ledger(obj: AdCampaignBudget) -> list[BudgetLedgerEntry]:
        return list(obj.ledger.order_by("-created_at", "-id")[:DETAIL_ROWS])


class CampaignOut(Schema):
    id: int
    budget: int
    event: int
    platform: str
    campaign_type: str
    name: str
    status: str
    status_reason: str
    objective: str
    daily_budget: Decimal | None
    lifetime_budget: Decimal | None
    budget_spent: Decimal
    performance_metrics: dict[str, Any]
    started_at: datetime | None
    ends_at: datetime | None

    @staticmethod
    def resolve_budget(obj: AutomatedCampaign) -> int:
        return obj.budget_id

    @staticmethod
    def resolve_event(obj: AutomatedCampaign) -> int:
        return obj.event_id


class MetricsPointOut(Schema):
    date: date
    impressions: int
    clicks: int
    spend: Decimal
    conversions: Decimal
    conversion_value: Decimal


class DecisionOut(Schema):
    kind: str
    reason: str
    numbers: dict[str, Any]
    expected_effect: str
    applied: bool
    overridden: bool
    actor: str
    created_at: datetime

    @staticmethod
    def resolve_actor(obj) -> str:
        return obj.actor_label


class AdviceOut(Schema):
    """One piece of the optimizer's advice in force (a `recommendation` log row)."""

    id: int
    budget: int
    campaign: int | None
    campaign_name: str = Field(description="Empty when the advice is about the whole budget.")
    platform: str = Field(description="The campaign's platform; empty for the whole budget.")
    advice: str = Field(description="raise_budget, pause_creative or saturated.")
    message: str = Field(description="The advice in words, with its expected effect.")
    numbers: dict[str, Any] = Field(description="The model's numbers behind the advice.")
    created_at: datetime

    @staticmethod
    def resolve_budget(obj: OptimizationLogEntry) -> int:
        return obj.budget_id

    @staticmethod
    def resolve_campaign(obj: OptimizationLogEntry) -> int | None:
        return obj.campaign_id

    @staticmethod
    def resolve_campaign_name(obj: OptimizationLogEntry) -> str:
        return obj.campaign.name if obj.campaign else ""

    @staticmethod
    def resolve_platform(obj: OptimizationLogEntry) -> str:
        return obj.campaign.platform if obj.campaign else ""

    @staticmethod
    def resolve_advice(obj: OptimizationLogEntry) -> str:
        return str(obj.numbers.get("recommendation", ""))

    @staticmethod
    def resolve_message(obj: OptimizationLogEntry) -> str:
        return obj.reason


class CreativeOut(Schema):
    variant: str
    headline: str
    description: str
    call_to_action: str
    image_url: str
    video_url: str
    landing_url: str
    is_active: bool


class CampaignDetailOut(CampaignOut):
    targeting: dict[str, Any]
    bid_strategy: str
    creatives: list[CreativeOut]
    daily_metrics: list[MetricsPointOut]
    optimization_log: list[DecisionOut] = Field(description="The newest decisions first.")

    @staticmethod
    def resolve_creatives(obj: AutomatedCampaign) -> list[CampaignCreative]:
        return list(obj.creatives.all())

    @staticmethod
    def resolve_daily_metrics(obj: AutomatedCampaign) -> list[dict[str, Any]]:
        return reports.daily_metrics(obj)

    @staticmethod
    def resolve_optimization_log(obj: AutomatedCampaign) -> list[OptimizationLogEntry]:
        return list(obj.log.all()[:DETAIL_ROWS])


class PauseIn(Schema):
    reason: str = Field("", max_length=500)


class ReportOut(Schema):
    currency: str
    invested: Decimal = Field(description="Spent, as the platforms report it.")
    sales: int = Field(description="Orders Usher attributes to your campaigns.")
    tickets: int
    revenue: Decimal
    roas: Decimal | None = Field(description="Revenue over invested; empty before any spend.")
    platform_conversions: Decimal = Field(description="What the platforms claim (they over-count).")
    platform_revenue: Decimal
