"""End to end against the sandbox: order or browser event in, each platform's copy out,
exactly once per destination, through retries, permanent errors and crashed workers."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from usher.conversions import dispatch, outcomes, services
from usher.conversions.models import ConversionDelivery, DeliveryBatch, DeliveryStatus
from usher.conversions.tests.conftest import (
    GA4_ID,
    GOOGLE_CUSTOMER,
    MARKETPLACE_PIXEL,
    ORGANIZER_PIXEL,
    TIKTOK_PIXEL,
    ingest_order,
    order_payload,
)
from usher.lib.http import set_transport_for_tests
from usher.marketplace.content_ids import event_content_id
from usher.marketplace.models import ConsentPolicy
from usher.sandbox.testing import sha
from usher.sandbox.transport import sandbox_transport

pytestmark = pytest.mark.django_db

ACCOUNTS = {
    "meta": ORGANIZER_PIXEL,
    "tiktok": TIKTOK_PIXEL,
    "google_ads": GOOGLE_CUSTOMER,
    "ga4": GA4_ID,
}


def bodies(sandbox, platform, account):
    return [r["body"] for r in sandbox.requests(platform=platform, account=account) if r["body"]]


def later(minutes: int = 60 * 24):
    return timezone.now() + timedelta(minutes=minutes)


def one_event_batches(monkeypatch):
    """Connectors that send one event per call, with no dispatch queued on ingest."""
    real_get_connector = dispatch.get_connector

    def get_connector(name):
        connector = real_get_connector(name)
        connector.max_batch_size = 1
        return connector

    monkeypatch.setattr("usher.conversions.tasks.schedule_dispatch", lambda keys: None)
    monkeypatch.setattr(dispatch, "get_connector", get_connector)


def redispatch_all(now):
    for key in dispatch.due_destination_keys(now):
        dispatch.dispatch_destination(key, now=now)


def test_a_paid_order_reaches_every_platform_once_in_its_format(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks
):
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)

    deliveries = ConversionDelivery.objects.all()
    assert deliveries.count() == 5  # four organizer destinations + the marketplace's pixel
    assert set(deliveries.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    assert set(deliveries.values_list("event_id", flat=True)) == {"order-ord-1"}

    meta = bodies(sandbox, "meta", ORGANIZER_PIXEL)[0]["data"][0]
    assert (meta["event_name"], meta["event_id"], meta["action_source"]) == (
        "Purchase",
        "order-ord-1",
        "website",
    )
    assert meta["user_data"]["em"] in (sha("jane.doe@gmail.com"), [sha("jane.doe@gmail.com")])
    assert meta["user_data"]["ph"] in (sha("40722123456"), [sha("40722123456")])
    assert meta["custom_data"]["value"] == 240.5 and meta["custom_data"]["currency"] in (
        "RON",
        "ron",
    )

    tiktok = bodies(sandbox, "tiktok", TIKTOK_PIXEL)[0]["data"][0]
    assert (tiktok["event"], tiktok["event_id"]) == ("Purchase", "order-ord-1")
    assert tiktok["user"]["email"] in (sha("jane.doe@gmail.com"), [sha("jane.doe@gmail.com")])

    google = bodies(sandbox, "google_ads", GOOGLE_CUSTOMER)[0]
    conversion = google["conversions"][0]  # the sandbox logs Google bodies in snake_case
    assert conversion["gclid"] == "Cj0KCQiA-test" and conversion["order_id"] == "ord-1"
    assert conversion["consent"]["ad_user_data"] == "GRANTED"
    # Google's gmail rule: dots of the local part removed before hashing.
    assert {"hashed_email": sha("janedoe@gmail.com")} in conversion["user_identifiers"]

    ga4 = bodies(sandbox, "ga4", GA4_ID)[0]
    assert ga4["events"][0]["name"] == "purchase"
    assert ga4["events"][0]["params"]["transaction_id"] == "ord-1"

    for platform, account in ACCOUNTS.items():
        assert len(sandbox.requests(platform=platform, account=account)) == 1, platform


def test_an_orders_ticket_lines_reach_every_platform_under_the_events_content_id(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks
):
    lines = [
        {"ticket_type_id": "vip", "name": "VIP", "quantity": 1, "unit_price": "150.50"},
        {"ticket_type_id": "ga", "name": "General", "quantity": 1, "unit_price": "90.00"},
    ]
    payload = order_payload(wiring.event) | {"lines": lines}
    with django_capture_on_commit_callbacks(execute=True):
        assert ingest.put("/api/ingest/orders", payload).status_code == 200
    content_id = event_content_id(wiring.event)  # what tracker.js sends on its page too

    meta = bodies(sandbox, "meta", ORGANIZER_PIXEL)[0]["data"][0]["custom_data"]
    assert meta["content_ids"] == [content_id] and meta["num_items"] == 2
    assert [(c["id"], c["title"], c["quantity"]) for c in meta["contents"]] == [
        (content_id, "VIP", 1),
        (content_id, "General", 1),
    ]
    tiktok = bodies(sandbox, "tiktok", TIKTOK_PIXEL)[0]["data"][0]["properties"]
    assert [(c["content_id"], c["price"]) for c in tiktok["contents"]] == [
        (content_id, 150.5),
        (content_id, 90.0),
    ]
    ga4 = bodies(sandbox, "ga4", GA4_ID)[0]["events"][0]["params"]
    assert [(i["item_id"], i["item_variant"], i["quantity"]) for i in ga4["items"]] == [
        (content_id, "vip", 1),
        (content_id, "ga", 1),
    ]
    assert "notes" not in sandbox.requests(platform="ga4", account=GA4_ID)[0]  # GA4 kept it


def test_dual_tracking_sends_the_marketplace_its_own_copy(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks
):
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)
    copy = bodies(sandbox, "meta", MARKETPLACE_PIXEL)[0]["data"][0]
    assert (copy["event_name"], copy["event_id"]) == ("Purchase", "order-ord-1")
    delivery = ConversionDelivery.objects.get(marketplace_code=wiring.marketplace_meta)
    assert delivery.status == DeliveryStatus.DELIVERED


def test_resending_the_order_sends_nothing_twice(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks
):
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)
    payload = order_payload(wiring.event)
    payload["value"] = "250.00"  # a change, so the order is saved and fanned out again
    with django_capture_on_commit_callbacks(execute=True):
        ingest.put("/api/ingest/orders", payload)
    assert ConversionDelivery.objects.count() == 5
    assert len(sandbox.requests(platform="meta", account=ORGANIZER_PIXEL)) == 1


def test_without_marketing_consent_nothing_is_sent(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks
):
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks, consent=False)
    assert not ConversionDelivery.objects.exists()
    assert sandbox.requests() == []


def test_unknown_consent_counts_as_no_consent(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks
):
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks, consent=None)
    assert not ConversionDelivery.objects.exists()


def test_legitimate_interest_sends_a_minimal_form_without_personal_data(
    sandbox, ingest, marketplace, wiring, django_capture_on_commit_callbacks
):
    marketplace.consent_policy = ConsentPolicy.LEGITIMATE_INTEREST
    marketplace.save()
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks, consent=False)
    meta = bodies(sandbox, "meta", ORGANIZER_PIXEL)
    assert meta, "the minimal form is still sent"
    user_data = meta[0]["data"][0]["user_data"]
    assert not {"em", "ph", "fn", "ln", "client_ip_address", "fbp", "fbc", "external_id"} & set(
        user_data
    )
    # GA4 and Google Ads cannot count an event without any identifier: not queued at all.
    queued = ConversionDelivery.objects.filter(minimal_data=True)
    assert sorted(queued.values_list("provider", flat=True)) == ["meta", "meta", "tiktok"]
    tiktok = bodies(sandbox, "tiktok", TIKTOK_PIXEL)[0]["data"][0]
    assert "ttclid" not in json.dumps(tiktok) and "email" not in json.dumps(tiktok)
    assert "?" not in meta[0]["data"][0].get("event_source_url", "")


def test_meta_limited_data_use_is_flagged_when_the_client_asks(
    sandbox, ingest, marketplace, wiring, django_capture_on_commit_callbacks
):
    marketplace.meta_limited_data_use = True
    marketplace.save()
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)
    event = bodies(sandbox, "meta", ORGANIZER_PIXEL)[0]["data"][0]
    assert event["data_processing_options"] == ["LDU"]


@pytest.mark.parametrize("mode", ["5xx", "429", "drop"])
def test_transient_failures_retry_and_deliver_exactly_once(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks, mode
):
    for platform, account in ACCOUNTS.items():
        sandbox.fault(platform=platform, account=account, mode=mode, count=2)
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)
    retrying = ConversionDelivery.objects.filter(status=DeliveryStatus.RETRYING)
    assert retrying.count() == 4
    assert all(d.next_attempt_at > timezone.now() for d in retrying)

    redispatch_all(later(60))  # second attempt: the fault's second shot
    redispatch_all(later(60 * 24))  # third attempt: the platform is back

    for platform in ACCOUNTS:
        delivery = ConversionDelivery.objects.get(provider=platform, organizer_code__isnull=False)
        assert delivery.status == DeliveryStatus.DELIVERED, (platform, delivery.last_error)
        assert delivery.attempts == 3
    for platform, account in [("meta", ORGANIZER_PIXEL), ("tiktok", TIKTOK_PIXEL)]:
        counted = sandbox.events(platform=platform, account=account)
        assert (counted["received"], counted["unique"]) == (1, 1), platform


def test_a_permanent_error_is_reported_not_retried_and_blocks_no_one_else(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks
):
    sandbox.account(
        platform="meta", account_id=ORGANIZER_PIXEL, tokens=["sandbox-some-other-token"]
    )
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)

    rejected = ConversionDelivery.objects.get(organizer_code=wiring.meta)
    assert rejected.status == DeliveryStatus.REJECTED
    assert rejected.last_error and rejected.attempts == 1
    others = ConversionDelivery.objects.exclude(pk=rejected.pk)
    assert set(others.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}

    redispatch_all(later())
    assert ConversionDelivery.objects.get(pk=rejected.pk).attempts == 1
    status = services.status_for_codes([wiring.meta.pk])[wiring.meta.pk]
    assert (status.rejected, status.delivered) == (1, 0) and status.last_error


def test_a_worker_killed_mid_batch_loses_nothing(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(
        "usher.conversions.tasks.schedule_dispatch", lambda keys: None
    )  # no worker yet
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)
    key = wiring.meta.deliveries.get().destination_key

    claimed = dispatch.claim_batch(key, 10, timezone.now())  # the worker takes the batch...
    assert [d.status for d in claimed] == [DeliveryStatus.SENDING]  # ...and dies before sending
    assert dispatch.due_destination_keys(timezone.now() + timedelta(seconds=10)).count(key) == 0

    after_lease = timezone.now() + timedelta(seconds=dispatch.lease_seconds() + 1)
    assert key in dispatch.due_destination_keys(after_lease)
    redispatch_all(after_lease)
    assert wiring.meta.deliveries.get().status == DeliveryStatus.DELIVERED
    assert sandbox.events(platform="meta", account=ORGANIZER_PIXEL)["unique"] == 1


def test_after_the_last_attempt_a_delivery_is_dead_and_can_be_replayed(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks
):
    sandbox.fault(platform="tiktok", account=TIKTOK_PIXEL, mode="5xx", count=100)
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)
    moment = timezone.now()
    for _ in range(outcomes.MAX_ATTEMPTS):
        moment += timedelta(days=1)
        redispatch_all(moment)
    delivery = wiring.tiktok.deliveries.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DEAD, outcomes.MAX_ATTEMPTS)

    sandbox.control.delete("/_sandbox/faults")
    keys = services.replay([delivery])
    for key in keys:
        dispatch.dispatch_destination(key)
    assert wiring.tiktok.deliveries.get().status == DeliveryStatus.DELIVERED


def test_every_call_is_logged_with_secrets_masked(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks
):
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)
    batches = DeliveryBatch.objects.all()
    assert batches.count() == 5
    logged = json.dumps(list(batches.values("request_summary", "response_body")))
    for secret in [
        "sandbox-organizer-meta",
        "sandbox-organizer-tiktok",
        "sandbox-organizer-google",
        "sandbox-organizer-ga4",
    ]:
        assert secret not in logged
    assert all(b.delivered_count == 1 for b in batches)
    assert {b.request_summary["method"] for b in batches} == {"POST"}
    assert all(b.request_summary["url"] and b.request_summary["body"] for b in batches)


def test_browser_events_fan_out_to_the_codes_that_want_them(
    sandbox, marketplace, wiring, django_capture_on_commit_callbacks, client
):
    event = {
        "event_id": "evt-view-0001",
        "name": "view_item",
        "event": wiring.event.slug,
        "visitor_id": "v-42",
        "page_url": "https://tix.example/e/summer-fest",
        "cookies": {"fbp": "fb.1.1596403881668.1116446470", "ga": "GA1.1.123456789.1700000000"},
        "consent": {"ad_storage": True, "ad_user_data": True, "analytics_storage": True},
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/collect?site_key={marketplace.site_key}",
            data=json.dumps({"events": [event]}),
            content_type="application/json",
            HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64)",
        )
    assert response.status_code == 202
    deliveries = ConversionDelivery.objects.filter(event_id="evt-view-0001")
    # Google Ads has no conversion action for view_item, the marketplace pixel only wants
    # purchases: neither is queued.
    assert set(deliveries.values_list("provider", flat=True)) == {"meta", "tiktok", "ga4"}
    meta = bodies(sandbox, "meta", ORGANIZER_PIXEL)[0]["data"][0]
    assert (meta["event_name"], meta["user_data"]["fbp"]) == (
        "ViewContent",
        "fb.1.1596403881668.1116446470",
    )
    ga4 = bodies(sandbox, "ga4", GA4_ID)[0]
    assert ga4["client_id"] == "123456789.1700000000"


def test_the_organizer_sees_per_code_status_and_failures(
    sandbox, ingest, wiring, organizer, django_capture_on_commit_callbacks, client
):
    from conftest import JsonClient
    from usher.marketplace.models import OrganizerApiToken, User

    sandbox.account(platform="tiktok", account_id=TIKTOK_PIXEL, tokens=["sandbox-not-this-one"])
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)
    _, token = OrganizerApiToken.issue(organizer)
    api = JsonClient(token)

    statuses = {
        s["provider"]: s
        for s in api.get("/api/marketplace-client/organizer/conversions/status").json()
    }
    assert (statuses["meta"]["delivered"], statuses["meta"]["last_error"]) == (1, "")
    assert statuses["tiktok"]["rejected"] == 1 and statuses["tiktok"]["last_error"]
    failures = api.get(
        "/api/marketplace-client/organizer/conversions/deliveries", status="rejected"
    ).json()
    assert [f["code_id"] for f in failures["items"]] == [wiring.tiktok.pk]

    user = User.objects.create_user(
        "panel-user", password="pw-12345678", client=organizer.client, organizer=organizer
    )
    client.force_login(user)
    page = client.get("/panel/tracking-codes/").content.decode()
    assert "1 delivered" in page and "1 rejected" in page and "last error" in page


class LateAnswer(httpx.BaseTransport):
    """The platform gets the call, but its answer comes after Usher's timeout: raises the
    `ReadTimeout` httpx raises then, at once, instead of racing a real clock. Only calls
    whose URL names `account` (the marketplace's pixel is on Meta too)."""

    def __init__(self, inner: httpx.BaseTransport, account: str, late_calls: int = 1) -> None:
        self.inner = inner
        self.account = account
        self.late_calls = late_calls

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.late_calls > 0 and self.account in str(request.url):
            self.late_calls -= 1
            raise httpx.ReadTimeout("timed out waiting for the answer", request=request)
        return response


def test_a_timed_out_call_is_retried_and_counted_once(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks
):
    set_transport_for_tests("meta", LateAnswer(sandbox_transport(sandbox.app), ORGANIZER_PIXEL))
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)
    delivery = wiring.meta.deliveries.get()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.last_error_code == "transient"

    redispatch_all(later())
    assert wiring.meta.deliveries.get().status == DeliveryStatus.DELIVERED
    counted = sandbox.events(platform="meta", account=ORGANIZER_PIXEL)
    assert (counted["received"], counted["unique"]) == (2, 1)  # the late copy landed too


def test_a_run_that_hits_its_batch_cap_comes_back_for_the_rest(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks, monkeypatch
):
    from usher.conversions.tasks import dispatch_destination_task

    one_event_batches(monkeypatch)
    monkeypatch.setattr(dispatch, "MAX_BATCHES_PER_RUN", 1)
    for n in range(3):
        ingest_order(ingest, wiring, django_capture_on_commit_callbacks, external_id=f"ord-{n}")
    assert wiring.meta.deliveries.filter(status=DeliveryStatus.PENDING).count() == 3

    dispatch_destination_task(wiring.meta.deliveries.first().destination_key)
    # One batch per run; each run queues the next while work is left.
    assert wiring.meta.deliveries.filter(status=DeliveryStatus.DELIVERED).count() == 3
    assert len(sandbox.requests(platform="meta", account=ORGANIZER_PIXEL)) == 3


def test_a_purchase_event_of_another_visitor_lends_the_order_no_consent(
    sandbox, ingest, wiring, marketplace, django_capture_on_commit_callbacks, client
):
    forged = {
        "event_id": "order-ord-1",
        "name": "purchase",
        "visitor_id": "v-attacker",
        "page_url": "https://evil.example/x",
        "consent": {"ad_storage": True, "ad_user_data": True},
    }
    client.post(
        f"/api/collect?site_key={marketplace.site_key}",
        json.dumps(forged),
        content_type="application/json",
    )
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks, consent=None)
    assert not ConversionDelivery.objects.exists()


def test_with_the_broker_down_orders_are_stored_and_fanned_out_by_the_sweep(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks, monkeypatch
):
    from kombu.exceptions import OperationalError

    from usher.conversions import fanout, tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.fan_out_order_task, "delay", broker_down)
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)  # still a 200
    assert not ConversionDelivery.objects.exists()

    fanout.fan_out_stragglers(timezone.now() + timedelta(minutes=5))
    redispatch_all(later(10))
    assert ConversionDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 5


def test_a_batch_that_crashes_inside_usher_is_retried_then_given_up(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks, monkeypatch
):
    def crash(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(dispatch, "conversion_events", crash)
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)
    delivery = wiring.meta.deliveries.get()
    assert (delivery.status, delivery.last_error_code) == (
        DeliveryStatus.RETRYING,
        "internal_error",
    )
    moment = timezone.now()
    for _ in range(outcomes.MAX_ATTEMPTS):
        moment += timedelta(days=1)
        redispatch_all(moment)
    assert wiring.meta.deliveries.get().status == DeliveryStatus.DEAD


def test_a_throttled_destination_is_left_alone_until_the_platform_lets_us_in(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks, monkeypatch
):
    one_event_batches(monkeypatch)
    for n in range(3):
        ingest_order(ingest, wiring, django_capture_on_commit_callbacks, external_id=f"ord-{n}")
    sandbox.fault(platform="meta", account=ORGANIZER_PIXEL, mode="429", count=10)
    summary = dispatch.dispatch_destination(wiring.meta.deliveries.first().destination_key)
    assert summary.batches == 1 and summary.resume_at is not None  # one call, then it backs off
    assert len(sandbox.requests(platform="meta", account=ORGANIZER_PIXEL)) == 1


def test_batch_logs_keep_no_ip_address_or_user_agent(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks
):
    from usher.conversions.models import DeliveryBatch

    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)
    logged = json.dumps(list(DeliveryBatch.objects.values_list("request_summary", flat=True)))
    assert "203.0.113.7" not in logged and "Mozilla" not in logged
    assert "[redacted]" in logged


def test_events_of_pages_without_an_event_go_to_the_marketplaces_accounts_only(
    sandbox, marketplace, wiring, django_capture_on_commit_callbacks, client
):
    from usher.tracking import services as tracking

    tracking.save_marketplace_code(
        wiring.marketplace_meta,
        marketplace,
        tracking.CodeInput(
            provider="meta",
            settings={
                "pixel_id": MARKETPLACE_PIXEL,
                "conversion_events": ["page_view", "purchase"],
            },
        ),
    )
    home = {
        "event_id": "evt-home-0001",
        "name": "page_view",
        "page_url": "https://tix.example/",
        "consent": {"ad_user_data": True},
    }
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/api/collect?site_key={marketplace.site_key}",
            json.dumps(home),
            content_type="application/json",
            HTTP_USER_AGENT="Mozilla/5.0",
        )
    delivery = ConversionDelivery.objects.get(event_id="evt-home-0001")
    assert (delivery.marketplace_code, delivery.organizer, delivery.status) == (
        wiring.marketplace_meta,
        None,
        DeliveryStatus.DELIVERED,
    )


def test_an_organizer_profile_page_event_goes_to_its_defaults_and_the_marketplace(
    sandbox, marketplace, organizer, wiring, django_capture_on_commit_callbacks, client
):
    profile = {
        "event_id": "evt-profile-0001",
        "name": "page_view",
        "organizer": organizer.external_id,
        "page_url": "https://tix.example/organizers/sunwave",
        "consent": {"ad_user_data": True},
    }
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/api/collect?site_key={marketplace.site_key}",
            json.dumps(profile),
            content_type="application/json",
            HTTP_USER_AGENT="Mozilla/5.0",
        )
    deliveries = ConversionDelivery.objects.filter(event_id="evt-profile-0001")
    # The organizer's default codes take page views; the marketplace pixel only purchases.
    assert set(deliveries.values_list("organizer_code_id", flat=True)) == {
        wiring.meta.pk,
        wiring.tiktok.pk,
        wiring.ga4.pk,
    }
    assert all(d.organizer_id == organizer.pk for d in deliveries)


def test_a_batch_over_the_accounts_rate_is_given_back_without_using_an_attempt(
    sandbox, ingest, wiring, django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.PLATFORM_RATE_LIMITS = {**settings.PLATFORM_RATE_LIMITS, "meta": (0.01, 1.0)}
    one_event_batches(monkeypatch)
    for n in range(2):
        ingest_order(ingest, wiring, django_capture_on_commit_callbacks, external_id=f"ord-{n}")
    summary = dispatch.dispatch_destination(wiring.meta.deliveries.first().destination_key)

    assert summary.batches == 1 and summary.resume_at > timezone.now()
    waiting = wiring.meta.deliveries.get(status=DeliveryStatus.RETRYING)
    assert (waiting.attempts, waiting.lease_expires_at) == (0, None)
    assert waiting.next_attempt_at == summary.resume_at
    assert len(sandbox.requests(platform="meta", account=ORGANIZER_PIXEL)) == 1


def test_a_code_that_sent_nothing_reports_zeros(organizer, organizer_api):
    from usher.tracking.tests.factories import EventTrackingCodeFactory

    code = EventTrackingCodeFactory(organizer=organizer)
    (status,) = organizer_api.get("/api/marketplace-client/organizer/conversions/status").json()
    assert status["code_id"] == code.pk
    assert (
        status["delivered"],
        status["pending"],
        status["last_error"],
        status["last_success_at"],
    ) == (0, 0, "", None)


def test_status_and_deliveries_name_their_two_event_ids_apart(organizer, organizer_api):
    from usher.marketplace.tests.factories import EventFactory, OrderFactory
    from usher.tracking.tests.factories import EventTrackingCodeFactory

    page = EventFactory(organizer=organizer, client=organizer.client)
    code = EventTrackingCodeFactory(organizer=organizer, event=page)
    ConversionDelivery.objects.create(
        client=organizer.client,
        organizer=organizer,
        destination_key="meta:1",
        provider="meta",
        organizer_code=code,
        event_id="order-A-1",
        event_name="purchase",
        order=OrderFactory(event=page),
        next_attempt_at=timezone.now(),
    )
    (status,) = organizer_api.get("/api/marketplace-client/organizer/conversions/status").json()
    assert status["marketplace_event_id"] == page.pk and "event_id" not in status
    (delivery,) = organizer_api.get(
        "/api/marketplace-client/organizer/conversions/deliveries"
    ).json()["items"]
    assert delivery["conversion_event_id"] == "order-A-1" and "event_id" not in delivery
