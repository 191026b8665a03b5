"""Builders: membership is exact on crafted histories (window, exclusions, minimum
actions, consent, custom filters)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from usher.audiences.builders import buyer_query, visitor_query
from usher.audiences.criteria import Criteria, CustomFilters
from usher.audiences.models import AudienceType, RemarketingAudience
from usher.audiences.tests.helpers import buy, visit
from usher.marketplace.tests.factories import EventFactory
from usher.platforms.normalize import normalize_user_data

pytestmark = pytest.mark.django_db


def audience_for(event, audience_type, platform="meta", organizer_wide=False):
    return RemarketingAudience.objects.create(
        client_id=event.client_id,
        organizer_id=event.organizer_id,
        event=None if organizer_wide else event,
        platform=platform,
        audience_type=audience_type,
        name="test",
    )


def visitors(audience, **criteria):
    return set(visitor_query(audience, Criteria(**criteria), timezone.now()))


def test_event_viewers_are_the_window_s_viewers_minus_its_buyers():
    event = EventFactory()
    other = EventFactory(organizer=event.organizer, client=event.client)
    visit(event, "v-recent", days_ago=2)
    visit(event, "v-old", days_ago=31)
    visit(event, "v-bought-pixel")
    visit(event, "v-bought-pixel", name="purchase")
    visit(event, "v-bought-core")
    buy(event, "core@example.com", visitor="v-bought-core")
    visit(event, "v-bought-long-ago")
    visit(event, "v-bought-long-ago", name="purchase", days_ago=90)  # a buyer stays a buyer
    visit(event, "v-no-consent", consent={"ad_storage": True})
    visit(other, "v-other-event")
    visit(event, "v-cart", name="add_to_cart")
    audience = audience_for(event, AudienceType.EVENT_VIEWERS)

    assert visitors(audience, source_events=("view_item",), exclude_purchasers=True) == {"v-recent"}
    assert visitors(audience, source_events=("view_item",)) == {
        "v-recent",
        "v-bought-pixel",
        "v-bought-core",
        "v-bought-long-ago",
    }


def test_minimum_actions_counts_each_visitors_events():
    event = EventFactory()
    for _ in range(3):
        visit(event, "v-three")
    visit(event, "v-one")
    audience = audience_for(event, AudienceType.EVENT_VIEWERS)
    assert visitors(audience, min_actions=3) == {"v-three"}
    assert visitors(audience, min_actions=1) == {"v-three", "v-one"}


def test_cart_abandoners_added_to_cart_and_did_not_buy():
    event = EventFactory()
    visit(event, "v-abandoned", name="add_to_cart")
    visit(event, "v-checkout", name="begin_checkout")
    visit(event, "v-bought", name="add_to_cart")
    visit(event, "v-bought", name="purchase")
    visit(event, "v-viewer")
    audience = audience_for(event, AudienceType.CART_ABANDONERS)
    assert visitors(
        audience, source_events=("add_to_cart", "begin_checkout"), exclude_purchasers=True
    ) == {"v-abandoned", "v-checkout"}


def test_website_visitors_span_all_the_organizers_events_and_no_one_elses():
    event = EventFactory()
    sibling = EventFactory(organizer=event.organizer, client=event.client)
    stranger = EventFactory()
    visit(event, "v-a")
    visit(sibling, "v-b", name="page_view")
    visit(stranger, "v-c")
    audience = audience_for(event, AudienceType.WEBSITE_VISITORS, organizer_wide=True)
    assert visitors(audience, source_events=("page_view", "view_item")) == {"v-a", "v-b"}


def buyers(audience, platform="meta", fields=("email", "phone"), **criteria):
    rows = buyer_query(audience, Criteria(**criteria), timezone.now(), fields)
    return dict(rows)


def meta_email(email):
    return normalize_user_data("meta", {"email": email}, "audiences")["email"]


def test_buyers_are_one_member_per_identity_with_consent_in_the_window():
    event = EventFactory()
    buy(event, "Ana@Example.com", days_ago=3)
    buy(event, "ana@example.com", days_ago=1, first_name="Ana")  # same buyer, later order
    buy(event, phone="+40 722 000 111")  # phone only
    buy(event, "old@example.com", days_ago=40)
    buy(event, "refused@example.com", consent={"ad_personalization": False})
    audience = audience_for(event, AudienceType.TICKET_BUYERS)

    members = buyers(audience, time_window_days=30)

    phone_key = normalize_user_data("meta", {"phone": "+40722000111"}, "audiences")["phone"]
    assert set(members) == {meta_email("ana@example.com"), phone_key}
    # the latest order's identifiers, in Meta's audience form
    assert (
        members[meta_email("ana@example.com")]["first_name"]
        == (normalize_user_data("meta", {"first_name": "Ana"}, "audiences")["first_name"])
    )


def test_buyers_keyed_on_email_only_leave_phone_only_buyers_out():
    event = EventFactory()
    buy(event, "a@example.com")
    buy(event, phone="+40722000111")
    audience = audience_for(event, AudienceType.TICKET_BUYERS, platform="tiktok")
    members = buyers(audience, fields=("email",))
    assert set(members) == {
        normalize_user_data("tiktok", {"email": "a@example.com"}, "audiences")["email"]
    }


def test_custom_segment_filters_on_spend_orders_and_recency():
    event = EventFactory()
    buy(event, "big@example.com", value="300.00", days_ago=5)
    buy(event, "loyal@example.com", value="50.00", days_ago=20)
    buy(event, "loyal@example.com", value="50.00", days_ago=2)
    buy(event, "lapsed@example.com", value="500.00", days_ago=60)
    audience = audience_for(event, AudienceType.CUSTOM_SEGMENT, organizer_wide=True)

    def segment(**filters):
        return set(buyers(audience, time_window_days=365, custom_filters=CustomFilters(**filters)))

    assert segment(min_spend=Decimal("250")) == {
        meta_email("big@example.com"),
        meta_email("lapsed@example.com"),
    }
    assert segment(min_orders=2) == {meta_email("loyal@example.com")}
    assert segment(max_days_since_last_order=10) == {
        meta_email("big@example.com"),
        meta_email("loyal@example.com"),
    }
