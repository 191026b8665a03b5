"""What Usher tells a connector about a campaign (a contract `CampaignSpec`) and what
it keeps of the answer (the platform ids), in one place for publishing and steering.

A dynamic remarketing campaign's catalog comes from the catalog app, which depends on
this app: it registers its resolver here (`register_catalog_resolver`, from its
AppConfig), so campaigns never import catalog and no import cycle forms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from usher.campaigns.models import AutomatedCampaign, CampaignCreative, CampaignType
from usher.campaigns.spend_safety import BudgetSetting
from usher.platforms import campaigns_base as contract


def published_of(campaign: AutomatedCampaign) -> contract.PublishedCampaign:
    return contract.PublishedCampaign(
        campaign_id=campaign.external_campaign_id,
        ad_group_id=campaign.external_adset_id,
        budget_id=campaign.external_budget_id or None,
        ads={c.reference: c.external_ad_id for c in campaign.creatives.all() if c.external_ad_id},
    )


@dataclass(frozen=True)
class CatalogChoice:
    """Whether a dynamic remarketing campaign runs on the catalog, and why (the note is
    logged and recorded on the campaign's publish decision)."""

    catalog: contract.CatalogSpec | None
    note: str


CatalogResolver = Callable[[AutomatedCampaign], CatalogChoice]
_catalog_resolvers: list[CatalogResolver] = []
FALLBACK = "runs as retargeting of its cart abandoners"


def register_catalog_resolver(resolver: CatalogResolver) -> None:
    """Called by the catalog app once its models are ready (at most one resolver)."""
    _catalog_resolvers[:] = [resolver]


def catalog_choice(
    campaign: AutomatedCampaign, connector: contract.CampaignsConnector
) -> CatalogChoice | None:
    """The catalog of a dynamic remarketing campaign about to be published; None for the
    other kinds. Without a catalog the campaign keeps its audience and creatives."""
    if campaign.campaign_type != CampaignType.DYNAMIC_REMARKETING:
        return None
    if not getattr(connector, "catalog_campaigns", False):
        return CatalogChoice(
            None, f"{FALLBACK}: Usher's {campaign.platform} campaigns cannot show a catalog yet"
        )
    if not _catalog_resolvers:
        return CatalogChoice(None, f"{FALLBACK}: the event catalog app is not installed")
    return _catalog_resolvers[0](campaign)


def campaign_spec(
    campaign: AutomatedCampaign,
    setting: BudgetSetting,
    now: datetime,
    end_time: datetime | None,
    catalog: contract.CatalogSpec | None = None,
) -> contract.CampaignSpec:
    """The campaign as published: from `now` to `end_time` (the flight's end, or the
    rolled one where spend control rolls it: spend_control.planned_end)."""
    account = campaign.ad_account
    targeting = campaign.targeting or {}
    return contract.CampaignSpec(
        reference=campaign.reference,
        name=campaign.name,
        campaign_type=contract.CampaignType(campaign.campaign_type),
        objective=contract.Objective(campaign.objective),
        currency=account.currency,
        start_time=now,
        end_time=end_time,
        targeting=contract.TargetingSpec(
            countries=list(targeting.get("countries", [])),
            age_min=targeting.get("age_min"),
            age_max=targeting.get("age_max"),
            interests=list(targeting.get("interests", [])),
            include_audience_ids=list(targeting.get("include_audience_ids", [])),
            exclude_audience_ids=list(targeting.get("exclude_audience_ids", [])),
        ),
        creatives=[
            contract.CreativeSpec(
                reference=creative.reference,
                headline=creative.headline,
                description=creative.description,
                landing_url=creative.landing_url,
                call_to_action=creative.call_to_action,
                image_url=creative.image_url or None,
                video_url=creative.video_url or None,
            )
            for creative in campaign.creatives.filter(is_active=True)
        ],
        daily_budget=setting.daily_budget,
        lifetime_budget=setting.lifetime_budget,
        bid_strategy=contract.BidStrategy(campaign.bid_strategy),
        bid_amount=campaign.bid_amount,
        roas_floor=campaign.roas_floor,
        conversion_id=account.settings.get("conversion_id"),
        dsa_beneficiary=account.settings.get("dsa_beneficiary") or campaign.organizer.name,
        dsa_payor=account.settings.get("dsa_payor") or campaign.client.name,
        catalog=catalog,
    )


def store_published(campaign: AutomatedCampaign, published: contract.PublishedCampaign) -> None:
    campaign.external_campaign_id = published.campaign_id
    campaign.external_adset_id = published.ad_group_id
    campaign.external_budget_id = published.budget_id or ""
    campaign.save(
        update_fields=[
            "external_campaign_id",
            "external_adset_id",
            "external_budget_id",
            "updated_at",
        ]
    )
    for creative in campaign.creatives.all():
        ad_id = published.ads.get(creative.reference)
        if ad_id and ad_id != creative.external_ad_id:
            CampaignCreative.objects.filter(pk=creative.pk).update(external_ad_id=ad_id)
