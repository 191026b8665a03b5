"""Staff's view of every audience of their marketplace and of each sync, with "refresh
now". Audiences are created by the campaigns engine and organizers; staff read them and
trigger refreshes. Members are hashes and are not shown, only counted."""

from __future__ import annotations

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from usher.audiences.models import AudienceStatus, AudienceSyncLog, RemarketingAudience
from usher.audiences.tasks import refresh_audience_task
from usher.lib.admin import ReadOnlyScopedAdmin


class SyncLogInline(admin.TabularInline):
    model = AudienceSyncLog
    fields = ["started_at", "finished_at", "status", "added_count", "removed_count", "message"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-started_at"]


@admin.register(RemarketingAudience)
class RemarketingAudienceAdmin(ReadOnlyScopedAdmin):
    list_display = [
        "name",
        "organizer",
        "event",
        "platform",
        "audience_type",
        "member_count",
        "status",
        "status_reason",
        "last_synced_at",
        "expires_at",
    ]
    list_filter = ["platform", "audience_type", "status", "refresh_frequency", "auto_refresh"]
    search_fields = ["name", "external_audience_id", "organizer__name", "event__name"]
    list_select_related = ["organizer", "event"]
    raw_id_fields = ["organizer", "event"]
    inlines = [SyncLogInline]
    actions = ["refresh_now"]

    @admin.action(description="Rebuild and sync the selected audiences now")
    def refresh_now(self, request: HttpRequest, queryset: QuerySet[RemarketingAudience]) -> None:
        ids = list(queryset.exclude(status=AudienceStatus.EXPIRED).values_list("pk", flat=True))
        for audience_id in ids:
            transaction.on_commit(
                lambda audience_id=audience_id: refresh_audience_task.delay(audience_id)
            )
        self.message_user(request, f"Queued {len(ids)} audience(s) for a refresh.")


@admin.register(AudienceSyncLog)
class AudienceSyncLogAdmin(ReadOnlyScopedAdmin):
    client_path = "audience__client"
    list_display = [
        "started_at",
        "audience",
        "status",
        "added_count",
        "removed_count",
        "batches_count",
        "finished_at",
        "message",
    ]
    list_filter = ["status", "audience__platform"]
    search_fields = ["audience__name", "message"]
    list_select_related = ["audience"]
