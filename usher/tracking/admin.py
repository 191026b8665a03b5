"""Marketplace staff's admin for all organizers' tracking codes and the marketplace's own.

Writes go through `usher.tracking.services`, so the admin validates exactly like the API.
Staff edit a code's settings with the organizer panel's per-provider fields (one
implementation in `usher.tracking.forms`), not as raw JSON; settings the forms do not
edit (custom params set through the API) are kept.
Credentials are write-only form fields (a password input that never renders its value;
empty keeps the stored one); lists and pages show only whether one is set.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from usher.events.names import StandardEvent
from usher.lib.admin import ClientScopedAdmin
from usher.lib.errors import Conflict, InvalidInput
from usher.tracking import services
from usher.tracking.forms import (
    PER_EVENT_SETTINGS,
    CredentialFields,
    SettingsFields,
    merge_secrets,
    per_event_field,
    settings_initial,
)
from usher.tracking.models import SECRET_NAMES, EventTrackingCode, MarketplaceTrackingCode
from usher.tracking.providers import clean_settings


class SecretFieldsForm(CredentialFields, SettingsFields, forms.ModelForm):
    """The panel's per-provider settings fields and write-only credential fields (one
    implementation, `usher.tracking.forms`), with service errors turned into form errors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        instance = kwargs.get("instance")
        if instance is not None and instance.pk and instance.provider:
            stored = settings_initial(instance.settings or {}, instance.provider)
            kwargs["initial"] = {**stored, **(kwargs.get("initial") or {})}
        super().__init__(*args, **kwargs)

    def code_input(self) -> services.CodeInput:
        data = self.cleaned_data
        provider = data.get("provider") or ""
        same_provider = self.instance.pk and self.instance.provider == provider
        stored = self.instance.settings if same_provider else None
        return services.CodeInput(
            provider=provider,
            settings=merge_secrets(self.settings_from_fields(provider, stored), data),
            enabled=bool(data.get("enabled")),
            event_id=data["event"].pk if data.get("event") else None,
            name=data.get("name") or "",
        )

    def add_service_error(self, exc: InvalidInput) -> None:
        """Show a service error beside the field it names."""
        loc = [str(part) for part in exc.loc]
        if loc[-1:] == ["provider"]:
            self.add_error("provider", exc.message)
        elif loc[-1] in SECRET_NAMES:
            self.add_error(loc[-1], exc.message)
        else:
            self.add_settings_error(exc)


class EventTrackingCodeForm(SecretFieldsForm):
    class Meta:
        model = EventTrackingCode
        fields = ["organizer", "event", "provider", "enabled"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        organizer = cleaned.get("organizer")
        if organizer is not None and not self.errors:
            instance = self.instance if self.instance.pk else None
            try:
                services.clean_code_input(organizer, self.code_input(), instance)
            except InvalidInput as exc:
                self.add_service_error(exc)
            except Http404:
                self.add_error("event", "This event does not belong to the selected organizer.")
            except Conflict:
                pass  # the model's unique constraints report it on full_clean
        return cleaned


class MarketplaceTrackingCodeForm(SecretFieldsForm):
    class Meta:
        model = MarketplaceTrackingCode
        fields = ["client", "name", "provider", "enabled"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not self.errors:
            try:
                clean_settings(cleaned.get("provider") or "", self.code_input().settings)
            except InvalidInput as exc:
                self.add_service_error(exc)
        return cleaned


SETTINGS_FIELDSET = (
    "Settings",
    {
        "fields": [
            "tag_id",
            "conversion_events",
            "advanced_matching",
            "test_event_code",
        ]
    },
)
GOOGLE_ADS_FIELDSET = (
    "Google Ads: customer, conversion labels and server-side conversion actions",
    {
        "classes": ["collapse"],
        "fields": [
            "customer_id",
            *(
                per_event_field(prefix, event)
                for prefix in PER_EVENT_SETTINGS
                for event in StandardEvent
            ),
        ],
    },
)
CREDENTIALS_FIELDSET = (
    "Server-side credentials (write-only)",
    {
        "fields": [
            "token_set",
            "access_token",
            "clear_access_token",
            "api_secret",
            "clear_api_secret",
            "refresh_token",
            "clear_refresh_token",
        ]
    },
)
TIMESTAMPS_FIELDSET = (None, {"fields": ["created_at", "updated_at"]})


class TokenStatusMixin:
    """What both code admins share: credential status, the tag id, and writes and deletes
    that go through the services (validation, cache invalidation, logging)."""

    readonly_fields = ["token_set", "created_at", "updated_at"]

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete_code(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for code in queryset:
            self.delete_code(code)

    @admin.display(description="token set", boolean=False)
    def token_set(self, obj: EventTrackingCode | MarketplaceTrackingCode) -> str:
        return "yes" if obj.has_credential else "no"

    @admin.display(description="id")
    def tag(self, obj: EventTrackingCode | MarketplaceTrackingCode) -> str:
        return obj.tag_id


@admin.register(EventTrackingCode)
class EventTrackingCodeAdmin(TokenStatusMixin, ClientScopedAdmin):
    form = EventTrackingCodeForm
    list_display = [
        "id",
        "organizer",
        "event",
        "provider",
        "tag",
        "enabled",
        "token_set",
        "updated_at",
    ]
    list_filter = [
        "provider",
        "enabled",
        ("organizer", admin.RelatedOnlyFieldListFilter),
        ("event", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["organizer", "event"]
    search_fields = ["organizer__name", "event__name", "event__slug"]
    fieldsets = [
        (None, {"fields": ["organizer", "event", "provider", "enabled"]}),
        SETTINGS_FIELDSET,
        GOOGLE_ADS_FIELDSET,
        CREDENTIALS_FIELDSET,
        TIMESTAMPS_FIELDSET,
    ]
    delete_code = staticmethod(services.delete_code)

    def save_model(
        self, request: HttpRequest, obj: EventTrackingCode, form: Any, change: bool
    ) -> None:
        services.save_code(obj, form.cleaned_data["organizer"], form.code_input())


@admin.register(MarketplaceTrackingCode)
class MarketplaceTrackingCodeAdmin(TokenStatusMixin, ClientScopedAdmin):
    form = MarketplaceTrackingCodeForm
    list_display = ["id", "name", "client", "provider", "tag", "enabled", "token_set", "updated_at"]
    list_filter = ["provider", "enabled"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["client", "name", "provider", "enabled"]}),
        SETTINGS_FIELDSET,
        GOOGLE_ADS_FIELDSET,
        CREDENTIALS_FIELDSET,
        TIMESTAMPS_FIELDSET,
    ]
    delete_code = staticmethod(services.delete_marketplace_code)

    def save_model(
        self, request: HttpRequest, obj: MarketplaceTrackingCode, form: Any, change: bool
    ) -> None:
        services.save_marketplace_code(obj, form.cleaned_data["client"], form.code_input())
