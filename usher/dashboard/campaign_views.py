"""The organizer panel's advertising pages: overview, campaigns, budgets, audiences.

Thin: numbers come from `usher.dashboard.queries` (aggregated in the database, scoped to
the logged-in organizer), writes go through the campaigns services exactly as the API's
do, and another organizer's id is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from pydantic import ValidationError as PydanticValidationError

from usher.audiences.models import RemarketingAudience
from usher.campaigns import ledger, publishing, services
from usher.campaigns.models import AdCampaignBudget, AutomatedCampaign
from usher.lib.errors import InvalidInput
from usher.lib.tenancy import get_for_organizer_or_404
from usher.platforms.base import PlatformError

from . import queries
from .forms import BudgetRequestForm, TargetsForm, add_budget_service_error, add_schema_errors
from .views import organizer_required

LEDGER_ROWS_PER_PAGE = 50


@login_required
def panel_index(request: HttpRequest) -> HttpResponse:
    """/panel/ (where logins land): organizers see their overview, staff go to the admin."""
    if getattr(request.user, "organizer", None) is None and request.user.is_staff:
        return redirect("admin:index")
    return overview(request)


@organizer_required
def overview(request: HttpRequest) -> HttpResponse:
    """Budgets, the plain report, performance charts, the optimizer's advice in force and
    its recent decisions."""
    organizer = request.organizer
    campaigns = AutomatedCampaign.objects.for_organizer(organizer)
    reports = queries.plain_reports(organizer)
    currency = reports[0].currency if reports else organizer.client.currency
    return render(
        request,
        "dashboard/overview.html",
        {
            "organizer": organizer,
            "cards": queries.budget_cards(organizer, timezone.now()),
            "reports": reports,
            "performance": queries.performance_chart(campaigns, currency),
            "platforms": queries.platform_chart(campaigns, currency),
            "advice": queries.advice(organizer),
            "decisions": queries.recent_decisions(organizer),
        },
    )


@organizer_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    organizer = request.organizer
    campaigns = AutomatedCampaign.objects.for_organizer(organizer)
    return render(
        request,
        "dashboard/campaign_list.html",
        {"organizer": organizer, "rows": queries.campaign_rows(campaigns)},
    )


@organizer_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    organizer = request.organizer
    scoped = AutomatedCampaign.objects.for_organizer(organizer).filter(pk=pk)
    rows = queries.campaign_rows(scoped)
    if not rows:
        raise Http404
    row = rows[0]
    return render(
        request,
        "dashboard/campaign_detail.html",
        {
            "organizer": organizer,
            "row": row,
            "campaign": row.campaign,
            "chart": queries.campaign_chart(row.campaign),
            "decisions": queries.decision_log(row.campaign),
        },
    )


# What the campaign page's buttons do: the same services (and actor) as the API's routes.
CAMPAIGN_ACTIONS = {
    "pause": (
        lambda pk: publishing.pause_campaign(
            pk, user=None, reason="paused by the organizer", actor="organizer"
        ),
        gettext_lazy("Campaign paused."),
    ),
    "resume": (
        lambda pk: publishing.resume_campaign(pk, user=None, actor="organizer"),
        gettext_lazy("Campaign resumed."),
    ),
}


@organizer_required
@require_POST
def campaign_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Pause or resume now, on the platform; one that does not answer is a message, not a 500."""
    if action not in CAMPAIGN_ACTIONS:
        raise Http404
    campaign = get_for_organizer_or_404(AutomatedCampaign, request.organizer, pk=pk)
    run, done = CAMPAIGN_ACTIONS[action]
    try:
        run(campaign.pk)
    except PlatformError:
        messages.error(request, _("The ad platform did not answer; try again shortly."))
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("dashboard:campaign", pk=campaign.pk)


@organizer_required
def budget_list(request: HttpRequest) -> HttpResponse:
    organizer = request.organizer
    return render(
        request,
        "dashboard/budget_list.html",
        {"organizer": organizer, "cards": queries.budget_cards(organizer, timezone.now())},
    )


@organizer_required
@require_http_methods(["GET", "POST"])
def budget_detail(request: HttpRequest, pk: int) -> HttpResponse:
    organizer = request.organizer
    budget = get_for_organizer_or_404(AdCampaignBudget, organizer, pk=pk)
    form = TargetsForm(
        request.POST or None,
        initial={"target_cpa": budget.target_cpa, "target_roas": budget.target_roas},
    )
    if request.method == "POST" and form.is_valid():
        try:
            targets = form.to_schema()
        except PydanticValidationError as exc:
            add_schema_errors(form, exc)
        else:
            services.set_targets(budget.pk, targets.target_cpa, targets.target_roas)
            messages.success(request, _("Targets saved."))
            return redirect("dashboard:budget", pk=budget.pk)
    with_commitments = request.GET.get("movements") == "all"
    entries = ledger.statement(budget, with_commitments=with_commitments)
    return render(
        request,
        "dashboard/budget_detail.html",
        {
            "organizer": organizer,
            "budget": budget,
            "balances": ledger.balances(budget),
            "page": Paginator(entries, LEDGER_ROWS_PER_PAGE).get_page(request.GET.get("page")),
            "with_commitments": with_commitments,
            "form": form,
        },
    )


@organizer_required
@require_http_methods(["GET", "POST"])
def budget_new(request: HttpRequest) -> HttpResponse:
    organizer = request.organizer
    form = BudgetRequestForm(request.POST or None, organizer=organizer)
    if request.method == "POST" and form.is_valid():
        try:
            budget = services.request_budget(organizer, form.to_schema().to_request())
        except PydanticValidationError as exc:
            add_schema_errors(form, exc)
        except InvalidInput as exc:
            add_budget_service_error(form, exc)
        else:
            messages.success(
                request,
                _("Budget requested. It starts once the marketplace confirms your payment."),
            )
            return redirect("dashboard:budget", pk=budget.pk)
    return render(request, "dashboard/budget_form.html", {"organizer": organizer, "form": form})


@organizer_required
def audience_list(request: HttpRequest) -> HttpResponse:
    organizer = request.organizer
    audiences = (
        RemarketingAudience.objects.for_organizer(organizer)
        .select_related("event")
        .order_by("platform", "audience_type", "name")
    )
    return render(
        request, "dashboard/audience_list.html", {"organizer": organizer, "audiences": audiences}
    )
