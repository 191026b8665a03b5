"""Management-call rate limits, naming, money and the registered campaign connectors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from usher.platforms import registry
from usher.platforms.base import ErrorKind, PlatformError
from usher.platforms.campaigns_base import CampaignsConnector, InsightsConnector, MetricsLevel
from usher.platforms.campaigns_common import (
    CallKind,
    from_micros,
    is_named_for,
    object_name,
    take_management_call,
    to_micros,
    to_minor_units,
)
from usher.platforms.meta.campaigns import MetaCampaignsConnector
from usher.platforms.meta.insights import MetaInsightsConnector
from usher.platforms.tests.campaign_helpers import ACCOUNTS, a_spec


@pytest.fixture
def tight_limits(settings):
    settings.PLATFORM_MANAGEMENT_RATE_LIMITS = {
        "meta": {kind: (3600.0 / 600, 2.0) for kind in CallKind},  # 2 now, then 1 per 10 min
    }


@pytest.mark.parametrize("platform", ["meta", "google_ads", "tiktok"])
def test_every_ad_platform_has_campaign_and_insights_connectors(platform: str) -> None:
    assert isinstance(registry.get_campaigns_connector(platform), CampaignsConnector)
    assert isinstance(registry.get_insights_connector(platform), InsightsConnector)
    assert registry.get_campaigns_connector(platform).platform == platform


def test_ga4_runs_no_campaigns() -> None:
    with pytest.raises(KeyError):
        registry.get_campaigns_connector("ga4")
    assert registry.campaign_platform_names() == ["google_ads", "meta", "tiktok"]


def test_a_used_up_bucket_raises_rate_limited_with_retry_after(tight_limits) -> None:
    take_management_call("meta", "act_1", CallKind.WRITE)
    take_management_call("meta", "act_1", CallKind.WRITE)

    with pytest.raises(PlatformError) as caught:
        take_management_call("meta", "act_1", CallKind.WRITE)

    assert caught.value.kind == ErrorKind.RATE_LIMITED
    assert 500 < caught.value.retry_after_seconds <= 600


def test_buckets_are_per_account_and_per_kind(tight_limits) -> None:
    for _ in range(2):
        take_management_call("meta", "act_1", CallKind.METRICS)

    take_management_call("meta", "act_2", CallKind.METRICS)  # another account
    take_management_call("meta", "act_1", CallKind.WRITE)  # another kind of call


def test_a_throttled_connector_sends_nothing(sandbox, tight_limits) -> None:
    connector = MetaInsightsConnector()
    account = ACCOUNTS["meta"]
    day = a_spec().start_time.date()
    for _ in range(2):
        connector.fetch_metrics(
            account, level=MetricsLevel.CAMPAIGN, since=day, until=day, hourly=False
        )
    sent = len(sandbox.requests(platform="meta"))

    with pytest.raises(PlatformError) as caught:
        connector.fetch_metrics(
            account, level=MetricsLevel.CAMPAIGN, since=day, until=day, hourly=False
        )

    assert caught.value.kind == ErrorKind.RATE_LIMITED
    assert len(sandbox.requests(platform="meta")) == sent


def test_a_publish_throttled_midway_resumes_where_it_stopped(sandbox, settings) -> None:
    settings.PLATFORM_MANAGEMENT_RATE_LIMITS = {"meta": {k: (0.36, 5.0) for k in CallKind}}
    connector = MetaCampaignsConnector()
    with pytest.raises(PlatformError) as caught:
        connector.publish(ACCOUNTS["meta"], a_spec())
    assert caught.value.kind == ErrorKind.RATE_LIMITED
    settings.PLATFORM_MANAGEMENT_RATE_LIMITS = {"meta": {k: (3_600_000.0, 100.0) for k in CallKind}}

    published = connector.publish(ACCOUNTS["meta"], a_spec())

    campaigns = [o for o in sandbox.state.objects["meta"].values() if o["type"] == "campaign"]
    assert [c["id"] for c in campaigns] == [published.campaign_id]


def test_names_start_with_the_reference_exactly() -> None:
    name = object_name("usher-c-4", "Rock Night [retargeting]")

    assert name == "usher-c-4 · Rock Night [retargeting]"
    assert is_named_for(name, "usher-c-4")
    assert not is_named_for("usher-c-42 · Rock Night [retargeting]", "usher-c-4")


@pytest.mark.parametrize(
    ("amount", "currency", "minor", "micros"),
    [
        (Decimal("12.349"), "EUR", 1234, 12_340_000),
        (Decimal("1500.9"), "JPY", 1500, 1_500_000_000),
        (Decimal("0.009"), "RON", 0, 0),
    ],
)
def test_budgets_convert_to_platform_units_rounding_down(
    amount: Decimal, currency: str, minor: int, micros: int
) -> None:
    assert to_minor_units(amount, currency) == minor
    assert to_micros(amount, currency) == micros


def test_platform_units_read_back_as_exact_decimals() -> None:
    assert from_micros("7123456") == Decimal("7.123456")
    assert from_micros("junk") == Decimal("0")


@pytest.mark.parametrize(
    ("platform", "hard_cap", "locked", "changes_per_hour"),
    [("meta", True, True, 4), ("google_ads", False, False, None), ("tiktok", True, True, None)],
)
def test_connectors_say_whether_a_lifetime_budget_is_a_cap_and_its_type_is_fixed(
    platform: str, hard_cap: bool, locked: bool, changes_per_hour: int | None
) -> None:
    connector = registry.get_campaigns_connector(platform)

    assert connector.lifetime_budget_hard_cap is hard_cap
    assert connector.budget_type_locked_once_live is locked
    # Meta refuses a fifth change of an ad set's budget within an hour (error 17).
    assert getattr(connector, "budget_changes_per_hour", None) == changes_per_hour


def test_a_short_wait_is_slept_and_the_token_taken_again(settings, monkeypatch) -> None:
    settings.PLATFORM_MANAGEMENT_RATE_LIMITS = {"meta": {"write": (3600.0, 1.0)}}  # 1/s
    slept: list[float] = []
    # No time passes while "sleeping", as if another worker took the refilled token.
    monkeypatch.setattr("usher.platforms.campaigns_common.time.sleep", slept.append)
    take_management_call("meta", "act_9", CallKind.WRITE)

    with pytest.raises(PlatformError) as caught:
        take_management_call("meta", "act_9", CallKind.WRITE)

    assert len(slept) == 1 and 0 < slept[0] <= 1.0
    assert caught.value.kind == ErrorKind.RATE_LIMITED
