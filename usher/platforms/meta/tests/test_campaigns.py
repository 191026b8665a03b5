"""Meta campaign publishing and steering against the sandbox."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import httpx
import pytest

from usher.lib.http import set_transport_for_tests
from usher.platforms.base import ErrorKind, PlatformError
from usher.platforms.campaigns_base import (
    CampaignsConnector,
    CampaignType,
    CatalogSpec,
    DeliveryStatus,
    PublishedCampaign,
    ReviewStatus,
    TargetingSpec,
)
from usher.platforms.meta.campaigns import (
    MetaCampaignsConnector,
    product_set_filter,
    review_of,
    targeting_body,
)
from usher.platforms.tests.campaign_helpers import (
    ACCOUNTS,
    a_spec,
    lose_answers,
    sandbox_objects,
)

ACCOUNT = ACCOUNTS["meta"]


def test_it_satisfies_the_campaigns_contract() -> None:
    assert isinstance(MetaCampaignsConnector(), CampaignsConnector)
    assert MetaCampaignsConnector.daily_overdelivery_factor == Decimal("1.75")
    assert MetaCampaignsConnector.weekly_overdelivery_factor == Decimal("7")


def test_it_publishes_campaign_adset_creatives_and_ads(sandbox) -> None:
    published = MetaCampaignsConnector().publish(ACCOUNT, a_spec())

    campaign = sandbox.state.get_object("meta", published.campaign_id)["fields"]
    adset = sandbox.state.get_object("meta", published.ad_group_id)["fields"]
    assert campaign["objective"] == "OUTCOME_SALES"
    assert campaign["status"] == "ACTIVE"  # switched on last
    assert campaign["name"] == "usher-c-1 · Sunwave 2027 · prospecting [prospecting]"
    assert adset["daily_budget"] == 2500  # 25.00 EUR in cents
    assert adset["promoted_object"] == {
        "pixel_id": "123456789012345",
        "custom_event_type": "PURCHASE",
    }
    assert adset["campaign_id"] == published.campaign_id
    assert set(published.ads) == {"cr-1", "cr-2"}
    assert len(sandbox_objects(sandbox, "meta", "adcreative")) == 2
    assert published.budget_id is None


def test_it_sends_what_meta_requires_in_2026(sandbox) -> None:
    MetaCampaignsConnector().publish(ACCOUNT, a_spec())

    bodies = {
        r["path"].rsplit("/", 1)[-1]: r["body"]
        for r in sandbox.requests(platform="meta")
        if r["method"] == "POST" and "/act_" in r["path"]
    }
    assert bodies["campaigns"]["special_ad_categories"] == []
    assert bodies["campaigns"]["is_adset_budget_sharing_enabled"] is False
    assert bodies["adsets"]["dsa_beneficiary"] == "Sunwave SRL"
    assert bodies["adsets"]["dsa_payor"] == "Tixello SRL"
    # The spec's 18-45 is a hard range, which Advantage+ audience would widen.
    assert bodies["adsets"]["targeting"]["targeting_automation"] == {"advantage_audience": 0}


def test_prospecting_with_open_ages_uses_advantage_audience() -> None:
    targeting = targeting_body(
        TargetingSpec(countries=["RO"], age_min=21), CampaignType.PROSPECTING
    )

    assert targeting["targeting_automation"] == {"advantage_audience": 1}


def test_retargeting_keeps_exactly_its_audience() -> None:
    targeting = targeting_body(
        TargetingSpec(countries=["RO"], include_audience_ids=["2384"]), CampaignType.RETARGETING
    )

    assert targeting["targeting_automation"] == {"advantage_audience": 0}
    assert targeting["custom_audiences"] == [{"id": "2384"}]


def test_it_refuses_eu_targeting_without_a_dsa_beneficiary_before_any_call(sandbox) -> None:
    spec = a_spec(dsa_beneficiary=None, dsa_payor=None)

    with pytest.raises(PlatformError) as caught:
        MetaCampaignsConnector().publish(ACCOUNT, spec)

    assert caught.value.kind == ErrorKind.PERMANENT
    assert "DSA" in caught.value.message
    assert sandbox.requests(platform="meta") == []


def test_a_retry_after_a_lost_answer_creates_no_second_campaign(sandbox) -> None:
    lose_answers(sandbox, "meta", "/campaigns")
    connector = MetaCampaignsConnector()

    with pytest.raises(PlatformError) as caught:
        connector.publish(ACCOUNT, a_spec())
    assert caught.value.kind == ErrorKind.TRANSIENT
    assert len(sandbox_objects(sandbox, "meta", "campaign")) == 1  # created, answer lost

    published = connector.publish(ACCOUNT, a_spec())

    assert [c["id"] for c in sandbox_objects(sandbox, "meta", "campaign")] == [
        published.campaign_id
    ]
    assert len(sandbox_objects(sandbox, "meta", "adset")) == 1


def test_a_retry_after_a_lost_ad_answer_reuses_the_ad_and_creative(sandbox) -> None:
    lose_answers(sandbox, "meta", "/ads")
    connector = MetaCampaignsConnector()
    with pytest.raises(PlatformError):
        connector.publish(ACCOUNT, a_spec())

    published = connector.publish(ACCOUNT, a_spec())

    assert len(sandbox_objects(sandbox, "meta", "ad")) == 2
    assert len(sandbox_objects(sandbox, "meta", "adcreative")) == 2
    assert set(published.ads.values()) == {a["id"] for a in sandbox_objects(sandbox, "meta", "ad")}


def test_publishing_twice_returns_the_same_objects(sandbox) -> None:
    connector = MetaCampaignsConnector()

    assert connector.publish(ACCOUNT, a_spec()) == connector.publish(ACCOUNT, a_spec())
    assert len(sandbox_objects(sandbox, "meta", "ad")) == 2


def test_two_specs_get_two_campaigns(sandbox) -> None:
    connector = MetaCampaignsConnector()
    first = connector.publish(ACCOUNT, a_spec())
    second = connector.publish(ACCOUNT, a_spec(reference="usher-c-11"))

    assert first.campaign_id != second.campaign_id


def test_it_pauses_and_resumes_the_campaign_and_an_ad(sandbox) -> None:
    connector = MetaCampaignsConnector()
    published = connector.publish(ACCOUNT, a_spec())

    connector.set_status(ACCOUNT, published, active=False)
    connector.set_ad_status(ACCOUNT, published.ads["cr-2"], active=False)

    assert sandbox.state.get_object("meta", published.campaign_id)["fields"]["status"] == "PAUSED"
    assert sandbox.state.get_object("meta", published.ads["cr-2"])["fields"]["status"] == "PAUSED"
    connector.set_status(ACCOUNT, published, active=True)
    assert sandbox.state.get_object("meta", published.campaign_id)["fields"]["status"] == "ACTIVE"


def test_it_changes_the_adset_budget_in_minor_units(sandbox) -> None:
    connector = MetaCampaignsConnector()
    published = connector.publish(ACCOUNT, a_spec())

    connector.set_budget(ACCOUNT, published, daily_budget=Decimal("12.349"))

    assert sandbox.state.get_object("meta", published.ad_group_id)["fields"]["daily_budget"] == 1234


def test_the_fifth_budget_change_in_an_hour_is_rate_limited(sandbox) -> None:
    connector = MetaCampaignsConnector()
    published = connector.publish(ACCOUNT, a_spec())
    for cents in range(4):
        connector.set_budget(ACCOUNT, published, daily_budget=Decimal(f"30.0{cents}"))

    with pytest.raises(PlatformError) as caught:
        connector.set_budget(ACCOUNT, published, daily_budget=Decimal("40"))

    assert caught.value.kind == ErrorKind.RATE_LIMITED


def test_it_reads_disapproval_with_its_reason() -> None:
    ad = {
        "id": "9",
        "effective_status": "DISAPPROVED",
        "ad_review_feedback": {"global": {"Text": "Too much text in the image"}},
    }

    assert review_of(ad) == (ReviewStatus.DISAPPROVED, "Text: Too much text in the image")


def test_it_reads_review_status_and_learning_phase(settings) -> None:
    # Meta's answers (graph-api reference fields); the sandbox gains these reads in #19.
    answers = {
        "/v25.0/1": {"id": "1", "status": "ACTIVE", "effective_status": "ACTIVE"},
        "/v25.0/2": {
            "id": "2",
            "effective_status": "ACTIVE",
            "learning_stage_info": {"status": "LEARNING"},
        },
        "/v25.0/act_1234567890/ads": {
            "data": [
                {"id": "31", "effective_status": "PENDING_REVIEW"},
                {
                    "id": "32",
                    "effective_status": "DISAPPROVED",
                    "ad_review_feedback": {"global": {"Circumventing systems": "Not allowed"}},
                },
                {"id": "99", "effective_status": "ACTIVE"},  # another campaign's ad
            ]
        },
    }
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=answers[request.url.path.removeprefix("/meta")])

    settings.PLATFORM_BASE_URLS = {**settings.PLATFORM_BASE_URLS, "meta": "http://graph/meta"}
    set_transport_for_tests("meta", httpx.MockTransport(answer))
    published = PublishedCampaign("1", "2", ads={"cr-1": "31", "cr-2": "32"})

    state = MetaCampaignsConnector().read_state(ACCOUNT, published)

    assert state.status == DeliveryStatus.ACTIVE
    assert state.learning_phase == "LEARNING"
    assert [(ad.ad_id, ad.review_status) for ad in state.ads] == [
        ("31", ReviewStatus.PENDING),
        ("32", ReviewStatus.DISAPPROVED),
    ]
    assert state.disapproved_ads[0].review_feedback == "Circumventing systems: Not allowed"
    assert len(seen) == 3


def test_a_lifetime_budget_goes_on_the_adset(sandbox) -> None:
    spec = a_spec(daily_budget=None, lifetime_budget=Decimal("700"))

    published = MetaCampaignsConnector().publish(ACCOUNT, spec)

    fields = sandbox.state.get_object("meta", published.ad_group_id)["fields"]
    assert fields["lifetime_budget"] == 70000 and "daily_budget" not in fields


def test_a_missing_token_is_an_auth_error_before_any_call(sandbox) -> None:
    with pytest.raises(PlatformError) as caught:
        MetaCampaignsConnector().publish(replace(ACCOUNT, access_token=""), a_spec())

    assert caught.value.kind == ErrorKind.AUTH
    assert sandbox.requests(platform="meta") == []


def test_new_ads_wait_in_review_and_the_adset_starts_learning(sandbox) -> None:
    connector = MetaCampaignsConnector()
    published = connector.publish(ACCOUNT, a_spec())

    state = connector.read_state(ACCOUNT, published)

    assert {ad.review_status for ad in state.ads} == {ReviewStatus.PENDING}
    assert state.learning_phase == "LEARNING"


def test_a_disapproved_ad_is_read_with_metas_reason(sandbox) -> None:
    sandbox.account(
        platform="meta",
        account_id="1234567890",
        settings={"ad_review_outcome": "disapprove", "ad_review_seconds": 0},
    )
    connector = MetaCampaignsConnector()
    published = connector.publish(ACCOUNT, a_spec())

    state = connector.read_state(ACCOUNT, published)

    assert len(state.disapproved_ads) == 2
    assert all(ad.review_feedback for ad in state.disapproved_ads)
    assert {ad.status for ad in state.ads} == {DeliveryStatus.DISAPPROVED}


CATALOG = "120210000000000777"


def a_catalog_spec(content_ids: tuple[str, ...] = ("core-1",), catalog: str = CATALOG):
    return a_spec(
        campaign_type=CampaignType.DYNAMIC_REMARKETING,
        catalog=CatalogSpec(catalog, content_ids),
    )


def a_catalog_on(sandbox) -> None:
    sandbox.state.put_object(
        "meta",
        CATALOG,
        {"id": CATALOG, "type": "product_catalog", "account": "555", "name": "Events", "items": {}},
    )


def test_a_product_set_names_one_event_or_several() -> None:
    assert product_set_filter(CatalogSpec(CATALOG, ("core-1",))) == {
        "retailer_id": {"eq": "core-1"}
    }
    assert product_set_filter(CatalogSpec(CATALOG, ("core-1", "core-2"))) == {
        "retailer_id": {"is_any": ["core-1", "core-2"]}
    }


def test_a_retry_after_a_lost_product_set_answer_reuses_the_set(sandbox) -> None:
    a_catalog_on(sandbox)
    lose_answers(sandbox, "meta", "/product_sets")
    connector = MetaCampaignsConnector()
    with pytest.raises(PlatformError):
        connector.publish(ACCOUNT, a_catalog_spec())

    published = connector.publish(ACCOUNT, a_catalog_spec())

    [product_set] = sandbox_objects(sandbox, "meta", "product_set")
    adset = sandbox.state.get_object("meta", published.ad_group_id)["fields"]
    assert adset["promoted_object"]["product_set_id"] == product_set["id"]


def test_an_unknown_catalog_is_refused_before_any_campaign_exists(sandbox) -> None:
    with pytest.raises(PlatformError) as caught:
        MetaCampaignsConnector().publish(ACCOUNT, a_catalog_spec(catalog="424242"))
    assert caught.value.kind == ErrorKind.PERMANENT
    assert sandbox_objects(sandbox, "meta", "campaign") == []
