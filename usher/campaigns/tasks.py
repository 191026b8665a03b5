"""Celery tasks of the campaigns app: thin wrappers that take ids and are safe to run
twice (publishing is idempotent by reference; spend control re-reads the ledger under
the budget's lock).

The scheduled jobs (metrics every 30 minutes, optimization hourly, the rebalance at
06:00 in each marketplace's time zone) are a dispatcher fired by beat that queues one
task per ad account or budget; every part runs through `run_job` under its own key
(a second run of the same part skips with a log line, bounded in time, recorded for
staff), so many workers share the work and one slow account holds only itself."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict

from celery import Task, shared_task
from django.core.cache import cache
from django.utils import timezone

from usher.campaigns import (
    alerts,
    attribution,
    metrics_sync,
    optimization,
    publishing,
    spend_control,
    suite,
)
from usher.campaigns.models import AdAccount, AdCampaignBudget, BudgetStatus
from usher.lib.outages import cache_or
from usher.marketplace.models import Order
from usher.ops.jobs import (
    JobContext,
    client_zone,
    clients_at_local_hour,
    run_job,
    succeeded_since,
)
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
    """After a change of money or status (on commit) and after each metrics read: spend
    control re-paces the budget; the organizer hears of a low or exhausted remainder."""
    result = spend_control.rebalance_budget(budget_id)
    alerts.notify_budget_state(AdCampaignBudget.objects.get(pk=budget_id))
    logger.info(
        "rebalance budget=%s campaigns=%d failed=%d exhausted=%s",
        budget_id,
        len(result.applied),
        sum(not a.ok for a in result.applied),
        result.exhausted,
    )


# --- scheduled jobs: one beat task that finds the work, one task per part of it ---

# Dispatchers only look up ids and queue tasks: minutes at most.
DISPATCH_MAX_SECONDS = 5 * 60
# One budget's or one account's part: bounded well under the hour between runs, so a
# part that hangs on a slow platform frees its lock before the next hour's run.
PART_MAX_SECONDS = 15 * 60
# The parts run on the `campaigns` queue (CELERY_TASK_ROUTES; README: what to scale).
PART_TIME_LIMITS = {"soft_time_limit": PART_MAX_SECONDS, "time_limit": PART_MAX_SECONDS + 60}
REBALANCE_LOCAL_HOUR = 6  # the plan's daily rebalance, in each marketplace's time zone


def _dispatch(job: str, task: Task, parts: list[tuple[object, ...]], context: JobContext) -> None:
    """Queue one task per part. The ids were read from committed rows and the
    dispatcher writes nothing before queueing, so there is no transaction to wait for."""
    for args in parts:
        task.delay(*args)
    context.counts["queued"] += len(parts)
    logger.info("%s: %d parts queued", job, len(parts))


@shared_task(ignore_result=True)
def rebalance_all_budgets_task() -> None:
    """Hourly on the hour: the budgets of marketplaces where it is 06:00 are re-paced
    (their day's part runs once per local day, however often beat fires)."""

    def work(context: JobContext) -> None:
        now = timezone.now()
        parts = []
        for client in clients_at_local_hour(now, REBALANCE_LOCAL_HOUR):
            budgets = AdCampaignBudget.objects.filter(client=client).exclude(
                status__in=[BudgetStatus.PENDING_PAYMENT, BudgetStatus.CANCELLED]
            )
            parts += [(pk,) for pk in budgets.order_by("pk").values_list("pk", flat=True)]
        _dispatch("rebalance-budgets", daily_rebalance_task, parts, context)

    run_job("rebalance-budgets", work, max_seconds=DISPATCH_MAX_SECONDS)


@shared_task(ignore_result=True, **PART_TIME_LIMITS)
def daily_rebalance_task(budget_id: int) -> None:
    """One budget's 06:00: suites for a general budget's new events, and a second look
    at every campaign skipped for a reason that passes (an audience that was still
    building when the suite was made is ready after the 03:00 refresh: the campaign
    goes to the staff's approval queue), the daily budgets
    that keep spend within the remainder until the end date, the organizer told of a
    low or exhausted remainder, staff alerted of spend anomalies."""
    budget = AdCampaignBudget.objects.select_related("client").get(pk=budget_id)
    key = f"budget:{budget_id}"

    def work(context: JobContext) -> None:
        local_midnight = (
            timezone.now()
            .astimezone(client_zone(budget.client))
            .replace(hour=0, minute=0, second=0, microsecond=0)
        )
        if succeeded_since("rebalance-budget", key, local_midnight):
            context.counts["already_done"] += 1
            logger.info("daily rebalance of budget=%s done already today", budget_id)
            return
        if budget.status == BudgetStatus.ACTIVE:
            create_suites_task.delay(budget_id)
        result = spend_control.rebalance_budget(budget_id)
        context.counts["campaigns"] += len(result.applied)
        context.counts["refused"] += sum(not a.ok for a in result.applied)
        budget.refresh_from_db()
        context.counts["notices"] += len(alerts.notify_budget_state(budget))
        context.counts["anomalies"] += alerts.notify_spend_anomalies(budget, timezone.now())

    run_job(
        "rebalance-budget", work, key=key, max_seconds=PART_MAX_SECONDS, client_id=budget.client_id
    )


# A metrics round's counters (accounts of a budget not read yet) outlive any round: its
# parts are bounded by PART_MAX_SECONDS once they start, and may wait in the queue.
METRICS_ROUND_SECONDS = 2 * 60 * 60


def _round_key(round_id: str, budget_id: int) -> str:
    return f"usher:metrics-round:{round_id}:budget:{budget_id}"


@shared_task(ignore_result=True)
def sync_campaign_metrics_task() -> None:
    """Every 30 minutes: one task per ad account with live campaigns, so a slow or
    failing account holds only itself. Each budget is re-paced once per round, by the
    last of its accounts to be read (a budget on three platforms used to be re-paced
    three times, the first two on a partial read)."""

    def work(context: JobContext) -> None:
        by_account = metrics_sync.accounts_to_sync(timezone.now())
        budgets_of = {
            account_id: sorted({c.budget_id for c in campaigns})
            for account_id, campaigns in by_account.items()
        }
        accounts_per_budget: dict[int, int] = defaultdict(int)
        for budget_ids in budgets_of.values():
            for budget_id in budget_ids:
                accounts_per_budget[budget_id] += 1
        round_id = uuid.uuid4().hex
        # The counters exist before any part can run (parts may run at once, or inline).
        cache_or(
            lambda: cache.set_many(
                {_round_key(round_id, b): n for b, n in accounts_per_budget.items()},
                timeout=METRICS_ROUND_SECONDS,
            ),
            lambda: None,
        )
        parts = [(pk, round_id, budgets_of[pk]) for pk in sorted(by_account)]
        _dispatch("sync-campaign-metrics", sync_account_metrics_task, parts, context)

    run_job("sync-campaign-metrics", work, max_seconds=DISPATCH_MAX_SECONDS)


def _last_of_round(round_id: str, budget_id: int) -> bool:
    """Whether this part is the last of the round to finish among the budget's accounts.
    An atomic decrement decides, so of parts finishing at once exactly one sees zero; a
    missing counter (expired, or the cache was down when the round started) or a cache
    outage answers True: a budget re-paced twice is safe, one never re-paced is not."""

    def remaining() -> int:
        try:
            return cache.decr(_round_key(round_id, budget_id))
        except ValueError:  # no such counter
            return 0

    return cache_or(remaining, lambda: 0) <= 0


@shared_task(ignore_result=True, **PART_TIME_LIMITS)
def sync_account_metrics_task(
    account_id: int, round_id: str = "", round_budget_ids: list[int] | None = None
) -> None:
    """One account's delivery in; then the budgets it is the last of the round to read
    (all of its budgets when queued outside a round) re-paced and checked for spend
    anomalies. A part counts for its round even when its account's read failed, so the
    budget's other accounts' reads are acted on."""
    account = AdAccount.objects.get(pk=account_id)

    def work(context: JobContext) -> None:
        summary = metrics_sync.sync_account_metrics(account_id)
        context.counts["rows"] += summary.rows
        context.counts["campaigns"] += summary.campaigns
        if summary.failed_accounts:
            context.counts["failed"] += 1
        if round_id:
            budget_ids = [b for b in round_budget_ids or [] if _last_of_round(round_id, b)]
        else:
            budget_ids = sorted(summary.budget_ids)
        for budget_id in budget_ids:
            rebalance_budget_task.delay(budget_id)  # the account's rows are committed
            budget = AdCampaignBudget.objects.get(pk=budget_id)
            context.counts["anomalies"] += alerts.notify_spend_anomalies(budget, timezone.now())

    run_job(
        "sync-account-metrics",
        work,
        key=f"account:{account_id}",
        max_seconds=PART_MAX_SECONDS,
        client_id=account.client_id,
    )


@shared_task(ignore_result=True)
def optimize_budgets_task() -> None:
    """Hourly: one optimization task per active budget."""

    def work(context: JobContext) -> None:
        budgets = AdCampaignBudget.objects.filter(status=BudgetStatus.ACTIVE).order_by("pk")
        _dispatch(
            "optimize-budgets",
            optimize_budget_task,
            [(pk,) for pk in budgets.values_list("pk", flat=True)],
            context,
        )

    run_job("optimize-budgets", work, max_seconds=DISPATCH_MAX_SECONDS)


@shared_task(ignore_result=True, **PART_TIME_LIMITS)
def optimize_budget_task(budget_id: int) -> None:
    """One budget's hourly cycle (see `usher.campaigns.optimization`); a second run
    while one holds the budget skips, and one after it in the same hour does nothing."""
    budget = AdCampaignBudget.objects.get(pk=budget_id)

    def work(context: JobContext) -> None:
        hour = timezone.now().replace(minute=0, second=0, microsecond=0)
        if succeeded_since("optimize-budget", f"budget:{budget_id}", hour):
            context.counts["already_done"] += 1
            logger.info("optimization of budget=%s done already this hour", budget_id)
            return
        outcome = optimization.optimize_budget(budget_id)
        context.counts.update(
            decisions=outcome.decisions,
            applied=outcome.applied,
            refused=outcome.refused,
            recommendations=outcome.recommendations,
        )
        if outcome.skipped:
            logger.info("optimization of budget=%s skipped: %s", budget_id, outcome.skipped)

    run_job(
        "optimize-budget",
        work,
        key=f"budget:{budget_id}",
        max_seconds=PART_MAX_SECONDS,
        client_id=budget.client_id,
    )


@shared_task(ignore_result=True)
def attribute_order_task(order_id: int) -> None:
    """After an order is stored or changed; safe to run twice (one row per order)."""
    order = Order.objects.filter(pk=order_id).first()
    if order is not None:
        attribution.attribute_conversion(order)
