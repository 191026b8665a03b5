"""The collector's requests share one queued fan-out per client: nothing stored is left
out, and each event still becomes exactly one delivery per destination."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client

from usher.conversions import fanout, tasks
from usher.conversions.models import ConversionDelivery
from usher.events.models import TrackingEvent

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


def collect(marketplace, wiring, capture, *event_ids: str) -> None:
    events = [
        {
            "event_id": event_id,
            "name": "view_item",
            "event": wiring.event.slug,
            "visitor_id": f"v-{event_id}",
            "cookies": {"ga": "GA1.1.123456789.1700000000"},
            "consent": {"ad_storage": True, "ad_user_data": True, "analytics_storage": True},
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
    from usher.marketplace.tests.factories import MarketplaceClientFactory

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
