"""What the resolver hands to everything that renders or sends tracking codes.

A plain, immutable value (no model), so that it can be cached, serialized for
tracker.js and rendered into HTML without touching the database again. It never holds
secrets: access tokens stay on the model and are decrypted only by the conversions
pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import models

Scalar = str | int | float | bool


class Provider(models.TextChoices):
    META = "meta", "Meta Pixel"
    GOOGLE_ADS = "google_ads", "Google Ads"
    GA4 = "ga4", "Google Analytics 4"
    GTM = "gtm", "Google Tag Manager"
    TIKTOK = "tiktok", "TikTok Pixel"


class CodeSource(models.TextChoices):
    """Where a resolved code came from, in the fallback order."""

    EVENT = "event", "Event-specific code"
    ORGANIZER_DEFAULT = "organizer_default", "Organizer default"
    MARKETPLACE = "marketplace", "Marketplace code"


@dataclass(frozen=True)
class ResolvedCode:
    provider: str  # a Provider value
    source: str  # a CodeSource value
    code_id: int  # the row's primary key (EventTrackingCode or the marketplace's own code)
    tag_id: str  # pixel id, measurement id, container id or AW- conversion id
    conversion_events: tuple[str, ...]  # StandardEvent values this code receives
    advanced_matching: bool = False
    custom_params: dict[str, Scalar] = field(default_factory=dict)
    # Google Ads only: the conversion label per StandardEvent value.
    conversion_labels: dict[str, str] = field(default_factory=dict)

    def receives(self, event_name: str) -> bool:
        return event_name in self.conversion_events

    def to_public_dict(self) -> dict[str, Any]:
        """The JSON tracker.js receives (nothing secret is on this object)."""
        return {
            "provider": self.provider,
            "source": self.source,
            "id": self.tag_id,
            "events": list(self.conversion_events),
            "advanced_matching": self.advanced_matching,
            "params": dict(self.custom_params),
            "labels": dict(self.conversion_labels),
        }
