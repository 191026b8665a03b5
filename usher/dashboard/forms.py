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
