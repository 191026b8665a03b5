"""A campaigns connector that keeps its platform in memory and behaves as the contract
says (idempotent publish by reference, over-delivery factors, minimum budgets), so the
campaigns app is tested without any platform; it records every call."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from usher.platforms import campaigns_base as contract
from usher.platforms.base import PlatformError


@dataclass
class FakeCampaign:
    spec: contract.CampaignSpec
    published: contract.PublishedCampaign
    active: bool = False
    daily_budget: Decimal | None = None
    lifetime_budget: Decimal | None = None
    end_time: datetime | None = None


@dataclass
class FakePlatform:
    """The platform's state, shared by every connector instance of a test."""

    campaigns: dict[str, FakeCampaign] = field(default_factory=dict)  # by reference
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_next: list[PlatformError] = field(default_factory=list)
    minimum: Decimal = Decimal("5.00")
    lose_next_answer: bool = False  # publish creates, then the answer times out

    def by_id(self, campaign_id: str) -> FakeCampaign:
        return next(c for c in self.campaigns.values() if c.published.campaign_id == campaign_id)


class FakeCampaignsConnector:
    platform: ClassVar[str] = "meta"
    daily_overdelivery_factor: ClassVar[Decimal] = Decimal("1.75")
    weekly_overdelivery_factor: ClassVar[Decimal | None] = Decimal("7")
    lifetime_budget_hard_cap: ClassVar[bool] = True
    budget_type_locked_once_live: ClassVar[bool] = False
    state: ClassVar[FakePlatform]

    def _call(self, name: str, ref: str) -> None:
        self.state.calls.append((name, ref))
        if self.state.fail_next:
            raise self.state.fail_next.pop(0)

    def minimum_daily_budget(self, currency: str) -> Decimal:
        return self.state.minimum

    def publish(
        self, account: contract.AdAccount, spec: contract.CampaignSpec
    ) -> contract.PublishedCampaign:
        self._call("publish", spec.reference)
        assert account.access_token, "publishing needs the account's credential"
        if spec.reference not in self.state.campaigns:
            n = len(self.state.campaigns) + 1
            published = contract.PublishedCampaign(
                campaign_id=f"c{n}",
                ad_group_id=f"g{n}",
                ads={cr.reference: f"ad{n}-{i}" for i, cr in enumerate(spec.creatives)},
            )
            self.state.campaigns[spec.reference] = FakeCampaign(
                spec, published, False, spec.daily_budget, spec.lifetime_budget, spec.end_time
            )
        if self.state.lose_next_answer:
            self.state.lose_next_answer = False
            raise PlatformError("transient", "read timeout", platform=self.platform)
        return self.state.campaigns[spec.reference].published

    def set_status(
        self, account: contract.AdAccount, published: contract.PublishedCampaign, active: bool
    ) -> None:
        self._call("set_status", published.campaign_id)
        self.state.by_id(published.campaign_id).active = active

    def set_ad_status(self, account: contract.AdAccount, ad_id: str, active: bool) -> None:
        self._call("set_ad_status", ad_id)

    def set_budget(
        self,
        account: contract.AdAccount,
        published: contract.PublishedCampaign,
        *,
        daily_budget: Decimal | None = None,
        lifetime_budget: Decimal | None = None,
    ) -> None:
        self._call("set_budget", published.campaign_id)
        campaign = self.state.by_id(published.campaign_id)
        campaign.daily_budget, campaign.lifetime_budget = daily_budget, lifetime_budget

    def set_end_time(
        self, account: contract.AdAccount, published: contract.PublishedCampaign, end: datetime
    ) -> None:
        """Only connectors declaring `end_time_bounds_daily_budget` are asked this."""
        self._call("set_end_time", published.campaign_id)
        self.state.by_id(published.campaign_id).end_time = end

    def read_state(
        self, account: contract.AdAccount, published: contract.PublishedCampaign
    ) -> contract.CampaignState:
        campaign = self.state.by_id(published.campaign_id)
        status = (
            contract.DeliveryStatus.ACTIVE if campaign.active else contract.DeliveryStatus.PAUSED
        )
        return contract.CampaignState(published.campaign_id, status)
