"""Dynamic remarketing campaigns on the event catalog, published through the Meta
connector on the sandbox: with a synced catalog they are catalog ads of the event (or
of the organizer's events for a general budget); without one they run as before and
say why."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from usher.campaigns import publishing, services
from usher.campaigns.models import (
    AdAccount,
    AutomatedCampaign,
    CampaignStatus,
    DecisionKind,
    OptimizationLogEntry,
)
from usher.campaigns.specs import FALLBACK
from usher.campaigns.tests.factories import AdAccountFactory, BudgetFactory, CampaignFactory
from usher.catalog import services as catalog_services
from usher.catalog.models import CatalogFeed
from usher.catalog.tests.conftest import META_BUSINESS
from usher.marketplace.content_ids import event_content_id
from usher.platforms.tests.campaign_helpers import ACCOUNTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(marketplace) -> AdAccount:
    """The marketplace's Meta account on the sandbox, with its event catalog on."""
    return AdAccountFactory(
        client=marketplace,
        platform="meta",
        account_id=ACCOUNTS["meta"].account_id,
        settings={**ACCOUNTS["meta"].settings, "catalog": True, "business_id": META_BUSINESS},
        credential="sandbox-meta-token",
    )


def publish_dynamic(account: AdAccount, organizer, event, *, general: bool = False):
    """A paid budget's approved dynamic remarketing campaign for `event`, published."""
    budget = BudgetFactory(
        organizer=organizer,
        event=None if general else event,
        platform_allocations={"meta": {"percentage": 100}},
    )
    services.confirm_payment(
        budget.pk, reference="TRF-9", amount_received=Decimal("1000.00"), user=None
    )
    campaign = CampaignFactory(
        budget=budget,
        event=event,
        ad_account=account,
        campaign_type="dynamic_remarketing",
        status=CampaignStatus.APPROVED,
        desired_daily_budget=Decimal("40.00"),
        ends_at=timezone.now() + timedelta(days=15),
        targeting={"countries": ["RO"], "age_min": 18, "age_max": 65},
    )
    campaign.creatives.create(
        variant="A",
        headline=f"{event.name}: tickets on sale",
        landing_url=f"{event.public_url}?utm_source=meta&usher_campaign={campaign.pk}",
    )
    publishing.publish_campaign(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.ACTIVE, campaign.last_error
    return campaign


def on_sandbox(sandbox, object_id: str) -> dict:
    return sandbox.state.get_object("meta", object_id)["fields"]


def publish_note(campaign: AutomatedCampaign) -> str:
    return OptimizationLogEntry.objects.get(campaign=campaign, kind=DecisionKind.PUBLISH).reason


def test_a_synced_catalog_makes_it_catalog_ads_of_the_event(sandbox, account, organizer, events):
    catalog_services.sync_feed(account.pk, timezone.now())
    feed = CatalogFeed.objects.get(ad_account=account)
    campaign = publish_dynamic(account, organizer, events[0])

    [product_set] = sandbox.state.objects_of("meta", feed.catalog_id, "product_set")
    content_id = event_content_id(events[0])
    assert product_set["fields"]["filter"] == {"retailer_id": {"eq": content_id}}
    assert product_set["fields"]["name"].startswith(campaign.reference)
    on_meta = on_sandbox(sandbox, campaign.external_campaign_id)
    assert on_meta["objective"] == "OUTCOME_SALES"
    assert on_meta["promoted_object"] == {"product_catalog_id": feed.catalog_id}
    adset = on_sandbox(sandbox, campaign.external_adset_id)
    assert adset["promoted_object"] == {
        "product_set_id": product_set["id"],
        "custom_event_type": "PURCHASE",
    }
    [audience] = adset["targeting"]["product_audience_specs"]
    assert audience["product_set_id"] == product_set["id"]
    assert [r["rule"]["event"]["eq"] for r in audience["inclusions"]] == [
        "ViewContent",
        "AddToCart",
    ]
    assert audience["exclusions"][0]["rule"] == {"event": {"eq": "Purchase"}}
    ad = on_sandbox(sandbox, campaign.creatives.get().external_ad_id)
    creative = on_sandbox(sandbox, ad["creative"]["id"])
    template = creative["object_story_spec"]["template_data"]
    assert creative["product_set_id"] == product_set["id"]
    assert (template["name"], template["message"]) == (
        "{{product.name}}",
        f"{events[0].name}: tickets on sale",
    )
    assert template["link"] == events[0].public_url  # the tags go once, as url_tags
    assert f"usher_campaign={campaign.pk}" in creative["url_tags"]
    assert publish_note(campaign).endswith(
        f"catalog ads of 1 event(s) of catalog {feed.catalog_id}"
    )


def test_a_general_budget_shows_every_event_of_the_organizer(sandbox, account, organizer, events):
    catalog_services.sync_feed(account.pk, timezone.now())
    feed = CatalogFeed.objects.get(ad_account=account)
    campaign = publish_dynamic(account, organizer, events[1], general=True)
    [product_set] = sandbox.state.objects_of("meta", feed.catalog_id, "product_set")
    assert product_set["fields"]["filter"] == {
        "retailer_id": {"is_any": sorted(event_content_id(e) for e in events)}
    }
    ad = on_sandbox(sandbox, campaign.creatives.get().external_ad_id)
    template = on_sandbox(sandbox, ad["creative"]["id"])["object_story_spec"]["template_data"]
    assert template["message"] == "{{product.name}}: tickets on sale"  # not one event's text


def test_without_a_catalog_it_runs_on_its_creatives_and_says_why(
    sandbox, account, organizer, events
):
    campaign = publish_dynamic(account, organizer, events[0])
    on_meta = on_sandbox(sandbox, campaign.external_campaign_id)
    assert "promoted_object" not in on_meta
    adset = on_sandbox(sandbox, campaign.external_adset_id)
    assert adset["promoted_object"]["pixel_id"] == ACCOUNTS["meta"].settings["pixel_id"]
    assert "product_audience_specs" not in adset["targeting"]
    ad = on_sandbox(sandbox, campaign.creatives.get().external_ad_id)
    assert "link_data" in on_sandbox(sandbox, ad["creative"]["id"])["object_story_spec"]
    assert publish_note(campaign).endswith(
        f"{FALLBACK}: its ad account has no event catalog (settings.catalog is off)"
    )


def test_an_event_missing_from_the_catalog_falls_back(sandbox, account, organizer, events):
    events[0].image_url = ""  # not an item: no poster
    events[0].save()
    catalog_services.sync_feed(account.pk, timezone.now())
    campaign = publish_dynamic(account, organizer, events[0])
    assert "promoted_object" not in on_sandbox(sandbox, campaign.external_campaign_id)
    assert "are not in catalog" in publish_note(campaign)
