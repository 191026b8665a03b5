"""Notifications to organizers (budget low or exhausted, a campaign rejected, failing
deliveries, an audience below a platform's minimum) and alerts to the marketplace's
staff (spend anomalies, failing jobs)."""

from __future__ import annotations

from django.db import models

from usher.lib.tenancy import TenantManager
from usher.marketplace.models import MarketplaceClient, MarketplaceOrganizer


class NotificationKind(models.TextChoices):
    BUDGET_LOW = "budget_low", "Budget below 20%"
    BUDGET_EXHAUSTED = "budget_exhausted", "Budget exhausted"
    CAMPAIGN_REJECTED = "campaign_rejected", "Campaign rejected"
    DELIVERIES_FAILING = "deliveries_failing", "Conversions refused by a platform"
    AUDIENCE_BELOW_MINIMUM = "audience_below_minimum", "Audience below the platform's minimum"
    SPEND_ANOMALY = "spend_anomaly", "Spend anomaly"
    JOB_FAILING = "job_failing", "A scheduled job keeps failing"


class Notification(models.Model):
    """One message about one cause. `cause_key` names the cause (`budget:12:low`: the
    budget's id already says whose it is); the unique constraint makes a second notice
    about the same cause impossible, however many jobs notice it at once. `organizer`
    NULL: an alert for the marketplace's staff."""

    client = models.ForeignKey(MarketplaceClient, on_delete=models.CASCADE, related_name="+")
    organizer = models.ForeignKey(
        MarketplaceOrganizer,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    cause_key = models.CharField(max_length=120)
    title = models.CharField(max_length=200)
    body = models.TextField()
    link = models.CharField(max_length=300, blank=True, help_text="A path in Usher to act on it.")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "kind", "cause_key"], name="notification_once_per_cause"
            )
        ]
        indexes = [models.Index(fields=["organizer", "read_at"], name="notification_unread_idx")]

    def __str__(self) -> str:
        return self.title
