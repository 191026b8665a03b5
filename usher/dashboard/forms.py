"""The organizer panel's tracking-code form.

It only collects input: validation is `usher.tracking.services` (the same as the API),
whose errors are mapped back onto the fields here. Credentials are write-only password
inputs that never render a value; empty keeps the stored one.
"""

from __future__ import annotations

from typing import Any

from django import forms

from usher.lib.errors import InvalidInput
from usher.marketplace.models import MarketplaceEvent, MarketplaceOrganizer
from usher.tracking.forms import CredentialFields, SettingsFields, merge_secrets, settings_initial
from usher.tracking.models import EventTrackingCode
from usher.tracking.resolved import Provider
from usher.tracking.services import CodeInput


class TrackingCodeForm(CredentialFields, SettingsFields, forms.Form):
    provider = forms.ChoiceField(choices=Provider.choices)
    event = forms.ModelChoiceField(
        queryset=MarketplaceEvent.objects.none(),
        required=False,
        empty_label="All my events (default)",
        help_text="A code for one event replaces your default for that provider on its page.",
    )
    enabled = forms.BooleanField(required=False, initial=True)

    field_order = ["provider", "tag_id", "event", "enabled"]

    def __init__(
        self,
        *args: Any,
        organizer: MarketplaceOrganizer,
        instance: EventTrackingCode | None = None,
        **kwargs: Any,
    ) -> None:
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "provider": instance.provider,
                "event": instance.event_id,
                "enabled": instance.enabled,
                **settings_initial(instance.settings or {}, instance.provider),
            }
        super().__init__(*args, **kwargs)
        self.fields["event"].queryset = MarketplaceEvent.objects.for_organizer(organizer)

    def to_code_input(self) -> CodeInput:
        """The service input: stored settings kept, the form's fields laid over them."""
        data = self.cleaned_data
        provider = data["provider"]
        same_provider = self.instance is not None and self.instance.provider == provider
        stored = self.instance.settings if same_provider else None
        return CodeInput(
            provider=provider,
            settings=merge_secrets(self.settings_from_fields(provider, stored), data),
            enabled=data["enabled"],
            event_id=data["event"].pk if data.get("event") else None,
        )

    def add_service_error(self, exc: InvalidInput) -> None:
        self.add_settings_error(exc)
