"""Marketplace staff's admin for budgets, campaigns and ad accounts.

Thin: every action calls the services (which lock, write the ledger and log the
decision with the staff member's name) and is also recorded in the admin's history.
Amounts and reasons for actions come from the fields beside the action menu. Money
columns are read-only: they move only through the ledger. Campaign-management
credentials are write-only fields, never rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator
from django.utils.timesince import timesince

from usher.campaigns import accounts, publishing, services
from usher.campaigns.models import (
    AdAccount,
    AdCampaignBudget,
    AutomatedCampaign,
    BudgetLedgerEntry,
    BudgetStatus,
    CampaignCreative,
    CampaignOverride,
    CampaignSettings,
    OptimizationLogEntry,
)
from usher.lib.admin import ClientScopedAdmin
from usher.lib.errors import InvalidInput
from usher.platforms.base import PlatformError

WRITE_ONLY_HELP = "Write-only: never shown again. Leave empty to keep the current one."
# Ad images and landing pages are served over HTTPS: a bare host gets https://.
HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}


class StaffActionForm(ActionForm):
    """The inputs staff actions take, shown beside the action menu."""

    amount = forms.DecimalField(required=False, max_digits=12, decimal_places=2)
    reference = forms.CharField(required=False, max_length=255, label="Reference / reason")


def _amount(request: HttpRequest) -> Decimal | None:
    try:
        raw = request.POST.get("amount", "").strip()
        return Decimal(raw) if raw else None
    except InvalidOperation:
        return None


def _run(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    action: Callable[[Any], Any],
    label: str,
) -> None:
    """Apply `action` to each selected row; errors are shown, never a 500."""
    done = 0
    for row in queryset:
        try:
            action(row)
        except InvalidInput as exc:
            model_admin.message_user(request, f"{row}: {exc.message}", messages.ERROR)
            continue
        except PlatformError as exc:
            model_admin.message_user(request, f"{row}: the platform failed ({exc})", messages.ERROR)
            continue
        model_admin.log_change(request, row, label)
        done += 1
    if done:
        model_admin.message_user(request, f"{label}: {done} done.", messages.SUCCESS)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LedgerInline(ReadOnlyInline):
    model = BudgetLedgerEntry
    fk_name = "budget"
    fields = ["created_at", "kind", "amount", "campaign", "spend_date", "reference", "note"]
    readonly_fields = fields


class BudgetLogInline(ReadOnlyInline):
    model = OptimizationLogEntry
    fk_name = "budget"
    fields = ["created_at", "kind", "campaign", "reason", "numbers", "applied", "actor_label"]
    readonly_fields = fields
    ordering = ["-created_at"]


class CampaignLogInline(BudgetLogInline):
    fk_name = "campaign"


class OverrideInline(ReadOnlyInline):
    model = CampaignOverride
    fields = ["kind", "daily_budget", "reason", "created_by", "created_at", "lifted_at"]
    readonly_fields = fields


class CreativeInline(admin.TabularInline):
    model = CampaignCreative
    formfield_overrides = HTTPS_URLS
    extra = 0
    fields = ["variant", "headline", "description", "call_to_action", "image_url", "landing_url"]
    readonly_fields = ["landing_url"]


@admin.register(AdCampaignBudget)
class AdCampaignBudgetAdmin(ClientScopedAdmin):
    action_form = StaffActionForm
    formfield_overrides = HTTPS_URLS
    list_display = [
        "id",
        "organizer",
        "event",
        "status",
        "currency",
        "total_budget",
        "spent_budget",
        "remaining",
        "paid_at",
    ]
    list_filter = ["status", "allocation_strategy", "currency"]
    list_select_related = ["organizer", "event"]
    search_fields = ["organizer__name", "event__name", "payment_reference"]
    readonly_fields = [
        "client",
        "organizer",
        "event",
        "requested_amount",
        "total_budget",
        "spent_budget",
        "currency",
        "status",
        "status_reason",
        "status_changed_at",
        "status_changed_by",
        "platform_allocations",
        "payment_reference",
        "paid_at",
        "created_at",
        "ad_accounts",
    ]
    fields = [
        *readonly_fields,
        "allocation_strategy",
        "daily_budget_limit",
        "target_cpa",
        "target_roas",
        "image_url",
        "video_url",
        "started_at",
        "ends_at",
        "notes",
    ]
    inlines = [LedgerInline, BudgetLogInline]
    actions = ["confirm_payment", "pause", "resume", "cancel", "adjust", "refund"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # organizers ask through the API or their panel

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the ledger is kept: cancel instead

    @admin.display(description="remaining")
    def remaining(self, obj: AdCampaignBudget) -> Decimal:
        return obj.remaining

    @admin.display(description="ad accounts")
    def ad_accounts(self, obj: AdCampaignBudget) -> str:
        """Where each of the budget's platforms publishes (the organizer's own first)."""
        found = [accounts.ad_account_for(obj.organizer, p) for p in services.budget_platforms(obj)]
        return ", ".join(str(a) for a in found if a is not None) or "none connected"

    @admin.action(description="Confirm the transfer (amount received, reference)")
    def confirm_payment(self, request: HttpRequest, queryset: QuerySet) -> None:
        amount = _amount(request) or Decimal(0)
        reference = request.POST.get("reference", "")
        _run(
            self,
            request,
            queryset,
            lambda b: services.confirm_payment(
                b.pk, reference=reference, amount_received=amount, user=request.user
            ),
            "payment confirmed",
        )

    def _status(self, request: HttpRequest, queryset: QuerySet, status: BudgetStatus) -> None:
        reason = request.POST.get("reference", "")
        _run(
            self,
            request,
            queryset,
            lambda b: services.change_budget_status(b.pk, status, user=request.user, reason=reason),
            f"budget {status}",
        )

    @admin.action(description="Pause (its campaigns pause on their platforms)")
    def pause(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._status(request, queryset, BudgetStatus.PAUSED)

    @admin.action(description="Resume")
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._status(request, queryset, BudgetStatus.ACTIVE)

    @admin.action(description="Cancel (reason)")
    def cancel(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._status(request, queryset, BudgetStatus.CANCELLED)

    @admin.action(description="Adjust the funds (amount, +/-; reason)")
    def adjust(self, request: HttpRequest, queryset: QuerySet) -> None:
        amount = _amount(request) or Decimal(0)
        note = request.POST.get("reference", "")
        _run(
            self,
            request,
            queryset,
            lambda b: services.adjust_budget(b.pk, amount, note=note, user=request.user),
            "budget adjusted",
        )

    @admin.action(description="Refund to the organizer (amount, reference)")
    def refund(self, request: HttpRequest, queryset: QuerySet) -> None:
        amount = _amount(request) or Decimal(0)
        reference = request.POST.get("reference", "")
        _run(
            self,
            request,
            queryset,
            lambda b: services.refund_budget(b.pk, amount, reference=reference, user=request.user),
            "budget refunded",
        )


@admin.register(AutomatedCampaign)
class AutomatedCampaignAdmin(ClientScopedAdmin):
    action_form = StaffActionForm
    list_display = [
        "id",
        "name",
        "organizer",
        "platform",
        "campaign_type",
        "status",
        "daily_budget",
        "lifetime_budget",
        "budget_spent",
        "ad_account",
    ]
    list_filter = ["status", "platform", "campaign_type"]
    list_select_related = ["organizer", "ad_account"]
    search_fields = ["name", "organizer__name", "external_campaign_id"]
    readonly_fields = [
        "budget",
        "client",
        "organizer",
        "event",
        "ad_account",
        "platform",
        "campaign_type",
        "status",
        "status_reason",
        "daily_budget",
        "lifetime_budget",
        "desired_daily_budget",
        "budget_allocated",
        "budget_spent",
        "external_campaign_id",
        "external_adset_id",
        "external_budget_id",
        "performance_metrics",
        "reviewed_by",
        "reviewed_at",
        "published_at",
        "last_error",
        "started_at",
        "ends_at",
    ]
    fields = [*readonly_fields, "name", "objective", "targeting", "bid_strategy", "bid_amount"]
    inlines = [CreativeInline, OverrideInline, CampaignLogInline]
    actions = ["approve", "reject", "pause", "resume", "override_budget", "lift_budget_override"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # suites create campaigns

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the ledger refers to campaigns: reject or pause instead

    @admin.action(description="Approve (publishes it)")
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        _run(
            self,
            request,
            queryset,
            lambda c: publishing.approve_campaign(c.pk, user=request.user),
            "approved",
        )

    @admin.action(description="Reject (reason)")
    def reject(self, request: HttpRequest, queryset: QuerySet) -> None:
        reason = request.POST.get("reference", "")
        _run(
            self,
            request,
            queryset,
            lambda c: publishing.reject_campaign(c.pk, user=request.user, reason=reason),
            "rejected",
        )

    @admin.action(description="Pause on the platform and keep paused (reason)")
    def pause(self, request: HttpRequest, queryset: QuerySet) -> None:
        reason = request.POST.get("reference", "") or "paused by staff"
        _run(
            self,
            request,
            queryset,
            lambda c: publishing.pause_campaign(c.pk, user=request.user, reason=reason),
            "paused",
        )

    @admin.action(description="Resume")
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        _run(
            self,
            request,
            queryset,
            lambda c: publishing.resume_campaign(c.pk, user=request.user),
            "resumed",
        )

    @admin.action(description="Set a daily budget that wins over the optimizer (amount, reason)")
    def override_budget(self, request: HttpRequest, queryset: QuerySet) -> None:
        amount = _amount(request)
        reason = request.POST.get("reference", "")

        def apply(campaign: AutomatedCampaign) -> None:
            if amount is None:
                raise InvalidInput(["amount"], "give the daily budget in the amount field.")
            publishing.override_daily_budget(campaign.pk, amount, user=request.user, reason=reason)

        _run(self, request, queryset, apply, "daily budget overridden")

    @admin.action(description="Lift the daily budget override")
    def lift_budget_override(self, request: HttpRequest, queryset: QuerySet) -> None:
        _run(
            self,
            request,
            queryset,
            lambda c: publishing.lift_budget_override(c.pk, user=request.user),
            "override lifted",
        )


class AdAccountForm(forms.ModelForm):
    credential = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=f"The campaign-management token (Google: OAuth refresh token). {WRITE_ONLY_HELP}",
    )
    clear_credential = forms.BooleanField(required=False, label="Remove the credential")

    class Meta:
        model = AdAccount
        fields = [
            "client",
            "organizer",
            "platform",
            "account_id",
            "manager_id",
            "name",
            "currency",
            "timezone",
            "credential_kind",
            "settings",
            "status",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        organizer, client = cleaned.get("organizer"), cleaned.get("client")
        if organizer is not None and client is not None and organizer.client_id != client.pk:
            self.add_error("organizer", "This organizer sells on another marketplace.")
        return cleaned

    def save(self, commit: bool = True) -> AdAccount:
        account = super().save(commit=False)
        if self.cleaned_data.get("clear_credential"):
            account.set_credential(None)
        elif self.cleaned_data.get("credential"):
            account.set_credential(self.cleaned_data["credential"])
        if commit:
            account.save()
        return account


@admin.register(AdAccount)
class AdAccountAdmin(ClientScopedAdmin):
    form = AdAccountForm
    list_display = ["account_id", "platform", "organizer", "currency", "status", "health"]
    list_filter = ["platform", "status"]
    search_fields = ["account_id", "name", "organizer__name"]
    readonly_fields = ["credential_set", "last_success_at", "last_error", "last_error_at"]

    @admin.display(description="credential set")
    def credential_set(self, obj: AdAccount) -> str:
        return "yes" if obj.has_credential else "no"

    @admin.display(description="health")
    def health(self, obj: AdAccount) -> str:
        """The account's state in one column: a missing credential, else its last call
        (a failing account's error, not two timestamps to compare)."""
        if not obj.has_credential:
            return "no credential"
        failing = obj.last_error_at and (
            obj.last_success_at is None or obj.last_error_at > obj.last_success_at
        )
        if failing:
            return (
                f"error {timesince(obj.last_error_at)} ago: {Truncator(obj.last_error).chars(90)}"
            )
        if obj.last_success_at:
            return f"ok {timesince(obj.last_success_at)} ago"
        return "never called"


@admin.register(CampaignSettings)
class CampaignSettingsAdmin(ClientScopedAdmin):
    formfield_overrides = HTTPS_URLS
    list_display = ["client", "default_target_roas", "max_active_campaigns_per_organizer"]


@admin.register(OptimizationLogEntry)
class OptimizationLogAdmin(ClientScopedAdmin):
    list_display = ["created_at", "kind", "budget", "campaign", "reason", "applied", "actor_label"]
    list_filter = ["kind", "applied", "overridden"]
    search_fields = ["reason"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
