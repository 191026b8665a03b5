"""The collector's requests share one queued fan-out per client: nothing stored is left
out, and each event still becomes exactly one delivery per destination. Also what one
fan-out takes (its client's events, those asked, no browser purchase), and what the
sweep takes (stragglers past their grace, paid orders not fanned out yet)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from usher.conversions import fanout, tasks
from usher.conversions.models import ConversionDelivery
from usher.events.models import TrackingEvent
from usher.marketplace.models import ConsentPolicy, Order, OrderStatus
from usher.marketplace.tests.factories import MarketplaceClientFactory, OrderFactory
from usher.tracking import services as tracking

pytestmark = pytest.mark.django_db
# view_item goes to the organizer's Meta, TikTok and GA4 codes (Google Ads has no action
# for it, the marketplace's pixel only wants purchases).
DESTINATIONS_PER_EVENT = 3


@pytest.fixture
def published(monkeypatch) -> list[int]:
    """The fan-out tasks the collector queues (not run), and no dispatch queued."""
    calls: list[int] = []
    monkeypatch.setattr(tasks.fan_out_client_events_task, "delay", calls.append)
    monkeypatch.setattr(tasks, "schedule_dispatch", lambda keys: None)
    return calls


CONSENTED = {"ad_storage": True, "ad_user_data": True, "analytics_storage": True}


def collect(
    marketplace, wiring, capture, *event_ids: str, name: str = "view_item", consent=CONSENTED
) -> None:
    events = [
        {
            "event_id": event_id,
            "name": name,
            "event": wiring.event.slug,
            "visitor_id": f"v-{event_id}",
            "cookies": {"ga": "GA1.1.123456789.1700000000"},
            "consent": consent,
        }
        for event_id in event_ids
    ]
    with capture(execute=True):
        response = Client().post(
            f"/api/collect?site_key={marketplace.site_key}",
            data=json.dumps({"events": events}),
            content_type="application/json",
        )
    assert response.status_code == 202, response.content


def deliveries_per_event() -> dict[str, int]:
    counts: dict[str, int] = {}
    for event_id in ConversionDelivery.objects.values_list("event_id", flat=True):
        counts[event_id] = counts.get(event_id, 0) + 1
    return counts


def test_requests_before_a_worker_starts_share_one_fan_out_that_misses_none(
    marketplace, wiring, published, django_capture_on_commit_callbacks
):
    for n in range(3):
        collect(marketplace, wiring, django_capture_on_commit_callbacks, f"e-{n}a", f"e-{n}b")
    assert published == [marketplace.pk]  # one task for three requests

    tasks.fan_out_client_events_task(marketplace.pk)
    assert deliveries_per_event() == {
        f"e-{n}{x}": DESTINATIONS_PER_EVENT for n in range(3) for x in "ab"
    }
    assert not TrackingEvent.objects.filter(fanned_out_at__isnull=True).exists()


def test_events_stored_once_the_fan_out_started_get_a_fan_out_of_their_own(
    marketplace, wiring, published, django_capture_on_commit_callbacks
):
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-1")
    tasks.fan_out_client_events_task(marketplace.pk)  # started: it may not see later ones
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-2")
    assert published == [marketplace.pk, marketplace.pk]
    tasks.fan_out_client_events_task(marketplace.pk)
    assert deliveries_per_event() == {"e-1": DESTINATIONS_PER_EVENT, "e-2": DESTINATIONS_PER_EVENT}


def test_two_runs_over_the_same_events_store_each_delivery_once(
    marketplace, wiring, published, django_capture_on_commit_callbacks
):
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-1", "e-2")
    pending = list(TrackingEvent.objects.values_list("event_id", flat=True))
    # Two runs that both read the pending events before either wrote (a run beside the
    # sweep, or a second task after the flag expired).
    fanout.fan_out_tracking_events(marketplace.pk, pending)
    fanout.fan_out_tracking_events(marketplace.pk, pending)
    tasks.fan_out_client_events_task(marketplace.pk)
    assert deliveries_per_event() == {"e-1": DESTINATIONS_PER_EVENT, "e-2": DESTINATIONS_PER_EVENT}


def test_a_backlog_beyond_one_runs_share_is_taken_by_the_runs_it_queues(
    marketplace, wiring, published, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(fanout, "PENDING_EVENTS_PER_FAN_OUT", 2)
    collect(marketplace, wiring, django_capture_on_commit_callbacks, *[f"e-{n}" for n in range(5)])
    runs = 0
    while published:
        published.pop()
        tasks.fan_out_client_events_task(marketplace.pk)
        runs += 1
    assert runs == 3  # 2 + 2 + 1
    assert deliveries_per_event() == {f"e-{n}": DESTINATIONS_PER_EVENT for n in range(5)}


def test_another_clients_pending_events_are_not_its_fan_outs(
    marketplace, wiring, published, django_capture_on_commit_callbacks
):
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-1")
    other = MarketplaceClientFactory()
    tasks.fan_out_client_events_task(other.pk)
    assert TrackingEvent.objects.get(event_id="e-1").fanned_out_at is None


def test_the_sweep_fans_out_what_no_worker_took_once_its_grace_is_over(
    marketplace, wiring, published, django_capture_on_commit_callbacks
):
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-1", "e-2")
    received = TrackingEvent.objects.latest("received_at").received_at

    within_grace = fanout.fan_out_stragglers(received + timedelta(seconds=10))
    keys = fanout.fan_out_stragglers(received + timedelta(minutes=5))

    assert within_grace == set()
    assert deliveries_per_event() == {"e-1": DESTINATIONS_PER_EVENT, "e-2": DESTINATIONS_PER_EVENT}
    assert keys == set(ConversionDelivery.objects.values_list("destination_key", flat=True))
    assert not TrackingEvent.objects.filter(fanned_out_at__isnull=True).exists()
    assert fanout.fan_out_stragglers(received + timedelta(minutes=10)) == set()  # none left


def test_a_fan_out_takes_only_the_events_it_is_given(
    marketplace, wiring, published, django_capture_on_commit_callbacks
):
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-1", "e-2")

    fanout.fan_out_tracking_events(marketplace.pk, ["e-1"])

    assert deliveries_per_event() == {"e-1": DESTINATIONS_PER_EVENT}
    assert set(ConversionDelivery.objects.values_list("event_name", flat=True)) == {"view_item"}
    assert TrackingEvent.objects.get(event_id="e-2").fanned_out_at is None


def test_a_fan_out_never_takes_another_clients_event_of_the_same_id(
    marketplace, wiring, published, django_capture_on_commit_callbacks
):
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-1")
    TrackingEvent.objects.update(client=MarketplaceClientFactory())

    assert fanout.fan_out_tracking_events(marketplace.pk, ["e-1"]) == set()
    assert not ConversionDelivery.objects.exists()
    assert TrackingEvent.objects.get().fanned_out_at is None  # still the other's to fan out


def test_a_browser_purchase_is_left_to_the_order_it_copies(
    marketplace, wiring, published, django_capture_on_commit_callbacks
):
    # Every organizer code and the marketplace's pixel want purchases.
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "order-ord-1", name="purchase")

    tasks.fan_out_client_events_task(marketplace.pk)

    assert not ConversionDelivery.objects.exists()
    assert not TrackingEvent.objects.filter(fanned_out_at__isnull=True).exists()


@pytest.mark.parametrize(
    ("policy", "minimal_forms"),
    [(ConsentPolicy.LEGITIMATE_INTEREST, [True, True]), (ConsentPolicy.MARKETING_CONSENT, [])],
)
def test_events_without_consent_follow_their_clients_policy(
    marketplace, wiring, published, django_capture_on_commit_callbacks, policy, minimal_forms
):
    marketplace.consent_policy = policy
    marketplace.save(update_fields=["consent_policy"])
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-1", consent={})

    tasks.fan_out_client_events_task(marketplace.pk)

    # Minimal forms go only where a platform counts an event without an identifier (Meta
    # and TikTok; GA4 needs a client id).
    assert sorted(ConversionDelivery.objects.values_list("minimal_data", flat=True)) == (
        minimal_forms
    )


def test_an_event_not_sent_for_want_of_consent_does_not_stop_the_next(
    marketplace, wiring, published, django_capture_on_commit_callbacks
):
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-sent")
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-refused", consent={})
    # The refused one comes first in the batch (events are read newest first).
    TrackingEvent.objects.filter(event_id="e-refused").update(
        occurred_at=timezone.now() + timedelta(minutes=1)
    )

    tasks.fan_out_client_events_task(marketplace.pk)

    assert deliveries_per_event() == {"e-sent": DESTINATIONS_PER_EVENT}


def test_a_fan_out_reads_only_the_pages_and_profiles_of_its_events(
    marketplace, wiring, published, django_capture_on_commit_callbacks
):
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-1")
    pages = ("marketplace_marketplaceevent", "marketplace_marketplaceorganizer")

    with CaptureQueriesContext(connection) as queries:
        tasks.fan_out_client_events_task(marketplace.pk)

    sqls = [q["sql"].replace('"', "") for q in queries]
    page_reads = [sql for sql in sqls if sql.split(" FROM ")[-1].startswith(pages)]
    assert page_reads  # the event's page was read ...
    assert all(" WHERE " in sql for sql in page_reads)  # ... not every client's pages


def test_with_nothing_pending_a_fan_out_queues_no_other(marketplace, wiring):
    assert fanout.fan_out_pending_events(marketplace.pk) == (set(), False)


def test_another_clients_older_backlog_does_not_take_a_clients_fan_out(
    marketplace, wiring, published, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(fanout, "PENDING_EVENTS_PER_FAN_OUT", 1)
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-other")
    TrackingEvent.objects.update(client=MarketplaceClientFactory())
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-own")

    keys, _ = fanout.fan_out_pending_events(marketplace.pk)

    assert keys
    assert deliveries_per_event() == {"e-own": DESTINATIONS_PER_EVENT}


def straggler_order(wiring, **fields):
    """A paid order whose fan-out task never ran (the broker lost it)."""
    return OrderFactory(event=wiring.event, **{"consent": CONSENTED, **fields})


def test_one_sweep_returns_the_destinations_of_every_client_and_order_it_fanned_out(
    marketplace, wiring, published, django_capture_on_commit_callbacks
):
    other = MarketplaceClientFactory()
    tracking.create_marketplace_code(
        other,
        tracking.CodeInput(
            provider="meta",
            settings={
                "pixel_id": "333333333333333",
                "conversion_events": ["view_item"],
                "access_token": "sandbox-other-meta",
            },
        ),
    )
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-other")
    # An event of the other client's home page: its marketplace pixel is its destination.
    TrackingEvent.objects.update(client=other, marketplace_event=None, organizer=None)
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-own")
    straggler_order(wiring)

    keys = fanout.fan_out_stragglers(timezone.now() + timedelta(minutes=5))

    stored = set(ConversionDelivery.objects.values_list("destination_key", flat=True))
    assert ConversionDelivery.objects.filter(client=other).exists()
    assert ConversionDelivery.objects.filter(order__isnull=False).exists()
    assert keys == stored


def test_the_sweep_takes_a_paid_order_once_its_grace_is_over_and_only_once(marketplace, wiring):
    order = straggler_order(wiring)

    within_grace = fanout.fan_out_stragglers(timezone.now())
    assert within_grace == set()
    assert not ConversionDelivery.objects.exists()

    assert fanout.fan_out_stragglers(timezone.now() + timedelta(minutes=5))
    order.refresh_from_db()
    assert order.fanned_out_at is not None
    assert fanout.fan_out_stragglers(timezone.now() + timedelta(minutes=10)) == set()


def test_orders_that_are_not_paid_take_no_place_in_a_sweep(marketplace, wiring, monkeypatch):
    monkeypatch.setattr(fanout, "STRAGGLERS_PER_SWEEP", 1)
    paid = straggler_order(wiring, placed_at=timezone.now() - timedelta(hours=1))
    # Newer, so first in the orders' default order (newest placed first).
    straggler_order(wiring, status=OrderStatus.CANCELLED)

    assert fanout.fan_out_stragglers(timezone.now() + timedelta(minutes=5))
    paid.refresh_from_db()
    assert paid.fanned_out_at is not None


def test_an_order_without_consent_takes_its_buyers_browser_consent(
    marketplace, wiring, published, django_capture_on_commit_callbacks
):
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "buyer")  # visitor v-buyer
    order = straggler_order(wiring, consent={}, visitor_id="v-buyer")

    keys = fanout.fan_out_order(order.pk)

    assert keys
    assert set(
        ConversionDelivery.objects.filter(order=order).values_list("minimal_data", flat=True)
    ) == {False}


def test_fanning_out_an_order_reads_its_client_and_event_with_it(marketplace, wiring):
    fanout.fan_out_order(straggler_order(wiring).pk)  # the event's codes now resolved (cached)
    order = straggler_order(wiring)

    with CaptureQueriesContext(connection) as queries:
        fanout.fan_out_order(order.pk)

    reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    assert len(reads) == 1, reads  # the order, joined to its client and event
    assert ConversionDelivery.objects.filter(order=order).exists()


def test_an_order_not_sent_for_want_of_consent_is_still_marked_fanned_out(marketplace, wiring):
    order = straggler_order(wiring, consent={})  # and no browser event of its buyer

    assert fanout.fan_out_order(order.pk) == set()
    order.refresh_from_db()
    assert order.fanned_out_at is not None  # the sweep does not take it again
    assert not ConversionDelivery.objects.exists()


@pytest.mark.parametrize("status", [OrderStatus.REFUNDED, OrderStatus.CANCELLED])
def test_an_order_that_is_not_paid_fans_out_nothing(marketplace, wiring, status):
    order = straggler_order(wiring, status=status)

    assert fanout.fan_out_order(order.pk) == set()
    assert not ConversionDelivery.objects.exists()


def test_an_order_that_no_longer_exists_fans_out_nothing(marketplace, wiring):
    order = straggler_order(wiring)
    order_id = order.pk
    order.delete()

    assert fanout.fan_out_order(order_id) == set()


def test_fanning_out_an_event_again_keeps_the_time_it_was_first_fanned_out(
    marketplace, wiring, published, django_capture_on_commit_callbacks
):
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-1")
    fanout.fan_out_tracking_events(marketplace.pk, ["e-1"])
    first = TrackingEvent.objects.get().fanned_out_at

    fanout.fan_out_tracking_events(marketplace.pk, ["e-1"])

    assert TrackingEvent.objects.get().fanned_out_at == first


def test_the_sweep_takes_the_longest_waiting_orders_first_ties_by_id(
    marketplace, wiring, monkeypatch
):
    monkeypatch.setattr(fanout, "STRAGGLERS_PER_SWEEP", 1)
    now = timezone.now()
    # Placed most recently (first in the orders' default order), but waiting longest.
    oldest = straggler_order(wiring, placed_at=now)
    tied_first, tied_second = (
        straggler_order(wiring, placed_at=now - timedelta(hours=n)) for n in (2, 1)
    )
    Order.objects.filter(pk=oldest.pk).update(updated_at=now - timedelta(hours=3))
    Order.objects.filter(pk__in=[tied_first.pk, tied_second.pk]).update(
        updated_at=now - timedelta(hours=2)
    )

    taken = []
    for _ in range(3):
        fanout.fan_out_stragglers(now)
        taken.append(
            Order.objects.filter(fanned_out_at__isnull=False).exclude(pk__in=taken).get().pk
        )

    assert taken == [oldest.pk, tied_first.pk, tied_second.pk]


def test_the_sweep_takes_the_longest_waiting_events_first_ties_by_id(
    marketplace, wiring, published, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(fanout, "STRAGGLERS_PER_SWEEP", 1)
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-1", "e-2", "e-3")
    events = {e.event_id: e.pk for e in TrackingEvent.objects.all()}
    received = timezone.now() - timedelta(hours=1)
    TrackingEvent.objects.filter(event_id="e-3").update(received_at=received - timedelta(hours=1))
    TrackingEvent.objects.exclude(event_id="e-3").update(received_at=received)

    taken = []
    for _ in range(3):
        fanout.fan_out_stragglers()
        taken += (
            TrackingEvent.objects.filter(fanned_out_at__isnull=False)
            .exclude(event_id__in=taken)
            .values_list("event_id", flat=True)
        )

    assert taken == ["e-3", *sorted(["e-1", "e-2"], key=events.get)]


@pytest.mark.parametrize(
    ("days_ago", "providers"),
    [
        # Meta and TikTok take events up to 7 days old, GA4 72 hours, Google Ads 90 days.
        (0, ["ga4", "google_ads", "meta", "meta", "tiktok"]),
        (4, ["google_ads", "meta", "meta", "tiktok"]),
        (30, ["google_ads"]),
        (120, []),
    ],
)
def test_an_order_goes_only_where_its_platform_still_takes_an_event_that_old(
    marketplace, wiring, days_ago, providers, caplog
):
    order = straggler_order(wiring, placed_at=timezone.now() - timedelta(days=days_ago, hours=1))

    with caplog.at_level("INFO", logger="usher.conversions"):
        fanout.fan_out_order(order.pk)

    assert sorted(ConversionDelivery.objects.values_list("provider", flat=True)) == providers
    order.refresh_from_db()
    assert order.fanned_out_at is not None  # the sweep does not take it again
    skipped = 5 - len(providers)
    assert (f"queued no delivery to {skipped} destinations" in caplog.text) == bool(skipped)


def test_a_browser_event_goes_only_where_its_platform_still_takes_an_event_that_old(
    marketplace, wiring, published, django_capture_on_commit_callbacks
):
    collect(marketplace, wiring, django_capture_on_commit_callbacks, "e-fresh", "e-4-days")
    TrackingEvent.objects.filter(event_id="e-4-days").update(
        occurred_at=timezone.now() - timedelta(days=4)
    )

    tasks.fan_out_client_events_task(marketplace.pk)

    by_event = {
        event_id: sorted(
            ConversionDelivery.objects.filter(event_id=event_id).values_list("provider", flat=True)
        )
        for event_id in ("e-fresh", "e-4-days")
    }
    # view_item: no Google Ads action for it; GA4 takes 72 hours, Meta and TikTok 7 days.
    assert by_event == {"e-fresh": ["ga4", "meta", "tiktok"], "e-4-days": ["meta", "tiktok"]}
    assert not TrackingEvent.objects.filter(fanned_out_at__isnull=True).exists()
