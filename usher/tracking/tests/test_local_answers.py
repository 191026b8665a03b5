"""Answers a process remembers: reused only at the client's current version, bounded."""

from __future__ import annotations

import pytest

from usher.tracking import cache as tracking_cache
from usher.tracking.cache import current_version, invalidate_client, recall, remember


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
    monkeypatch.setattr(tracking_cache, "LOCAL_ANSWERS_MAX_ENTRIES", 2)
    version = current_version(7)
    remember("a", 7, version, "A")
    remember("b", 7, version, "B")
    assert recall("a") == "A"  # now the most recently used
    remember("c", 7, version, "C")
    assert [recall(key) for key in ("a", "b", "c")] == ["A", None, "C"]


@pytest.fixture(autouse=True)
def _db(db):
    """invalidate_client registers an on-commit bump: the test database's transaction."""
