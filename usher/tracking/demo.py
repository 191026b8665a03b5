"""Demo tracking codes at all three levels, for the demo marketplace.

The marketplace's own Meta pixel and GA4 property appear on every page; each organizer
has defaults; Sunwave Festival 2027 overrides its organizer's Meta pixel, so its page
shows the fallback order at work (event code, organizer defaults, marketplace codes).
Ids match the providers' formats but belong to nobody; the credentials (`sandbox-` tokens)
only work against the local sandbox. Loading twice changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from usher.marketplace.models import MarketplaceClient
from usher.tracking import services
from usher.tracking.models import EventTrackingCode, MarketplaceTrackingCode

MARKETPLACE_CODES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "Tixello Meta pixel",
        "meta",
        {
            "pixel_id": "419316141842990",
            "advanced_matching": True,
            "access_token": "sandbox-demo-tixello-meta",
        },
    ),
    (
        "Tixello GA4",
        "ga4",
        {"measurement_id": "G-TIXELLO01", "api_secret": "sandbox-demo-tixello-ga4"},
    ),
]

# (organizer external id, event external id or None for the default, provider, settings)
ORGANIZER_CODES: list[tuple[str, str | None, str, dict[str, Any]]] = [
    (
        "org-sunwave",
        None,
        "meta",
        {"pixel_id": "557085890510243", "access_token": "sandbox-demo-sunwave-meta"},
    ),
    (
        "org-sunwave",
        None,
        "ga4",
        {"measurement_id": "G-SUNWAVE27", "api_secret": "sandbox-demo-sunwave-ga4"},
    ),
    (
        "org-sunwave",
        None,
        "tiktok",
        {
            "pixel_code": "COQDA8RC77U2TMR44LI0",
            "custom_params": {"brand": "sunwave"},
            "access_token": "sandbox-demo-sunwave-tiktok",
        },
    ),
    (
        "org-sunwave",
        "ev-001",
        "meta",
        {
            "pixel_id": "1994206721399887",
            "conversion_events": ["page_view", "view_item", "begin_checkout", "purchase"],
            "test_event_code": "TEST12345",
            "access_token": "sandbox-demo-sunwave-festival-meta",
        },
    ),
    ("org-nottara", None, "meta", {"pixel_id": "3106559256268506"}),
    (
        "org-rocknights",
        None,
        "google_ads",
        {
            "conversion_id": "AW-736702401",
            "conversion_labels": {"purchase": "3hJnCKSw6KEBEMHfpN8C"},
            "conversion_actions": {"purchase": "6543210987"},
            "customer_id": "123-456-7890",
            "refresh_token": "sandbox-demo-rocknights-google",
        },
    ),
    ("org-jazzpark", None, "gtm", {"container_id": "GTM-T37L75D"}),
]


def load_demo_tracking_codes(client: MarketplaceClient) -> None:
    """Add the demo codes that are missing; existing ones (maybe edited) are left alone."""
    organizers = {org.external_id: org for org in client.organizers.all()}
    events = {event.external_id: event for event in client.events.all()}
    with transaction.atomic():
        for name, provider, settings in MARKETPLACE_CODES:
            if not MarketplaceTrackingCode.objects.filter(client=client, name=name).exists():
                services.create_marketplace_code(
                    client, services.CodeInput(provider=provider, settings=settings, name=name)
                )
        for organizer_id, event_id, provider, settings in ORGANIZER_CODES:
            organizer = organizers.get(organizer_id)
            event = events.get(event_id) if event_id else None
            if organizer is None or (event_id and event is None):
                continue
            exists = EventTrackingCode.objects.filter(
                organizer=organizer, event=event, provider=provider
            ).exists()
            if not exists:
                services.create_code(
                    organizer,
                    services.CodeInput(
                        provider=provider,
                        settings=settings,
                        event_id=event.pk if event else None,
                    ),
                )
