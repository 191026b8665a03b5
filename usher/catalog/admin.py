"""Staff's view of each ad account's event catalog: its platform id, sync state and last
error, the items with what the platform refused, and "sync now"."""

from __future__ import annotations

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from usher.catalog.models import CatalogFeed, CatalogItemState
from usher.catalog.tasks import sync_catalog_task
from usher.lib.admin import ReadOnlyScopedAdmin


class RefusedItemInline(admin.TabularInline):
    """The items the platform refused, with its reason (a catalog's thousands of synced
    items are counted on the feed, not listed)."""

    model = CatalogItemState
    verbose_name_plural = "Items the platform refused"
    fields = ["content_id", "event", "synced_at", "last_error"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[CatalogItemState]:
        return super().get_queryset(request).exclude(refused_hash="").select_related("event")


@admin.register(CatalogFeed)
class CatalogFeedAdmin(ReadOnlyScopedAdmin):
    client_path = "ad_account__client"
    list_display = [
        "ad_account",
        "catalog_id",
        "status",
        "items_count",
        "refused_count",
        "last_synced_at",
        "last_error",
        "last_error_at",
    ]
    list_filter = ["status", "ad_account__platform"]
    search_fields = ["catalog_id", "ad_account__account_id", "ad_account__name", "last_error"]
    list_select_related = ["ad_account"]
    inlines = [RefusedItemInline]
    actions = ["sync_now"]

    @admin.action(description="Sync the selected catalogs now (refused items tried again)")
    def sync_now(self, request: HttpRequest, queryset: QuerySet[CatalogFeed]) -> None:
        ids = list(queryset.values_list("ad_account_id", flat=True))
        # Staff sync after fixing what the platform refused (a setting, the catalog):
        # forgetting the refusals lets the unchanged items go out again.
        CatalogItemState.objects.filter(feed__in=queryset).update(refused_hash="")
        for account_id in ids:
            transaction.on_commit(lambda account_id=account_id: sync_catalog_task.delay(account_id))
        self.message_user(request, f"Queued {len(ids)} catalog(s) for a sync.")
