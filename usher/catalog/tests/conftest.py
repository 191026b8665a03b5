"""Fixtures of the catalog tests: sellable events and catalog-enabled ad accounts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from usher.campaigns.tests.factories import AdAccountFactory
from usher.marketplace.tests.factories import EventFactory

META_BUSINESS = "5550001112"
TIKTOK_BC = "7001234567890123456"
GOOGLE_CUSTOMER = "1234567890"


def sellable_event(organizer, **overrides):
    """A published event with all a catalog item needs."""
    fields = {
        "organizer": organizer,
        "starts_at": timezone.now() + timedelta(days=20),
        "public_url": "https://tix.example/e/show",
        "image_url": "https://tix.example/img/show.jpg",
        "price_min": Decimal("80.00"),
        "tickets_left": 50,
    }
    fields.update(overrides)
    return EventFactory(**fields)


@pytest.fixture
def events(organizer):
    return [sellable_event(organizer, name=f"Show {i}") for i in range(3)]


@pytest.fixture
def meta_account(marketplace):
    return AdAccountFactory(
        client=marketplace,
        platform="meta",
        account_id="act_1234567890",
        settings={"catalog": True, "business_id": META_BUSINESS},
    )


@pytest.fixture
def tiktok_account(marketplace):
    return AdAccountFactory(
        client=marketplace,
        platform="tiktok",
        account_id="7000000000000000001",
        settings={"catalog": True, "bc_id": TIKTOK_BC, "catalog_region": "RO"},
    )


@pytest.fixture
def google_account(marketplace):
    return AdAccountFactory(
        client=marketplace,
        platform="google_ads",
        account_id=GOOGLE_CUSTOMER,
        credential_kind="refresh_token",
        credential="sandbox-refresh",
        settings={"catalog": True},
    )
