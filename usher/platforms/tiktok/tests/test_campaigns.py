"""TikTok campaign publishing and steering against the sandbox."""

from __future__ import annotations

from decimal import Decimal

import pytest

from usher.platforms.base import ErrorKind, PlatformError
from usher.platforms.campaigns_base import (
    CampaignsConnector,
    DeliveryStatus,
    ReviewStatus,
    TargetingSpec,
)
from usher.platforms.tests.campaign_helpers import (
    ACCOUNTS,
    a_spec,
    lose_answers,
    sandbox_objects,
)
from usher.platforms.tiktok.campaigns import (
    TikTokCampaignsConnector,
    age_groups,
    delivery_status,
)

ACCOUNT = ACCOUNTS["tiktok"]


def test_it_satisfies_the_campaigns_contract() -> None:
    assert isinstance(TikTokCampaignsConnector(), CampaignsConnector)
    assert TikTokCampaignsConnector().minimum_daily_budget("EUR") == Decimal("20")


def test_it_publishes_campaign_ad_group_and_ads(sandbox) -> None:
    published = TikTokCampaignsConnector().publish(ACCOUNT, a_spec())

    [campaign] = sandbox_objects(sandbox, "tiktok", "campaign")
    [adgroup] = sandbox_objects(sandbox, "tiktok", "adgroup")
    assert campaign["fields"]["objective_type"] == "WEB_CONVERSIONS"
    assert campaign["fields"]["budget_mode"] == "BUDGET_MODE_INFINITE"
    assert campaign["fields"]["operation_status"] == "ENABLE"  # enabled last
    assert adgroup["fields"]["budget_mode"] == "BUDGET_MODE_DAY"
    assert adgroup["fields"]["budget"] == 25.0
    assert adgroup["fields"]["pixel_id"] == "CSANDBOXPIXEL0000001"
    assert adgroup["fields"]["location_ids"] == ["798549"]  # Romania
    assert adgroup["fields"]["schedule_start_time"] == "2026-12-01 08:00:00"
    ads = sandbox_objects(sandbox, "tiktok", "ad")
    assert {a["id"] for a in ads} == set(published.ads.values())
    assert all(a["fields"]["image_ids"] for a in ads)
    assert published.campaign_id == campaign["id"] and published.ad_group_id == adgroup["id"]


def test_age_bounds_become_tiktoks_age_groups() -> None:
    assert age_groups(TargetingSpec(age_min=18, age_max=45)) == [
        "AGE_18_24",
        "AGE_25_34",
        "AGE_35_44",
        "AGE_45_54",
    ]
    assert age_groups(TargetingSpec()) == []


def test_a_retry_after_a_lost_campaign_answer_creates_no_second_campaign(sandbox) -> None:
    lose_answers(sandbox, "tiktok", "/campaign/create/")
    with pytest.raises(PlatformError) as caught:
        TikTokCampaignsConnector().publish(ACCOUNT, a_spec())
    assert caught.value.kind == ErrorKind.TRANSIENT

    published = TikTokCampaignsConnector().publish(ACCOUNT, a_spec())

    assert [c["id"] for c in sandbox_objects(sandbox, "tiktok", "campaign")] == [
        published.campaign_id
    ]
    assert len(sandbox_objects(sandbox, "tiktok", "ad")) == 2


def test_a_retry_after_a_lost_ads_answer_creates_no_second_ads(sandbox) -> None:
    lose_answers(sandbox, "tiktok", "/ad/create/")
    with pytest.raises(PlatformError):
        TikTokCampaignsConnector().publish(ACCOUNT, a_spec())

    TikTokCampaignsConnector().publish(ACCOUNT, a_spec())

    assert len(sandbox_objects(sandbox, "tiktok", "ad")) == 2
    assert len(sandbox_objects(sandbox, "tiktok", "adgroup")) == 1


def test_it_pauses_an_ad_and_the_campaign_and_changes_the_budget(sandbox) -> None:
    connector = TikTokCampaignsConnector()
    published = connector.publish(ACCOUNT, a_spec())

    connector.set_ad_status(ACCOUNT, published.ads["cr-1"], active=False)
    connector.set_status(ACCOUNT, published, active=False)
    connector.set_budget(ACCOUNT, published, daily_budget=Decimal("30.555"))

    get = sandbox.state.get_object
    assert get("tiktok", published.campaign_id)["fields"]["operation_status"] == "DISABLE"
    assert get("tiktok", published.ads["cr-1"])["fields"]["operation_status"] == "DISABLE"
    assert get("tiktok", published.ads["cr-2"])["fields"]["operation_status"] == "ENABLE"
    assert get("tiktok", published.ad_group_id)["fields"]["budget"] == 30.55  # rounded down


def test_it_reads_the_state_of_a_campaign_and_its_ads(sandbox) -> None:
    connector = TikTokCampaignsConnector()
    published = connector.publish(ACCOUNT, a_spec())
    connector.set_ad_status(ACCOUNT, published.ads["cr-2"], active=False)

    state = connector.read_state(ACCOUNT, published)

    assert state.status == DeliveryStatus.ACTIVE
    assert {ad.ad_id: (ad.status, ad.review_status) for ad in state.ads} == {
        published.ads["cr-1"]: (DeliveryStatus.PENDING_REVIEW, ReviewStatus.PENDING),
        published.ads["cr-2"]: (DeliveryStatus.PAUSED, ReviewStatus.PENDING),
    }


def test_a_failed_review_reads_as_disapproved_with_tiktoks_status(sandbox) -> None:
    sandbox.account(
        platform="tiktok",
        account_id=ACCOUNT.account_id,
        settings={"ad_review_outcome": "disapprove", "ad_review_seconds": 0},
    )
    connector = TikTokCampaignsConnector()
    published = connector.publish(ACCOUNT, a_spec())

    state = connector.read_state(ACCOUNT, published)

    assert len(state.disapproved_ads) == 2
    assert {ad.status for ad in state.ads} == {DeliveryStatus.DISAPPROVED}
    assert all(ad.review_feedback for ad in state.ads)


def test_a_rejected_ad_reads_as_disapproved() -> None:
    item = {"operation_status": "ENABLE", "secondary_status": "AD_STATUS_REVIEW_FAIL"}

    assert delivery_status(item) == (
        DeliveryStatus.DISAPPROVED,
        ReviewStatus.DISAPPROVED,
        "AD_STATUS_REVIEW_FAIL",
    )
    partly = {
        "operation_status": "ENABLE",
        "secondary_status": "AD_STATUS_PARTIAL_AUDIT_DELIVERY_OK",
    }
    assert delivery_status(partly)[:2] == (DeliveryStatus.WITH_ISSUES, ReviewStatus.APPROVED)


def test_a_spec_without_countries_fails_before_any_call(sandbox) -> None:
    with pytest.raises(PlatformError) as caught:
        TikTokCampaignsConnector().publish(ACCOUNT, a_spec(targeting=TargetingSpec()))

    assert caught.value.kind == ErrorKind.PERMANENT
    assert sandbox.requests(platform="tiktok") == []
