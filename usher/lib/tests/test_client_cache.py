"""Answers a process remembers: reused only at the client's current version, bounded."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from usher.lib import client_cache
from usher.lib.client_cache import current_version, invalidate_client, recall, remember


def test_a_remembered_answer_is_recalled_while_the_version_stands():
    remember("page", 7, current_version(7), "document")
    assert recall("page") == "document"


def test_a_moved_version_makes_the_remembered_answer_unusable():
    remember("page", 7, current_version(7), "document")
    invalidate_client(7)
    assert recall("page") is None


def test_another_clients_change_leaves_the_answer_usable():
    remember("page", 7, current_version(7), "document")
    invalidate_client(8)
    assert recall("page") == "document"


def test_nothing_is_recalled_while_the_cache_is_unreachable(unreachable_cache):
    remember("page", 7, 1, "document")
    assert recall("page") is None


def test_the_least_recently_used_answers_go_first_past_the_bound(monkeypatch):
    monkeypatch.setattr(client_cache, "LOCAL_ANSWERS_MAX_ENTRIES", 2)
    version = current_version(7)
    remember("a", 7, version, "A")
    remember("b", 7, version, "B")
    assert recall("a") == "A"  # now the most recently used
    remember("c", 7, version, "C")
    assert [recall(key) for key in ("a", "b", "c")] == ["A", None, "C"]


@pytest.fixture(autouse=True)
def _db(db):
    """invalidate_client registers an on-commit bump: the test database's transaction."""


redis_only = pytest.mark.skipif(
    not settings.CACHES["default"]["BACKEND"].endswith("RedisCache"),
    reason="bumps are announced through Redis pub/sub (CI runs on Redis)",
)


def _checked_under_a_live_subscription(key: str, value: str) -> None:
    """Remember `value` and check it once the subscription is confirmed (the answer is
    then reused without reading the version)."""
    remember(key, 7, current_version(7), value)
    for _ in range(500):  # the confirmation arrives on the subscriber's socket
        if client_cache._ANNOUNCEMENTS.poll():
            break
        time.sleep(0.01)
    assert recall(key) == value


@redis_only
def test_a_checked_answer_is_reused_without_reading_the_version(monkeypatch):
    _checked_under_a_live_subscription("page", "document")
    reads = []
    monkeypatch.setattr(client_cache, "current_version", lambda cid: reads.append(cid))
    assert recall("page") == "document"
    assert reads == []


@redis_only
def test_a_bump_announced_by_another_process_drops_a_checked_answer(monkeypatch):
    _checked_under_a_live_subscription("page", "document")
    stale = current_version(7)
    invalidate_client(7)  # what any process's edit does: the version moves, then is announced
    # Were the version read, the old one would pass: only the announcement can drop it.
    monkeypatch.setattr(client_cache, "current_version", lambda cid: stale)
    for _ in range(500):
        if recall("page") is None:
            break
        time.sleep(0.01)
    assert recall("page") is None


@redis_only
def test_without_a_confirmed_subscription_the_version_is_read(monkeypatch):
    _checked_under_a_live_subscription("page", "document")
    client_cache._ANNOUNCEMENTS.close()  # lost: a new one is not confirmed yet
    reads = []
    version = current_version(7)
    monkeypatch.setattr(client_cache, "current_version", lambda cid: reads.append(cid) or version)
    assert recall("page") == "document"
    assert reads == [7]
