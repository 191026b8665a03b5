"""Staff's view of the delivery outbox and the platform calls, with replay."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from usher.conversions import services
from usher.conversions.models import ConversionDelivery, DeliveryBatch
from usher.conversions.tasks import schedule_dispatch
from usher.lib.admin import ReadOnlyScopedAdmin


class AttemptInline(admin.TabularInline):
    """Every call that carried the delivery, newest first: its whole history of tries."""

    model = DeliveryBatch.deliveries.through
    fk_name = "conversiondelivery"
    verbose_name = "attempt"
    verbose_name_plural = "attempts (every call that carried this delivery)"
    fields = readonly_fields = [
        "sent_at",
        "answer",
        "error",
        "duration",
        "batch_size",
        "call",
    ]
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .select_related("deliverybatch")
            .order_by("-deliverybatch__created_at")
        )

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="sent at")
    def sent_at(self, row) -> object:
        return row.deliverybatch.created_at

    @admin.display(description="HTTP status")
    def answer(self, row) -> object:
        return row.deliverybatch.response_status

    @admin.display(description="error")
    def error(self, row) -> str:
        batch = row.deliverybatch
        return f"{batch.error_kind}: {batch.error_message}" if batch.error_kind else ""

    @admin.display(description="duration (ms)")
    def duration(self, row) -> int:
        return row.deliverybatch.duration_ms

    @admin.display(description="events in the call")
    def batch_size(self, row) -> int:
        return row.deliverybatch.events_count

    @admin.display(description="call")
    def call(self, row) -> str:
        url = reverse("admin:conversions_deliverybatch_change", args=[row.deliverybatch_id])
        return format_html('<a href="{}">request and answer</a>', url)


@admin.register(ConversionDelivery)
class ConversionDeliveryAdmin(ReadOnlyScopedAdmin):
    list_display = [
        "event_name",
        "event_id",
        "provider",
        "destination_key",
        "organizer",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_error",
    ]
    list_filter = ["status", "provider", "event_name", "minimal_data"]
    search_fields = ["event_id", "destination_key", "last_error"]
    list_select_related = ["organizer"]
    raw_id_fields = ["tracking_event", "order", "last_batch", "organizer_code", "marketplace_code"]
    inlines = [AttemptInline]
    actions = ["replay"]

    @admin.action(description="Replay selected dead or rejected deliveries")
    def replay(self, request: HttpRequest, queryset: QuerySet[ConversionDelivery]) -> None:
        keys = services.replay(queryset)
        schedule_dispatch(keys)
        self.message_user(request, f"Queued again for {len(keys)} destination(s).")


@admin.register(DeliveryBatch)
class DeliveryBatchAdmin(ReadOnlyScopedAdmin):
    list_display = [
        "created_at",
        "provider",
        "destination_key",
        "events_count",
        "delivered_count",
        "rejected_count",
        "retry_count",
        "response_status",
        "error_kind",
        "duration_ms",
    ]
    list_filter = ["provider", "error_kind"]
    search_fields = ["destination_key", "error_message"]
