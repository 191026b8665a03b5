"""The event catalog's sync state: one feed per ad account, one row per item on it.

The items themselves are not stored: they are built from the marketplace's events on
every sync (`items.py`). What is stored is what each platform has, so a sync sends only
the difference: the content hash of what was last accepted, and of what was last
refused (not sent again until the event changes).
"""

from __future__ import annotations

from django.db import models

from usher.campaigns.models import AdAccount
from usher.marketplace.models import MarketplaceEvent


class FeedStatus(models.TextChoices):
    PENDING = "pending", "Not synced yet"
    OK = "ok", "In sync"
    PARTIAL = "partial", "In sync, some items refused"
    FAILING = "failing", "Failing (retried next run)"


class CatalogFeed(models.Model):
    """The event catalog of one ad account on its platform: the organizer's events on
    an organizer's account, every event of the marketplace on the marketplace's own."""

    ad_account = models.OneToOneField(
        AdAccount, on_delete=models.CASCADE, related_name="catalog_feed"
    )
    catalog_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="The platform's catalog (Meta, TikTok) or asset set (Google Ads) id.",
    )
    status = models.CharField(max_length=20, choices=FeedStatus.choices, default=FeedStatus.PENDING)
    items_count = models.PositiveIntegerField(default=0, help_text="Items on the platform.")
    refused_count = models.PositiveIntegerField(default=0)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["ad_account_id"]

    def __str__(self) -> str:
        return f"Catalog of {self.ad_account}"


class CatalogItemState(models.Model):
    """One event's item on one feed. `synced_hash` is empty until the platform has it;
    the row goes once the item is deleted there."""

    feed = models.ForeignKey(CatalogFeed, on_delete=models.CASCADE, related_name="items")
    event = models.ForeignKey(
        MarketplaceEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    content_id = models.CharField(max_length=100)
    ref = models.CharField(
        max_length=100, blank=True, help_text="The platform's own id of the item (Google asset)."
    )
    synced_hash = models.CharField(max_length=64, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    refused_hash = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["feed_id", "content_id"]
        constraints = [
            models.UniqueConstraint(fields=["feed", "content_id"], name="uniq_catalog_item")
        ]

    def __str__(self) -> str:
        return f"{self.content_id} on {self.feed_id}"
