"""Admin helpers: marketplace staff see their own client's rows; superusers see all;
JSON typed by staff is refused if the database could not store it."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest

from usher.lib.validation import describe_unstorable, find_unstorable


class StorableJSONField(forms.JSONField):
    """A JSON form field that refuses what PostgreSQL cannot store (a lone surrogate such
    as `"\\ud800"` is valid JSON but not text) and can re-render it: the form shown again
    with the error must not itself fail to encode."""

    def to_python(self, value: Any) -> Any:
        converted = super().to_python(value)
        if found := find_unstorable(converted):
            path, char = found
            where = ".".join(str(part) for part in path) or "value"
            raise ValidationError(f"{where}: {describe_unstorable(char)}", code="unstorable")
        return converted

    def prepare_value(self, value: Any) -> Any:
        if not isinstance(value, forms.fields.InvalidJSONInput) and find_unstorable(value):
            return json.dumps(value, cls=self.encoder)  # ASCII escapes: renders as typed
        return super().prepare_value(value)


def scope_for_staff(user: Any, queryset: models.QuerySet, path: str) -> models.QuerySet:
    """`queryset` as a staff user may see it: their marketplace client's rows (`path` is
    the lookup to the client), everything for a superuser, nothing for anyone else
    (an organizer's user, or staff attached to no client)."""
    if user.is_superuser:
        return queryset
    if getattr(user, "client_id", None) is None or getattr(user, "organizer_id", None):
        return queryset.none()
    return queryset.filter(**{path: user.client_id})


class ClientScopedAdmin(admin.ModelAdmin):
    """Limits rows and foreign-key choices to the staff user's marketplace client.

    `client_path` is the lookup from the model to its `MarketplaceClient`.
    """

    client_path = "client"
    formfield_overrides = {models.JSONField: {"form_class": StorableJSONField}}

    def _scope(self, request: HttpRequest, queryset: models.QuerySet, path: str) -> models.QuerySet:
        return scope_for_staff(request.user, queryset, path)

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
