"""A marketplace wired for server-side delivery: an event page whose organizer has
Meta, TikTok, Google Ads and GA4 codes with credentials, and a marketplace Meta pixel."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.utils import timezone

from usher.marketplace.models import MarketplaceEvent
from usher.marketplace.tests.factories import EventFactory
from usher.tracking import services as tracking
from usher.tracking.models import EventTrackingCode, MarketplaceTrackingCode

ALL_EVENTS = ["page_view", "view_item", "add_to_cart", "begin_checkout", "purchase"]
ORGANIZER_PIXEL = "111111111111111"
MARKETPLACE_PIXEL = "222222222222222"
TIKTOK_PIXEL = "C0QDA8RC77U2TMR44LI0"
GOOGLE_CUSTOMER = "1234567890"
GA4_ID = "G-PSW1MY7HB4"


@dataclass
class Wiring:
    event: MarketplaceEvent
    meta: EventTrackingCode
    tiktok: EventTrackingCode
    google: EventTrackingCode
    ga4: EventTrackingCode
    marketplace_meta: MarketplaceTrackingCode


@pytest.fixture
def wiring(marketplace, organizer) -> Wiring:
    event = EventFactory(
        organizer=organizer, slug="summer-fest", public_url="https://tix.example/e/summer-fest"
    )

    def code(provider: str, settings: dict) -> EventTrackingCode:
        return tracking.create_code(
            organizer,
            tracking.CodeInput(
                provider=provider, settings={"conversion_events": ALL_EVENTS, **settings}
            ),
        )

    return Wiring(
        event=event,
        meta=code("meta", {"pixel_id": ORGANIZER_PIXEL, "access_token": "sandbox-organizer-meta"}),
        tiktok=code(
            "tiktok", {"pixel_code": TIKTOK_PIXEL, "access_token": "sandbox-organizer-tiktok"}
        ),
        google=code(
            "google_ads",
            {
                "conversion_id": "AW-736702401",
                "customer_id": "123-456-7890",
                "conversion_actions": {"purchase": "987654321"},
                "refresh_token": "sandbox-organizer-google",
            },
        ),
        ga4=code("ga4", {"measurement_id": GA4_ID, "api_secret": "sandbox-organizer-ga4"}),
        marketplace_meta=tracking.create_marketplace_code(
            marketplace,
            tracking.CodeInput(
                provider="meta",
                settings={
                    "pixel_id": MARKETPLACE_PIXEL,
                    "conversion_events": ["purchase"],
                    "access_token": "sandbox-marketplace-meta",
                },
            ),
        ),
    )


def order_payload(
    event: MarketplaceEvent, external_id: str = "ord-1", *, consent: bool | None = True
) -> dict:
    attribution = {
        "visitor_id": "v-1",
        "gclid": "Cj0KCQiA-test",
        "fbclid": "IwAR-test",
        "ttclid": "E.C.P.test",
        "client_ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
    }
    if consent is not None:
        attribution["consent"] = {
            "ad_storage": consent,
            "ad_user_data": consent,
            "ad_personalization": consent,
        }
    return {
        "external_id": external_id,
        "event_external_id": event.external_id,
        "value": "240.50",
        "currency": "RON",
        "tickets_count": 2,
        "placed_at": timezone.now().isoformat(),
        "customer": {
            "email": " Jane.Doe@Gmail.com ",
            "phone": "0722 123 456",
            "first_name": "Jane",
            "last_name": "Doe",
            "country": "RO",
        },
        "attribution": attribution,
    }


def ingest_order(ingest, wiring: Wiring, capture_on_commit, **payload_options) -> None:
    """Upload an order through the ingest API and run what its commit triggers."""
    with capture_on_commit(execute=True):
        response = ingest.put("/api/ingest/orders", order_payload(wiring.event, **payload_options))
    assert response.status_code == 200, response.content
