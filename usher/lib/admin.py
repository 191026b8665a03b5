"""Admin helpers: marketplace staff see their own client's rows; superusers see all."""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.http import HttpRequest


class ClientScopedAdmin(admin.ModelAdmin):
    """Limits rows and foreign-key choices to the staff user's marketplace client.

    `client_path` is the lookup from the model to its `MarketplaceClient`.
    """

    client_path = "client"

    def _scope(self, request: HttpRequest, queryset: models.QuerySet, path: str) -> models.QuerySet:
        user = request.user
        if user.is_superuser:
            return queryset
        if getattr(user, "client_id", None) is None or getattr(user, "organizer_id", None):
            return queryset.none()
        return queryset.filter(**{path: user.client_id})

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return self._scope(request, super().get_queryset(request), self.client_path)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        related = db_field.remote_field.model
        path = {"MarketplaceClient": "pk"}.get(related.__name__, "client")
        if hasattr(related, "client") or path == "pk":
            kwargs["queryset"] = self._scope(request, related._default_manager.all(), path)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyScopedAdmin(ClientScopedAdmin):
    """Rows written only by the service itself (outbox, logs, job runs): staff look."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
