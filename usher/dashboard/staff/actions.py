"""Staff decisions taken from the dashboards, applied only through the campaigns'
services (which lock, move money through the ledger and log the decision with the
staff member's name). Nothing here writes money or statuses itself."""

from __future__ import annotations

from typing import Any

from usher.campaigns import publishing, services
from usher.campaigns.models import AdCampaignBudget, AutomatedCampaign, BudgetStatus


def override_campaign(campaign: AutomatedCampaign, data: dict[str, Any], user: Any) -> str:
    """Apply a `CampaignOverrideForm`'s cleaned data; returns what was done, for the
    admin's history. Raises the services' `InvalidInput` / `PlatformError`."""
    action, reason = data["action"], data["reason"]
    if action == "pause":
        publishing.pause_campaign(campaign.pk, user=user, reason=reason)
        return f"paused: {reason}"
    if action == "resume":
        publishing.resume_campaign(campaign.pk, user=user)
        return f"resumed: {reason}"
    if action == "daily_budget":
        publishing.override_daily_budget(campaign.pk, data["amount"], user=user, reason=reason)
        return f"daily budget set to {data['amount']}: {reason}"
    publishing.lift_budget_override(campaign.pk, user=user)
    return f"daily budget override lifted: {reason}"


def override_budget(budget: AdCampaignBudget, data: dict[str, Any], user: Any) -> str:
    """Apply a `BudgetOverrideForm`'s cleaned data (see `override_campaign`)."""
    action, reason = data["action"], data["reason"]
    if action == "adjust":
        services.adjust_budget(budget.pk, data["amount"], note=reason, user=user)
        return f"funds adjusted by {data['amount']}: {reason}"
    status = BudgetStatus.PAUSED if action == "pause" else BudgetStatus.ACTIVE
    services.change_budget_status(budget.pk, status, user=user, reason=reason)
    return f"budget {status}: {reason}"


def review_campaign(campaign: AutomatedCampaign, data: dict[str, Any], user: Any) -> str:
    """Apply a `ReviewForm`: approval publishes the campaign, rejection records why."""
    if data["decision"] == "approve":
        publishing.approve_campaign(campaign.pk, user=user)
        return f"approved{': ' + data['reason'] if data['reason'] else ''}"
    publishing.reject_campaign(campaign.pk, user=user, reason=data["reason"])
    return f"rejected: {data['reason']}"
