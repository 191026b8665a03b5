"""What the admin, the organizer API and the jobs ask of the delivery pipeline."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from usher.conversions.models import (
    OPEN_STATUSES,
    ConversionDelivery,
    DeliveryBatch,
    DeliveryStatus,
)
from usher.events.models import TrackingEvent
from usher.marketplace.models import Order, OrderStatus

REPLAYABLE_STATUSES = (DeliveryStatus.DEAD, DeliveryStatus.REJECTED)
# IP and user agent are kept this long at most, and never past the event's last delivery.
NETWORK_DATA_RETENTION_DAYS = 7
NETWORK_DATA_GRACE_HOURS = 1  # a late order may still want its browser event's data
# Open deliveries, and dead ones, which staff may still replay within the retention.
NEEDS_NETWORK_DATA = (*OPEN_STATUSES, DeliveryStatus.DEAD)
DELIVERY_LOG_RETENTION_DAYS = 30


def replay(deliveries: Iterable[ConversionDelivery]) -> set[str]:
    """Put dead or rejected deliveries back in the queue (e.g. after the organizer fixed
    their token); returns the destinations to dispatch."""
    ids = [d.pk for d in deliveries if d.status in REPLAYABLE_STATUSES]
    with transaction.atomic():
        rows = ConversionDelivery.objects.filter(pk__in=ids, status__in=REPLAYABLE_STATUSES)
        keys = set(rows.values_list("destination_key", flat=True))
        rows.update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            lease_expires_at=None,
        )
    return keys


@dataclass(frozen=True)
class CodeDeliveryStatus:
    delivered: int
    rejected: int
    dead: int
    pending: int
    last_success_at: datetime | None
    last_error: str
    last_error_at: datetime | None


# What a code that has sent nothing yet reports.
NO_DELIVERIES = CodeDeliveryStatus(0, 0, 0, 0, None, "", None)


def status_for_codes(code_ids: Iterable[int]) -> dict[int, CodeDeliveryStatus]:
    """Per organizer code: what was delivered, what failed and the latest error (two
    queries, whatever the number of codes)."""
    ids = list(code_ids)
    counts = (
        ConversionDelivery.objects.filter(organizer_code_id__in=ids)
        .values("organizer_code_id")
        .annotate(
            delivered=Count("id", filter=Q(status=DeliveryStatus.DELIVERED)),
            rejected=Count("id", filter=Q(status=DeliveryStatus.REJECTED)),
            dead=Count("id", filter=Q(status=DeliveryStatus.DEAD)),
            pending=Count("id", filter=Q(status__in=OPEN_STATUSES)),
            last_success_at=Max("delivered_at"),
        )
    )
    failures = (
        ConversionDelivery.objects.filter(organizer_code_id__in=ids)
        .exclude(last_error="")
        .order_by("organizer_code_id", "-last_attempt_at")
        .values_list("organizer_code_id", "last_error", "last_attempt_at")
    )
    latest_failure: dict[int, tuple[str, datetime | None]] = {}
    for code_id, error, at in failures:
        latest_failure.setdefault(code_id, (error, at))
    statuses = {}
    for row in counts:
        code_id = row.pop("organizer_code_id")
        error, error_at = latest_failure.get(code_id, ("", None))
        statuses[code_id] = CodeDeliveryStatus(**row, last_error=error, last_error_at=error_at)
    return statuses


def purge_network_data(now: datetime | None = None) -> int:
    """Forget IP addresses and user agents once no delivery needs them any more (dead
    ones may still be replayed), and after NETWORK_DATA_RETENTION_DAYS in any case;
    returns the rows purged."""
    now = now or timezone.now()
    expired = now - timedelta(days=NETWORK_DATA_RETENTION_DAYS)
    settled = now - timedelta(hours=NETWORK_DATA_GRACE_HOURS)
    needing = ConversionDelivery.objects.filter(status__in=NEEDS_NETWORK_DATA)
    event_deliveries = needing.filter(tracking_event__isnull=False)
    order_deliveries = needing.filter(order__isnull=False)
    # Not fanned out yet means its deliveries do not exist yet: a backlog or an order
    # ingested hours after it was placed must not lose what its deliveries will need.
    events = (
        TrackingEvent.objects.filter(network_data_purged_at__isnull=True)
        .filter(
            Q(occurred_at__lt=expired)
            | Q(received_at__lt=settled, fanned_out_at__isnull=False)
            & ~Q(pk__in=event_deliveries.values("tracking_event_id"))
            # an order's purchase may still borrow its buyer's browser data
            & ~Q(
                visitor_id__in=order_deliveries.exclude(order__visitor_id="").values(
                    "order__visitor_id"
                )
            )
        )
        .update(ip_address=None, user_agent="", network_data_purged_at=now)
    )
    orders = (
        Order.objects.exclude(client_ip__isnull=True, user_agent="")
        .filter(
            Q(placed_at__lt=expired)
            | Q(placed_at__lt=settled)
            & ~Q(fanned_out_at__isnull=True, status=OrderStatus.PAID)
            & ~Q(pk__in=order_deliveries.values("order_id"))
        )
        .update(client_ip=None, user_agent="")
    )
    return events + orders


# What an erased buyer's batch logs say in place of the request body they were in.
ERASED_BODY = "[erased: the request carried a buyer who asked to be forgotten]"


def erase_logged_requests(
    client_id: int, order_ids: Iterable[int], tracking_event_ids: Iterable[int]
) -> int:
    """Blank the logged request body of every call that carried these orders' or browser
    events' conversions: the body holds the buyer's hashed email and phone, and a log
    must not keep what the buyer's erasure removed everywhere else. The rest of the row
    (when, where, how many, the platform's answer) stays for the delivery history.
    Returns the logs changed."""
    carried = Q(deliveries__order_id__in=list(order_ids)) | Q(
        deliveries__tracking_event_id__in=list(tracking_event_ids)
    )
    logs = list(
        DeliveryBatch.objects.filter(carried, client_id=client_id)
        .exclude(request_summary__body=ERASED_BODY)
        .distinct()
        .only("id", "request_summary")
    )
    for log in logs:
        log.request_summary = {**log.request_summary, "body": ERASED_BODY}
    DeliveryBatch.objects.bulk_update(logs, ["request_summary"])
    return len(logs)


def purge_delivery_logs(now: datetime | None = None) -> int:
    """Drop batch logs past their retention (they hold hashed identifiers)."""
    cutoff = (now or timezone.now()) - timedelta(days=DELIVERY_LOG_RETENTION_DAYS)
    ConversionDelivery.objects.filter(last_batch__created_at__lt=cutoff).update(last_batch=None)
    deleted, _ = DeliveryBatch.objects.filter(created_at__lt=cutoff).delete()
    return deleted
