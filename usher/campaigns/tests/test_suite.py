"""create_campaign_suite: four kinds per platform, skipped with reasons, idempotent."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from usher.campaigns.models import AutomatedCampaign, CampaignSettings, CampaignStatus
from usher.campaigns.suite import create_campaign_suite, create_suites_for_budget
from usher.campaigns.tests.factories import AdAccountFactory, BudgetFactory
from usher.lib.errors import InvalidInput
from usher.marketplace.tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def test_the_suite_has_the_four_kinds_and_skips_those_without_a_ready_audience(
    platform, paid_budget, event
):
    suite = create_campaign_suite(event, paid_budget)
    by_kind = {c.campaign_type: c for c in suite}
    assert set(by_kind) == {"prospecting", "retargeting", "lookalike", "dynamic_remarketing"}
    assert by_kind["prospecting"].status == CampaignStatus.PENDING_REVIEW
    for kind in ("retargeting", "lookalike", "dynamic_remarketing"):
        assert by_kind[kind].status == CampaignStatus.SKIPPED
        assert by_kind[kind].status_reason  # the audiences app says why


def test_campaign_names_carry_the_kind_and_landing_urls_the_campaign(platform, paid_budget, event):
    [prospecting] = [
        c for c in create_campaign_suite(event, paid_budget) if c.campaign_type == "prospecting"
    ]
    assert prospecting.name.endswith("[prospecting]")
    urls = [c.landing_url for c in prospecting.creatives.all()]
    assert len(urls) == 2  # an A/B pair
    query = parse_qs(urlsplit(urls[0]).query)
    assert query["usher_campaign"] == [str(prospecting.pk)]
    assert query["utm_campaign"] == [f"usher-c-{prospecting.pk}"]
    assert query["utm_source"] == ["meta"] and query["utm_medium"] == ["paid"]
    assert prospecting.targeting["countries"] == ["RO"]
    assert prospecting.ends_at == event.starts_at
    assert prospecting.ad_account.platform == "meta"


def test_creating_a_suite_twice_creates_nothing_new(platform, paid_budget, event):
    first = create_campaign_suite(event, paid_budget)
    second = create_campaign_suite(event, paid_budget)
    assert [c.pk for c in first] == [c.pk for c in second]
    assert AutomatedCampaign.objects.count() == 4


def test_a_platform_without_an_ad_account_is_skipped_with_the_reason(platform, paid_budget, event):
    paid_budget.platform_allocations = {"meta": {"percentage": 50}, "tiktok": {"percentage": 50}}
    paid_budget.save()
    suite = create_campaign_suite(event, paid_budget)
    tiktok = [c for c in suite if c.platform == "tiktok"]
    assert len(tiktok) == 4
    assert all(
        c.status == CampaignStatus.SKIPPED and "ad account" in c.status_reason for c in tiktok
    )


def test_the_organizers_own_account_wins_over_the_marketplaces(
    platform, paid_budget, event, organizer
):
    own = AdAccountFactory(client=organizer.client, organizer=organizer, platform="meta")
    suite = create_campaign_suite(event, paid_budget)
    assert {c.ad_account_id for c in suite} == {own.pk}


def test_the_campaign_limit_skips_what_is_past_it(platform, paid_budget, event, organizer):
    CampaignSettings.objects.create(client=organizer.client, max_active_campaigns_per_organizer=0)
    [prospecting] = [
        c for c in create_campaign_suite(event, paid_budget) if c.campaign_type == "prospecting"
    ]
    assert prospecting.status == CampaignStatus.SKIPPED
    assert "limit" in prospecting.status_reason


def test_a_general_budget_funds_every_upcoming_published_event(
    platform, paid_budget, organizer, event
):
    paid_budget.event = None
    paid_budget.save()
    other = EventFactory(organizer=organizer, public_url="https://tix.example/e/2")
    EventFactory(organizer=organizer, status="draft")
    suite = create_suites_for_budget(paid_budget)
    assert {c.event_id for c in suite} == {event.pk, other.pk}


def test_an_unpaid_budget_gets_no_campaigns(platform, organizer, event):
    with pytest.raises(InvalidInput):
        create_campaign_suite(event, BudgetFactory(organizer=organizer, event=event))


def test_a_budget_for_one_event_does_not_fund_another(platform, paid_budget, organizer):
    with pytest.raises(InvalidInput) as caught:
        create_campaign_suite(EventFactory(organizer=organizer), paid_budget)
    assert caught.value.loc == ["event"]
