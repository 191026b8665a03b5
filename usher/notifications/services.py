"""Notify once per cause: in the panel (organizers) or the admin (staff), and by email.

`notify` is called by whatever notices a cause — the rebalance job, the staff's
rejection, the delivery-health check — as often as it likes: the first call creates
the notice and queues its email; later calls about the same cause do nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from usher.marketplace.models import MarketplaceClient, MarketplaceOrganizer, User
from usher.notifications.models import Notification

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    kind: str
    cause_key: str
    title: str
    body: str
    link: str = ""


def notify(
    client: MarketplaceClient, notice: Notice, organizer: MarketplaceOrganizer | None = None
) -> Notification | None:
    """Record the notice for `organizer` (or the client's staff when None) unless one
    about the same cause exists; return the new row, or None when already notified."""
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                client=client,
                organizer=organizer,
                kind=notice.kind,
                cause_key=notice.cause_key,
                title=notice.title,
                body=notice.body,
                link=notice.link,
            )
    except IntegrityError:
        return None
    from usher.notifications.tasks import email_notification_task

    transaction.on_commit(lambda: email_notification_task.delay(notification.pk))
    return notification


def recipients(notification: Notification) -> list[str]:
    """The organizer's users and contact address, or the marketplace's staff."""
    if notification.organizer_id is not None:
        users = User.objects.filter(organizer_id=notification.organizer_id, is_active=True)
        extra = [notification.organizer.email]
    else:
        users = User.objects.filter(
            client_id=notification.client_id, organizer__isnull=True, is_staff=True, is_active=True
        )
        extra = []
    addresses = [*users.exclude(email="").values_list("email", flat=True), *extra]
    return sorted({address for address in addresses if address})


def send_email(notification_id: int) -> bool:
    """Email a notification once; True when sent now. Safe to run twice: the row is
    claimed (emailed_at set) before sending, so a second worker finds nothing to do."""
    claimed = Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    if not claimed:
        return False
    notification = Notification.objects.select_related("organizer").get(pk=notification_id)
    to = recipients(notification)
    if not to:
        logger.info(
            "notification %s has no recipient address; shown in Usher only", notification.pk
        )
        return False
    link = f"\n\n{settings.USHER_PUBLIC_URL}{notification.link}" if notification.link else ""
    try:
        send_mail(
            subject=f"[Usher] {notification.title}",
            message=f"{notification.body}{link}",
            from_email=None,
            recipient_list=to,
        )
    except Exception:
        # Give the claim back so the next attempt (Celery retry) can send it.
        Notification.objects.filter(pk=notification_id).update(emailed_at=None)
        raise
    return True


def mark_read(organizer: MarketplaceOrganizer, notification_ids: list[int]) -> int:
    return (
        Notification.objects.for_organizer(organizer)
        .filter(pk__in=notification_ids, read_at__isnull=True)
        .update(read_at=timezone.now())
    )
