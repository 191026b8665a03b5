"""Review, publishing, pause and resume of campaigns, through the platform connectors.

Staff approve or reject each campaign of a suite; an approved one is published by a
Celery task (enqueued on commit). Publishing is idempotent end to end: the connector
finds objects an interrupted attempt created by the campaign's reference
(`usher-c-<id>`), and Usher stores the platform ids before anything else can run.
Money for the campaign is reserved before the platform sees any budget
(`spend_control.reserve`).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from usher.campaigns import spend_control
from usher.campaigns.accounts import campaign_settings, contract_account, record_health
from usher.campaigns.decisions import log_decision
from usher.campaigns.models import (
    AdCampaignBudget,
    AutomatedCampaign,
    CampaignCreative,
    CampaignOverride,
    CampaignStatus,
    DecisionKind,
    OverrideKind,
)
from usher.campaigns.spend_safety import paused_setting
from usher.lib.errors import InvalidInput
from usher.marketplace.models import User
from usher.platforms.base import PlatformError
from usher.platforms.registry import get_campaigns_connector

logger = logging.getLogger("usher.campaigns")

LIVE_COUNTED = (CampaignStatus.APPROVED, CampaignStatus.ACTIVE)


# --- review ---


def approve_campaign(campaign_id: int, *, user: User | None) -> AutomatedCampaign:
    """Staff approve a pending campaign; it is published once the transaction commits."""
    from usher.campaigns.tasks import publish_campaign_task

    with transaction.atomic():
        campaign = AutomatedCampaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status != CampaignStatus.PENDING_REVIEW:
            raise InvalidInput(["status"], f"a {campaign.status} campaign cannot be approved.")
        limit = campaign_settings(campaign.client).max_active_campaigns_per_organizer
        live = AutomatedCampaign.objects.filter(
            organizer_id=campaign.organizer_id, status__in=LIVE_COUNTED
        ).count()
        if live >= limit:
            raise InvalidInput(["status"], f"the organizer already runs {limit} campaigns.")
        campaign.status = CampaignStatus.APPROVED
        campaign.reviewed_by = user
        campaign.reviewed_at = timezone.now()
        campaign.save()
        log_decision(
            campaign.budget, DecisionKind.APPROVAL, "approved", campaign=campaign, user=user
        )
        transaction.on_commit(lambda: publish_campaign_task.delay(campaign.pk))
    return campaign


def reject_campaign(campaign_id: int, *, user: User | None, reason: str) -> AutomatedCampaign:
    if not reason.strip():
        raise InvalidInput(["reason"], "say why the campaign is rejected.")
    with transaction.atomic():
        campaign = AutomatedCampaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status not in (CampaignStatus.PENDING_REVIEW, CampaignStatus.APPROVED):
            raise InvalidInput(["status"], f"a {campaign.status} campaign cannot be rejected.")
        campaign.status = CampaignStatus.REJECTED
        campaign.status_reason = reason[:500]
        campaign.reviewed_by = user
        campaign.reviewed_at = timezone.now()
        campaign.save()
        log_decision(campaign.budget, DecisionKind.REJECTION, reason, campaign=campaign, user=user)
    return campaign


# --- publishing ---


def publish_campaign(campaign_id: int) -> AutomatedCampaign:
    """Publish an approved campaign with the budget spend control allows, as part of a
    new allocation of its whole budget (the newcomer gets its share; others are lowered
    first to make room).

    Raises PlatformError for transient failures (the task retries; the reservation is
    kept, and the retry finds what was created). A permanent failure marks the
    campaign failed and releases its money.
    """
    campaign = AutomatedCampaign.objects.get(pk=campaign_id)
    if campaign.status != CampaignStatus.APPROVED:
        return campaign  # published already, rejected since, or paused: nothing to do
    result = spend_control.allocate_budget(campaign.budget_id)
    for applied in result.applied:
        if applied.campaign_id == campaign_id and applied.error and not applied.error.permanent:
            raise applied.error
    campaign.refresh_from_db()
    return campaign


# --- pause and resume ---


def pause_campaign(
    campaign_id: int, *, user: User | None, reason: str, actor: str = ""
) -> AutomatedCampaign:
    """Pause on the platform now and keep it paused (a staff override the optimizer and
    spend control respect) until resumed."""
    campaign = AutomatedCampaign.objects.select_related("ad_account").get(pk=campaign_id)
    if campaign.status not in (CampaignStatus.ACTIVE, CampaignStatus.PAUSED):
        raise InvalidInput(["status"], f"a {campaign.status} campaign cannot be paused.")
    CampaignOverride.objects.get_or_create(
        campaign=campaign,
        kind=OverrideKind.PAUSE,
        lifted_at=None,
        defaults={"reason": reason[:500] or "paused by staff", "created_by": user},
    )
    connector = get_campaigns_connector(campaign.platform)
    need = spend_control.campaign_need(campaign, connector, timezone.now())
    result = spend_control.apply_setting(
        campaign, connector, need, paused_setting(need), reason=reason
    )
    AutomatedCampaign.objects.filter(pk=campaign.pk).update(auto_paused=False)
    log_decision(
        campaign.budget,
        DecisionKind.PAUSE,
        reason or "paused",
        campaign=campaign,
        user=user,
        actor=actor,
        applied=result.ok,
    )
    if not result.ok:
        raise PlatformError("transient", f"the platform did not pause it: {result.reason}")
    campaign.refresh_from_db()
    return campaign


def pause_creative(campaign: AutomatedCampaign, ad_id: str) -> None:
    """Pause one ad (the loser of a creative test) on its platform, then mark it; the
    campaign and its money are untouched. Raises PlatformError when the platform refuses
    (the creative stays active and the next cycle decides again)."""
    creative = CampaignCreative.objects.get(campaign=campaign, external_ad_id=ad_id)
    if not creative.is_active:
        return
    connector = get_campaigns_connector(campaign.platform)
    try:
        connector.set_ad_status(contract_account(campaign.ad_account), ad_id, False)
    except PlatformError as error:
        record_health(campaign.ad_account, error)
        raise
    record_health(campaign.ad_account)
    CampaignCreative.objects.filter(pk=creative.pk).update(is_active=False)


def resume_campaign(campaign_id: int, *, user: User | None, actor: str = "") -> AutomatedCampaign:
    """Lift the pause; spend control gives it the budget the remainder allows."""
    campaign = AutomatedCampaign.objects.get(pk=campaign_id)
    if campaign.status != CampaignStatus.PAUSED:
        raise InvalidInput(["status"], f"a {campaign.status} campaign cannot be resumed.")
    CampaignOverride.objects.filter(
        campaign=campaign, kind=OverrideKind.PAUSE, lifted_at__isnull=True
    ).update(lifted_at=timezone.now(), lifted_by=user)
    AutomatedCampaign.objects.filter(pk=campaign.pk).update(auto_paused=True)
    log_decision(
        campaign.budget, DecisionKind.RESUME, "resumed", campaign=campaign, user=user, actor=actor
    )
    spend_control.rebalance_budget(campaign.budget_id)
    campaign.refresh_from_db()
    return campaign


def override_daily_budget(
    campaign_id: int, daily_budget: Decimal, *, user: User | None, reason: str
) -> AutomatedCampaign:
    """A staff daily budget that wins over the allocator and optimizer until lifted;
    spend control still caps it to what the remainder allows."""
    if daily_budget < 0:
        raise InvalidInput(["daily_budget"], "must not be negative.")
    campaign = AutomatedCampaign.objects.get(pk=campaign_id)
    with transaction.atomic():
        CampaignOverride.objects.filter(
            campaign=campaign, kind=OverrideKind.DAILY_BUDGET, lifted_at__isnull=True
        ).update(lifted_at=timezone.now(), lifted_by=user)
        CampaignOverride.objects.create(
            campaign=campaign,
            kind=OverrideKind.DAILY_BUDGET,
            daily_budget=daily_budget,
            reason=reason[:500] or "staff budget",
            created_by=user,
        )
        log_decision(
            campaign.budget,
            DecisionKind.OVERRIDE,
            reason or "daily budget set by staff",
            campaign=campaign,
            numbers={"daily_budget": daily_budget},
            user=user,
        )
    spend_control.rebalance_budget(campaign.budget_id)
    campaign.refresh_from_db()
    return campaign


def lift_budget_override(campaign_id: int, *, user: User | None) -> AutomatedCampaign:
    """The allocator's (and optimizer's) wish applies again."""
    campaign = AutomatedCampaign.objects.get(pk=campaign_id)
    lifted = CampaignOverride.objects.filter(
        campaign=campaign, kind=OverrideKind.DAILY_BUDGET, lifted_at__isnull=True
    ).update(lifted_at=timezone.now(), lifted_by=user)
    if not lifted:
        raise InvalidInput(["override"], "the campaign has no daily budget override.")
    log_decision(
        campaign.budget,
        DecisionKind.OVERRIDE,
        "daily budget override lifted",
        campaign=campaign,
        user=user,
    )
    spend_control.rebalance_budget(campaign.budget_id)
    campaign.refresh_from_db()
    return campaign


def rebalance_on_commit(budget: AdCampaignBudget) -> None:
    """Once a budget's money or status changes, spend control re-paces its campaigns:
    a stopped budget (paused, cancelled, exhausted) has every campaign paused on its
    platform, a resumed or topped-up one has its auto-paused campaigns resumed."""
    from usher.campaigns.tasks import rebalance_budget_task

    transaction.on_commit(lambda: rebalance_budget_task.delay(budget.pk))
