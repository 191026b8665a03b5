"""The resolution cache is invalidated twice: at the change, and again once its
transaction commits, so a reader that cached the pre-commit state in between is not
served from it afterwards."""

from __future__ import annotations

import pytest

from usher.lib import client_cache
from usher.lib.client_cache import cached_for_client, invalidate_client

pytestmark = pytest.mark.django_db


def test_an_answer_cached_after_a_change_is_recomputed(marketplace):
    assert cached_for_client(marketplace.pk, "event:1", lambda: "before") == "before"
    assert cached_for_client(marketplace.pk, "event:1", lambda: "unused") == "before"
    invalidate_client(marketplace.pk)
    assert cached_for_client(marketplace.pk, "event:1", lambda: "after") == "after"


def test_a_reader_that_cached_the_pre_commit_state_is_orphaned_at_commit(
    marketplace, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        invalidate_client(marketplace.pk)  # a code changes; its transaction is still open
        # A concurrent reader sees the old rows and caches them under the new version.
        assert cached_for_client(marketplace.pk, "event:1", lambda: "pre-commit") == ("pre-commit")
    assert len(callbacks) == 1  # the second bump waits for the commit
    assert cached_for_client(marketplace.pk, "event:1", lambda: "committed") == "committed"


def test_another_clients_answers_survive_an_invalidation(marketplace):
    from usher.marketplace.tests.factories import MarketplaceClientFactory

    other = MarketplaceClientFactory()
    cached_for_client(other.pk, "event:1", lambda: "theirs")
    invalidate_client(marketplace.pk)
    assert cached_for_client(other.pk, "event:1", lambda: "recomputed") == "theirs"


def test_an_answer_computed_while_the_version_is_unreadable_is_cached_for_no_one(
    marketplace, monkeypatch
):
    # A connection blip on the version read while the next calls reach the cache: the
    # answer has no versioned key, so it must not be stored where another client reads.
    def blip(client_id: int) -> int:
        raise ConnectionError("version read lost")

    monkeypatch.setattr(client_cache, "client_version", blip)
    assert cached_for_client(marketplace.pk, "event:1", lambda: "this client's") == (
        "this client's"
    )
    assert cached_for_client(marketplace.pk + 1, "event:1", lambda: "another's") == "another's"


def test_an_answer_is_computed_when_reading_it_from_the_cache_fails(marketplace, monkeypatch):
    read = client_cache.cache.get

    def get(key: str, default: object = None) -> object:
        if key.startswith("tracking:version:"):
            return read(key, default)
        raise ConnectionError("answer read lost")  # the version was read, then a blip

    monkeypatch.setattr(client_cache.cache, "get", get)
    assert cached_for_client(marketplace.pk, "event:1", lambda: "computed") == "computed"
