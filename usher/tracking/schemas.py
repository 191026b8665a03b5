"""Request and response schemas of the tracking-code API and the tracking-config document.

Shapes only: provider-specific rules live in `usher.tracking.providers`, so the API, the
admin and the panel share them. Credentials are accepted inside `settings` and never
appear in any response schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import Field

from usher.tracking.models import EventTrackingCode
from usher.tracking.resolved import CodeSource, Provider

SETTINGS_DESCRIPTION = (
    "The provider's id (meta `pixel_id`, ga4 `measurement_id`, gtm `container_id`, "
    "google_ads `conversion_id` with `conversion_labels` per event and `customer_id`, "
    "tiktok `pixel_code`); `conversion_events` (default: all), `advanced_matching`, "
    "`test_event_code`, `custom_params` (a flat object of scalars). Credentials for "
    "server-side sending (meta and tiktok `access_token`, google_ads OAuth `refresh_token`, "
    "ga4 `api_secret`) are write-only: left out keeps the stored one, null removes it."
)


class TrackingCodeIn(Schema):
    provider: Provider
    event: int | None = Field(
        None, description="One of your event ids; empty for your default for all events."
    )
    enabled: bool = True
    settings: dict[str, Any] = Field(default_factory=dict, description=SETTINGS_DESCRIPTION)


class TrackingCodePatch(Schema):
    """A partial update: only the fields sent change (PUT replaces the whole code)."""

    provider: Provider | None = None
    event: int | None = Field(None, description="An event id, or null for your default.")
    enabled: bool | None = None
    settings: dict[str, Any] | None = Field(
        None,
        description=(
            "Merged key by key into the current settings; a key set to null goes back to "
            "its default (a credential set to null is removed). " + SETTINGS_DESCRIPTION
        ),
    )


class TrackingCodeOut(Schema):
    id: int
    provider: str
    event: int | None = Field(None, description="Empty for the organizer's default.")
    level: str = Field(description="`event` or `organizer_default`.")
    enabled: bool
    settings: dict[str, Any]
    has_access_token: bool
    has_api_secret: bool
    has_refresh_token: bool
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_event(obj: EventTrackingCode) -> int | None:
        return obj.event_id

    @staticmethod
    def resolve_level(obj: EventTrackingCode) -> str:
        return CodeSource.ORGANIZER_DEFAULT if obj.event_id is None else CodeSource.EVENT


class ConflictOut(Schema):
    detail: str
    existing_id: int | None


# --- the public tracking-config document (documented here; built in public_config) ---


class PublicCodeOut(Schema):
    provider: str
    source: str = Field(description="`event`, `organizer_default` or `marketplace`.")
    id: str = Field(description="The pixel, measurement, container or AW- conversion id.")
    events: list[str]
    advanced_matching: bool
    params: dict[str, str | int | float | bool]
    labels: dict[str, str] = Field(description="Google Ads: conversion label per event.")


class ConsentOut(Schema):
    mode: str = Field(description="`opt_in`: nothing is sent before the visitor consents.")


class ConfigEventOut(Schema):
    slug: str
    name: str
    currency: str
    external_id: str


class ConfigOrganizerOut(Schema):
    external_id: str
    name: str


class EventTrackingConfigOut(Schema):
    event: ConfigEventOut
    codes: list[PublicCodeOut]
    consent: ConsentOut
    collector_url: str


class ConfigMarketplaceOut(Schema):
    name: str


class MarketplaceTrackingConfigOut(Schema):
    marketplace: ConfigMarketplaceOut
    codes: list[PublicCodeOut]
    consent: ConsentOut
    collector_url: str


class OrganizerTrackingConfigOut(Schema):
    organizer: ConfigOrganizerOut
    codes: list[PublicCodeOut]
    consent: ConsentOut
    collector_url: str
