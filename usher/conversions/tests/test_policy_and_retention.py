"""Consent decisions, backoff bounds, network-data retention and per-code status."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from usher.conversions import dispatch, services
from usher.conversions.models import ConversionDelivery, DeliveryStatus
from usher.conversions.policy import decide
from usher.marketplace.models import ConsentPolicy
from usher.marketplace.tests.factories import EventFactory, MarketplaceClientFactory, OrderFactory
from usher.tracking.event_store import TrackingEvent


@pytest.mark.parametrize(
    ("policy", "consent", "send", "minimal"),
    [
        (ConsentPolicy.MARKETING_CONSENT, {"ad_user_data": True}, True, False),
        (ConsentPolicy.MARKETING_CONSENT, {"ad_storage": True}, True, False),
        (
            ConsentPolicy.MARKETING_CONSENT,
            {"ad_storage": True, "ad_user_data": False},
            False,
            False,
        ),
        (ConsentPolicy.MARKETING_CONSENT, {}, False, False),
        (ConsentPolicy.LEGITIMATE_INTEREST, {}, True, True),
        (ConsentPolicy.LEGITIMATE_INTEREST, {"ad_user_data": True}, True, False),
    ],
)
def test_consent_policy_decides_what_goes_out(policy, consent, send, minimal):
    client = MarketplaceClientFactory.build(consent_policy=policy)
    decision = decide(client, consent)
    assert (decision.send, decision.minimal) == (send, minimal)


def test_backoff_grows_exponentially_and_stays_under_the_cap():
    first = [dispatch.backoff_seconds(1) for _ in range(50)]
    fifth = [dispatch.backoff_seconds(5) for _ in range(50)]
    assert all(15 <= s <= 30 for s in first)
    assert all(240 <= s <= 480 for s in fifth)
    assert max(dispatch.backoff_seconds(40) for _ in range(50)) <= dispatch.BACKOFF_CAP_SECONDS


def tracking_event(client, event_id, received_hours_ago, **fields):
    event = TrackingEvent.objects.create(
        client=client,
        event_id=event_id,
        name="view_item",
        occurred_at=timezone.now() - timedelta(hours=received_hours_ago),
        ip_address="203.0.113.1",
        user_agent="Mozilla/5.0",
        **fields,
    )
    TrackingEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - timedelta(hours=received_hours_ago)
    )
    return event


@pytest.mark.django_db
def test_network_data_is_purged_once_no_open_delivery_needs_it(marketplace, organizer):
    page = EventFactory(organizer=organizer)
    settled = tracking_event(marketplace, "evt-settled", 2)
    waiting = tracking_event(marketplace, "evt-waiting", 2, marketplace_event=page)
    fresh = tracking_event(marketplace, "evt-fresh", 0)
    ancient = tracking_event(marketplace, "evt-ancient", 24 * 8, marketplace_event=page)
    for event in (waiting, ancient):
        ConversionDelivery.objects.create(
            client=marketplace,
            organizer=organizer,
            destination_key="organizer:1",
            provider="meta",
            event_id=event.event_id,
            event_name="view_item",
            tracking_event=event,
            status=DeliveryStatus.RETRYING,
            next_attempt_at=timezone.now(),
        )

    services.purge_network_data()

    kept = {e.event_id: e.ip_address for e in TrackingEvent.objects.all()}
    assert kept == {
        "evt-settled": None,
        "evt-waiting": "203.0.113.1",  # a retry still needs it
        "evt-fresh": "203.0.113.1",  # an order may still borrow it
        "evt-ancient": None,  # past the retention limit whatever happens
    }
    assert TrackingEvent.objects.get(pk=settled.pk).user_agent == ""
    assert fresh.pk


@pytest.mark.django_db
def test_an_orders_checkout_network_data_is_purged_after_delivery(marketplace, organizer):
    order = OrderFactory(
        event=EventFactory(organizer=organizer),
        placed_at=timezone.now() - timedelta(hours=3),
        client_ip="203.0.113.5",
        user_agent="Mozilla/5.0",
    )
    services.purge_network_data()
    order.refresh_from_db()
    assert (order.client_ip, order.user_agent) == (None, "")
