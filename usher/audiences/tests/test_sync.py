"""Diff sync against the sandbox: creation, adds and removes, resume, minimums, expiry."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from usher.audiences.membership import build_audience
from usher.audiences.models import (
    AudienceMember,
    AudienceStatus,
    AudienceType,
    MemberState,
    RemarketingAudience,
    SyncStatus,
)
from usher.audiences.services import ensure_lookalike_audience, ensure_standard_audience
from usher.audiences.sync import sync_audience
from usher.audiences.tests.conftest import GOOGLE_CUSTOMER
from usher.audiences.tests.helpers import buy, many_buyers, visit
from usher.platforms.base import PlatformError
from usher.platforms.meta.audiences import MetaAudiencesConnector
from usher.platforms.normalize import normalize_user_data
from usher.platforms.tiktok.audiences import TikTokAudiencesConnector

pytestmark = pytest.mark.django_db


def refresh(audience):
    now = timezone.now()
    build_audience(audience, now)
    log = sync_audience(audience.pk, now)
    audience.refresh_from_db()
    return log


def buyers_audience(event, platform):
    return ensure_standard_audience(event.organizer, platform, AudienceType.TICKET_BUYERS)


def hashed(platform, email):
    return normalize_user_data(platform, {"email": email}, "audiences")["email"]


def meta_members(sandbox, audience):
    # the sandbox keys a multi-key row by its values joined; the email comes first
    return {
        key.split("\x1f")[0]
        for key in sandbox.state.members_of("meta", audience.external_audience_id)
    }


def user_calls(sandbox, method):
    return [r for r in sandbox.requests(platform="meta", path="/users") if r["method"] == method]


def test_meta_list_is_created_then_only_the_difference_is_sent(
    sandbox, codes, event, small_minimums
):
    first = [buy(event, f"b{i}@example.com") for i in range(3)]
    audience = buyers_audience(event, "meta")

    log = refresh(audience)

    assert log.status == SyncStatus.SUCCEEDED and log.added_count == 3
    assert audience.status == AudienceStatus.ACTIVE and audience.external_audience_id
    assert meta_members(sandbox, audience) == {
        hashed("meta", f"b{i}@example.com") for i in range(3)
    }

    first[0].status = "refunded"
    first[0].save()
    buy(event, "new@example.com")
    log = refresh(audience)

    assert (log.added_count, log.removed_count) == (1, 1)
    posts, deletes = user_calls(sandbox, "POST"), user_calls(sandbox, "DELETE")
    assert [len(p["body"]["payload"]["data"]) for p in posts] == [3, 1]
    assert [len(d["body"]["payload"]["data"]) for d in deletes] == [1]
    assert meta_members(sandbox, audience) == {
        hashed("meta", "b1@example.com"),
        hashed("meta", "b2@example.com"),
        hashed("meta", "new@example.com"),
    }
    assert not AudienceMember.objects.exclude(state=MemberState.SYNCED).exists()


@pytest.fixture
def five_buyers_in_batches_of_two(event, monkeypatch):
    """Five buyers on a Meta list sent two a call: three batches."""
    monkeypatch.setattr(MetaAudiencesConnector, "max_members_per_call", 2)
    for i in range(5):
        buy(event, f"b{i}@example.com")
    audience = buyers_audience(event, "meta")
    build_audience(audience, timezone.now())
    return audience


def test_meta_batches_share_one_session_counting_up(
    sandbox, codes, small_minimums, five_buyers_in_batches_of_two
):
    sync_audience(five_buyers_in_batches_of_two.pk, timezone.now())
    sessions = [p["body"]["session"] for p in user_calls(sandbox, "POST")]
    assert len({s["session_id"] for s in sessions}) == 1
    assert [s["batch_seq"] for s in sessions] == [1, 2, 3]
    assert [s["last_batch_flag"] for s in sessions] == [False, False, True]
    assert {s["estimated_num_total"] for s in sessions} == {5}


def test_a_sync_failing_half_way_resumes_with_only_the_rest(
    sandbox, codes, small_minimums, five_buyers_in_batches_of_two, monkeypatch
):
    audience = five_buyers_in_batches_of_two
    send = MetaAudiencesConnector.send
    calls = []

    def second_call_fails(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            sandbox.fault(platform="meta", mode="5xx", path="/users", count=1)
        return send(self, *args, **kwargs)

    monkeypatch.setattr(MetaAudiencesConnector, "send", second_call_fails)
    with pytest.raises(PlatformError):
        sync_audience(audience.pk, timezone.now())
    audience.refresh_from_db()
    assert audience.external_audience_id and audience.status == AudienceStatus.READY
    assert AudienceMember.objects.filter(state=MemberState.SYNCED).count() == 2
    first_batch = {row[0] for row in user_calls(sandbox, "POST")[0]["body"]["payload"]["data"]}

    log = sync_audience(audience.pk, timezone.now())

    assert (log.status, log.added_count) == (SyncStatus.SUCCEEDED, 3)
    resent = [
        row[0] for p in user_calls(sandbox, "POST")[2:] for row in p["body"]["payload"]["data"]
    ]
    assert len(resent) == 3 and not first_batch & set(resent)
    assert len(meta_members(sandbox, audience)) == 5


def test_throttling_stops_the_sync_and_keeps_members_pending(sandbox, codes, event, small_minimums):
    for i in range(3):
        buy(event, f"b{i}@example.com")
    audience = buyers_audience(event, "meta")
    build_audience(audience, timezone.now())
    sandbox.fault(platform="meta", mode="429", path="/users", count=1)
    with pytest.raises(PlatformError) as raised:
        sync_audience(audience.pk, timezone.now())
    assert raised.value.kind == "rate_limited"
    assert AudienceMember.objects.filter(state=MemberState.PENDING_ADD).count() == 3
    assert sync_audience(audience.pk, timezone.now()).status == SyncStatus.SUCCEEDED
    audience.refresh_from_db()
    assert len(meta_members(sandbox, audience)) == 3


def test_below_the_platform_minimum_the_audience_waits_with_the_reason(sandbox, codes, event):
    buy(event, "only@example.com")
    audience = buyers_audience(event, "meta")
    log = refresh(audience)
    assert audience.status == AudienceStatus.BUILDING
    assert audience.status_reason == "1 matchable buyers; Meta needs at least 100."
    assert log.status == SyncStatus.WAITING
    assert sandbox.requests(platform="meta") == []


def test_without_a_credential_the_audience_waits_and_says_so(sandbox, event, small_minimums):
    for i in range(3):
        buy(event, f"b{i}@example.com")
    audience = buyers_audience(event, "meta")
    log = refresh(audience)
    assert log.status == SyncStatus.WAITING
    assert "No Meta tracking code with a credential" in audience.status_reason


def test_an_expired_audience_removes_its_members_from_the_platform(
    sandbox, codes, event, small_minimums
):
    for i in range(3):
        buy(event, f"b{i}@example.com")
    audience = buyers_audience(event, "meta")
    refresh(audience)
    audience.expires_at = timezone.now() - timedelta(minutes=1)
    audience.save()
    log = refresh(audience)
    assert log.removed_count == 3
    assert audience.status == AudienceStatus.EXPIRED
    assert meta_members(sandbox, audience) == set()
    assert not AudienceMember.objects.exists()


def test_members_out_of_the_window_leave_the_platform(sandbox, codes, event, small_minimums):
    old = buy(event, "old@example.com")
    for i in range(2):
        buy(event, f"b{i}@example.com")
    audience = buyers_audience(event, "meta")
    refresh(audience)
    old.placed_at = timezone.now() - timedelta(days=600)
    old.save()
    assert refresh(audience).removed_count == 1
    assert hashed("meta", "old@example.com") not in meta_members(sandbox, audience)


def test_a_tiktok_list_is_created_whole_from_files_of_email_hashes(
    sandbox, codes, event, small_minimums, monkeypatch
):
    monkeypatch.setattr(TikTokAudiencesConnector, "max_members_per_call", 2)
    for i in range(3):
        buy(event, f"b{i}@example.com")
    buy(event, phone="+40722000111")  # no email: TikTok's files hold email hashes
    audience = buyers_audience(event, "tiktok")
    log = refresh(audience)
    assert log.status == SyncStatus.SUCCEEDED, log.message
    members = sandbox.state.members_of("tiktok", audience.external_audience_id)
    assert members == {hashed("tiktok", f"b{i}@example.com") for i in range(3)}
    create = sandbox.requests(platform="tiktok", path="custom_audience/create/")[0]
    assert len(create["body"]["file_paths"]) == 2
    assert sandbox.requests(platform="tiktok", path="custom_audience/update/") == []


def test_a_tiktok_list_of_a_thousand_gets_appends_and_removals(sandbox, codes, event):
    orders = many_buyers(event, 1001)
    audience = buyers_audience(event, "tiktok")
    refresh(audience)
    assert audience.status == AudienceStatus.ACTIVE, audience.status_reason
    many_buyers(event, 2, start=5000)
    orders[0].status = "refunded"
    orders[0].save()

    log = refresh(audience)

    assert (log.status, log.added_count, log.removed_count) == (SyncStatus.SUCCEEDED, 2, 1)
    updates = sandbox.requests(platform="tiktok", path="custom_audience/update/")
    assert [u["body"]["action"] for u in updates] == ["APPEND", "REMOVE"]
    assert len(sandbox.state.members_of("tiktok", audience.external_audience_id)) == 1002


def test_google_members_go_through_the_data_manager_api_by_default(
    sandbox, codes, event, small_minimums
):
    for i in range(3):
        buy(event, f"b{i}@example.com")
    audience = buyers_audience(event, "google_ads")
    log = refresh(audience)
    assert log.status == SyncStatus.SUCCEEDED, log.message
    assert sandbox.requests(platform="google_ads", path="offlineUserDataJobs") == []
    members = sandbox.state.members_of(
        "google_ads", f"userLists:{GOOGLE_CUSTOMER}:{audience.external_audience_id}"
    )
    assert members == {
        f"hashed_email:{hashed('google_ads', f'b{i}@example.com')}" for i in range(3)
    }


def test_google_removals_go_through_the_data_manager_api(sandbox, codes, event, small_minimums):
    orders = [buy(event, f"b{i}@example.com") for i in range(3)]
    audience = buyers_audience(event, "google_ads")
    refresh(audience)
    orders[0].status = "refunded"
    orders[0].save()
    assert refresh(audience).removed_count == 1
    members = sandbox.state.members_of(
        "google_ads", f"userLists:{GOOGLE_CUSTOMER}:{audience.external_audience_id}"
    )
    assert f"hashed_email:{hashed('google_ads', 'b0@example.com')}" not in members
    assert len(members) == 2


def test_allowlisted_developers_use_one_offline_job_run_once(
    sandbox, codes, event, small_minimums, settings
):
    settings.GOOGLE_CUSTOMER_MATCH_API = "ads_api"
    sandbox.account(
        platform="google_ads",
        account_id=GOOGLE_CUSTOMER,
        settings={"customer_match_allowlisted": True},
    )
    for i in range(3):
        buy(event, f"b{i}@example.com")
    audience = buyers_audience(event, "google_ads")
    log = refresh(audience)
    assert log.status == SyncStatus.SUCCEEDED, log.message
    assert len(sandbox.requests(platform="google_ads", path=":run")) == 1
    job = sandbox.requests(platform="google_ads", path="offlineUserDataJobs:create")[0]
    metadata = job["body"]["job"]["customer_match_user_list_metadata"]
    assert metadata["consent"] == {"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"}
    assert metadata["user_list"].endswith(f"/userLists/{audience.external_audience_id}")
    ops = sandbox.requests(platform="google_ads", path=":addOperations")[0]["body"]["operations"]
    assert {op["create"]["user_identifiers"][0]["hashed_email"] for op in ops} == {
        hashed("google_ads", f"b{i}@example.com") for i in range(3)
    }


def test_a_google_refusal_is_shown_as_the_audiences_reason(
    sandbox, codes, event, small_minimums, settings
):
    settings.GOOGLE_CUSTOMER_MATCH_API = "ads_api"  # not allowlisted: Google refuses the job
    for i in range(3):
        buy(event, f"b{i}@example.com")
    audience = buyers_audience(event, "google_ads")
    log = refresh(audience)
    assert log.status == SyncStatus.FAILED
    assert audience.status == AudienceStatus.READY
    assert "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE" in log.message
    assert audience.status_reason


def test_event_viewers_become_a_meta_website_audience_on_the_events_pages(sandbox, codes, event):
    visit(event, "v1")
    audience = ensure_standard_audience(event.organizer, "meta", AudienceType.EVENT_VIEWERS, event)
    log = refresh(audience)
    assert log.status == SyncStatus.SUCCEEDED, log.message
    assert audience.status == AudienceStatus.ACTIVE
    assert audience.status_reason == "1 visitors so far; Meta serves it from 100."
    stored = sandbox.state.get_object("meta", audience.external_audience_id)["fields"]
    rule = stored["rule"] if isinstance(stored["rule"], dict) else json.loads(stored["rule"])
    inclusion = rule["inclusions"]["rules"][0]
    assert inclusion["event_sources"] == [{"id": codes["meta"].tag_id, "type": "pixel"}]
    assert inclusion["retention_seconds"] == 30 * 86400
    assert {"field": "url", "operator": "i_contains", "value": event.slug} in inclusion["filter"][
        "filters"
    ]
    assert rule["exclusions"]["rules"][0]["filter"]["filters"][0]["filters"] == [
        {"field": "event", "operator": "=", "value": "Purchase"}
    ]


def test_a_meta_lookalike_waits_for_its_seed_then_is_built_at_one_percent(sandbox, codes, event):
    for i in range(100):
        buy(event, f"b{i}@example.com")
    buyers = buyers_audience(event, "meta")
    lookalike = ensure_lookalike_audience(buyers)
    build_audience(buyers, timezone.now())
    refresh(lookalike)
    assert lookalike.status == AudienceStatus.READY and not lookalike.external_audience_id
    assert "source audience is not on the platform" in lookalike.status_reason

    refresh(buyers)
    refresh(lookalike)
    assert lookalike.status == AudienceStatus.ACTIVE
    stored = sandbox.state.get_object("meta", lookalike.external_audience_id)["fields"]
    assert stored["origin_audience_id"] == buyers.external_audience_id
    assert stored["lookalike_spec"] == {"ratio": 0.01, "country": "RO"}


def test_a_lookalike_below_the_seed_minimum_waits_with_the_reason(sandbox, codes, event):
    for i in range(3):
        buy(event, f"b{i}@example.com")
    lookalike = ensure_lookalike_audience(buyers_audience(event, "meta"))
    buyers = RemarketingAudience.objects.get(audience_type=AudienceType.TICKET_BUYERS)
    build_audience(buyers, timezone.now())
    refresh(lookalike)
    assert lookalike.status == AudienceStatus.BUILDING
    assert lookalike.status_reason == "3 matchable people in the source; Meta needs at least 100."


def _tiktok_lookalike_spec(sandbox, event) -> tuple[RemarketingAudience, dict]:
    """A 5% lookalike of 100 buyers of `event` built on TikTok: the source list and the
    lookalike's spec as the sandbox stored it."""
    for i in range(100):
        buy(event, f"b{i}@example.com")
    buyers = buyers_audience(event, "tiktok")
    refresh(buyers)
    lookalike = ensure_lookalike_audience(buyers, percentage=5)
    log = refresh(lookalike)
    assert log.status == SyncStatus.SUCCEEDED, log.message
    stored = sandbox.state.get_object("tiktok", lookalike.external_audience_id)["fields"]
    return buyers, stored["lookalike_spec"]


def test_a_tiktok_lookalike_is_built_from_the_buyers_list(sandbox, codes, event, small_minimums):
    buyers, spec = _tiktok_lookalike_spec(sandbox, event)
    assert (spec["source_audience_id"], spec["audience_size"]) == (
        buyers.external_audience_id,
        "BALANCED",
    )
    assert spec["location_ids"] == ["798549"]


def test_a_tiktok_lookalike_without_location_ids_is_built_in_the_organizers_country(
    sandbox, codes, event, small_minimums
):
    """Tracking codes take no `location_ids` (an unknown setting): the lookalike is
    built where the organizer's events are, as on Meta, instead of failing for good."""
    codes["tiktok"].settings = {
        k: v for k, v in codes["tiktok"].settings.items() if k != "location_ids"
    }
    codes["tiktok"].save()
    event.country = "DE"
    event.save()
    _, spec = _tiktok_lookalike_spec(sandbox, event)
    assert spec["location_ids"] == ["2921044"]  # Germany


def test_event_viewers_become_a_tiktok_website_traffic_audience_by_rules(sandbox, codes, event):
    visit(event, "v1")
    audience = ensure_standard_audience(
        event.organizer, "tiktok", AudienceType.EVENT_VIEWERS, event
    )
    log = refresh(audience)
    assert log.status == SyncStatus.SUCCEEDED, log.message
    assert audience.status == AudienceStatus.ACTIVE and audience.external_audience_id
    (created,) = sandbox.requests(platform="tiktok", path="/dmp/custom_audience/rule/create/")
    assert created["body"]["audience_type"] == "PIXEL"
    stored = sandbox.state.get_object("tiktok", audience.external_audience_id)["fields"]
    assert stored["audience_type"] == "Website Traffic"
    # One rule per event (a TikTok rule takes one event filter), OR'd together.
    inclusions = stored["rule_spec"]["inclusion_rule_set"]
    assert inclusions["operator"] == "OR"
    conditions = []
    for rule in inclusions["rules"]:
        assert rule["event_source_ids"] == [codes["tiktok"].tag_id]
        assert rule["retention_days"] == 30
        (condition,) = rule["filter_set"]["filters"]
        assert condition["parameter_filters"] == [
            {"field": "URL", "operator": "CONTAINS", "value": event.slug}
        ]
        conditions.append(condition["value"])
    assert conditions == ["PIXEL PAGE VIEW", "PIXEL VIEW CONTENT"]
    (exclusion,) = stored["rule_spec"]["exclusion_rule_set"]["rules"]
    assert exclusion["filter_set"]["filters"][0]["value"] == "PIXEL COMPLETE PAYMENT"


def test_a_list_falling_below_the_minimum_still_loses_its_leavers_and_says_why(
    sandbox, codes, event, small_minimums
):
    orders = [buy(event, f"b{i}@example.com") for i in range(3)]
    audience = buyers_audience(event, "meta")
    refresh(audience)
    for order in orders[:2]:
        order.status = "refunded"
        order.save()

    log = refresh(audience)

    assert log.removed_count == 2
    assert meta_members(sandbox, audience) == {hashed("meta", "b2@example.com")}
    assert audience.status == AudienceStatus.ACTIVE
    assert audience.status_reason == "1 matchable buyers; Meta needs at least 2."


def test_a_bug_during_a_sync_is_logged_and_never_leaves_it_syncing(
    sandbox, codes, event, small_minimums, monkeypatch
):
    for i in range(3):
        buy(event, f"b{i}@example.com")
    audience = buyers_audience(event, "meta")
    build_audience(audience, timezone.now())

    def broken(*args, **kwargs):
        raise ZeroDivisionError

    monkeypatch.setattr(MetaAudiencesConnector, "push_members", broken)
    with pytest.raises(ZeroDivisionError):
        sync_audience(audience.pk, timezone.now())
    audience.refresh_from_db()
    assert audience.status == AudienceStatus.READY
    assert audience.sync_logs.get().message == "internal error: ZeroDivisionError"


def test_cart_abandoners_become_a_google_rule_based_list(sandbox, codes, event):
    visit(event, "v1", name="add_to_cart")
    audience = ensure_standard_audience(
        event.organizer, "google_ads", AudienceType.CART_ABANDONERS, event
    )
    log = refresh(audience)
    assert log.status == SyncStatus.SUCCEEDED, log.message
    stored = sandbox.state.get_object(
        "google_ads", f"userLists:{GOOGLE_CUSTOMER}:{audience.external_audience_id}"
    )["fields"]
    rule = stored["rule_based_user_list"]["flexible_rule_user_list"]
    included = rule["inclusive_operands"][0]
    assert included["lookback_window_days"] == 30
    items = [group["rule_items"] for group in included["rule"]["rule_item_groups"]]
    assert [item[-1]["string_rule_item"]["value"] for item in items] == [
        "add_to_cart",
        "begin_checkout",
    ]
    assert all(item[0]["string_rule_item"]["value"] == event.slug for item in items)
    assert (
        rule["exclusive_operands"][0]["rule"]["rule_item_groups"][0]["rule_items"][-1][
            "string_rule_item"
        ]["value"]
        == "purchase"
    )
