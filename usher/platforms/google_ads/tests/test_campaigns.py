"""Google Ads campaign publishing and steering against the sandbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from usher.platforms.base import ErrorKind, PlatformError
from usher.platforms.campaigns_base import (
    CampaignsConnector,
    DeliveryStatus,
    ReviewStatus,
    TargetingSpec,
)
from usher.platforms.google_ads.campaigns import (
    GoogleAdsCampaignsConnector,
    ad_operation,
    budget_micros,
    keyword_text,
    review_of,
)
from usher.platforms.tests.campaign_helpers import (
    ACCOUNTS,
    a_creative,
    a_spec,
    lose_answers,
    sandbox_objects,
)

ACCOUNT = ACCOUNTS["google_ads"]
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def connector() -> GoogleAdsCampaignsConnector:
    return GoogleAdsCampaignsConnector(clock=lambda: NOW)


def objects(sandbox, kind: str) -> list[dict]:
    return [
        o
        for o in sandbox_objects(sandbox, "google_ads", kind)
        if o["fields"].get("status") != "REMOVED"
    ]


def test_it_satisfies_the_campaigns_contract() -> None:
    assert isinstance(connector(), CampaignsConnector)
    assert GoogleAdsCampaignsConnector.daily_overdelivery_factor == Decimal("2.0")
    assert GoogleAdsCampaignsConnector.weekly_overdelivery_factor is None


def test_it_publishes_budget_campaign_criteria_ad_group_and_ads(sandbox) -> None:
    published = connector().publish(ACCOUNT, a_spec())

    [budget] = objects(sandbox, "campaign_budget")
    [campaign] = objects(sandbox, "campaign")
    assert budget["fields"]["amount_micros"] == "25000000"
    assert budget["fields"]["explicitly_shared"] is False
    assert campaign["fields"]["contains_eu_political_advertising"] == (
        "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING"
    )
    assert campaign["fields"]["status"] == "ENABLED"  # enabled last
    assert campaign["fields"]["campaign_budget"] == budget["resource_name"]
    assert campaign["fields"]["start_date_time"] == "2026-12-01 10:00:00"  # Bucharest
    assert published.campaign_id == campaign["id"]
    assert published.budget_id == budget["id"]
    criteria = [o["fields"] for o in objects(sandbox, "campaign_criterion")]
    assert {"geo_target_constant": "geoTargetConstants/2642"} in [
        c.get("location") for c in criteria
    ]
    assert any("proximity" in c for c in criteria)
    keywords = [o["fields"]["keyword"]["text"] for o in objects(sandbox, "ad_group_criterion")]
    assert keywords == ["electronic music"]
    assert set(published.ads) == {"cr-1", "cr-2"}
    assert all("~" in ad_id for ad_id in published.ads.values())


def test_a_responsive_search_ad_has_googles_minimum_lines() -> None:
    ad = ad_operation(a_spec(), a_creative(headline="A headline far longer than thirty chars"), "x")

    rsa = ad["create"]["ad"]["responsiveSearchAd"]
    assert len(rsa["headlines"]) >= 3 and len(rsa["descriptions"]) >= 2
    assert all(len(line["text"]) <= 30 for line in rsa["headlines"])


def test_keywords_keep_within_googles_limits() -> None:
    text = keyword_text("one two three four five six seven eight nine ten eleven")

    assert text == "one two three four five six seven eight nine ten"
    assert len(keyword_text("x" * 200)) == 80


def test_a_lifetime_budget_becomes_an_even_daily_amount_rounded_down() -> None:
    spec = a_spec(daily_budget=None, lifetime_budget=Decimal("100.00"))  # flight ends in 31 days

    assert budget_micros(spec, "EUR", NOW) == 3_220_000  # 100 / 31 = 3.2258 -> 3.22


def test_a_retry_after_a_lost_campaign_answer_creates_no_second_campaign(sandbox) -> None:
    lose_answers(sandbox, "google_ads", "campaigns:mutate")

    with pytest.raises(PlatformError) as caught:
        connector().publish(ACCOUNT, a_spec())
    assert caught.value.kind == ErrorKind.TRANSIENT

    published = connector().publish(ACCOUNT, a_spec())

    assert [c["id"] for c in objects(sandbox, "campaign")] == [published.campaign_id]
    assert len(objects(sandbox, "campaign_budget")) == 1
    assert len(objects(sandbox, "ad_group_ad")) == 2


def test_a_retry_after_a_lost_budget_answer_reuses_the_budget(sandbox) -> None:
    lose_answers(sandbox, "google_ads", "campaignBudgets:mutate")
    with pytest.raises(PlatformError):
        connector().publish(ACCOUNT, a_spec())

    connector().publish(ACCOUNT, a_spec())

    assert len(objects(sandbox, "campaign_budget")) == 1


def test_a_retry_after_lost_ads_answer_creates_no_second_ads(sandbox) -> None:
    lose_answers(sandbox, "google_ads", "adGroupAds:mutate")
    with pytest.raises(PlatformError):
        connector().publish(ACCOUNT, a_spec())

    published = connector().publish(ACCOUNT, a_spec())

    assert len(objects(sandbox, "ad_group_ad")) == 2
    assert len(objects(sandbox, "ad_group_criterion")) == 1
    assert len(set(published.ads.values())) == 2


def test_it_pauses_resumes_and_changes_the_budget(sandbox) -> None:
    published = connector().publish(ACCOUNT, a_spec())

    connector().set_status(ACCOUNT, published, active=False)
    connector().set_ad_status(ACCOUNT, published.ads["cr-1"], active=False)
    connector().set_budget(ACCOUNT, published, daily_budget=Decimal("12.345"))

    [campaign] = objects(sandbox, "campaign")
    [budget] = objects(sandbox, "campaign_budget")
    assert campaign["fields"]["status"] == "PAUSED"
    assert budget["fields"]["amount_micros"] == "12340000"
    ads = {o["id"]: o["fields"]["status"] for o in objects(sandbox, "ad_group_ad")}
    assert ads[published.ads["cr-1"]] == "PAUSED" and ads[published.ads["cr-2"]] == "ENABLED"


def test_it_moves_the_campaigns_end_date_in_the_accounts_time_zone(sandbox) -> None:
    published = connector().publish(ACCOUNT, a_spec())  # ends 2026-12-31 10:00 Bucharest

    connector().set_end_time(ACCOUNT, published, datetime(2026, 12, 1, 22, tzinfo=UTC))

    [campaign] = objects(sandbox, "campaign")
    assert campaign["fields"]["end_date_time"] == "2026-12-02 00:00:00"


def test_a_lifetime_budget_change_spreads_over_the_days_left(sandbox) -> None:
    published = connector().publish(ACCOUNT, a_spec())  # ends 2026-12-31 10:00 Bucharest

    connector().set_budget(ACCOUNT, published, lifetime_budget=Decimal("310"))

    [budget] = objects(sandbox, "campaign_budget")
    assert budget["fields"]["amount_micros"] == "10000000"  # 31 days left


def test_it_reads_the_state_and_review_of_its_ads(sandbox) -> None:
    published = connector().publish(ACCOUNT, a_spec())
    connector().set_ad_status(ACCOUNT, published.ads["cr-2"], active=False)

    state = connector().read_state(ACCOUNT, published)

    assert state.status == DeliveryStatus.ACTIVE
    assert {ad.ad_id: ad.status for ad in state.ads} == {
        published.ads["cr-1"]: DeliveryStatus.ACTIVE,
        published.ads["cr-2"]: DeliveryStatus.PAUSED,
    }


def test_a_disapproved_ad_carries_its_policy_topics() -> None:
    ad = {
        "policySummary": {
            "approvalStatus": "DISAPPROVED",
            "policyTopicEntries": [{"topic": "UNAVAILABLE_TICKETS", "type": "PROHIBITED"}],
        }
    }

    assert review_of(ad) == (ReviewStatus.DISAPPROVED, "UNAVAILABLE_TICKETS")
    assert review_of({})[0] == ReviewStatus.PENDING


def test_it_reaches_a_managed_account_through_its_manager(sandbox) -> None:
    sandbox.account(
        platform="google_ads", account_id="1234567890", settings={"managers": ["1112223333"]}
    )
    managed = replace(ACCOUNT, settings={**ACCOUNT.settings, "login_customer_id": "111-222-3333"})

    connector().publish(managed, a_spec())

    headers = [r["headers"] for r in sandbox.requests(platform="google_ads")]
    assert headers and all(h.get("login-customer-id") == "1112223333" for h in headers)


def test_a_managed_account_without_its_manager_is_refused(sandbox) -> None:
    sandbox.account(
        platform="google_ads", account_id="1234567890", settings={"managers": ["1112223333"]}
    )

    with pytest.raises(PlatformError) as caught:
        connector().publish(ACCOUNT, a_spec())

    assert caught.value.kind == ErrorKind.AUTH


def test_an_unknown_country_fails_before_anything_is_created(sandbox) -> None:
    with pytest.raises(PlatformError) as caught:
        connector().publish(ACCOUNT, a_spec(targeting=TargetingSpec(countries=["ZZ"])))

    assert caught.value.kind == ErrorKind.PERMANENT
    assert sandbox.state.objects["google_ads"] == {}


def test_the_developer_tokens_daily_operations_are_shared_by_all_accounts(
    sandbox, settings
) -> None:
    settings.GOOGLE_ADS_DAILY_OPERATIONS = 24 * 20  # 20 operations an hour in all
    other = replace(ACCOUNT, account_id="9876543210")
    connector().publish(ACCOUNT, a_spec(targeting=TargetingSpec(countries=["RO"])))
    sent = len(sandbox.requests(platform="google_ads"))

    with pytest.raises(PlatformError) as caught:
        connector().publish(other, a_spec(reference="usher-c-2"))

    assert caught.value.kind == ErrorKind.RATE_LIMITED
    assert caught.value.retry_after_seconds > 0
    assert len(sandbox.requests(platform="google_ads")) - sent < 13  # stopped half-way
