"""An organizer whose tracking codes can manage audiences on the sandbox's accounts."""

from __future__ import annotations

import pytest

from usher.marketplace.tests.factories import EventFactory
from usher.platforms.google_ads.audiences import GoogleAdsAudiencesConnector
from usher.platforms.meta.audiences import MetaAudiencesConnector
from usher.platforms.tiktok.audiences import TikTokAudiencesConnector
from usher.tracking.tests.factories import EventTrackingCodeFactory, meta_settings

META_ACCOUNT = "1234567"
TIKTOK_ADVERTISER = "7000000000000000001"
GOOGLE_CUSTOMER = "1234567890"
TOKENS = {
    "meta": ("access_token", "sandbox-meta-token"),
    "tiktok": ("access_token", "sandbox-tiktok-token"),
    "google_ads": ("refresh_token", "sandbox-google-oauth-refresh-token-aud1"),
}
SETTINGS = {
    "meta": {**meta_settings(1), "ad_account_id": META_ACCOUNT},
    "tiktok": {
        "pixel_code": "C4A1B2C3D4E5F6G7H8I9",
        "advertiser_id": TIKTOK_ADVERTISER,
        "location_ids": ["798549"],
    },
    "google_ads": {"conversion_id": "AW-123456789", "customer_id": GOOGLE_CUSTOMER},
}


@pytest.fixture
def event(db):
    return EventFactory(country="RO")


@pytest.fixture
def codes(event):
    """The organizer's default code per platform, each with its credential."""
    made = {}
    for platform, (secret, value) in TOKENS.items():
        code = EventTrackingCodeFactory(
            organizer=event.organizer, provider=platform, settings=SETTINGS[platform]
        )
        code.set_secret(secret, value)
        code.save()
        made[platform] = code
    return made


@pytest.fixture
def small_minimums(monkeypatch):
    """Platform minimums of 2, so a handful of crafted buyers can reach them."""
    for connector in (
        MetaAudiencesConnector,
        TikTokAudiencesConnector,
        GoogleAdsAudiencesConnector,
    ):
        monkeypatch.setattr(connector, "min_members", 2)
