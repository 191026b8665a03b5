"""The browser event collector: durable bulk storage, dedup, hostile input, limits."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from kombu.exceptions import OperationalError

from usher.conversions import tasks
from usher.events.collector import CollectedEvent, _event_time, _fbc
from usher.events.models import TrackingEvent, VisitorTouch
from usher.lib import outages
from usher.marketplace.tests.factories import EventFactory, MarketplaceClientFactory

pytestmark = pytest.mark.django_db
URL = "/api/collect"


def page_event(**overrides):
    return {
        "event_id": "evt-00000001",
        "name": "view_item",
        "time": timezone.now().isoformat(),
        "event": "summer-fest",
        "visitor_id": "v-123456",
        "page_url": "https://marketplace-0.example/events/summer-fest?fbclid=abc",
        "value": "120.00",
        "currency": "ron",
        "content_ids": ["ev-1"],
        "click": {"fbclid": "IwAR-abc", "gclid": "Cj0K"},
        "cookies": {"fbp": "fb.1.1596403881668.1116446470"},
        "utm": {"source": "facebook", "medium": "paid_social"},
        "consent": {"ad_storage": True, "ad_user_data": True},
        **overrides,
    }


@pytest.fixture
def page(organizer):
    return EventFactory(organizer=organizer, slug="summer-fest")


def post(
    body, *, site_key=None, origin=None, ip="203.0.113.9", raw=None, content_type="application/json"
):
    headers = {"Origin": origin} if origin else {}
    query = f"?site_key={site_key}" if site_key else ""
    data = raw if raw is not None else json.dumps(body)
    return Client(REMOTE_ADDR=ip).post(
        f"{URL}{query}", data=data, content_type=content_type, headers=headers
    )


def test_it_stores_a_batch_and_answers_202(marketplace, page, django_capture_on_commit_callbacks):
    events = [page_event(event_id=f"evt-0000000{i}") for i in range(3)]
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(
            {"events": events},
            site_key=marketplace.site_key,
            origin="https://marketplace-0.example",
        )
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 3}
    assert len(callbacks) == 1  # one announcement per batch, after commit
    stored = TrackingEvent.objects.get(event_id="evt-00000001")
    assert (stored.marketplace_event, stored.organizer_id, stored.currency) == (
        page,
        page.organizer_id,
        "RON",
    )
    assert stored.ip_address == "203.0.113.9"
    assert stored.fbc.startswith("fb.1.") and stored.fbc.endswith(".IwAR-abc")
    assert stored.consent == {"ad_storage": True, "ad_user_data": True}


def test_cors_echoes_only_the_clients_own_origin(marketplace, page):
    allowed = marketplace.allowed_origins[0]
    ok = post(page_event(), site_key=marketplace.site_key, origin=allowed)
    assert ok["Access-Control-Allow-Origin"] == allowed
    other = post(
        page_event(event_id="evt-00000002"),
        site_key=marketplace.site_key,
        origin="https://evil.example",
    )
    assert "Access-Control-Allow-Origin" not in other


def test_a_resent_event_is_stored_once(marketplace, page):
    for _ in range(2):
        assert post(page_event(), site_key=marketplace.site_key).status_code == 202
    assert TrackingEvent.objects.filter(event_id="evt-00000001").count() == 1


def test_a_bare_event_and_a_body_site_key_are_accepted(marketplace, page):
    response = post({**page_event(), "site_key": marketplace.site_key}, content_type="text/plain")
    assert response.status_code == 202, response.content
    stored = TrackingEvent.objects.get(event_id="evt-00000001")
    assert (stored.client_id, stored.name) == (marketplace.pk, "view_item")


def test_every_event_of_a_full_batch_is_stored_and_announced(
    marketplace, page, django_capture_on_commit_callbacks, monkeypatch
):
    from usher.conversions import tasks
    from usher.events.collector import MAX_EVENTS_PER_REQUEST, events_collected

    monkeypatch.setattr(tasks, "schedule_dispatch", lambda keys: None)  # storage only

    announced: list[list[str]] = []

    def listener(sender, client_id, event_ids, **kwargs):
        assert client_id == marketplace.pk
        announced.append(list(event_ids))

    names = ["page_view", "view_item", "add_to_cart", "begin_checkout"]
    events = [
        page_event(event_id=f"evt-{i:08d}", name=names[i % 4], value=f"{i}.50")
        for i in range(MAX_EVENTS_PER_REQUEST)
    ]
    events_collected.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = post({"events": events}, site_key=marketplace.site_key)
    finally:
        events_collected.disconnect(listener)
    assert response.json() == {"accepted": MAX_EVENTS_PER_REQUEST}
    stored = {
        row.event_id: (row.name, str(row.value))
        for row in TrackingEvent.objects.filter(client=marketplace)
    }
    assert stored == {e["event_id"]: (e["name"], e["value"]) for e in events}
    assert announced == [[e["event_id"] for e in events]]


def test_landing_click_ids_and_utm_become_one_visitor_touch(marketplace, page):
    # One landing: the same time too (fbc, part of a touch, carries it to the millisecond).
    at = timezone.now().isoformat()
    post(
        {"events": [page_event(time=at), page_event(event_id="evt-00000002", time=at)]},
        site_key=marketplace.site_key,
    )
    touch = VisitorTouch.objects.get()
    assert (touch.visitor_id, touch.gclid, touch.utm_source) == ("v-123456", "Cj0K", "facebook")


def test_a_time_far_from_the_server_clock_is_replaced_by_the_time_of_receipt(marketplace, page):
    skewed = (timezone.now() + timedelta(days=3)).isoformat()
    post(page_event(time=skewed), site_key=marketplace.site_key)
    stored = TrackingEvent.objects.get()
    assert abs(stored.occurred_at - timezone.now()) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"name": "buy_now"}, "name"),
        ({"value": "free"}, "value"),
        ({"value": -5}, "value"),
        ({"event_id": "<script>"}, "event_id"),
        ({"page_url": "javascript:alert(1)"}, "page_url"),
        ({"currency": "EURO"}, "currency"),
        ({"content_ids": "ev-1"}, "content_ids"),
        ({"cookies": {"fbp": "not-a-cookie"}}, "fbp"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_events_are_422_naming_the_field_and_store_nothing(marketplace, page, event, field):
    batch = {"events": [page_event(event_id="evt-00000009"), page_event(**event)]}
    response = post(batch, site_key=marketplace.site_key)
    assert response.status_code == 422
    assert field in json.dumps(response.json()["detail"])
    assert not TrackingEvent.objects.exists()


def test_an_event_slug_of_another_client_is_422_and_stores_nothing(marketplace, page):
    EventFactory(client=MarketplaceClientFactory(), slug="elsewhere")
    batch = {"events": [page_event(), page_event(event_id="evt-00000002", event="elsewhere")]}
    response = post(batch, site_key=marketplace.site_key)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "events", 1, "event"]
    assert response.json()["detail"][0]["msg"] == "no event 'elsewhere' in this marketplace"
    assert not TrackingEvent.objects.exists()


@pytest.mark.parametrize(
    ("raw", "status"),
    [("{not json", 400), ("[1, 2]", 400), ("null", 400), ('{"events": []}', 422)],
)
def test_broken_bodies_are_4xx(marketplace, raw, status):
    assert post(None, raw=raw, site_key=marketplace.site_key).status_code == status


def test_an_oversized_body_is_413(marketplace, page):
    huge = {"events": [page_event(order_id="x" * 200)] * 50, "padding": "y" * 70_000}
    assert post(huge, site_key=marketplace.site_key).status_code == 413
    assert not TrackingEvent.objects.exists()


def test_too_many_events_in_one_batch_is_422(marketplace, page):
    events = [page_event(event_id=f"evt-{i:08d}") for i in range(51)]
    assert post({"events": events}, site_key=marketplace.site_key).status_code == 422


def test_a_missing_or_unknown_site_key_is_401(marketplace, page):
    assert post(page_event()).status_code == 401
    assert post(page_event(), site_key="ush_site_unknown").status_code == 401


def test_a_flood_from_one_address_is_429_and_other_addresses_go_on(marketplace, page, settings):
    settings.COLLECTOR_REQUESTS_PER_IP_PER_MINUTE = 3
    codes = [
        post(page_event(event_id=f"evt-{i:08d}"), site_key=marketplace.site_key).status_code
        for i in range(5)
    ]
    assert codes == [202, 202, 202, 429, 429]
    other = post(
        page_event(event_id="evt-99999999"), site_key=marketplace.site_key, ip="198.51.100.7"
    )
    assert other.status_code == 202


def test_a_flood_on_one_site_key_is_429(marketplace, page, settings):
    settings.COLLECTOR_REQUESTS_PER_SITE_KEY_PER_MINUTE = 2
    codes = [
        post(
            page_event(event_id=f"evt-{i:08d}"), site_key=marketplace.site_key, ip=f"198.51.100.{i}"
        ).status_code
        for i in range(3)
    ]
    assert codes == [202, 202, 429]


def test_preflight_allows_post_from_a_listed_origin(marketplace):
    response = Client().options(
        f"{URL}?site_key={marketplace.site_key}",
        headers={"Origin": marketplace.allowed_origins[0], "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 204
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert response["Access-Control-Allow-Origin"] == marketplace.allowed_origins[0]


def test_preflight_from_an_unlisted_origin_allows_nothing(marketplace):
    response = Client().options(
        f"{URL}?site_key={marketplace.site_key}",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in response


def test_every_field_at_its_longest_is_stored_as_sent_not_a_500(marketplace, page):
    sent_at = timezone.now() - timedelta(minutes=5)
    longest = page_event(
        time=sent_at.isoformat(),
        event_id="e" * 100,
        visitor_id="v" * 64,
        page_url="https://x.example/" + "p" * 1980,
        order_id="o" * 100,
        content_ids=["c" * 200] * 50,
        click={
            "fbclid": "f" * 450,
            "gclid": "g" * 200,
            "gbraid": "b" * 200,
            "wbraid": "w" * 200,
            "ttclid": "t" * 200,
        },
        cookies={
            "fbp": "fb.1.1596403881668.1116446470",
            "ttp": "t" * 200,
            "ga": "GA1.1.123456789.1700000000",
        },
        utm={key: "u" * 200 for key in ("source", "medium", "campaign", "content", "term")},
    )
    response = Client(HTTP_USER_AGENT="Mozilla/5.0 " + "a" * 600).post(
        f"{URL}?site_key={marketplace.site_key}",
        data=json.dumps({"events": [longest]}),
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    stored = TrackingEvent.objects.get()
    assert stored.occurred_at == sent_at
    assert stored.user_agent == ("Mozilla/5.0 " + "a" * 600)[:500]
    assert (stored.page_url, stored.order_external_id, stored.content_ids) == (
        longest["page_url"],
        "o" * 100,
        ["c" * 200] * 50,
    )
    assert (stored.gclid, stored.gbraid, stored.wbraid, stored.ttclid) == (
        "g" * 200,
        "b" * 200,
        "w" * 200,
        "t" * 200,
    )
    assert (stored.fbp, stored.ttp, stored.ga_client_id) == (
        "fb.1.1596403881668.1116446470",
        "t" * 200,
        "123456789.1700000000",
    )
    assert [stored.utm_source, stored.utm_medium, stored.utm_campaign] == ["u" * 200] * 3
    assert [stored.utm_content, stored.utm_term] == ["u" * 200] * 2


def test_an_order_event_id_on_anything_but_a_purchase_is_refused(marketplace, page):
    response = post(
        page_event(event_id="order-1001", name="page_view"), site_key=marketplace.site_key
    )
    assert response.status_code == 422
    assert (
        post(
            page_event(event_id="order-1001", name="purchase"), site_key=marketplace.site_key
        ).status_code
        == 202
    )


def test_a_fast_browser_clock_never_yields_a_future_event(marketplace, page):
    post(
        page_event(time=(timezone.now() + timedelta(minutes=3)).isoformat()),
        site_key=marketplace.site_key,
    )
    assert TrackingEvent.objects.get().occurred_at <= timezone.now()


def test_a_click_time_from_another_era_does_not_shape_the_fbc(marketplace, page):
    post(
        page_event(click={"fbclid": "IwAR-x", "clicked_at": "2150-01-01T00:00:00Z"}),
        site_key=marketplace.site_key,
    )
    fbc = TrackingEvent.objects.get().fbc
    assert len(fbc.split(".")[2]) == 13


def test_float_prices_are_rounded_to_cents(marketplace, page):
    post(page_event(value=19.999999999999), site_key=marketplace.site_key)
    assert str(TrackingEvent.objects.get().value) == "20.00"


@pytest.mark.parametrize(
    ("forwarded", "stored"),
    [
        ("203.0.113.5:4711", "203.0.113.5"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("unknown", None),
        ("198.51.100.1, 203.0.113.5", "203.0.113.5"),
    ],
)
def test_forwarded_addresses_are_parsed_not_trusted_blindly(
    marketplace, page, settings, forwarded, stored
):
    settings.TRUSTED_PROXY_HOPS = 1
    response = Client(REMOTE_ADDR="10.0.0.1").post(
        f"{URL}?site_key={marketplace.site_key}",
        data=json.dumps(page_event()),
        content_type="application/json",
        headers={"X-Forwarded-For": forwarded},
    )
    assert response.status_code == 202
    assert TrackingEvent.objects.get().ip_address == stored


def test_an_organizer_profile_event_is_stored_with_its_organizer(marketplace, organizer):
    body = page_event(event=None, organizer=organizer.external_id)
    assert post(body, site_key=marketplace.site_key).status_code == 202
    stored = TrackingEvent.objects.get()
    assert (stored.organizer, stored.marketplace_event) == (organizer, None)


def test_an_organizer_of_another_marketplace_is_422(marketplace, page):
    from usher.marketplace.tests.factories import OrganizerFactory

    foreign = OrganizerFactory()
    response = post(
        page_event(event=None, organizer=foreign.external_id), site_key=marketplace.site_key
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "events", 0, "organizer"]


def test_with_the_cache_down_events_are_stored_and_floods_still_limited(
    marketplace, page, unreachable_cache, settings, caplog
):
    settings.COLLECTOR_REQUESTS_PER_IP_PER_MINUTE = 3
    with caplog.at_level(logging.WARNING, logger="usher.lib.outages"):
        statuses = [
            post(
                {"events": [page_event(event_id=f"evt-down-{i}")]}, site_key=marketplace.site_key
            ).status_code
            for i in range(4)
        ]
    assert statuses == [202, 202, 202, 429]  # the per-process limit stands in
    assert TrackingEvent.objects.count() == 3
    assert len([r for r in caplog.records if "cache unreachable" in r.message]) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_with_the_broker_down_events_are_stored_for_the_sweep(
    marketplace, page, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.fan_out_client_events_task, "delay", refuse)
    outages.reset()
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        statuses = [
            post(
                {"events": [page_event(event_id=f"evt-q-{i}")]}, site_key=marketplace.site_key
            ).status_code
            for i in range(3)
        ]
    outages.reset()
    assert statuses == [202, 202, 202]
    assert not TrackingEvent.objects.filter(fanned_out_at__isnull=False).exists()
    assert TrackingEvent.objects.count() == 3  # left for the sweep (fanned_out_at empty)
    assert len([r for r in caplog.records if "task broker unreachable" in r.message]) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# The site key's client and the pages a batch names are remembered per process


def test_a_busy_pages_batch_costs_one_statement(
    marketplace, page, django_assert_num_queries, django_capture_on_commit_callbacks
):
    post(page_event(event_id="evt-warm-0001"), site_key=marketplace.site_key)  # looked up
    with django_capture_on_commit_callbacks(), django_assert_num_queries(1):
        response = post(
            {"events": [page_event(event_id=f"evt-busy-{i:04d}") for i in range(5)]},
            site_key=marketplace.site_key,
        )
    assert response.status_code == 202
    # Events and landings, in that one statement.
    assert TrackingEvent.objects.filter(event_id__startswith="evt-busy-").count() == 5
    assert VisitorTouch.objects.filter(visitor_id="v-123456").exists()


def test_a_deactivated_client_is_refused_at_its_next_request(marketplace, page):
    assert post(page_event(), site_key=marketplace.site_key).status_code == 202
    marketplace.is_active = False
    marketplace.save()
    refused = post(page_event(event_id="evt-after-0001"), site_key=marketplace.site_key)
    assert refused.status_code == 401


def test_a_renamed_event_page_is_unknown_under_its_old_slug_at_once(marketplace, page):
    assert post(page_event(), site_key=marketplace.site_key).status_code == 202
    page.slug = "winter-fest"
    page.save()
    old = post(page_event(event_id="evt-old-0001"), site_key=marketplace.site_key)
    new = post(
        page_event(event_id="evt-new-0001", event="winter-fest"), site_key=marketplace.site_key
    )
    assert (old.status_code, new.status_code) == (422, 202)


def test_a_remembered_site_key_still_counts_against_the_address_limit(marketplace, page, settings):
    settings.COLLECTOR_REQUESTS_PER_IP_PER_MINUTE = 2
    codes = [
        post(page_event(event_id=f"evt-ip-{i:04d}"), site_key=marketplace.site_key).status_code
        for i in range(3)
    ]
    assert codes == [202, 202, 429]


def test_an_event_with_only_its_id_and_name_gets_each_columns_default(marketplace):
    before = timezone.now()
    response = post(
        {"events": [{"event_id": "evt-bare-0001", "name": "page_view"}]},
        site_key=marketplace.site_key,
        ip="unknown",
    )
    assert response.status_code == 202, response.content
    stored = TrackingEvent.objects.get()
    assert (stored.marketplace_event_id, stored.organizer_id, stored.ip_address) == (
        None,
        None,
        None,
    )
    assert (stored.value, stored.num_items, stored.currency) == (None, None, "")
    assert (stored.content_ids, stored.consent) == ([], {})
    assert (stored.fanned_out_at, stored.network_data_purged_at) == (None, None)
    assert (stored.fbc, stored.gclid, stored.utm_term, stored.visitor_id) == ("", "", "", "")
    assert before <= stored.received_at <= timezone.now()
    assert before <= stored.occurred_at <= stored.received_at  # no time sent: receipt
    assert not VisitorTouch.objects.exists()  # no visitor, no marks


def test_unicode_and_sql_or_array_syntax_in_values_are_stored_as_sent(marketplace, page):
    odd = "Ziua „Bucureștiului\" 🎟️ {a,b} \\ NULL '; DROP"
    response = post(
        page_event(
            content_ids=["ev-1", "bilet-☃", "{x,y}", "NULL"],
            utm={"source": odd, "medium": "médium", "campaign": "夏"},
            order_id="ord-ş",
        ),
        site_key=marketplace.site_key,
        ip="2001:db8::7",
    )
    assert response.status_code == 202, response.content
    stored = TrackingEvent.objects.get()
    assert stored.content_ids == ["ev-1", "bilet-☃", "{x,y}", "NULL"]
    assert (stored.utm_source, stored.utm_medium, stored.utm_campaign) == (odd, "médium", "夏")
    assert (stored.order_external_id, stored.ip_address) == ("ord-ş", "2001:db8::7")
    assert VisitorTouch.objects.get().utm_source == odd


def test_a_batch_mixing_empty_and_filled_fields_keeps_each_events_own(marketplace, page):
    events = [
        page_event(event_id="evt-mix-0001", value=None, currency=None, num_items=None),
        page_event(event_id="evt-mix-0002", value="0", num_items=0, event=None),
        page_event(event_id="evt-mix-0003", value="19.99", num_items=3, consent={}),
    ]
    assert post({"events": events}, site_key=marketplace.site_key).status_code == 202
    stored = {
        row.event_id: (row.value, row.currency, row.num_items, row.marketplace_event_id)
        for row in TrackingEvent.objects.all()
    }
    assert stored == {
        "evt-mix-0001": (None, "", None, page.pk),
        "evt-mix-0002": (Decimal("0.00"), "RON", 0, None),
        "evt-mix-0003": (Decimal("19.99"), "RON", 3, page.pk),
    }
    assert TrackingEvent.objects.get(event_id="evt-mix-0003").consent == {}


RECEIVED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # 1772366400000 ms after the epoch
RECEIVED_AT_MS = 1_772_366_400_000
DAY_MS = 86_400_000


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (RECEIVED_AT - timedelta(hours=23), RECEIVED_AT - timedelta(hours=23)),
        (RECEIVED_AT - timedelta(hours=24), RECEIVED_AT - timedelta(hours=24)),
        (RECEIVED_AT - timedelta(hours=24, microseconds=1), RECEIVED_AT),
        (RECEIVED_AT + timedelta(microseconds=1), RECEIVED_AT),
        (None, RECEIVED_AT),
    ],
)
def test_the_browsers_time_is_kept_from_a_day_before_receipt_up_to_receipt(sent, stored):
    assert _event_time(sent, RECEIVED_AT) == stored


def clicked(clicked_at: datetime | None) -> CollectedEvent:
    return CollectedEvent(
        event_id="evt-1", name="page_view", click={"fbclid": "IwAR-x", "clicked_at": clicked_at}
    )


@pytest.mark.parametrize(
    ("clicked_at", "stamp_ms"),
    [
        (RECEIVED_AT - timedelta(days=3), RECEIVED_AT_MS - 3 * DAY_MS),
        (RECEIVED_AT - timedelta(days=90), RECEIVED_AT_MS - 90 * DAY_MS),
        (RECEIVED_AT, RECEIVED_AT_MS),
        # A click more than 90 days before, after the event, or of no known time: the
        # event's own time.
        (RECEIVED_AT - timedelta(days=90, milliseconds=1), RECEIVED_AT_MS),
        (RECEIVED_AT + timedelta(milliseconds=1), RECEIVED_AT_MS),
        (None, RECEIVED_AT_MS),
    ],
)
def test_an_fbc_built_from_a_click_carries_its_time_in_milliseconds(clicked_at, stamp_ms):
    assert _fbc(clicked(clicked_at), RECEIVED_AT) == f"fb.1.{stamp_ms}.IwAR-x"


def test_a_landing_without_a_visitor_id_makes_no_touch(marketplace, page):
    assert post(page_event(visitor_id=""), site_key=marketplace.site_key).status_code == 202
    assert TrackingEvent.objects.exists()
    assert not VisitorTouch.objects.exists()


def test_each_set_of_marks_of_a_visitor_is_one_touch_of_its_page_and_landing(marketplace, page):
    now = timezone.now()
    landings = [
        page_event(event_id="evt-1", time=(now - timedelta(minutes=9)).isoformat()),
        page_event(
            event_id="evt-2",
            time=(now - timedelta(minutes=5)).isoformat(),
            click={"gclid": "Cj0K-other"},
            page_url="https://marketplace-0.example/events/summer-fest?gclid=Cj0K-other",
        ),
        # The first landing's marks again (its fbc carries the time: the same time too).
        page_event(event_id="evt-3", time=(now - timedelta(minutes=9)).isoformat()),
    ]
    assert post({"events": landings}, site_key=marketplace.site_key).status_code == 202
    touches = list(VisitorTouch.objects.order_by("touched_at"))
    # The third landing repeats the first one's: one touch.
    assert [touch.gclid for touch in touches] == ["Cj0K", "Cj0K-other"]
    assert [touch.landing_url for touch in touches] == [
        landings[0]["page_url"],
        landings[1]["page_url"],
    ]
    assert [touch.marketplace_event for touch in touches] == [page, page]
    assert touches[0].touch_key != touches[1].touch_key


def test_a_failing_listener_of_stored_events_does_not_fail_the_request(
    marketplace, page, django_capture_on_commit_callbacks, caplog
):
    from usher.events.collector import events_collected

    def broken_listener(sender, **kwargs):
        raise RuntimeError("listener bug")

    events_collected.connect(broken_listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = post(page_event(), site_key=marketplace.site_key)
    finally:
        events_collected.disconnect(broken_listener)
    assert response.status_code == 202
    assert TrackingEvent.objects.filter(event_id="evt-00000001").exists()
    assert "listener bug" in caplog.text  # logged for the sweep to make up for


def test_each_site_key_stores_under_its_own_client_one_after_the_other(marketplace, page):
    other = MarketplaceClientFactory()
    for key, event_id in [
        (marketplace.site_key, "evt-a1"),
        (other.site_key, "evt-b1"),
        (marketplace.site_key, "evt-a2"),
    ]:
        assert post(page_event(event_id=event_id, event=None), site_key=key).status_code == 202
    stored = dict(TrackingEvent.objects.values_list("event_id", "client_id"))
    assert stored == {"evt-a1": marketplace.pk, "evt-b1": other.pk, "evt-a2": marketplace.pk}


def test_a_remembered_site_key_checks_both_its_limits_in_one_call(marketplace, page, monkeypatch):
    from usher.events import api as collector_api

    calls: list[int] = []
    check = collector_api.hit_sliding_windows

    def counted(*args, **kwargs):
        calls.append(1)
        return check(*args, **kwargs)

    monkeypatch.setattr(collector_api, "hit_sliding_windows", counted)
    post(page_event(), site_key=marketplace.site_key)
    assert len(calls) == 2  # unknown to this process: the address first, then the site
    post(page_event(event_id="evt-00000002"), site_key=marketplace.site_key)
    assert len(calls) == 3


@pytest.mark.parametrize("site_key", [["a-key"], {"key": "a-key"}, 42])
def test_a_site_key_in_the_body_that_is_not_text_is_401_not_a_500(marketplace, site_key):
    response = post({"events": [page_event()], "site_key": site_key})
    assert response.status_code == 401
    assert not TrackingEvent.objects.exists()
