"""The staff dashboards: thin views over `queries` (reads) and `actions` (decisions).

Mounted under /admin/staff/ and wrapped by the admin site (`admin.site.admin_view`):
only active staff reach them, each sees their own marketplace's rows (superusers see
all), and another marketplace's campaign or budget id is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from usher.campaigns.models import (
    AdCampaignBudget,
    AdPlatform,
    AutomatedCampaign,
    CampaignStatus,
    OptimizationLogEntry,
)
from usher.catalog.models import CatalogFeed
from usher.conversions.models import ConversionDelivery
from usher.dashboard.charts import Chart, Dataset
from usher.dashboard.staff import actions, queries
from usher.dashboard.staff.forms import (
    BudgetOverrideForm,
    CampaignOverrideForm,
    LogFilterForm,
    PeriodForm,
    ReviewForm,
)
from usher.lib.admin import scope_for_staff
from usher.lib.errors import InvalidInput
from usher.marketplace.models import MarketplaceOrganizer
from usher.platforms.base import PlatformError

ROWS_PER_PAGE = 50


def _scoped(request: HttpRequest, model: type[Model]) -> QuerySet:
    return scope_for_staff(request.user, model._default_manager.all(), "client")


def _page(request: HttpRequest, rows: QuerySet) -> Any:
    return Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))


def _render(
    request: HttpRequest, template: str, title: str, status: int = 200, **context: Any
) -> HttpResponse:
    """A page inside the admin's frame (its header, breadcrumbs and styles)."""
    context = {**admin.site.each_context(request), "title": title, **context}
    return render(request, f"admin/staff/{template}", context, status=status)


def _period(request: HttpRequest) -> tuple[PeriodForm, queries.Period | None]:
    form = PeriodForm(request.GET)
    return form, form.cleaned_data["period"] if form.is_valid() else None


def _spend_charts(spend: dict[str, dict[str, list]], period: queries.Period) -> list[Chart]:
    """One bar chart per currency, a series per platform (its table has the numbers)."""
    labels = [day.isoformat() for day in period.days]
    names = dict(AdPlatform.choices)
    return [
        Chart(
            element_id=f"spend-per-platform-{currency}",
            title=f"Spend per platform per day ({currency})",
            labels=labels,
            datasets=[Dataset(names.get(p, p), values) for p, values in sorted(series.items())],
            type="bar",
            currency=currency,
        )
        for currency, series in spend.items()
    ]


def overview(request: HttpRequest) -> HttpResponse:
    """Every live campaign with the period's totals, spend against budget per organizer,
    and spend per platform per day."""
    form, period = _period(request)
    if period is None:
        return _render(request, "overview.html", "Campaigns overview", 400, period_form=form)
    campaigns = _scoped(request, AutomatedCampaign)
    budgets = _scoped(request, AdCampaignBudget)
    return _render(
        request,
        "overview.html",
        "Campaigns overview",
        period_form=form,
        period=period,
        totals=queries.totals(campaigns, period),
        campaigns=_page(request, queries.live_campaigns(campaigns, period)),
        organizers=queries.spend_vs_budget(budgets),
        budgets=queries.funded_budgets(budgets)[:ROWS_PER_PAGE],
        charts=_spend_charts(queries.spend_by_platform_per_day(campaigns, period), period),
        campaign_form=CampaignOverrideForm(),
        budget_form=BudgetOverrideForm(),
    )


def optimization_log(request: HttpRequest) -> HttpResponse:
    """Every decision, automatic or by staff, filtered by organizer, campaign and kind."""
    organizers = scope_for_staff(request.user, MarketplaceOrganizer.objects.all(), "client")
    form = LogFilterForm(request.GET, organizers=organizers.order_by("name"))
    if not form.is_valid():
        return _render(request, "log.html", "Optimization log", 400, filter_form=form)
    entries = _scoped(request, OptimizationLogEntry).select_related(
        "budget__organizer", "campaign", "actor"
    )
    if organizer := form.cleaned_data["organizer"]:
        entries = entries.filter(budget__organizer=organizer)
    if campaign := form.cleaned_data["campaign"]:
        entries = entries.filter(campaign_id=campaign)
    if kind := form.cleaned_data["kind"]:
        entries = entries.filter(kind=kind)
    return _render(
        request, "log.html", "Optimization log", filter_form=form, entries=_page(request, entries)
    )


def approvals(request: HttpRequest) -> HttpResponse:
    """Campaigns waiting for review, grouped by suite (budget), with their targeting and
    every creative previewed."""
    pending = (
        _scoped(request, AutomatedCampaign)
        .filter(status=CampaignStatus.PENDING_REVIEW)
        .select_related("event", "budget__organizer", "ad_account")
        .prefetch_related("creatives")
        .order_by("budget_id", "event_id", "platform", "campaign_type")
    )
    return _render(
        request,
        "approvals.html",
        "Approval queue",
        campaigns=_page(request, pending),
        review_form=ReviewForm(),
    )


def delivery_health(request: HttpRequest) -> HttpResponse:
    """Conversions delivered, rejected, retrying and dead per platform and organizer, and
    the state of each ad account's event catalog."""
    form, period = _period(request)
    if period is None:
        return _render(request, "deliveries.html", "Delivery health", 400, period_form=form)
    rows = queries.delivery_health(_scoped(request, ConversionDelivery), period)
    feeds = scope_for_staff(
        request.user,
        CatalogFeed.objects.select_related("ad_account__organizer"),
        "ad_account__client",
    )
    return _render(
        request,
        "deliveries.html",
        "Delivery health",
        period_form=form,
        period=period,
        rows=rows,
        feeds=feeds,
    )


def _decide(
    request: HttpRequest,
    model: type[Model],
    pk: int,
    form_class: type,
    apply: Callable[[Any, dict[str, Any], Any], str],
    back: str,
) -> HttpResponse:
    """Validate the form, apply it through the services and record it in the admin's
    history; a refused input is a 400 naming the field, a refused decision a message."""
    if not request.user.has_perm(f"campaigns.change_{model._meta.model_name}"):
        raise PermissionDenied
    try:
        row = _scoped(request, model).get(pk=pk)
    except model.DoesNotExist as exc:
        raise Http404(f"{model._meta.verbose_name} not found") from exc
    form = form_class(request.POST)
    if not form.is_valid():
        return _render(request, "refused.html", "Not done", 400, form=form, row=row, back=back)
    try:
        done = apply(row, form.cleaned_data, request.user)
    except InvalidInput as exc:
        messages.error(request, f"{row}: {exc.message}")
    except PlatformError as exc:
        messages.error(request, f"{row}: the platform failed ({exc})")
    else:
        admin.site.get_model_admin(model).log_change(request, row, done)
        messages.success(request, f"{row}: {done}")
    return HttpResponseRedirect(back)


def _back(request: HttpRequest, default: str) -> str:
    """Where to return after a decision: the page it was taken from, if it is ours."""
    target = request.POST.get("next", "")
    return target if target.startswith("/admin/staff/") else reverse(default)


@require_POST
def override_campaign(request: HttpRequest, pk: int) -> HttpResponse:
    back = _back(request, "staff:overview")
    return _decide(
        request, AutomatedCampaign, pk, CampaignOverrideForm, actions.override_campaign, back
    )


@require_POST
def override_budget(request: HttpRequest, pk: int) -> HttpResponse:
    back = _back(request, "staff:overview")
    return _decide(request, AdCampaignBudget, pk, BudgetOverrideForm, actions.override_budget, back)


@require_POST
def review_campaign(request: HttpRequest, pk: int) -> HttpResponse:
    back = _back(request, "staff:approvals")
    return _decide(request, AutomatedCampaign, pk, ReviewForm, actions.review_campaign, back)
