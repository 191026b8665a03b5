"""The organizer's audience API and the marketplace's erasure call."""

from __future__ import annotations

import pytest
from django.utils import timezone

from usher.audiences.models import (
    AudienceMember,
    AudienceStatus,
    AudienceType,
    MemberState,
    RemarketingAudience,
)
from usher.audiences.services import ensure_standard_audience, refresh_audience
from usher.audiences.tests.conftest import SETTINGS, TOKENS
from usher.audiences.tests.helpers import buy, visit
from usher.conversions.models import ConversionDelivery, DeliveryBatch
from usher.conversions.services import ERASED_BODY
from usher.events.models import TrackingEvent, VisitorTouch
from usher.marketplace.models import Order
from usher.marketplace.tests.factories import EventFactory, OrganizerFactory
from usher.platforms.normalize import normalize_user_data
from usher.tracking.tests.factories import EventTrackingCodeFactory

pytestmark = pytest.mark.django_db

URL = "/api/marketplace-client/organizer/audiences"


def test_the_list_shows_size_and_sync_status_of_the_organizers_audiences_only(
    organizer, organizer_api
):
    mine = ensure_standard_audience(organizer, "meta", AudienceType.TICKET_BUYERS)
    RemarketingAudience.objects.filter(pk=mine.pk).update(
        member_count=42,
        status=AudienceStatus.BUILDING,
        status_reason="42 matchable buyers; Meta needs at least 100.",
    )
    ensure_standard_audience(
        OrganizerFactory(client=organizer.client), "meta", AudienceType.TICKET_BUYERS
    )

    answer = organizer_api.get(URL)

    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == 1
    row = body["items"][0]
    assert (row["id"], row["member_count"], row["status"]) == (mine.pk, 42, "building")
    assert row["status_reason"] == "42 matchable buyers; Meta needs at least 100."


def test_the_list_filters_and_pages(organizer, organizer_api):
    for platform in ("meta", "tiktok", "google_ads"):
        ensure_standard_audience(organizer, platform, AudienceType.TICKET_BUYERS)
    assert organizer_api.get(URL, platform="tiktok").json()["count"] == 1
    page = organizer_api.get(URL, limit=2).json()
    assert (page["count"], len(page["items"])) == (3, 2)
    assert organizer_api.get(URL, platform="ga4").status_code == 422


def test_the_detail_carries_recent_syncs(organizer, organizer_api):
    audience = ensure_standard_audience(organizer, "meta", AudienceType.TICKET_BUYERS)
    audience.sync_logs.create(status="succeeded", added_count=5)
    body = organizer_api.get(f"{URL}/{audience.pk}").json()
    assert body["recent_syncs"][0]["added_count"] == 5
    assert "access_token" not in str(body)


def test_a_custom_segment_is_created_with_validated_criteria(organizer, organizer_api):
    event = EventFactory(organizer=organizer, client=organizer.client)
    answer = organizer_api.post(
        URL,
        {
            "platform": "meta",
            "name": "Big spenders",
            "event_id": event.pk,
            "criteria": {"time_window_days": 365, "custom_filters": {"min_spend": "250.00"}},
        },
    )
    assert answer.status_code == 201, answer.content
    created = RemarketingAudience.objects.get(pk=answer.json()["id"])
    assert created.audience_type == AudienceType.CUSTOM_SEGMENT
    assert created.criteria["custom_filters"] == {"min_spend": "250.00"}
    assert created.status == AudienceStatus.BUILDING


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (
            {"criteria": {"custom_filters": {"engagement_score_min": 5}}},
            ["body", "criteria", "custom_filters", "engagement_score_min"],
        ),
        ({"criteria": {"time_window_days": 0}}, ["body", "criteria", "time_window_days"]),
        (
            {"criteria": {"custom_filters": {"min_spend": "lots"}}},
            ["body", "criteria", "custom_filters", "min_spend"],
        ),
        ({"criteria": {"lookalike_percentage": 3}}, ["body", "criteria"]),
        ({"event_id": "foreign"}, ["body", "event_id"]),
        ({"ad_account_id": "act_12; DROP"}, ["body", "payload", "ad_account_id"]),
    ],
)
def test_bad_segments_are_a_422_naming_the_field_and_write_nothing(
    organizer, organizer_api, body, loc
):
    if body.get("event_id") == "foreign":
        body = {"event_id": EventFactory().pk}
    answer = organizer_api.post(URL, {"platform": "meta", "name": "x", **body})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == loc
    assert not RemarketingAudience.objects.exists()


def test_refresh_now_builds_and_syncs(
    organizer, organizer_api, sandbox, small_minimums, django_capture_on_commit_callbacks
):
    audience = ensure_standard_audience(organizer, "meta", AudienceType.TICKET_BUYERS)
    with django_capture_on_commit_callbacks(execute=True):
        answer = organizer_api.post(f"{URL}/{audience.pk}/refresh")
    assert answer.status_code == 202
    audience.refresh_from_db()
    assert audience.last_built_at is not None
    assert audience.sync_logs.count() == 1


def test_erasure_forgets_the_buyer_in_audiences_and_the_event_store(
    marketplace, ingest, sandbox, small_minimums, django_capture_on_commit_callbacks
):
    event = EventFactory(organizer__client=marketplace, client=marketplace)
    code = EventTrackingCodeFactory(
        organizer=event.organizer, provider="meta", settings=SETTINGS["meta"]
    )
    code.set_secret(*TOKENS["meta"])
    code.save()
    gone = buy(event, "Gone@Example.com", phone="+40722000111", visitor="v-gone")
    buy(event, "stays@example.com")
    buy(event, "also@example.com")
    visit(event, "v-gone")
    VisitorTouch.objects.create(
        client=marketplace, visitor_id="v-gone", touched_at=gone.placed_at, touch_key="k"
    )
    visit(event, "v-other")
    audience = ensure_standard_audience(event.organizer, "meta", AudienceType.TICKET_BUYERS)
    refresh_audience(audience.pk, timezone.now())
    assert AudienceMember.objects.filter(state=MemberState.SYNCED).count() == 3

    with django_capture_on_commit_callbacks(execute=True):
        answer = ingest.post("/api/ingest/buyers/erasure", {"email": "gone@example.com"})

    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "orders": 1,
        "audience_members": 1,
        "events": 1,
        "touches": 1,
        "delivery_logs": 0,
    }
    gone.refresh_from_db()
    assert gone.hashed_user_data == {} and gone.visitor_id == ""
    assert set(TrackingEvent.objects.values_list("visitor_id", flat=True)) == {"v-other"}
    email = normalize_user_data("meta", {"email": "gone@example.com"}, "audiences")["email"]
    audience.refresh_from_db()
    on_platform = {
        k.split("\x1f")[0] for k in sandbox.state.members_of("meta", audience.external_audience_id)
    }
    assert email not in on_platform and len(on_platform) == 2
    assert not AudienceMember.objects.filter(member_key=email).exists()
    assert Order.objects.filter(pk=gone.pk).exists()


def _logged_call(order=None, tracking_event=None, body="{}") -> DeliveryBatch:
    """A logged platform call that carried one delivery of `order` or `tracking_event`."""
    source = order or tracking_event
    delivery = ConversionDelivery.objects.create(
        client_id=source.client_id,
        destination_key="organizer:1",
        provider="meta",
        event_id=f"e-{source.pk}-{bool(order)}",
        event_name="purchase",
        order=order,
        tracking_event=tracking_event,
        next_attempt_at=timezone.now(),
    )
    log = DeliveryBatch.objects.create(
        client_id=source.client_id,
        destination_key="organizer:1",
        provider="meta",
        events_count=1,
        request_summary={"method": "POST", "url": "https://graph.example/events", "body": body},
        response_status=200,
    )
    log.deliveries.add(delivery)
    return log


def test_erasure_blanks_the_logged_requests_that_carried_the_buyer(marketplace, ingest):
    event = EventFactory(organizer__client=marketplace, client=marketplace)
    gone = buy(event, "gone@example.com", visitor="v-gone")
    kept = buy(event, "stays@example.com")
    hashed = gone.hashed_user_data["conversions"]["meta"]["email"]
    order_call = _logged_call(
        order=gone, body=f'{{"data": [{{"user_data": {{"em": ["{hashed}"]}}}}]}}'
    )
    page_call = _logged_call(tracking_event=visit(event, "v-gone"), body=f'["{hashed}"]')
    other_call = _logged_call(order=kept, body='{"data": "another buyer"}')

    answer = ingest.post("/api/ingest/buyers/erasure", {"email": "gone@example.com"})

    assert answer.status_code == 200 and answer.json()["delivery_logs"] == 2
    for log in (order_call, page_call):
        log.refresh_from_db()
        assert log.request_summary == {
            "method": "POST",
            "url": "https://graph.example/events",
            "body": ERASED_BODY,
        }
        assert hashed not in str(log.request_summary) and log.response_status == 200
    other_call.refresh_from_db()
    assert other_call.request_summary["body"] == '{"data": "another buyer"}'
    again = ingest.post("/api/ingest/buyers/erasure", {"email": "gone@example.com"})
    assert again.json()["delivery_logs"] == 0  # nothing left to blank


def test_erasure_needs_an_identity(ingest):
    answer = ingest.post("/api/ingest/buyers/erasure", {"email": "not an email"})
    assert answer.status_code == 422
