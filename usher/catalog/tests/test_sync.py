"""Keeping catalogs in sync through the sandbox: only changes go out, ended events are
deleted, refusals wait for a change, outages lose nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from usher.campaigns.models import AdAccount
from usher.catalog import services, tasks
from usher.catalog.models import CatalogFeed, CatalogItemState, FeedStatus
from usher.catalog.plan import plan_sync
from usher.catalog.tests.conftest import GOOGLE_CUSTOMER, META_BUSINESS, sellable_event
from usher.marketplace.content_ids import event_content_id
from usher.marketplace.models import MarketplaceEvent, MarketplaceOrganizer, Order
from usher.marketplace.tests.factories import OrderFactory, OrganizerFactory
from usher.ops.models import JobRun
from usher.platforms.campaigns_common import CallKind, management_bucket

pytestmark = pytest.mark.django_db


def sync(account: AdAccount) -> services.SyncReport:
    return services.sync_feed(account.pk, timezone.now())


def meta_items(sandbox, account: AdAccount) -> dict[str, dict]:
    feed = CatalogFeed.objects.get(ad_account=account)
    return sandbox.state.get_object("meta", feed.catalog_id)["items"]


def batches(sandbox) -> list[dict]:
    return [r["body"] for r in sandbox.requests(platform="meta", path="items_batch")]


def test_the_first_sync_creates_the_catalog_and_sends_every_event(sandbox, meta_account, events):
    report = sync(meta_account)
    assert report.sent == 3
    created = sandbox.requests(platform="meta", path="owned_product_catalogs")
    assert created[0]["path"].endswith(f"/{META_BUSINESS}/owned_product_catalogs")
    items = meta_items(sandbox, meta_account)
    assert set(items) == {event_content_id(e) for e in events}
    first = items[event_content_id(events[0])]
    assert (first["price"], first["availability"], first["link"]) == (
        "80.00 RON",
        "in stock",
        "https://tix.example/e/show",
    )
    feed = CatalogFeed.objects.get(ad_account=meta_account)
    assert (feed.status, feed.items_count, feed.last_error) == (FeedStatus.OK, 3, "")


def test_a_second_sync_sends_nothing(sandbox, meta_account, events):
    sync(meta_account)
    report = sync(meta_account)
    assert (report.sent, report.deleted, report.unchanged) == (0, 0, 3)
    assert len(batches(sandbox)) == 1
    assert len(sandbox.requests(platform="meta", path="owned_product_catalogs")) == 1


def test_only_the_changed_event_is_sent_again(sandbox, meta_account, events):
    sync(meta_account)
    events[1].price_min = Decimal("95.00")
    events[1].tickets_left = 0
    events[1].save()
    events[2].slug = "renamed-show"  # not part of the item: nothing to send
    events[2].save()
    assert sync(meta_account).sent == 1
    sent = batches(sandbox)[-1]["requests"]
    assert [r["data"]["id"] for r in sent] == [event_content_id(events[1])]
    item = meta_items(sandbox, meta_account)[event_content_id(events[1])]
    assert (item["price"], item["availability"]) == ("95.00 RON", "out of stock")


def test_ended_and_cancelled_events_are_deleted(sandbox, meta_account, events):
    sync(meta_account)
    events[0].status = "cancelled"
    events[0].save()
    events[1].delete()
    report = sync(meta_account)
    assert report.deleted == 2
    deletes = batches(sandbox)[-1]["requests"]
    assert {r["method"] for r in deletes} == {"DELETE"}
    assert set(meta_items(sandbox, meta_account)) == {event_content_id(events[2])}
    assert CatalogItemState.objects.count() == 1


def test_the_marketplace_account_holds_every_organizer_and_an_organizer_account_its_own(
    sandbox, marketplace, organizer, meta_account, events
):
    other = sellable_event(OrganizerFactory(client=marketplace))
    own = AdAccount.objects.create(
        client=marketplace,
        organizer=other.organizer,
        platform="meta",
        account_id="act_5550000000",
        currency="RON",
        settings={"catalog": True, "business_id": "5550003334"},
    )
    own.set_credential("sandbox-token")
    own.save()
    sync(meta_account)
    sync(own)
    assert len(meta_items(sandbox, meta_account)) == 4
    assert set(meta_items(sandbox, own)) == {event_content_id(other)}
    assert services.accounts_covering(other) == sorted([meta_account.pk, own.pk])
    assert services.accounts_covering(events[0]) == [meta_account.pk]


def test_a_refused_item_is_recorded_and_not_resent_until_it_changes(sandbox, meta_account, events):
    events[0].image_url = "ftp://tix.example/poster.jpg"  # Meta wants http(s)
    events[0].save()
    report = sync(meta_account)
    assert (report.sent, report.refused) == (2, 1)
    state = CatalogItemState.objects.get(content_id=event_content_id(events[0]))
    assert "image_link" in state.last_error and state.synced_hash == ""
    feed = CatalogFeed.objects.get(ad_account=meta_account)
    assert (feed.status, feed.items_count, feed.refused_count) == (FeedStatus.PARTIAL, 2, 1)

    assert sync(meta_account).sent == 0  # unchanged: not sent again
    events[0].image_url = "https://tix.example/poster.jpg"
    events[0].save()
    assert sync(meta_account).sent == 1
    assert CatalogFeed.objects.get(ad_account=meta_account).status == FeedStatus.OK


def test_an_outage_stops_the_sync_and_the_next_run_resumes(sandbox, meta_account, events):
    sync(meta_account)  # the catalog exists
    for event in events:
        event.price_min = Decimal("70.00")
        event.save()
    sandbox.fault(platform="meta", mode="5xx", path="items_batch", count=10)
    with pytest.raises(services.CatalogSyncFailed):
        sync(meta_account)
    feed = CatalogFeed.objects.get(ad_account=meta_account)
    assert feed.status == FeedStatus.FAILING and feed.last_error
    assert AdAccount.objects.get(pk=meta_account.pk).last_error  # shown on the account too
    assert {i["price"] for i in meta_items(sandbox, meta_account).values()} == {"80.00 RON"}

    sandbox.control.delete("/_sandbox/faults")
    assert sync(meta_account).sent == 3
    assert {i["price"] for i in meta_items(sandbox, meta_account).values()} == {"70.00 RON"}
    assert CatalogFeed.objects.get(ad_account=meta_account).status == FeedStatus.OK


def test_a_used_up_catalog_bucket_sends_nothing_and_leaves_the_change_pending(
    sandbox, meta_account, events
):
    sync(meta_account)
    events[0].price_min = Decimal("70.00")
    events[0].save()
    bucket = management_bucket("meta", meta_account.account_id, CallKind.CATALOG)
    while bucket.take() == 0:  # another job used the account's catalog calls up
        pass
    sent_before = len(batches(sandbox))
    with pytest.raises(services.CatalogSyncFailed, match="catalog"):
        sync(meta_account)
    assert len(batches(sandbox)) == sent_before
    feed = CatalogFeed.objects.get(ad_account=meta_account)
    assert feed.status == FeedStatus.FAILING and "rate" in feed.last_error
    known = {state.content_id: state for state in feed.items.all()}
    wanted = {
        cid: item for cid, (_, item) in services.wanted_items(meta_account, timezone.now()).items()
    }
    assert [i.content_id for i in plan_sync(wanted, known).upserts] == [
        event_content_id(events[0])
    ]  # the next run sends it


def test_an_account_without_a_business_fails_visibly_before_any_call(sandbox, meta_account, events):
    meta_account.settings = {"catalog": True}
    meta_account.save()
    with pytest.raises(services.CatalogSyncFailed):
        sync(meta_account)
    assert "business_id" in CatalogFeed.objects.get(ad_account=meta_account).last_error
    assert sandbox.requests(platform="meta") == []


def test_catalogs_are_opt_in_per_account(meta_account, marketplace):
    AdAccount.objects.create(
        client=marketplace, platform="meta", account_id="act_99", currency="RON"
    ).set_credential("x")
    assert list(services.catalog_accounts()) == [meta_account]


def test_tiktok_catalog_products_follow_the_events(sandbox, tiktok_account, events):
    assert sync(tiktok_account).sent == 3
    feed = CatalogFeed.objects.get(ad_account=tiktok_account)
    products = sandbox.state.get_object("tiktok", feed.catalog_id)["products"]
    product = products[event_content_id(events[0])]
    assert product["price_info"] == {"price": "80.00", "currency": "RON"}
    assert product["landing_page"] == {"landing_page_url": "https://tix.example/e/show"}
    events[0].status = "ended"
    events[0].save()
    assert sync(tiktok_account).deleted == 1
    assert event_content_id(events[0]) not in products
    assert sync(tiktok_account).sent == 0


def test_a_tiktok_refusal_of_a_batch_refuses_its_items(sandbox, tiktok_account, events):
    events[0].image_url = "ftp://tix.example/x.jpg"
    events[0].save()
    report = sync(tiktok_account)
    assert report.refused == 3  # TikTok refuses the whole upload
    states = CatalogItemState.objects.filter(feed__ad_account=tiktok_account)
    assert all("image_url" in state.last_error for state in states)


def test_google_items_are_dynamic_custom_assets_in_one_asset_set(sandbox, google_account, events):
    assert sync(google_account).sent == 3
    feed = CatalogFeed.objects.get(ad_account=google_account)
    assets = sandbox.state.objects_of("google_ads", GOOGLE_CUSTOMER, "asset")
    custom = {a["fields"]["dynamic_custom_asset"]["id"]: a for a in assets}
    assert set(custom) == {event_content_id(e) for e in events}
    assert custom[event_content_id(events[0])]["fields"]["dynamic_custom_asset"]["price"] == (
        "80.00 RON"
    )
    links = sandbox.state.objects_of("google_ads", GOOGLE_CUSTOMER, "asset_set_asset")
    assert {link["fields"]["asset_set"].rsplit("/", 1)[1] for link in links} == {feed.catalog_id}

    events[0].price_min = Decimal("60.00")
    events[0].save()
    events[1].status = "cancelled"
    events[1].save()
    report = sync(google_account)
    assert (report.sent, report.deleted) == (1, 1)
    updated = sandbox.state.objects_of("google_ads", GOOGLE_CUSTOMER, "asset")
    prices = {
        a["fields"]["dynamic_custom_asset"]["id"]: a["fields"]["dynamic_custom_asset"]["price"]
        for a in updated
    }
    assert prices[event_content_id(events[0])] == "60.00 RON"
    assert len(updated) == 3  # updated in place, not a new asset
    removed = [
        link
        for link in sandbox.state.objects_of("google_ads", GOOGLE_CUSTOMER, "asset_set_asset")
        if link["fields"].get("status") == "REMOVED"
    ]
    assert len(removed) == 1


def test_an_ingested_event_syncs_its_catalogs(
    sandbox, ingest, organizer, meta_account, django_capture_on_commit_callbacks
):
    payload = {
        "external_id": "core-77",
        "organizer_external_id": organizer.external_id,
        "slug": "jazz-night",
        "name": "Jazz Night",
        "starts_at": (timezone.now() + timedelta(days=9)).isoformat(),
        "public_url": "https://tix.example/e/jazz-night",
        "image_url": "https://tix.example/img/jazz.jpg",
        "price_min": "60.00",
        "price_max": "120.00",
        "tickets_left": 300,
        "status": "published",
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert ingest.put("/api/ingest/events", payload).status_code == 200
    assert set(meta_items(sandbox, meta_account)) == {"core-77"}


def test_a_catalog_deleted_on_meta_fails_the_sync_without_refusing_the_items(
    sandbox, meta_account, events
):
    sync(meta_account)
    feed = CatalogFeed.objects.get(ad_account=meta_account)
    del sandbox.state.objects["meta"][feed.catalog_id]  # removed in Commerce Manager
    events[0].price_min = Decimal("70.00")
    events[0].save()
    with pytest.raises(services.CatalogSyncFailed):
        sync(meta_account)
    assert CatalogFeed.objects.get(ad_account=meta_account).status == FeedStatus.FAILING
    assert not CatalogItemState.objects.exclude(refused_hash="").exists()


# The hourly sync leaves alone a catalog in sync whose inputs did not change.


def hourly(account: AdAccount, now=None) -> services.SyncReport | None:
    """The hourly job's work for `account`: its sync if it is due, else None."""
    now = now or timezone.now()
    due, _ = services.accounts_due(now)
    return services.sync_feed(account.pk, now) if account.pk in due else None


def settle() -> None:
    """As if the events and organizers were last written an hour before the last sync."""
    an_hour_ago = timezone.now() - timedelta(hours=1)
    MarketplaceEvent.objects.update(updated_at=an_hour_ago)
    MarketplaceOrganizer.objects.update(updated_at=an_hour_ago)
    Order.objects.update(updated_at=an_hour_ago)


def test_an_unchanged_catalog_is_not_diffed_by_the_hourly_sync(
    sandbox, meta_account, events, django_assert_max_num_queries
):
    sync(meta_account)
    settle()
    with django_assert_max_num_queries(2):  # the accounts with their feeds, the one check
        assert services.accounts_due(timezone.now()) == ([], 1)
    assert hourly(meta_account) is None
    assert len(batches(sandbox)) == 1


def test_a_sync_queued_by_a_change_or_staff_always_diffs(sandbox, meta_account, events):
    sync(meta_account)
    settle()
    assert sync(meta_account).unchanged == 3


def test_a_changed_event_is_synced_by_the_next_hourly_run(sandbox, meta_account, events):
    sync(meta_account)
    settle()
    events[1].price_min = Decimal("95.00")
    events[1].save()
    assert hourly(meta_account).sent == 1
    item = meta_items(sandbox, meta_account)[event_content_id(events[1])]
    assert item["price"] == "95.00 RON"


def test_a_renamed_organizer_is_synced_by_the_next_hourly_run(
    sandbox, meta_account, events, organizer
):
    sync(meta_account)
    settle()
    organizer.name = "Renamed Promoter"
    organizer.save()
    assert hourly(meta_account).sent == 3


def test_an_event_that_ended_since_is_deleted_by_the_next_hourly_run(
    sandbox, meta_account, events, organizer
):
    ending = sellable_event(
        organizer,
        starts_at=timezone.now() - timedelta(hours=2),
        ends_at=timezone.now() + timedelta(minutes=30),
    )
    sync(meta_account)
    settle()
    report = hourly(meta_account, timezone.now() + timedelta(hours=1))
    assert report.deleted == 1
    assert event_content_id(ending) not in meta_items(sandbox, meta_account)


def test_a_deleted_event_is_deleted_by_the_next_hourly_run(sandbox, meta_account, events):
    sync(meta_account)
    settle()
    events[0].delete()
    assert hourly(meta_account).deleted == 1


def test_a_new_order_of_an_unpriced_event_reprices_it_on_the_next_hourly_run(
    sandbox, meta_account, events, organizer
):
    unpriced = sellable_event(organizer, price_min=None)
    order = OrderFactory(event=unpriced)
    order.lines.create(position=1, ticket_type_id="t1", name="GA", quantity=1, unit_price="60.00")
    sync(meta_account)
    settle()
    cheaper = OrderFactory(event=unpriced)
    cheaper.lines.create(
        position=1, ticket_type_id="t2", name="Early", quantity=1, unit_price="45.00"
    )
    assert hourly(meta_account).sent == 1
    assert meta_items(sandbox, meta_account)[event_content_id(unpriced)]["price"] == "45.00 RON"


def test_a_failed_sync_is_retried_by_the_next_hourly_run(sandbox, meta_account, events):
    sync(meta_account)
    for event in events:
        event.price_min = Decimal("70.00")
        event.save()
    sandbox.fault(platform="meta", mode="5xx", path="items_batch", count=10)
    with pytest.raises(services.CatalogSyncFailed):
        sync(meta_account)
    settle()  # only the feed's state says the change is still pending
    sandbox.control.delete("/_sandbox/faults")
    assert hourly(meta_account).sent == 3


def test_a_partial_sync_is_diffed_again_by_the_next_hourly_run(sandbox, meta_account, events):
    events[0].image_url = "ftp://tix.example/poster.jpg"  # Meta refuses it
    events[0].save()
    sync(meta_account)
    settle()
    report = hourly(meta_account)
    assert (report.unchanged, report.sent) == (3, 0)


def test_orders_of_an_event_that_gets_no_item_leave_the_catalog_undiffed(
    sandbox, meta_account, events, organizer
):
    pageless = sellable_event(organizer, price_min=None, public_url="")
    sync(meta_account)
    settle()
    order = OrderFactory(event=pageless)
    order.lines.create(position=1, ticket_type_id="t1", name="GA", quantity=1, unit_price="60.00")
    assert hourly(meta_account) is None


def test_the_hourly_job_queues_only_the_catalogs_that_may_be_out_of_line(
    monkeypatch, sandbox, meta_account, google_account, events
):
    sync(meta_account)
    settle()
    queued: list[int] = []
    monkeypatch.setattr(tasks.sync_catalog_task, "delay", queued.append)
    tasks.sync_catalogs_task()
    assert queued == [google_account.pk]  # never synced
    run = JobRun.objects.get(job="sync-catalogs")
    assert (run.counts["queued"], run.counts["unchanged"]) == (1, 1)


def test_an_item_the_platform_refused_to_delete_keeps_the_catalog_due(
    sandbox, meta_account, events
):
    sync(meta_account)
    settle()
    state = CatalogItemState.objects.get(content_id=event_content_id(events[0]))
    state.last_error = "the platform refused the delete"
    state.save()
    assert services.accounts_due(timezone.now()) == ([meta_account.pk], 0)
