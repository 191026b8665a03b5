"""The campaign connector contract refuses specs no platform could publish."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from usher.platforms import registry
from usher.platforms.campaigns_base import (
    AdAccount,
    AdState,
    BidStrategy,
    CampaignSpec,
    CampaignState,
    CampaignType,
    CatalogSpec,
    CreativeSpec,
    DeliveryStatus,
    Objective,
    ReviewStatus,
    TargetingSpec,
)

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def a_spec(**changes: object) -> CampaignSpec:
    spec = CampaignSpec(
        reference="usher-c-1",
        name="Sunwave 2027 [prospecting]",
        campaign_type=CampaignType.PROSPECTING,
        objective=Objective.CONVERSIONS,
        currency="EUR",
        start_time=START,
        targeting=TargetingSpec(countries=["RO"]),
        creatives=[CreativeSpec("cr-1", "Sunwave", "Tickets on sale", "https://t.example/e")],
        daily_budget=Decimal("20.00"),
    )
    return replace(spec, **changes)


def test_a_valid_spec_is_accepted() -> None:
    assert a_spec().daily_budget == Decimal("20.00")


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"daily_budget": None}, ValueError),  # no budget at all
        ({"lifetime_budget": Decimal("100")}, ValueError),  # both budgets
        ({"daily_budget": 20.0}, TypeError),  # money is never a float
        ({"daily_budget": Decimal("0")}, ValueError),
        ({"daily_budget": Decimal("NaN")}, ValueError),
        ({"start_time": START.replace(tzinfo=None)}, ValueError),
        ({"end_time": START - timedelta(hours=1)}, ValueError),
        ({"daily_budget": None, "lifetime_budget": Decimal("100")}, ValueError),  # no end
        ({"creatives": []}, ValueError),
        ({"reference": " "}, ValueError),
        ({"bid_strategy": BidStrategy.COST_CAP}, ValueError),  # cap without amount
        ({"bid_strategy": BidStrategy.MIN_ROAS}, ValueError),  # floor missing
        ({"catalog": CatalogSpec("555", ("core-1",))}, ValueError),  # not dynamic remarketing
        (
            {
                "campaign_type": CampaignType.DYNAMIC_REMARKETING,
                "objective": Objective.TRAFFIC,
                "catalog": CatalogSpec("555", ("core-1",)),
            },
            ValueError,  # catalog ads optimize for purchases
        ),
    ],
)
def test_a_spec_no_platform_could_publish_is_refused(
    changes: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        a_spec(**changes)


def test_a_dynamic_remarketing_spec_takes_a_catalog() -> None:
    catalog = CatalogSpec("555", ("core-1", "core-2"), retention_days=14)
    spec = a_spec(campaign_type=CampaignType.DYNAMIC_REMARKETING, catalog=catalog)
    assert spec.catalog == catalog


@pytest.mark.parametrize(
    "arguments",
    [
        (" ", ("core-1",)),
        ("555", ()),
        ("555", ("",)),
        ("555", ("core-1",), 0),
        ("555", ("c",), 181),
    ],
)
def test_a_catalog_spec_needs_a_catalog_items_and_a_window(arguments: tuple) -> None:
    with pytest.raises(ValueError):
        CatalogSpec(*arguments)


def test_creative_references_must_be_unique() -> None:
    creative = CreativeSpec("cr-1", "A", "B", "https://t.example/")

    with pytest.raises(ValueError, match="unique"):
        a_spec(creatives=[creative, creative])


@pytest.mark.parametrize(
    "targeting", [{"age_min": 12}, {"age_max": 70}, {"age_min": 40, "age_max": 30}]
)
def test_targeting_refuses_impossible_ages(targeting: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        TargetingSpec(**targeting)


def test_an_ad_account_keeps_its_token_and_settings_out_of_repr() -> None:
    account = AdAccount("meta", "act_1", "EAAB-secret", settings={"refresh_token": "r3"})

    assert "EAAB-secret" not in repr(account) and "r3" not in repr(account)


def test_campaign_state_lists_disapproved_ads() -> None:
    bad = AdState("2", DeliveryStatus.DISAPPROVED, ReviewStatus.DISAPPROVED, "Text in image")
    state = CampaignState(
        "c",
        DeliveryStatus.ACTIVE,
        [AdState("1", DeliveryStatus.ACTIVE, ReviewStatus.APPROVED), bad],
    )

    assert state.disapproved_ads == [bad]


@pytest.mark.parametrize(
    ("register", "get"),
    [
        (registry.register_campaigns, registry.get_campaigns_connector),
        (registry.register_insights, registry.get_insights_connector),
    ],
)
def test_campaign_capabilities_have_their_own_registry_tables(
    monkeypatch: pytest.MonkeyPatch, register, get
) -> None:
    monkeypatch.setattr(registry, "_campaigns_factories", {})
    monkeypatch.setattr(registry, "_insights_factories", {})
    factory = object  # any callable

    register("fake", factory)

    assert type(get("fake")) is object
    with pytest.raises(KeyError, match="linkedin"):
        get("linkedin")
    with pytest.raises(ValueError, match="already registered"):
        register("fake", dict)
    with pytest.raises(KeyError):
        registry.get_connector("fake")  # conversions is a separate table
