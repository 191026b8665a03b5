"""The organizer panel's forms: tracking codes, budget requests, targets.

It only collects input: validation is `usher.tracking.services` (the same as the API),
whose errors are mapped back onto the fields here. Credentials are write-only password
inputs that never render a value; empty keeps the stored one.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from pydantic import ValidationError as PydanticValidationError

from usher.campaigns.models import AllocationStrategy
from usher.campaigns.schemas import BudgetIn, TargetsIn
from usher.events.names import StandardEvent
from usher.lib.errors import InvalidInput
from usher.marketplace.models import MarketplaceEvent, MarketplaceOrganizer
from usher.tracking.models import SECRET_NAMES, EventTrackingCode
from usher.tracking.providers import SPECS, get_spec
from usher.tracking.resolved import Provider
from usher.tracking.services import CodeInput

WRITE_ONLY_HELP = "Write-only: it is never shown again. Leave empty to keep the current one."
# Settings this form edits; anything else already stored (custom params set through the
# API, for example) is kept as it is.
FORM_SETTINGS = ("conversion_events", "advanced_matching", "test_event_code")
ADS_ONLY_SETTINGS = ("conversion_labels", "customer_id")


def _label_field(event: StandardEvent) -> str:
    return f"label_{event.value}"


class TrackingCodeForm(forms.Form):
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
    access_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=f"Meta or TikTok, for server-side sending. {WRITE_ONLY_HELP}",
    )
    clear_access_token = forms.BooleanField(required=False, label="Remove the stored token")
    api_secret = forms.CharField(
        required=False,
        label="API secret (GA4)",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=f"GA4 Measurement Protocol API secret. {WRITE_ONLY_HELP}",
    )
    clear_api_secret = forms.BooleanField(required=False, label="Remove the stored secret")
    customer_id = forms.CharField(
        required=False, max_length=12, label="Customer ID (Google Ads)", help_text="123-456-7890"
    )
    refresh_token = forms.CharField(
        required=False,
        label="OAuth refresh token (Google Ads)",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=(
            "From connecting your Google Ads account to the marketplace's app, for "
            f"server-side sending (access tokens expire within an hour). {WRITE_ONLY_HELP}"
        ),
    )
    clear_refresh_token = forms.BooleanField(
        required=False, label="Remove the stored refresh token"
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
        for name in SECRET_NAMES:
            if data.get(f"clear_{name}"):
                settings[name] = None
            elif data.get(name):
                settings[name] = data[name]
        return CodeInput(
            provider=provider,
            settings=settings,
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


def add_schema_errors(form: forms.Form, exc: PydanticValidationError) -> None:
    """Put a schema's errors on the fields they name (the API would answer 422 with them)."""
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        form.add_error(name if name in form.fields else None, error["msg"])


def add_budget_service_error(form: forms.Form, exc: InvalidInput) -> None:
    """A service error ("body.ends_at") on its field, else on the form."""
    name = str(exc.loc[-1]) if exc.loc else ""
    form.add_error(name if name in form.fields else None, exc.message)


class TargetsForm(forms.Form):
    """The organizer's target CPA and ROAS (empty: the marketplace's defaults)."""

    target_cpa = forms.DecimalField(
        label=_("Target cost per sale"), required=False, decimal_places=2, min_value=Decimal("0.01")
    )
    target_roas = forms.DecimalField(
        label=_("Target ROAS"), required=False, decimal_places=2, min_value=Decimal("0.01")
    )

    def to_schema(self) -> TargetsIn:
        return TargetsIn.model_validate(self.cleaned_data)


class BudgetRequestForm(TargetsForm):
    """Asking for a budget: the fields of the API's `BudgetIn`, validated by it."""

    field_order = (
        "event",
        "amount",
        "daily_budget_limit",
        "allocation_strategy",
        "target_cpa",
        "target_roas",
        "ends_on",
        "image_url",
        "notes",
    )

    event = forms.ModelChoiceField(
        label=_("Event"),
        queryset=MarketplaceEvent.objects.none(),
        required=False,
        empty_label=_("All my events"),
    )
    amount = forms.DecimalField(label=_("Amount"), min_value=Decimal("0.01"), decimal_places=2)
    daily_budget_limit = forms.DecimalField(
        label=_("Daily limit"), required=False, decimal_places=2, min_value=Decimal("0.01")
    )
    allocation_strategy = forms.ChoiceField(
        label=_("How to split it between platforms"), choices=AllocationStrategy.choices
    )
    ends_on = forms.DateField(
        label=_("Last day"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Empty: until the money is spent."),
    )
    image_url = forms.URLField(
        label=_("Image of your ads (URL)"), required=False, assume_scheme="https"
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, organizer: MarketplaceOrganizer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["event"].queryset = MarketplaceEvent.objects.for_organizer(organizer)

    def to_schema(self) -> BudgetIn:
        """The API's schema of this input; raises pydantic's ValidationError like the API."""
        data = self.cleaned_data
        ends_on = data.get("ends_on")
        return BudgetIn.model_validate(
            {
                "amount": data["amount"],
                "event": data["event"].pk if data.get("event") else None,
                "daily_budget_limit": data.get("daily_budget_limit"),
                "allocation_strategy": data["allocation_strategy"],
                "target_cpa": data.get("target_cpa"),
                "target_roas": data.get("target_roas"),
                # The last day runs to its end (UTC).
                "ends_at": datetime.combine(ends_on, time.max, tzinfo=UTC) if ends_on else None,
                "image_url": data.get("image_url") or None,
                "notes": data.get("notes", ""),
            }
        )
