"""The fields of a tracking code, for every form that edits one (the organizer panel and
the staff admin): the per-provider settings (id, events, matching, test mode, Google Ads'
customer, labels and conversion actions) and the write-only credentials, with one set of
labels and help texts, one way of turning them into settings, one rule for laying what
was typed over the stored secrets, and one mapping of service errors back to fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms

from usher.events.names import StandardEvent
from usher.lib.errors import InvalidInput
from usher.tracking.models import SECRET_NAMES
from usher.tracking.providers import SPECS, get_spec

WRITE_ONLY_HELP = "Write-only: it is never shown again. Leave empty to keep the current one."


def _secret_field(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        required=False,
        strip=True,
        label=label,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=f"{help_text} {WRITE_ONLY_HELP}",
    )


class CredentialFields(forms.Form):
    """Mix into a form: a password input per secret (never rendered back) and a box that
    removes the stored one."""

    access_token = _secret_field(
        "Access token (Meta, TikTok)", "For sending conversions server-side."
    )
    clear_access_token = forms.BooleanField(required=False, label="Remove the stored token")
    api_secret = _secret_field("API secret (GA4)", "GA4 Measurement Protocol API secret.")
    clear_api_secret = forms.BooleanField(required=False, label="Remove the stored secret")
    refresh_token = _secret_field(
        "OAuth refresh token (Google Ads)",
        "From connecting the Google Ads account to the marketplace's app, for sending "
        "conversions server-side (access tokens expire within an hour).",
    )
    clear_refresh_token = forms.BooleanField(
        required=False, label="Remove the stored refresh token"
    )


def merge_secrets(settings: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """`settings` with the form's secrets laid over: a ticked "remove" clears (None), a
    typed value replaces, an empty field keeps what is stored."""
    merged = dict(settings)
    for name in SECRET_NAMES:
        if data.get(f"clear_{name}"):
            merged[name] = None
        elif data.get(name):
            merged[name] = data[name]
    return merged


# Settings the forms edit; anything else already stored (custom params set through the
# API, for example) is kept as it is.
FORM_SETTINGS = ("conversion_events", "advanced_matching", "test_event_code")
# Google Ads' own settings: dropped when a code changes provider.
ADS_ONLY_SETTINGS = ("conversion_labels", "conversion_actions", "customer_id")
# Per-event Google Ads fields: form field prefix -> (settings key, label, max length).
PER_EVENT_SETTINGS = {
    "label": ("conversion_labels", "Conversion label", 32),
    "action": ("conversion_actions", "Conversion action id (server-side)", 20),
}


def per_event_field(prefix: str, event: StandardEvent) -> str:
    return f"{prefix}_{event.value}"


class SettingsFields(forms.Form):
    """Mix into a form that has a `provider` field: a code's settings as fields."""

    tag_id = forms.CharField(
        label="ID",
        max_length=40,
        help_text="Pixel ID, Measurement ID (G-…), Container ID (GTM-…), Conversion ID (AW-…).",
    )
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
        required=False,
        max_length=50,
        label="Test mode",
        help_text=(
            "While testing: Meta's or TikTok's test event code. For GA4 and Google Ads any "
            "code turns test mode on: their server-side copies are only validated, never "
            "counted. Empty: live."
        ),
    )
    customer_id = forms.CharField(
        required=False, max_length=12, label="Customer ID (Google Ads)", help_text="123-456-7890"
    )

    def per_event_fields(self, prefix: str) -> list[forms.BoundField]:
        return [self[per_event_field(prefix, event)] for event in StandardEvent]

    @property
    def label_fields(self) -> list[forms.BoundField]:
        return self.per_event_fields("label")

    @property
    def action_fields(self) -> list[forms.BoundField]:
        return self.per_event_fields("action")

    def settings_from_fields(self, provider: str, stored: Mapping[str, Any] | None) -> dict:
        """The settings these fields describe, laid over what is stored for this provider
        (kept: what the forms do not edit; dropped: Google Ads settings of another
        provider's code). Secrets are not included: see `merge_secrets`."""
        data = self.cleaned_data
        spec = get_spec(provider)
        settings: dict[str, Any] = dict(stored or {})
        for stale in ADS_ONLY_SETTINGS:
            settings.pop(stale, None)
        settings[spec.id_field] = data.get("tag_id") or ""
        settings.update({name: data.get(name) for name in FORM_SETTINGS})
        for prefix, (key, _, _) in PER_EVENT_SETTINGS.items():
            if key in spec.extra_fields:
                settings[key] = {
                    event.value: value
                    for event in StandardEvent
                    if (value := (data.get(per_event_field(prefix, event)) or "").strip())
                }
        if "customer_id" in spec.extra_fields:
            settings["customer_id"] = (data.get("customer_id") or "").strip()
        return settings

    def settings_error_field(self, loc: list[str]) -> str | None:
        """The field a service error about `settings.<loc...>` belongs to, or None."""
        if loc[0] in {spec.id_field for spec in SPECS.values()}:
            return "tag_id"
        for prefix, (key, _, _) in PER_EVENT_SETTINGS.items():
            if loc[0] == key and len(loc) > 1 and loc[1] in StandardEvent.values:
                return f"{prefix}_{loc[1]}"
        return loc[0] if loc[0] in self.fields else None

    def add_settings_error(self, exc: InvalidInput) -> None:
        """Put a service error ("body.settings.pixel_id") on its field, else on the form."""
        loc = [str(part) for part in exc.loc[2:]] or [str(exc.loc[-1])]
        field = self.settings_error_field(loc)
        self.add_error(field, exc.message if field else f"{'.'.join(loc)}: {exc.message}")


for _event in StandardEvent:
    for _prefix, (_, _text, _length) in PER_EVENT_SETTINGS.items():
        _name = per_event_field(_prefix, _event)
        # Declared after the class, one per event: subclasses (ModelForms too) collect them.
        SettingsFields.base_fields[_name] = SettingsFields.declared_fields[_name] = forms.CharField(
            required=False, max_length=_length, label=f"{_text}: {_event.label}"
        )


def settings_initial(settings: Mapping[str, Any], provider: str) -> dict[str, Any]:
    """The fields' initial values for stored settings."""
    spec = get_spec(provider)
    initial: dict[str, Any] = {
        "tag_id": settings.get(spec.id_field, ""),
        "customer_id": settings.get("customer_id", ""),
        **{name: settings.get(name) for name in FORM_SETTINGS},
    }
    for prefix, (key, _, _) in PER_EVENT_SETTINGS.items():
        for event, value in (settings.get(key) or {}).items():
            initial[f"{prefix}_{event}"] = value
    return initial
