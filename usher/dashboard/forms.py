"""The organizer panel's tracking-code form.

It only collects input: validation is `usher.tracking.services` (the same as the API),
whose errors are mapped back onto the fields here. Credentials are write-only password
inputs that never render a value; empty keeps the stored one.
"""

from __future__ import annotations

from typing import Any

from django import forms

from usher.events.names import StandardEvent
from usher.lib.errors import InvalidInput
from usher.marketplace.models import MarketplaceEvent, MarketplaceOrganizer
from usher.tracking.forms import CredentialFields, merge_secrets
from usher.tracking.models import EventTrackingCode
from usher.tracking.providers import SPECS, get_spec
from usher.tracking.resolved import Provider
from usher.tracking.services import CodeInput

# Settings this form edits; anything else already stored (custom params set through the
# API, for example) is kept as it is.
FORM_SETTINGS = ("conversion_events", "advanced_matching", "test_event_code")
ADS_ONLY_SETTINGS = ("conversion_labels", "customer_id")


def _label_field(event: StandardEvent) -> str:
    return f"label_{event.value}"


class TrackingCodeForm(CredentialFields, forms.Form):
    provider = forms.ChoiceField(choices=Provider.choices)
    tag_id = forms.CharField(
        label="ID",
        max_length=40,
        help_text="Pixel ID, Measurement ID (G-…), Container ID (GTM-…), Conversion ID (AW-…).",
    )
    event = forms.ModelChoiceField(
        queryset=MarketplaceEvent.objects.none(),
        required=False,
        empty_label="All my events (default)",
        help_text="A code for one event replaces your default for that provider on its page.",
    )
    enabled = forms.BooleanField(required=False, initial=True)
    conversion_events = forms.MultipleChoiceField(
        choices=StandardEvent.choices,
        required=False,
        initial=StandardEvent.values,
        widget=forms.CheckboxSelectMultiple,
        help_text="The events this code receives.",
    )
    advanced_matching = forms.BooleanField(
        required=False,
        label="Enhanced matching",
        help_text="Send hashed customer data (email, phone) to improve matching.",
    )
    test_event_code = forms.CharField(
        required=False, max_length=50, help_text="Meta/TikTok test event code, while testing."
    )
    customer_id = forms.CharField(
        required=False, max_length=12, label="Customer ID (Google Ads)", help_text="123-456-7890"
    )

    def __init__(
        self,
        *args: Any,
        organizer: MarketplaceOrganizer,
        instance: EventTrackingCode | None = None,
        **kwargs: Any,
    ) -> None:
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = self._initial_from(instance)
        super().__init__(*args, **kwargs)
        self.fields["event"].queryset = MarketplaceEvent.objects.for_organizer(organizer)
        for event in StandardEvent:
            self.fields[_label_field(event)] = forms.CharField(
                required=False, max_length=32, label=f"Conversion label: {event.label}"
            )

    @staticmethod
    def _initial_from(code: EventTrackingCode) -> dict[str, Any]:
        settings = code.settings or {}
        initial = {
            "provider": code.provider,
            "tag_id": code.tag_id,
            "event": code.event_id,
            "enabled": code.enabled,
            "customer_id": settings.get("customer_id", ""),
            **{name: settings.get(name) for name in FORM_SETTINGS},
        }
        for event, label in settings.get("conversion_labels", {}).items():
            initial[f"label_{event}"] = label
        return initial

    @property
    def label_fields(self) -> list[forms.BoundField]:
        return [self[_label_field(event)] for event in StandardEvent]

    def to_code_input(self) -> CodeInput:
        """The service input: stored settings kept, the form's fields laid over them."""
        data = self.cleaned_data
        provider = data["provider"]
        spec = get_spec(provider)
        same_provider = self.instance is not None and self.instance.provider == provider
        settings: dict[str, Any] = dict(self.instance.settings) if same_provider else {}
        for stale in ADS_ONLY_SETTINGS:
            settings.pop(stale, None)
        settings[spec.id_field] = data["tag_id"]
        settings.update({name: data[name] for name in FORM_SETTINGS})
        if "conversion_labels" in spec.extra_fields:
            labels = {
                event.value: data[_label_field(event)].strip()
                for event in StandardEvent
                if data[_label_field(event)].strip()
            }
            settings["conversion_labels"] = labels
            settings["customer_id"] = data["customer_id"].strip()
        return CodeInput(
            provider=provider,
            settings=merge_secrets(settings, data),
            enabled=data["enabled"],
            event_id=data["event"].pk if data.get("event") else None,
        )

    def add_service_error(self, exc: InvalidInput) -> None:
        """Put a service error on the field it names ("body.settings.pixel_id" → ID)."""
        loc = [str(part) for part in exc.loc[2:]] or [str(exc.loc[-1])]
        id_fields = {spec.id_field for spec in SPECS.values()}
        if loc[0] in id_fields:
            field: str | None = "tag_id"
        elif loc[0] == "conversion_labels" and len(loc) > 1 and loc[1] in StandardEvent.values:
            field = f"label_{loc[1]}"
        elif loc[0] in self.fields:
            field = loc[0]
        else:
            field = None
        message = exc.message if field else f"{'.'.join(loc)}: {exc.message}"
        self.add_error(field, message)
