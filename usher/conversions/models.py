"""The server-side delivery outbox.

One `ConversionDelivery` per (destination, event_id): the unique key is what stops Usher
itself from sending a conversion twice to one account, however often an event is
resent, fanned out or swept. Every platform call is kept as a `DeliveryBatch` with the
masked request and answer, linked to every delivery it carried, so the admin shows all
the tries of a delivery, not only the last.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from usher.events.models import TrackingEvent
from usher.events.names import StandardEvent
from usher.lib.tenancy import TenantManager
from usher.marketplace.models import MarketplaceClient, MarketplaceOrganizer, Order
from usher.tracking.models import EventTrackingCode, MarketplaceTrackingCode
from usher.tracking.resolved import Provider


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"  # claimed by a worker; its lease says until when
    DELIVERED = "delivered", "Delivered"
    RETRYING = "retrying", "Retrying"
    REJECTED = "rejected", "Rejected"  # the platform refused it; resending cannot help
    DEAD = "dead", "Dead"  # gave up after the last attempt; can be replayed from the admin


OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING, DeliveryStatus.SENDING)


class DeliveryBatch(models.Model):
    """One call to a platform: what was sent and what came back (secrets masked)."""

    client = models.ForeignKey(MarketplaceClient, on_delete=models.CASCADE, related_name="+")
    destination_key = models.CharField(max_length=40, db_index=True)
    provider = models.CharField(max_length=20, choices=Provider.choices)
    events_count = models.PositiveIntegerField()
    delivered_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    retry_count = models.PositiveIntegerField(default=0)
    error_kind = models.CharField(max_length=20, blank=True)
    error_message = models.TextField(blank=True)
    request_summary = models.JSONField(default=dict, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Every delivery this call carried (a delivery's history: `delivery.batches`).
    deliveries = models.ManyToManyField("ConversionDelivery", related_name="batches", blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "delivery batches"

    def __str__(self) -> str:
        return (
            f"{self.provider} batch of {self.events_count} at {self.created_at:%Y-%m-%d %H:%M:%S}"
        )


class ConversionDelivery(models.Model):
    """One conversion on its way to one destination (an organizer's or the marketplace's)."""

    client = models.ForeignKey(MarketplaceClient, on_delete=models.CASCADE, related_name="+")
    # Empty for events on pages of no organizer, sent to the marketplace's accounts only.
    organizer = models.ForeignKey(
        MarketplaceOrganizer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="conversion_deliveries",
    )
    destination_key = models.CharField(max_length=40)
    provider = models.CharField(max_length=20, choices=Provider.choices)
    # Exactly one of the two is set while the destination exists.
    organizer_code = models.ForeignKey(
        EventTrackingCode,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    marketplace_code = models.ForeignKey(
        MarketplaceTrackingCode,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    event_id = models.CharField(max_length=100)
    event_name = models.CharField(max_length=20, choices=StandardEvent.choices)
    # Where the conversion came from: a browser event, or a paid order from the core.
    tracking_event = models.ForeignKey(
        TrackingEvent, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    minimal_data = models.BooleanField(
        default=False, help_text="Sent without personal data (no marketing consent)."
    )
    status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_code = models.CharField(max_length=100, blank=True)
    last_batch = models.ForeignKey(
        DeliveryBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "conversion deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["destination_key", "event_id"], name="uniq_delivery_per_destination"
            ),
            models.CheckConstraint(
                condition=Q(tracking_event__isnull=False) | Q(order__isnull=False),
                name="delivery_has_a_source",
            ),
        ]
        indexes = [
            models.Index(
                fields=["destination_key", "status", "next_attempt_at"], name="delivery_due_idx"
            ),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_sweep_idx"),
            models.Index(fields=["organizer_code", "status"], name="delivery_code_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} {self.event_id} → {self.destination_key} ({self.status})"
