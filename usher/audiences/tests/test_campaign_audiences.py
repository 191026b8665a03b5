"""What the campaigns engine learns from `audience_for_campaign`."""

from __future__ import annotations

import pytest

from usher.audiences.models import AudienceStatus, AudienceType, RemarketingAudience
from usher.audiences.services import audience_for_campaign
from usher.marketplace.tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def test_prospecting_needs_no_audience_and_creates_none():
    event = EventFactory()
    answer = audience_for_campaign(event, "meta", "prospecting")
    assert (answer.external_audience_id, answer.ready) == (None, True)
    assert not RemarketingAudience.objects.exists()


def test_retargeting_creates_the_events_viewers_minus_buyers_once_and_waits_until_built():
    event = EventFactory()
    first = audience_for_campaign(event, "meta", "retargeting")
    second = audience_for_campaign(event, "meta", "retargeting")
    audience = RemarketingAudience.objects.get()
    assert audience.audience_type == AudienceType.EVENT_VIEWERS
    assert audience.event == event
    assert audience.criteria["exclude_purchasers"] is True
    assert not first.ready and first.external_audience_id is None
    assert "building" in first.reason
    assert second == first


def test_an_active_audience_is_ready_with_its_platform_id():
    event = EventFactory()
    audience_for_campaign(event, "tiktok", "dynamic_remarketing")
    RemarketingAudience.objects.update(status=AudienceStatus.ACTIVE, external_audience_id="777")
    answer = audience_for_campaign(event, "tiktok", "dynamic_remarketing")
    assert answer.ready and answer.external_audience_id == "777"
    assert RemarketingAudience.objects.get().audience_type == AudienceType.CART_ABANDONERS


def test_a_waiting_audience_gives_its_reason():
    event = EventFactory()
    audience_for_campaign(event, "meta", "retargeting")
    RemarketingAudience.objects.update(status_reason="Below Meta's minimum of 100 members.")
    assert audience_for_campaign(event, "meta", "retargeting").reason == (
        "Below Meta's minimum of 100 members."
    )


def test_lookalike_on_meta_is_a_lookalike_of_the_organizers_buyers():
    event = EventFactory()
    audience_for_campaign(event, "meta", "lookalike")
    buyers = RemarketingAudience.objects.get(audience_type=AudienceType.TICKET_BUYERS)
    lookalike = RemarketingAudience.objects.get(audience_type=AudienceType.LOOKALIKE)
    assert buyers.event is None
    assert lookalike.criteria["lookalike_source_id"] == buyers.pk
    assert lookalike.criteria["lookalike_percentage"] == 1


def test_lookalike_on_google_uses_the_buyers_list_as_a_signal():
    event = EventFactory()
    answer = audience_for_campaign(event, "google_ads", "lookalike")
    assert "retired similar audiences" in answer.reason
    assert not RemarketingAudience.objects.filter(audience_type=AudienceType.LOOKALIKE).exists()
    RemarketingAudience.objects.update(status=AudienceStatus.ACTIVE, external_audience_id="55")
    assert audience_for_campaign(event, "google_ads", "lookalike").external_audience_id == "55"


@pytest.mark.parametrize(("platform", "kind"), [("ga4", "retargeting"), ("meta", "brand")])
def test_unknown_platforms_and_kinds_are_refused(platform, kind):
    with pytest.raises(ValueError):
        audience_for_campaign(EventFactory(), platform, kind)


def test_the_campaigns_account_is_where_a_new_audience_is_made():
    event = EventFactory()
    audience_for_campaign(event, "meta", "lookalike", ad_account_id="998877")
    assert set(RemarketingAudience.objects.values_list("ad_account_id", flat=True)) == {"998877"}
