"""Consent decisions, network-data retention and per-code status."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from usher.conversions import services
from usher.conversions.models import ConversionDelivery, DeliveryStatus
from usher.conversions.policy import decide
from usher.events.models import TrackingEvent
from usher.marketplace.models import ConsentPolicy
from usher.marketplace.tests.factories import EventFactory, MarketplaceClientFactory, OrderFactory


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


def tracking_event(client, event_id, received_hours_ago, **fields):
    """A stored browser event, fanned out (its deliveries made) unless told otherwise."""
    fields.setdefault("fanned_out_at", timezone.now())
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


def delivery_for(organizer, status, *, event=None, order=None):
    """A delivery of a browser event or an order, in the given state."""
    return ConversionDelivery.objects.create(
        client=organizer.client,
        organizer=organizer,
        destination_key="organizer:1",
        provider="meta",
        event_id=event.event_id if event else f"order-{order.external_id}",
        event_name=event.name if event else "purchase",
        tracking_event=event,
        order=order,
        status=status,
        next_attempt_at=timezone.now(),
    )


@pytest.mark.django_db
def test_network_data_is_purged_once_no_open_delivery_needs_it(marketplace, organizer):
    page = EventFactory(organizer=organizer)
    settled = tracking_event(marketplace, "evt-settled", 2)
    waiting = tracking_event(marketplace, "evt-waiting", 2, marketplace_event=page)
    fresh = tracking_event(marketplace, "evt-fresh", 0)
    ancient = tracking_event(marketplace, "evt-ancient", 24 * 8, marketplace_event=page)
    for event in (waiting, ancient):
        delivery_for(organizer, DeliveryStatus.RETRYING, event=event)

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
        fanned_out_at=timezone.now(),
    )
    services.purge_network_data()
    order.refresh_from_db()
    assert (order.client_ip, order.user_agent) == (None, "")


@pytest.mark.django_db
def test_what_is_not_fanned_out_yet_keeps_its_network_data_for_its_deliveries(
    marketplace, organizer
):
    # An order uploaded hours after it was placed (a late or backfilled ingest), and a
    # browser event in a fan-out backlog: their deliveries do not exist yet.
    order = OrderFactory(
        event=EventFactory(organizer=organizer),
        placed_at=timezone.now() - timedelta(hours=30),
        client_ip="203.0.113.5",
        user_agent="Mozilla/5.0",
        fanned_out_at=None,
    )
    backlog = tracking_event(marketplace, "evt-backlog", 3, fanned_out_at=None)

    services.purge_network_data()

    order.refresh_from_db()
    assert (order.client_ip, order.user_agent) == ("203.0.113.5", "Mozilla/5.0")
    assert TrackingEvent.objects.get(pk=backlog.pk).ip_address == "203.0.113.1"


@pytest.mark.django_db
def test_a_dead_delivery_keeps_its_network_data_for_a_replay(marketplace, organizer):
    page = EventFactory(organizer=organizer)
    event = tracking_event(marketplace, "evt-dead", 3, marketplace_event=page)
    delivery_for(organizer, DeliveryStatus.DEAD, event=event)
    services.purge_network_data()
    assert TrackingEvent.objects.get(pk=event.pk).ip_address == "203.0.113.1"


@pytest.mark.django_db
def test_an_open_order_delivery_does_not_hold_back_unrelated_purges(marketplace, organizer):
    order = OrderFactory(event=EventFactory(organizer=organizer), visitor_id="v-buyer")
    delivery_for(organizer, DeliveryStatus.RETRYING, order=order)
    unrelated = tracking_event(marketplace, "evt-other", 2, visitor_id="v-someone-else")
    buyers = tracking_event(marketplace, "evt-buyer", 2, visitor_id="v-buyer")
    services.purge_network_data()
    assert TrackingEvent.objects.get(pk=unrelated.pk).ip_address is None
    assert TrackingEvent.objects.get(pk=buyers.pk).ip_address == "203.0.113.1"
