"""Celery tasks of the campaigns app: thin wrappers that take ids and are safe to run
twice (publishing is idempotent by reference; spend control re-reads the ledger under
the budget's lock)."""

from __future__ import annotations

import logging

from celery import shared_task

from usher.campaigns import attribution, metrics_sync, publishing, spend_control, suite
from usher.campaigns.models import AdCampaignBudget, BudgetStatus
from usher.marketplace.models import Order
from usher.platforms.base import PlatformError

logger = logging.getLogger("usher.campaigns")

PUBLISH_MAX_RETRIES = 8
PUBLISH_BACKOFF_BASE_SECONDS = 30


@shared_task(ignore_result=True)
def create_suites_task(budget_id: int) -> None:
    budget = AdCampaignBudget.objects.get(pk=budget_id)
    created = suite.create_suites_for_budget(budget)
    logger.info("suites for budget=%s: %d campaigns", budget_id, len(created))


@shared_task(bind=True, ignore_result=True, max_retries=PUBLISH_MAX_RETRIES)
def publish_campaign_task(self, campaign_id: int) -> None:
    try:
        publishing.publish_campaign(campaign_id)
    except PlatformError as exc:
        delay = exc.retry_after_seconds or PUBLISH_BACKOFF_BASE_SECONDS * 2**self.request.retries
        raise self.retry(exc=exc, countdown=delay) from exc


@shared_task(ignore_result=True)
def rebalance_budget_task(budget_id: int) -> None:
    result = spend_control.rebalance_budget(budget_id)
    logger.info(
        "rebalance budget=%s campaigns=%d failed=%d exhausted=%s",
        budget_id,
        len(result.applied),
        sum(not a.ok for a in result.applied),
        result.exhausted,
    )


@shared_task(ignore_result=True)
def rebalance_all_budgets_task() -> None:
    """Daily: suites for general budgets' new events, and every running budget re-paced,
    so shrinking remainders and ending flights lower what the platforms may spend."""
    budgets = AdCampaignBudget.objects.exclude(
        status__in=[BudgetStatus.PENDING_PAYMENT, BudgetStatus.CANCELLED]
    )
    # General budgets fund events published since: their suites go to review first.
    for budget_id in budgets.filter(status=BudgetStatus.ACTIVE, event__isnull=True).values_list(
        "pk", flat=True
    ):
        create_suites_task.delay(budget_id)
    for budget_id in budgets.values_list("pk", flat=True):
        rebalance_budget_task.delay(budget_id)


@shared_task(ignore_result=True)
def sync_campaign_metrics_task() -> None:
    """Every 30 minutes: platform-reported delivery in, then re-pace the budgets whose
    spend moved (spend control pauses an exhausted budget's campaigns)."""
    summary = metrics_sync.sync_campaign_metrics()
    for budget_id in sorted(summary.budget_ids):
        rebalance_budget_task.delay(budget_id)


@shared_task(ignore_result=True)
def attribute_order_task(order_id: int) -> None:
    """After an order is stored or changed; safe to run twice (one row per order)."""
    order = Order.objects.filter(pk=order_id).first()
    if order is not None:
        attribution.attribute_conversion(order)
