"""The staff dashboards' inputs: a period, log filters, overrides and reviews. Every
field is validated here; a bad value is a 400 naming it, never a 500."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from usher.campaigns.models import DecisionKind
from usher.dashboard.staff.queries import Period

DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 366


class PeriodForm(forms.Form):
    """A period of whole UTC days; the last 30 days when none is given."""

    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        end: date = cleaned.get("end") or timezone.now().date()
        start: date = cleaned.get("start") or end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
        if start > end:
            self.add_error("start", "The start must not be after the end.")
        elif (end - start).days + 1 > MAX_PERIOD_DAYS:
            self.add_error("start", f"A period spans at most {MAX_PERIOD_DAYS} days.")
        cleaned["period"] = Period(start, end)
        return cleaned


class LogFilterForm(forms.Form):
    """The optimization log's filters; the organizer choices are the staff's own."""

    organizer = forms.ModelChoiceField(queryset=None, required=False, empty_label="every organizer")
    campaign = forms.IntegerField(required=False, min_value=1, label="Campaign id")
    kind = forms.ChoiceField(
        required=False, choices=[("", "every kind"), *DecisionKind.choices], label="Decision"
    )

    def __init__(self, *args: Any, organizers: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organizer"].queryset = organizers


class CampaignOverrideForm(forms.Form):
    """Pause, resume or fix the daily budget of one campaign, always with a reason."""

    action = forms.ChoiceField(
        choices=[
            ("pause", "Pause"),
            ("resume", "Resume"),
            ("daily_budget", "Set the daily budget"),
            ("lift_daily_budget", "Lift the daily budget override"),
        ]
    )
    amount = forms.DecimalField(required=False, min_value=0, max_digits=12, decimal_places=2)
    reason = forms.CharField(max_length=500, strip=True)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("action") == "daily_budget" and cleaned.get("amount") is None:
            self.add_error("amount", "Give the daily budget.")
        return cleaned


class BudgetOverrideForm(forms.Form):
    """Adjust a budget's funds (±), pause or resume it, always with a reason."""

    action = forms.ChoiceField(
        choices=[("adjust", "Adjust the funds (+/-)"), ("pause", "Pause"), ("resume", "Resume")]
    )
    amount = forms.DecimalField(required=False, max_digits=12, decimal_places=2)
    reason = forms.CharField(max_length=500, strip=True)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("action") == "adjust" and not cleaned.get("amount"):
            self.add_error("amount", "Give the amount to add (or, negative, to take away).")
        return cleaned


class ReviewForm(forms.Form):
    """Approve (publishes) or reject a campaign of a suite; a rejection says why."""

    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(max_length=500, required=False, strip=True)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("decision") == "reject" and not cleaned.get("reason"):
            self.add_error("reason", "Say why the campaign is rejected.")
        return cleaned
