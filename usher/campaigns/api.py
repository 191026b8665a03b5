"""The organizer's campaigns API (the plan's CampaignController): budgets (ask, list,
detail with ledger, targets), campaigns (list with metrics, detail with series and
decision log, pause and resume), the optimizer's advice, and the report. Thin: work is in the services; every
query starts from the organizer's scope, so another tenant's id is a 404.
"""

from django.http import HttpRequest
from ninja import Router, Status
from ninja.errors import HttpError
from ninja.pagination import paginate

from usher.campaigns import decisions, publishing, reports, services
from usher.campaigns.models import (
    AdCampaignBudget,
    AutomatedCampaign,
    BudgetLedgerEntry,
    BudgetStatus,
    CampaignStatus,
    OptimizationLogEntry,
)
from usher.campaigns.schemas import (
    AdviceOut,
    BudgetDetailOut,
    BudgetIn,
    BudgetOut,
    CampaignDetailOut,
    CampaignOut,
    LedgerEntryOut,
    PauseIn,
    ReportOut,
    RowId,
    TargetsIn,
)
from usher.lib.errors import InvalidInput, error_responses
from usher.lib.tenancy import get_for_organizer_or_404
from usher.marketplace.auth import OrganizerTokenAuth
from usher.platforms.base import PlatformError

campaigns_router = Router(auth=OrganizerTokenAuth(), tags=["organizer campaigns"])


# --- budgets ---


@campaigns_router.post(
    "/budgets", response={201: BudgetOut, **error_responses(401)}, summary="Ask for a budget"
)
def ask_for_budget(request: HttpRequest, payload: BudgetIn):
    return Status(201, services.request_budget(request.auth, payload.to_request()))


@campaigns_router.get(
    "/budgets", response={200: list[BudgetOut], **error_responses(401)}, summary="Your budgets"
)
@paginate
def list_budgets(
    request: HttpRequest, status: BudgetStatus | None = None, event: RowId | None = None
):
    budgets = AdCampaignBudget.objects.for_organizer(request.auth)
    if status is not None:
        budgets = budgets.filter(status=status)
    if event is not None:
        budgets = budgets.filter(event_id=event)
    return budgets


@campaigns_router.get(
    "/budgets/{budget_id}",
    response={200: BudgetDetailOut, **error_responses(401, 404)},
    summary="A budget, its money and accounts",
)
def get_budget(request: HttpRequest, budget_id: int):
    return get_for_organizer_or_404(AdCampaignBudget, request.auth, pk=budget_id)


@campaigns_router.get(
    "/budgets/{budget_id}/ledger",
    response={200: list[LedgerEntryOut], **error_responses(401, 404)},
    summary="Every money movement of a budget, oldest first",
)
@paginate
def list_ledger(request: HttpRequest, budget_id: int):
    budget = get_for_organizer_or_404(AdCampaignBudget, request.auth, pk=budget_id)
    return BudgetLedgerEntry.objects.filter(budget=budget).order_by("created_at", "id")


@campaigns_router.put(
    "/budgets/{budget_id}/targets",
    response={200: BudgetOut, **error_responses(401, 404)},
    summary="Your target CPA and ROAS",
)
def set_targets(request: HttpRequest, budget_id: int, payload: TargetsIn):
    budget = get_for_organizer_or_404(AdCampaignBudget, request.auth, pk=budget_id)
    return services.set_targets(budget.pk, payload.target_cpa, payload.target_roas)


# --- campaigns ---


@campaigns_router.get(
    "/campaigns",
    response={200: list[CampaignOut], **error_responses(401)},
    summary="Your campaigns",
)
@paginate
def list_campaigns(
    request: HttpRequest,
    budget: RowId | None = None,
    event: RowId | None = None,
    status: CampaignStatus | None = None,
    platform: str | None = None,
):
    campaigns = AutomatedCampaign.objects.for_organizer(request.auth)
    for field, value in (
        ("budget_id", budget),
        ("event_id", event),
        ("status", status),
        ("platform", platform),
    ):
        if value is not None:
            campaigns = campaigns.filter(**{field: value})
    return campaigns.order_by("-created_at", "-id")


@campaigns_router.get(
    "/campaigns/{campaign_id}",
    response={200: CampaignDetailOut, **error_responses(401, 404)},
    summary="A campaign with its daily series and decisions",
)
def get_campaign(request: HttpRequest, campaign_id: int):
    return get_for_organizer_or_404(AutomatedCampaign, request.auth, pk=campaign_id)


def _on_platform(action, *args, **kwargs) -> AutomatedCampaign:
    try:
        return action(*args, **kwargs)
    except PlatformError as exc:
        raise HttpError(503, "The ad platform did not answer; try again shortly.") from exc


@campaigns_router.post(
    "/campaigns/{campaign_id}/pause",
    response={200: CampaignOut, **error_responses(401, 404, 503)},
    summary="Pause a campaign (now, on its platform)",
)
def pause(request: HttpRequest, campaign_id: int, payload: PauseIn | None = None):
    campaign = get_for_organizer_or_404(AutomatedCampaign, request.auth, pk=campaign_id)
    reason = (payload.reason if payload else "") or "paused by the organizer"
    return _on_platform(
        publishing.pause_campaign, campaign.pk, user=None, reason=reason, actor="organizer"
    )


@campaigns_router.post(
    "/campaigns/{campaign_id}/resume",
    response={200: CampaignOut, **error_responses(401, 404, 503)},
    summary="Resume a paused campaign (with what the budget allows)",
)
def resume(request: HttpRequest, campaign_id: int):
    campaign = get_for_organizer_or_404(AutomatedCampaign, request.auth, pk=campaign_id)
    return _on_platform(publishing.resume_campaign, campaign.pk, user=None, actor="organizer")


# --- advice ---


@campaigns_router.get(
    "/recommendations",
    response={200: list[AdviceOut], **error_responses(401)},
    summary="The optimizer's advice in force (each live budget's newest day)",
)
@paginate
def list_recommendations(
    request: HttpRequest, budget: RowId | None = None, campaign: RowId | None = None
):
    entries = OptimizationLogEntry.objects.for_organizer(request.auth)
    if budget is not None:
        entries = entries.filter(budget_id=budget)
    if campaign is not None:
        entries = entries.filter(campaign_id=campaign)
    return decisions.current_advice(entries)


# --- report ---


@campaigns_router.get(
    "/report",
    response={200: ReportOut, **error_responses(401, 404)},
    summary="Invested, sales, tickets and ROAS of your campaigns",
)
def get_report(request: HttpRequest, budget: RowId | None = None, event: RowId | None = None):
    campaigns = AutomatedCampaign.objects.for_organizer(request.auth)
    if budget is not None:
        campaigns = campaigns.filter(
            budget=get_for_organizer_or_404(AdCampaignBudget, request.auth, pk=budget)
        )
    if event is not None:
        campaigns = campaigns.filter(event_id=event)
    currencies = set(campaigns.values_list("budget__currency", flat=True))
    if len(currencies) > 1:
        raise InvalidInput(["query", "budget"], "your budgets differ in currency: pick one.")
    return reports.report(
        campaigns, currencies.pop() if currencies else request.auth.client.currency
    )
