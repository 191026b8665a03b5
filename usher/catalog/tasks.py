"""Celery tasks of the event catalog: the hourly sync of every account's catalog, and
one task per ad account (its own lock: a second run while one holds it skips; a run
twice sends nothing the platform already has)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from usher.campaigns.models import AdAccount
from usher.catalog import services
from usher.lib.outages import cache_or
from usher.marketplace.models import MarketplaceEvent
from usher.ops.jobs import JobContext, run_job

logger = logging.getLogger("usher.catalog")

DISPATCH_MAX_SECONDS = 5 * 60
# One account's sync; its Celery time limit frees a worker a platform holds.
SYNC_MAX_SECONDS = 20 * 60
# An ingested event's catalogs sync this long after it: a batch of changed events, or
# an edit and its corrections, go out in one sync rather than one sync each.
EVENT_SYNC_DELAY_SECONDS = 60


@shared_task(ignore_result=True)
def sync_catalogs_task() -> None:
    """Hourly: one sync task per ad account whose catalog may be out of line (counted
    `unchanged`: the accounts in sync whose events did not change since)."""

    def work(context: JobContext) -> None:
        ids, unchanged = services.accounts_due(timezone.now())
        for account_id in ids:
            sync_catalog_task.delay(account_id)
        context.counts["queued"] += len(ids)
        context.counts["unchanged"] += unchanged

    run_job("sync-catalogs", work, max_seconds=DISPATCH_MAX_SECONDS)


@shared_task(ignore_result=True, soft_time_limit=SYNC_MAX_SECONDS, time_limit=SYNC_MAX_SECONDS + 60)
def sync_catalog_task(account_id: int) -> None:
    """One account's catalog, recorded as a part of the catalog job (key
    `account:<id>`); a platform error is recorded on the feed and the run marked failed,
    and the next run resumes."""
    client_id = AdAccount.objects.filter(pk=account_id).values_list("client_id", flat=True).first()
    if client_id is None:
        return  # the account was deleted since the task was queued

    def work(context: JobContext) -> None:
        report = services.sync_feed(account_id, timezone.now())
        context.counts["sent"] += report.sent
        context.counts["deleted"] += report.deleted
        context.counts["refused"] += report.refused

    try:
        run_job(
            "sync-catalog",
            work,
            key=f"account:{account_id}",
            max_seconds=SYNC_MAX_SECONDS,
            client_id=client_id,
        )
    except services.CatalogSyncFailed as failure:
        logger.warning("catalog sync of ad account %s stopped: %s", account_id, failure)


@shared_task(ignore_result=True)
def sync_event_catalogs_task(event_id: int) -> None:
    """After an event is ingested or changed: the catalogs that hold it, a little later.
    One sync per account is queued per delay window, however many of its events change
    (a batch of 500 events is one sync, not 500); while the cache is down every change
    queues its own, which the part's lock and the empty diff keep harmless."""
    event = MarketplaceEvent.objects.filter(pk=event_id).first()
    if event is None:
        return
    for account_id in services.accounts_covering(event):
        key = f"catalog-sync-queued:{account_id}"
        first = cache_or(
            lambda key=key: cache.add(key, 1, timeout=EVENT_SYNC_DELAY_SECONDS), lambda: True
        )
        if first:
            sync_catalog_task.apply_async((account_id,), countdown=EVENT_SYNC_DELAY_SECONDS)
