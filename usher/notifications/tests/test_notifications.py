"""Notices go once per cause, to the right people, by email and in the panel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from usher.conversions.models import ConversionDelivery, DeliveryStatus
from usher.marketplace.models import User
from usher.marketplace.tests.factories import EventFactory, OrderFactory, OrganizerFactory
from usher.notifications import services, watch
from usher.notifications.models import Notification, NotificationKind
from usher.notifications.services import Notice
from usher.ops.models import JobOutcome, JobRun
from usher.tracking.tests.factories import EventTrackingCodeFactory

pytestmark = pytest.mark.django_db

LOW = Notice(
    kind=NotificationKind.BUDGET_LOW,
    cause_key="budget:7:low",
    title="Your budget is below 20%",
    body="RON 180 of RON 1,000 left.",
    link="/panel/budgets/7/",
)


@pytest.fixture
def mailbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return mail.outbox


@pytest.fixture
def organizer_user(organizer):
    return User.objects.create_user(
        "org",
        email="ana@organizer.example",
        password="pw-12345-x",
        client=organizer.client,
        organizer=organizer,
    )


def test_a_cause_is_notified_once_however_often_it_is_noticed(
    organizer, organizer_user, mailbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = services.notify(organizer.client, LOW, organizer=organizer)
        again = services.notify(organizer.client, LOW, organizer=organizer)

    assert first is not None and again is None
    assert Notification.objects.count() == 1
    assert len(mailbox) == 1
    message = mailbox[0]
    assert message.subject == "[Usher] Your budget is below 20%"
    assert sorted(message.to) == sorted({"ana@organizer.example", organizer.email} - {""})
    assert "http://127.0.0.1:8000/panel/budgets/7/" in message.body


def test_an_email_is_sent_once_even_when_the_task_runs_twice(organizer, organizer_user, mailbox):
    notification = services.notify(organizer.client, LOW, organizer=organizer)

    assert services.send_email(notification.pk) is True
    assert services.send_email(notification.pk) is False
    assert len(mailbox) == 1


def test_a_failed_send_is_given_back_for_the_retry(organizer, organizer_user, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    notification = services.notify(organizer.client, LOW, organizer=organizer)

    with pytest.raises(OSError):
        services.send_email(notification.pk)

    notification.refresh_from_db()
    assert notification.emailed_at is None


def test_staff_alerts_go_to_the_marketplaces_staff_only(marketplace, organizer, mailbox):
    User.objects.create_user(
        "staff", email="ops@tixello.example", client=marketplace, is_staff=True
    )
    User.objects.create_user(
        "org", email="ana@organizer.example", client=marketplace, organizer=organizer
    )
    other = OrganizerFactory().client
    User.objects.create_user("theirs", email="ops@other.example", client=other, is_staff=True)
    alert = Notice(NotificationKind.SPEND_ANOMALY, "campaign:3:fast", "Spending fast", "…")

    notification = services.notify(marketplace, alert)

    assert services.recipients(notification) == ["ops@tixello.example"]


def test_the_panel_lists_the_organizers_notices_only_and_marks_them_read(organizer, organizer_user):
    services.notify(organizer.client, LOW, organizer=organizer)
    stranger = OrganizerFactory(client=organizer.client)
    services.notify(
        organizer.client,
        Notice(NotificationKind.BUDGET_EXHAUSTED, "budget:9:out", "Someone else's budget", "…"),
        organizer=stranger,
    )
    browser = Client()
    browser.force_login(organizer_user)

    page = browser.get("/panel/notifications/").content.decode()
    assert "Your budget is below 20%" in page and "Someone else" not in page
    assert 'class="badge on">1</span>' in page  # the unread count in the navigation

    own, theirs = (
        Notification.objects.get(organizer=organizer),
        Notification.objects.get(organizer=stranger),
    )
    response = browser.post("/panel/notifications/", {"id": [own.pk, theirs.pk]})
    assert response.status_code == 302
    own.refresh_from_db(), theirs.refresh_from_db()
    assert own.read_at is not None
    assert theirs.read_at is None  # another organizer's id changes nothing


def test_refused_conversions_notify_the_codes_organizer_once_a_day(organizer):
    code = EventTrackingCodeFactory(organizer=organizer, client=organizer.client)
    order = OrderFactory(event=EventFactory(organizer=organizer, client=organizer.client))
    now = timezone.now()
    base = {
        "client": organizer.client,
        "order": order,
        "organizer_code": code,
        "destination_key": "meta:1",
        "provider": code.provider,
        "event_name": "purchase",
        "next_attempt_at": now,
    }
    ConversionDelivery.objects.create(
        **base, event_id="e1", status=DeliveryStatus.REJECTED, last_error="Invalid pixel id"
    )
    ConversionDelivery.objects.create(**base, event_id="e2", status=DeliveryStatus.DELIVERED)

    assert watch.notify_failing_codes(now) == 1
    # A quarter of an hour later, or the day's last moment when that is already tomorrow
    # (a run at 23:59 UTC crossed midnight, and a new day may tell the organizer again).
    end_of_day = now.replace(hour=23, minute=59, second=59, microsecond=999999)
    assert watch.notify_failing_codes(min(now + timedelta(minutes=15), end_of_day)) == 0

    notice = Notification.objects.get()
    assert notice.organizer == organizer and notice.kind == NotificationKind.DELIVERIES_FAILING
    assert "Invalid pixel id" in notice.body and notice.link == f"/panel/tracking-codes/{code.pk}/"


def test_a_codes_notice_comes_once_a_day_of_the_marketplaces_time_zone(organizer):
    """Bucharest is UTC+2: 23:30 and 00:30 UTC are the same morning there (one notice),
    22:30 UTC the next day is after midnight there (a new one)."""
    organizer.client.timezone = "Europe/Bucharest"
    organizer.client.save(update_fields=["timezone"])
    code = EventTrackingCodeFactory(organizer=organizer, client=organizer.client)
    order = OrderFactory(event=EventFactory(organizer=organizer, client=organizer.client))
    refused = ConversionDelivery.objects.create(
        client=organizer.client,
        order=order,
        organizer_code=code,
        destination_key="meta:1",
        provider=code.provider,
        event_name="purchase",
        event_id="e1",
        status=DeliveryStatus.REJECTED,
        last_error="Invalid pixel id",
        next_attempt_at=timezone.now(),
    )

    def watch_at(moment: datetime) -> int:
        ConversionDelivery.objects.filter(pk=refused.pk).update(updated_at=moment)
        return watch.notify_failing_codes(moment)

    assert watch_at(datetime(2026, 11, 30, 23, 30, tzinfo=UTC)) == 1
    assert watch_at(datetime(2026, 12, 1, 0, 30, tzinfo=UTC)) == 0  # a new UTC day only
    assert watch_at(datetime(2026, 12, 1, 22, 30, tzinfo=UTC)) == 1  # 00:30 on the 2nd
    assert Notification.objects.count() == 2


def test_a_job_part_failing_three_times_in_a_row_alerts_staff(marketplace):
    now = timezone.now()

    def run(outcome, minutes_ago):
        at = now - timedelta(minutes=minutes_ago)
        JobRun.objects.create(
            job="optimize",
            key="budget:4",
            client=marketplace,
            outcome=outcome,
            started_at=at,
            lease_expires_at=at,
            finished_at=at,
            error="PlatformError: 500",
        )

    run(JobOutcome.FAILED, 180)
    run(JobOutcome.SUCCEEDED, 120)
    run(JobOutcome.FAILED, 60)
    run(JobOutcome.FAILED, 30)
    assert watch.notify_failing_jobs(now) == 0  # a success among the last three

    run(JobOutcome.FAILED, 5)
    assert watch.notify_failing_jobs(now) == 1
    alert = Notification.objects.get()
    assert alert.organizer is None and alert.client == marketplace
    assert "PlatformError: 500" in alert.body


def test_the_job_watcher_reads_every_parts_history_in_one_query(
    marketplace, django_assert_num_queries
):
    """However many runs and parts the table keeps (it grows all day), one query reads
    each part's last runs: a query per run, or per part, made every watch slower."""
    now = timezone.now()
    for minutes_ago in range(40):
        at = now - timedelta(minutes=minutes_ago)
        JobRun.objects.create(
            job="optimize",
            key=f"budget:{minutes_ago % 4}",
            client=marketplace,
            outcome=JobOutcome.SUCCEEDED if minutes_ago % 8 else JobOutcome.FAILED,
            started_at=at,
            lease_expires_at=at,
            finished_at=at,
        )
    with django_assert_num_queries(1):
        assert watch.notify_failing_jobs(now) == 0
