"""The event store: what visitors did, as tracker.js reported it to the collector.

`TrackingEvent.event_id` is the key shared with the browser pixels, so a resent event is
stored once (unique per client) and the platforms can deduplicate the pixel copy against
the server copy. IP address and user agent are kept only while deliveries need them
(`purge_network_data`). `VisitorTouch` keeps each landing's click ids and UTM tags with
their time, so orders can be attributed to the campaign that brought them (last click
within a window).
"""

from __future__ import annotations

from django.db import models

from usher.events.names import StandardEvent
from usher.lib.tenancy import TenantManager
from usher.marketplace.models import (
    AdClickAttribution,
    MarketplaceClient,
    MarketplaceEvent,
    MarketplaceOrganizer,
)


class TrackingEvent(AdClickAttribution):
    """One browser event as the collector stored it (the dedup key shared with the pixels)."""

    client = models.ForeignKey(MarketplaceClient, on_delete=models.CASCADE, related_name="+")
    # Named apart from `event_id`, which is the dedup key shared with the pixels.
    marketplace_event = models.ForeignKey(
        MarketplaceEvent,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tracking_events",
    )
    organizer = models.ForeignKey(
        MarketplaceOrganizer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tracking_events",
    )
    event_id = models.CharField(max_length=100)
    name = models.CharField(max_length=20, choices=StandardEvent.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    visitor_id = models.CharField(max_length=64, blank=True)
    page_url = models.URLField(max_length=2000, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    network_data_purged_at = models.DateTimeField(null=True, blank=True)
    # Set once the event has been turned into deliveries; the sweep catches up on any the
    # broker never got to (the outbox must not depend on the broker being up).
    fanned_out_at = models.DateTimeField(null=True, blank=True)
    value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    content_ids = models.JSONField(default=list, blank=True)
    num_items = models.PositiveIntegerField(null=True, blank=True)
    order_external_id = models.CharField(max_length=100, blank=True)
    fbp = models.CharField(max_length=200, blank=True)
    ttp = models.CharField(max_length=200, blank=True)
    # GA's client id (from the `_ga` cookie), so GA4 joins the server copy to the session.
    ga_client_id = models.CharField(max_length=100, blank=True)
    # The visitor's choices when the event happened: ad_storage, analytics_storage,
    # ad_user_data, ad_personalization -> bool. Missing means not granted (opt-in).
    consent = models.JSONField(default=dict, blank=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(fields=["client", "event_id"], name="uniq_tracking_event_id"),
        ]
        indexes = [
            models.Index(
                fields=["client", "visitor_id", "occurred_at"], name="tracking_visitor_idx"
            ),
            models.Index(
                fields=["marketplace_event", "name", "occurred_at"], name="tracking_event_name_idx"
            ),
            models.Index(
                fields=["received_at"],
                condition=models.Q(fanned_out_at__isnull=True),
                name="tracking_not_fanned_out_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.event_id}"


class VisitorTouch(AdClickAttribution):
    """A landing that carried click ids or UTM tags: the raw material of attribution."""

    client = models.ForeignKey(MarketplaceClient, on_delete=models.CASCADE, related_name="+")
    visitor_id = models.CharField(max_length=64)
    touched_at = models.DateTimeField()
    marketplace_event = models.ForeignKey(
        MarketplaceEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    landing_url = models.URLField(max_length=2000, blank=True)
    # A digest of the click ids and tags: the same landing reported twice is one touch.
    touch_key = models.CharField(max_length=64)

    class Meta:
        ordering = ["-touched_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "visitor_id", "touch_key"], name="uniq_visitor_touch"
            ),
        ]
        indexes = [
            models.Index(
                fields=["client", "visitor_id", "touched_at"], name="touch_visitor_time_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"touch {self.visitor_id} at {self.touched_at:%Y-%m-%d %H:%M}"
