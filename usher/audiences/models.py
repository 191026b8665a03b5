"""Remarketing audiences (plan 2.3): who Usher asks a platform to show ads to again.

An audience belongs to one organizer, one platform and optionally one event. Its
members are computed by a set-based builder (see `builders.py`) and kept in
`AudienceMember` with a sync state, so each sync sends only what changed since the last
one and a sync that fails half-way resumes without resending what already went out.
Every sync is logged in `AudienceSyncLog` for staff.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q

from usher.lib.tenancy import TenantManager
from usher.marketplace.models import MarketplaceClient, MarketplaceEvent, MarketplaceOrganizer


class AudiencePlatform(models.TextChoices):
    META = "meta", "Meta"
    GOOGLE_ADS = "google_ads", "Google Ads"
    TIKTOK = "tiktok", "TikTok"


class AudienceType(models.TextChoices):
    WEBSITE_VISITORS = "website_visitors", "Website visitors"
    TICKET_BUYERS = "ticket_buyers", "Ticket buyers"
    CART_ABANDONERS = "cart_abandoners", "Cart abandoners"
    EVENT_VIEWERS = "event_viewers", "Event viewers"
    LOOKALIKE = "lookalike", "Lookalike"
    CUSTOM_SEGMENT = "custom_segment", "Custom segment"


class AudienceStatus(models.TextChoices):
    BUILDING = "building", "Building"  # members being computed, or waiting (see status_reason)
    READY = "ready", "Ready"  # members computed, not yet on the platform
    SYNCING = "syncing", "Syncing"  # a sync is sending the difference
    ACTIVE = "active", "Active"  # on the platform and up to date
    EXPIRED = "expired", "Expired"  # past expires_at: members removed from the platform


class RefreshFrequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class RemarketingAudience(models.Model):
    """One audience on one platform; `criteria` follows the plan's keys (see services)."""

    client = models.ForeignKey(
        MarketplaceClient, on_delete=models.CASCADE, related_name="audiences"
    )
    organizer = models.ForeignKey(
        MarketplaceOrganizer, on_delete=models.CASCADE, related_name="audiences"
    )
    event = models.ForeignKey(
        MarketplaceEvent,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="audiences",
        help_text="Empty: built over all the organizer's events.",
    )
    platform = models.CharField(max_length=20, choices=AudiencePlatform.choices)
    audience_type = models.CharField(max_length=30, choices=AudienceType.choices)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    criteria = models.JSONField(default=dict, blank=True)
    # The platform account the audience lives in: Meta ad account digits (no `act_`),
    # Google Ads customer id (10 digits), TikTok advertiser id.
    ad_account_id = models.CharField(max_length=64, blank=True)
    external_audience_id = models.CharField(max_length=255, blank=True)
    member_count = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=20, choices=AudienceStatus.choices, default=AudienceStatus.BUILDING
    )
    # Why the audience is waiting (below a platform minimum, no credential, no consent...).
    status_reason = models.CharField(max_length=500, blank=True)
    auto_refresh = models.BooleanField(default=True)
    refresh_frequency = models.CharField(
        max_length=10, choices=RefreshFrequency.choices, default=RefreshFrequency.DAILY
    )
    last_built_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "external_audience_id"],
                condition=~Q(external_audience_id=""),
                name="uniq_audience_external_id",
            ),
            models.CheckConstraint(
                condition=Q(platform__in=AudiencePlatform.values), name="audience_known_platform"
            ),
            models.CheckConstraint(
                condition=Q(audience_type__in=AudienceType.values), name="audience_known_type"
            ),
        ]
        indexes = [
            models.Index(fields=["organizer", "platform", "status"], name="audience_org_plat_idx"),
            models.Index(fields=["event", "audience_type"], name="audience_event_type_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_platform_display()})"


class MemberState(models.TextChoices):
    PENDING_ADD = "pending_add", "To add"  # in the audience, not yet on the platform
    SYNCED = "synced", "On the platform"
    PENDING_REMOVE = "pending_remove", "To remove"  # left the audience, still on the platform


class AudienceMember(models.Model):
    """One matchable identity of a customer-list audience, in the platform's form.

    `member_key` is the identity's hash (the platform's email hash, else its phone hash),
    unique per audience; `identifiers` are the hashed values sent (email, phone, names,
    country as the platform's audience API takes them). Only hashes are stored.
    """

    audience = models.ForeignKey(
        RemarketingAudience, on_delete=models.CASCADE, related_name="members"
    )
    member_key = models.CharField(max_length=64)
    identifiers = models.JSONField(default=dict)
    state = models.CharField(
        max_length=20, choices=MemberState.choices, default=MemberState.PENDING_ADD
    )
    updated_at = models.DateTimeField(auto_now=True)

    TENANT_ORGANIZER_PATH: ClassVar[str] = "audience__organizer"
    TENANT_CLIENT_PATH: ClassVar[str] = "audience__client"
    objects = TenantManager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["audience", "member_key"], name="uniq_audience_member"),
        ]
        indexes = [
            models.Index(fields=["audience", "state"], name="audience_member_state_idx"),
            models.Index(fields=["member_key"], name="audience_member_key_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.member_key[:12]}… in {self.audience_id}"


class SyncStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    WAITING = "waiting", "Waiting"  # nothing sent: below a minimum or missing a credential
    FAILED = "failed", "Failed"


class AudienceSyncLog(models.Model):
    """One sync of one audience: what was sent, how it ended (staff's sync log)."""

    audience = models.ForeignKey(
        RemarketingAudience, on_delete=models.CASCADE, related_name="sync_logs"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=SyncStatus.choices, default=SyncStatus.RUNNING)
    added_count = models.PositiveIntegerField(default=0)
    removed_count = models.PositiveIntegerField(default=0)
    batches_count = models.PositiveIntegerField(default=0)  # confirmed by the platform
    message = models.TextField(blank=True)

    TENANT_ORGANIZER_PATH: ClassVar[str] = "audience__organizer"
    TENANT_CLIENT_PATH: ClassVar[str] = "audience__client"
    objects = TenantManager()

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"sync of {self.audience_id} at {self.started_at:%Y-%m-%d %H:%M} ({self.status})"
