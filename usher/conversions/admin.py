"""Staff's view of the delivery outbox and the platform calls, with replay."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from usher.conversions import services
from usher.conversions.models import ConversionDelivery, DeliveryBatch
from usher.conversions.tasks import schedule_dispatch
from usher.lib.admin import ReadOnlyScopedAdmin


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
