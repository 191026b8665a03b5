"""Where staff see a catalog's state, and how ingest bursts reach the sync."""

from __future__ import annotations

import pytest
from django.utils import timezone

from usher.campaigns.tests.factories import AdAccountFactory
from usher.catalog import services, tasks
from usher.catalog.models import CatalogFeed, FeedStatus
from usher.catalog.tests.conftest import sellable_event
from usher.marketplace.tests.factories import MarketplaceClientFactory, staff_user
from usher.ops.models import JobOutcome, JobRun

pytestmark = pytest.mark.django_db


def test_staff_see_their_marketplaces_catalogs_with_the_last_error(client, marketplace):
    ours = AdAccountFactory(client=marketplace, settings={"catalog": True})
    CatalogFeed.objects.create(
        ad_account=ours, status=FeedStatus.FAILING, items_count=12, last_error="token expired"
    )
    theirs = AdAccountFactory(client=MarketplaceClientFactory(), settings={"catalog": True})
    hidden = CatalogFeed.objects.create(ad_account=theirs, last_error="someone else's")
    client.force_login(staff_user(marketplace, "campaigns"))

    page = client.get("/admin/staff/deliveries/").content.decode()
    assert ours.account_id in page and "token expired" in page and "Failing" in page
    assert f'data-feed="{hidden.pk}"' not in page and "someone else" not in page
    client.force_login(staff_user(marketplace, "catalog", username="catalog-staff"))
    admin_page = client.get("/admin/catalog/catalogfeed/")
    assert admin_page.status_code == 200 and ours.account_id in admin_page.content.decode()
    assert theirs.account_id not in admin_page.content.decode()
    feed = CatalogFeed.objects.get(ad_account=ours)
    feed.items.create(content_id="core-1", synced_hash="a" * 64)
    feed.items.create(content_id="core-2", refused_hash="b" * 64, last_error="Invalid price")
    change_page = client.get(f"/admin/catalog/catalogfeed/{feed.pk}/change/").content.decode()
    assert "Invalid price" in change_page and "core-2" in change_page
    assert "core-1" not in change_page  # synced items are counted, not listed


def test_a_burst_of_changed_events_queues_one_sync_per_account(monkeypatch, marketplace, organizer):
    AdAccountFactory(client=marketplace, settings={"catalog": True})
    queued: list[tuple[int, ...]] = []
    monkeypatch.setattr(
        tasks.sync_catalog_task, "apply_async", lambda args, countdown: queued.append(args)
    )
    events = [sellable_event(organizer) for _ in range(5)]
    for event in events:
        tasks.sync_event_catalogs_task(event.pk)
    assert len(queued) == 1


def test_the_hourly_job_queues_every_catalog_account(monkeypatch, marketplace):
    enabled = AdAccountFactory(client=marketplace, settings={"catalog": True})
    AdAccountFactory(client=marketplace)  # no catalog
    queued: list[int] = []
    monkeypatch.setattr(tasks.sync_catalog_task, "delay", queued.append)
    tasks.sync_catalogs_task()
    assert queued == [enabled.pk]
    assert list(services.catalog_accounts()) == [enabled]


def test_a_failing_sync_is_recorded_as_a_failed_job_part(marketplace, organizer):
    account = AdAccountFactory(client=marketplace, settings={"catalog": True})  # no business
    sellable_event(organizer)
    tasks.sync_catalog_task(account.pk)
    run = JobRun.objects.get(job="sync-catalog")
    assert (run.key, run.outcome) == (f"account:{account.pk}", JobOutcome.FAILED)
    assert "business_id" in run.error
    assert CatalogFeed.objects.get(ad_account=account).last_error_at <= timezone.now()


def test_sync_now_in_the_admin_tries_refused_items_again(
    client, marketplace, django_capture_on_commit_callbacks, monkeypatch
):
    account = AdAccountFactory(client=marketplace, settings={"catalog": True})
    feed = CatalogFeed.objects.create(ad_account=account)
    feed.items.create(content_id="core-2", refused_hash="b" * 64, last_error="Invalid price")
    queued: list[int] = []
    monkeypatch.setattr(tasks.sync_catalog_task, "delay", queued.append)
    client.force_login(staff_user(marketplace, "catalog", username="catalog-staff"))
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            "/admin/catalog/catalogfeed/", {"action": "sync_now", "_selected_action": [feed.pk]}
        )
    assert answer.status_code == 302
    assert queued == [account.pk]
    assert feed.items.get().refused_hash == ""
