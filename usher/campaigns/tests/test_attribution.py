"""Usher's last-click attribution of orders to its campaigns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from usher.campaigns.attribution import Click, attribute_conversion, last_click
from usher.campaigns.models import CampaignAttribution, CampaignStatus
from usher.campaigns.tests.factories import AdAccountFactory, BudgetFactory, CampaignFactory
from usher.events.models import VisitorTouch
from usher.marketplace.models import OrderStatus
from usher.marketplace.tests.factories import EventFactory, OrderFactory

PLACED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def click(hours_before: float, **values: str) -> Click:
    return Click(PLACED - timedelta(hours=hours_before), values)


# --- the pure rule ---


def test_the_latest_ad_click_in_the_window_wins() -> None:
    older = click(30, utm_campaign="usher-c-1", fbc="fb.1.x")
    newer = click(2, utm_campaign="usher-c-2", gclid="Cj0")

    assert last_click([older, newer], PLACED, WEEK) is newer


def test_clicks_outside_the_window_or_after_the_order_do_not_count() -> None:
    too_old = click(24 * 8, utm_campaign="usher-c-1")
    after = click(-1, utm_campaign="usher-c-2")

    assert last_click([too_old, after], PLACED, WEEK) is None


def test_a_landing_without_click_ids_or_campaign_is_no_ad_click() -> None:
    organic = click(1, utm_source="newsletter")
    paid = click(5, ttclid="E.C.P.1")

    assert last_click([organic, paid], PLACED, WEEK) is paid


def test_the_campaign_reference_is_read_from_utm_campaign_only_when_it_is_ours() -> None:
    assert click(1, utm_campaign="usher-c-42").campaign_id == 42
    assert click(1, utm_campaign="spring-sale").campaign_id is None
    assert click(1, utm_campaign="usher-c-42x").campaign_id is None


def test_the_landing_urls_own_campaign_id_stands_in_for_rewritten_utm_tags() -> None:
    landing = Click(PLACED, {"gclid": "Cj0"}, "https://tix.example/e/1?usher_campaign=42")

    assert landing.campaign_id == 42
    assert Click(PLACED, {}, "https://tix.example/e/1?usher_campaign=x").campaign_id is None


def test_matched_by_names_the_campaign_platforms_click_id() -> None:
    landing = click(1, utm_campaign="usher-c-1", gclid="Cj0", fbc="fb.1.x")

    assert landing.matched_by("google_ads") == "gclid"
    assert landing.matched_by("tiktok") == "utm"


# --- against the database ---


def landed(campaign, visitor_id: str, *, days_before: int) -> VisitorTouch:
    """The visitor landed from one of the campaign's ads `days_before` the order."""
    return VisitorTouch.objects.create(
        client=campaign.client,
        visitor_id=visitor_id,
        touched_at=PLACED - timedelta(days=days_before),
        utm_campaign=campaign.reference,
        touch_key=f"{visitor_id}-{days_before}",
    )


@pytest.fixture
def place_order(django_capture_on_commit_callbacks):
    """An order saved as the ingest saves one: the attribution hook runs on commit."""

    def place(**fields):
        with django_capture_on_commit_callbacks(execute=True):
            return OrderFactory(**fields)

    return place


@pytest.fixture
def campaign(organizer):
    account = AdAccountFactory(
        client=organizer.client, platform="google_ads", account_id="1234567890"
    )
    budget = BudgetFactory(organizer=organizer)
    event = EventFactory(organizer=organizer)
    return CampaignFactory(
        budget=budget, event=event, ad_account=account, status=CampaignStatus.ACTIVE
    )


def test_an_order_from_a_campaign_landing_is_attributed(db, campaign, place_order) -> None:
    order = place_order(
        event=campaign.event, placed_at=PLACED, gclid="Cj0", utm_campaign=campaign.reference
    )

    attribution = CampaignAttribution.objects.get(order=order)  # hooked on save

    assert attribution.campaign == campaign
    assert attribution.matched_by == "gclid"
    assert (attribution.value, attribution.tickets) == (order.value, order.tickets_count)


def test_an_earlier_visit_carries_the_click_to_a_later_order(db, campaign, place_order) -> None:
    landed(campaign, "v-1", days_before=3)

    order = place_order(event=campaign.event, placed_at=PLACED, visitor_id="v-1")

    assert CampaignAttribution.objects.get(order=order).matched_by == "utm"


def test_a_later_click_elsewhere_takes_the_credit_away(db, campaign, place_order) -> None:
    landed(campaign, "v-1", days_before=3)

    order = place_order(
        event=campaign.event, placed_at=PLACED, visitor_id="v-1", fbc="fb.1.someone-else"
    )

    assert not CampaignAttribution.objects.filter(order=order).exists()


def test_another_organizers_campaign_reference_is_not_attributed(
    db, campaign, place_order, marketplace
) -> None:
    stranger = EventFactory(organizer__client=campaign.client)

    order = place_order(event=stranger, placed_at=PLACED, utm_campaign=campaign.reference)

    assert not CampaignAttribution.objects.filter(order=order).exists()


def test_attributing_twice_keeps_one_row_and_a_refund_removes_it(
    db, campaign, place_order, django_capture_on_commit_callbacks
) -> None:
    order = place_order(event=campaign.event, placed_at=PLACED, utm_campaign=campaign.reference)
    attribute_conversion(order)
    assert CampaignAttribution.objects.filter(order=order).count() == 1

    order.status = OrderStatus.REFUNDED
    with django_capture_on_commit_callbacks(execute=True):
        order.save()

    assert not CampaignAttribution.objects.filter(order=order).exists()


def test_the_window_is_configurable(db, campaign, place_order, settings) -> None:
    settings.ATTRIBUTION_CLICK_WINDOW_DAYS = 1
    landed(campaign, "v-9", days_before=2)

    order = place_order(event=campaign.event, placed_at=PLACED, visitor_id="v-9")

    assert not CampaignAttribution.objects.filter(order=order).exists()


def test_orders_ingested_through_the_api_are_attributed(
    db, campaign, ingest, django_capture_on_commit_callbacks
) -> None:
    from usher.marketplace.tests.test_ingest import order_payload

    payload = order_payload(
        campaign.event,
        attribution={"visitor_id": "v-1", "gclid": "Cj0", "utm_campaign": campaign.reference},
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert ingest.put("/api/ingest/orders", payload).status_code == 200

    attribution = CampaignAttribution.objects.get()
    assert attribution.campaign == campaign
    assert attribution.value == Decimal("240.50")
