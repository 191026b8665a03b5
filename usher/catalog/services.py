"""Keeping each ad account's event catalog in sync with the marketplace's events.

One feed per ad account that turned catalogs on (`settings.catalog`): the
organizer's own account carries the organizer's events, the marketplace's account every
event of the marketplace (it runs the campaigns of organizers without an account). A
sync builds the items wanted now (`items.py`), compares their hashes with what the
platform took (`plan.py`) and sends only the difference, in batches of the platform's
size, recording each batch as soon as it is answered: a sync stopped by an outage or a
throttle resumes where it stopped on the next run, and one run twice sends nothing.

The hourly sync queues only the accounts whose catalog may be out of line
(`accounts_due`): a feed never synced, or whose last sync failed or was partial, or one
of whose inputs changed since its last successful sync (`inputs_changed_since`); the
others' diff would be empty. A sync queued by an event's change, or by staff, always
diffs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from django.db import transaction
from django.db.models import Exists, Min, Q, QuerySet

from usher.campaigns.accounts import contract_account, record_health
from usher.campaigns.models import AdAccount, AdAccountStatus
from usher.catalog.items import build_item, item_hash
from usher.catalog.models import CatalogFeed, CatalogItemState, FeedStatus
from usher.catalog.plan import plan_sync
from usher.marketplace.models import EventStatus, MarketplaceEvent, OrderLine, OrderStatus
from usher.platforms.base import PlatformError
from usher.platforms.catalog_common import CatalogItem, ItemOutcome
from usher.platforms.registry import catalog_platform_names, get_catalog_connector

logger = logging.getLogger("usher.catalog")
T = TypeVar("T")

ERROR_MAX_CHARS = 2000
# How far before its last successful sync a feed's inputs are looked at again: a row
# written by a transaction that began before that sync read the events (so stamped
# earlier) but committed after it is still seen by the next hourly run.
UNCHANGED_MARGIN = timedelta(minutes=10)


class CatalogSyncFailed(Exception):
    """The sync stopped on a platform error (recorded on the feed; the next run resumes)."""


@dataclass
class SyncReport:
    sent: int = 0
    deleted: int = 0
    refused: int = 0
    unchanged: int = 0


# The account setting that turns its event catalog on. Opt-in: a catalog is an object
# Usher creates in the organizer's Business (Meta, TikTok) or account (Google), wanted
# only where dynamic ads will run.
CATALOG_SETTING = "catalog"


def catalog_accounts() -> QuerySet[AdAccount]:
    """Ad accounts that get a catalog: active, with a management credential, on a
    platform that has a catalog connector, and with `settings.catalog` on."""
    return AdAccount.objects.filter(
        status=AdAccountStatus.ACTIVE,
        platform__in=catalog_platform_names(),
        **{f"settings__{CATALOG_SETTING}": True},
    ).exclude(credential_encrypted="")


def accounts_covering(event: MarketplaceEvent) -> list[int]:
    """The accounts whose catalog holds `event`: its organizer's and the marketplace's."""
    return list(
        catalog_accounts()
        .filter(client_id=event.client_id)
        .filter(Q(organizer_id=event.organizer_id) | Q(organizer__isnull=True))
        .values_list("pk", flat=True)
    )


def _events_of(account: AdAccount, now: datetime) -> QuerySet[MarketplaceEvent]:
    """The account's events that may be on sale (the item rules decide the rest)."""
    events = MarketplaceEvent.objects.filter(
        client_id=account.client_id, status=EventStatus.PUBLISHED
    ).filter(Q(ends_at__gt=now) | Q(ends_at__isnull=True, starts_at__gt=now))
    if account.organizer_id:
        events = events.filter(organizer_id=account.organizer_id)
    return events.select_related("organizer")


def inputs_changed_since(
    account: AdAccount, feed: CatalogFeed, since: datetime, now: datetime
) -> bool:
    """Whether anything the account's items are built from may have changed after
    `since` (one query): an event of the account (any status, so one that left the
    catalog counts) or its organizer written since, an event that ended in between (its
    item goes), an order of a sellable event without a price (its price is the cheapest
    ticket sold), an item whose event was deleted, or one the platform refused to take
    or to delete (a refused delete is tried again every run, as a full diff would)."""
    events = MarketplaceEvent.objects.filter(client_id=account.client_id)
    if account.organizer_id:
        events = events.filter(organizer_id=account.organizer_id)
    # An event whose item, if any, takes its price from the tickets sold; orders of an
    # event without a page or an image change no item (it gets none).
    priced_by_orders = (
        Q(price_min__isnull=True, status=EventStatus.PUBLISHED)
        & ~Q(public_url="")
        & ~Q(image_url="")
    )
    changed = events.filter(
        Q(updated_at__gt=since)
        | Q(organizer__updated_at__gt=since)
        | Q(ends_at__gt=since, ends_at__lte=now)
        | Q(ends_at__isnull=True, starts_at__gt=since, starts_at__lte=now)
        | Q(priced_by_orders, orders__updated_at__gt=since)
    )
    # An item whose event was deleted, or whose last upsert or delete the platform refused.
    pending = CatalogItemState.objects.filter(feed=feed).filter(
        Q(event__isnull=True) | ~Q(last_error="")
    )
    return (
        CatalogFeed.objects.filter(pk=feed.pk)
        .filter(Q(Exists(changed)) | Q(Exists(pending)))
        .exists()
    )


def accounts_due(now: datetime) -> tuple[list[int], int]:
    """The catalog accounts (ids, in order) whose catalog may be out of line at `now`,
    and how many are left alone: one query for the accounts and their feeds, one per
    feed in sync for its inputs."""
    due: list[int] = []
    accounts = catalog_accounts().select_related("catalog_feed").order_by("pk")
    for account in accounts:
        feed = getattr(account, "catalog_feed", None)  # None: never synced
        if feed is None or not _is_current(feed, account, now):
            due.append(account.pk)
    return due, len(accounts) - len(due)


def _is_current(feed: CatalogFeed, account: AdAccount, now: datetime) -> bool:
    """The feed's last sync succeeded in full and none of its inputs changed since."""
    if feed.status != FeedStatus.OK or feed.last_synced_at is None or not feed.catalog_id:
        return False
    since = feed.last_synced_at - UNCHANGED_MARGIN
    return not inputs_changed_since(account, feed, since, now)


def _lowest_sold_prices(event_ids: Iterable[int]) -> dict[int, Decimal]:
    """The cheapest ticket sold so far per event: the price of events the core sent
    without one (one query)."""
    rows = (
        OrderLine.objects.filter(
            order__event_id__in=list(event_ids), order__status=OrderStatus.PAID
        )
        .values("order__event_id")
        .annotate(lowest=Min("unit_price"))
    )
    return {row["order__event_id"]: row["lowest"] for row in rows}


def wanted_items(account: AdAccount, now: datetime) -> dict[str, tuple[int, CatalogItem]]:
    """The account's catalog as it should be now: content id -> (event id, item)."""
    events = list(_events_of(account, now))
    unpriced = [event.pk for event in events if event.price_min is None]
    sold = _lowest_sold_prices(unpriced) if unpriced else {}
    wanted: dict[str, tuple[int, CatalogItem]] = {}
    for event in events:
        decision = build_item(event, now=now, lowest_sold_price=sold.get(event.pk))
        if decision.item is not None:
            wanted[decision.item.content_id] = (event.pk, decision.item)
    return wanted


def catalog_name(account: AdAccount) -> str:
    owner = account.organizer.name if account.organizer_id else account.client.name
    return f"Usher events · {owner}"[:100]


def sync_feed(account_id: int, now: datetime) -> SyncReport:
    """Bring the account's catalog in line with its events; CatalogSyncFailed when a
    platform error stopped it (recorded on the feed, resumed by the next run)."""
    account = AdAccount.objects.select_related("client", "organizer").get(pk=account_id)
    feed, _ = CatalogFeed.objects.get_or_create(ad_account=account)
    connector = get_catalog_connector(account.platform)
    platform_account = contract_account(account)
    report = SyncReport()
    try:
        if not feed.catalog_id:
            feed.catalog_id = connector.ensure_catalog(platform_account, catalog_name(account), "")
            feed.save(update_fields=["catalog_id", "updated_at"])
        wanted = wanted_items(account, now)
        known = {state.content_id: state for state in feed.items.all()}
        plan = plan_sync({cid: item for cid, (_, item) in wanted.items()}, known)
        report.unchanged = plan.unchanged
        CatalogItemState.objects.filter(feed=feed, content_id__in=plan.forget).delete()
        event_ids = {cid: event_id for cid, (event_id, _) in wanted.items()}
        for batch in _chunks(plan.upserts, connector.max_items_per_call):
            refs = {
                item.content_id: known[item.content_id].ref
                for item in batch
                if item.content_id in known
            }
            outcomes = connector.upsert_items(platform_account, feed.catalog_id, batch, refs)
            _record_upserts(feed, batch, outcomes, event_ids, now, report)
        for pairs in _chunks(list(plan.deletes.items()), connector.max_items_per_call):
            outcomes = connector.delete_items(platform_account, feed.catalog_id, dict(pairs))
            _record_deletes(feed, outcomes, report)
    except PlatformError as error:
        _record_failure(feed, account, error, now)
        raise CatalogSyncFailed(str(error)) from error
    _record_success(feed, account, now)
    return report


def _record_upserts(
    feed: CatalogFeed,
    batch: Sequence[CatalogItem],
    outcomes: Sequence[ItemOutcome],
    event_ids: dict[str, int],
    now: datetime,
    report: SyncReport,
) -> None:
    """One batch's outcomes in two statements: what the platform took (its hash, ref and
    time) and what it refused (the refused hash and reason; what it had stays)."""
    by_id = {outcome.content_id: outcome for outcome in outcomes}
    taken: list[CatalogItemState] = []
    refused: list[CatalogItemState] = []
    for item in batch:
        outcome = by_id.get(item.content_id, ItemOutcome(item.content_id, error="no answer"))
        state = CatalogItemState(
            feed=feed, content_id=item.content_id, event_id=event_ids.get(item.content_id)
        )
        if outcome.ok:
            state.ref, state.synced_hash, state.synced_at = outcome.ref, item_hash(item), now
            taken.append(state)
        else:
            state.refused_hash = item_hash(item)
            state.last_error = outcome.error[:ERROR_MAX_CHARS]
            refused.append(state)
    conflict = {"update_conflicts": True, "unique_fields": ["feed", "content_id"]}
    with transaction.atomic():
        CatalogItemState.objects.bulk_create(
            taken,
            **conflict,
            update_fields=[
                "event",
                "ref",
                "synced_hash",
                "synced_at",
                "refused_hash",
                "last_error",
            ],
        )
        CatalogItemState.objects.bulk_create(
            refused, **conflict, update_fields=["event", "refused_hash", "last_error"]
        )
    report.sent += len(taken)
    report.refused += len(refused)


def _record_deletes(feed: CatalogFeed, outcomes: Sequence[ItemOutcome], report: SyncReport) -> None:
    gone = [outcome.content_id for outcome in outcomes if outcome.ok]
    CatalogItemState.objects.filter(feed=feed, content_id__in=gone).delete()
    report.deleted += len(gone)
    for outcome in outcomes:
        if not outcome.ok:
            report.refused += 1
            CatalogItemState.objects.filter(feed=feed, content_id=outcome.content_id).update(
                last_error=outcome.error[:ERROR_MAX_CHARS]
            )


def _record_success(feed: CatalogFeed, account: AdAccount, now: datetime) -> None:
    states = CatalogItemState.objects.filter(feed=feed)
    refused = states.exclude(refused_hash="").count()
    feed.items_count = states.exclude(synced_hash="").count()
    feed.refused_count = refused
    feed.status = FeedStatus.PARTIAL if refused else FeedStatus.OK
    feed.last_synced_at = now
    feed.last_error = ""
    feed.save(
        update_fields=[
            "items_count",
            "refused_count",
            "status",
            "last_synced_at",
            "last_error",
            "updated_at",
        ]
    )
    record_health(account)


def _record_failure(
    feed: CatalogFeed, account: AdAccount, error: PlatformError, now: datetime
) -> None:
    feed.status = FeedStatus.FAILING
    feed.last_error = str(error)[:ERROR_MAX_CHARS]
    feed.last_error_at = now
    feed.items_count = CatalogItemState.objects.filter(feed=feed).exclude(synced_hash="").count()
    feed.save(update_fields=["status", "last_error", "last_error_at", "items_count", "updated_at"])
    record_health(account, error)
    logger.warning("catalog of ad account %s: %s", account.pk, error)


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
