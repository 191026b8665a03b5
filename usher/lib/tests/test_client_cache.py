"""Answers a process remembers: reused only at the client's current version, bounded."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.cache.backends import base as cache_base
from django.core.cache.backends import locmem
from redis.exceptions import ConnectionError as RedisConnectionError

from usher.lib import client_cache
from usher.lib.client_cache import (
    cached_for_client,
    client_version,
    current_version,
    fetch_remembered,
    invalidate_client,
    recall,
    remember,
)


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
    # Another process's bump: the version moves, then is announced (this process's own
    # bumps also forget its answers directly; only the announcement reaches it here).
    client_cache.cache.incr(client_cache._version_key(7))
    client_cache.redis_client().publish(
        client_cache.cache.make_key(client_cache.BUMPS_CHANNEL), "7"
    )
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


class _Subscription:
    """A subscription whose confirmation arrives only when the test says so."""

    def __init__(self) -> None:
        self.confirmation: list[dict[str, str]] = []

    def subscribe(self, *channels: str) -> None:
        pass

    def get_message(self, timeout: float) -> dict[str, str] | None:
        return self.confirmation.pop() if self.confirmation else None

    def close(self) -> None:
        pass


class _RedisWithoutAnnouncements:
    """Bumps published here never reach this process's subscription."""

    def __init__(self) -> None:
        self.subscription = _Subscription()

    def pubsub(self) -> _Subscription:
        return self.subscription

    def publish(self, channel: str, message: str) -> None:
        pass


@pytest.fixture
def unannounced(monkeypatch) -> _RedisWithoutAnnouncements:
    redis = _RedisWithoutAnnouncements()
    monkeypatch.setattr(client_cache, "redis_client", lambda: redis)
    # A process's first subscription (epochs counted from 0), whatever earlier tests did.
    monkeypatch.setattr(client_cache, "_ANNOUNCEMENTS", client_cache._Announcements())
    # However long the test takes, a trusted answer would be reused: only trust decides.
    monkeypatch.setattr(client_cache, "CHECKED_ANSWER_SECONDS", 3600.0)
    return redis


@redis_only
def test_until_redis_confirms_the_subscription_every_reuse_reads_the_version(unannounced):
    # A bump published before Redis registered the subscription is never delivered, so
    # an unconfirmed subscription vouches for nothing.
    remember("page", 7, current_version(7), "document")
    assert recall("page") == "document"
    invalidate_client(7)
    assert recall("page") is None


def _bumped_elsewhere(client_id: int) -> None:
    """Another process's bump whose announcement never arrived: the version moves, and
    nothing in this process forgets the client's answers."""
    client_cache.cache.incr(client_cache._version_key(client_id))


@redis_only
def test_an_answer_checked_before_the_confirmation_is_not_trusted_after_it(unannounced):
    remember("page", 7, current_version(7), "document")
    assert recall("page") == "document"  # checked while the subscription is unconfirmed
    _bumped_elsewhere(7)  # a bump the subscription may have missed
    unannounced.subscription.confirmation.append({"type": "subscribe"})
    assert recall("page") is None


@redis_only
def test_a_check_under_a_lost_subscription_is_not_trusted_under_the_next(unannounced):
    unannounced.subscription.confirmation.append({"type": "subscribe"})
    remember("page", 7, current_version(7), "document")
    assert recall("page") == "document"  # checked under the first confirmed subscription
    client_cache._ANNOUNCEMENTS.close()  # lost
    _bumped_elsewhere(7)  # announced while this process had no subscription
    unannounced.subscription.confirmation.append({"type": "subscribe"})
    assert recall("page") is None


@redis_only
def test_an_announced_bump_forgets_that_clients_answers_only(unannounced, monkeypatch):
    unannounced.subscription.confirmation.append({"type": "subscribe"})
    remember("page", 7, current_version(7), "document")
    remember("other", 8, current_version(8), "other document")
    assert recall("page") == "document" and recall("other") == "other document"
    # Were the version read, the answer would pass: only the announcement can drop it.
    monkeypatch.setattr(client_cache, "current_version", lambda cid: pytest.fail("read"))
    unannounced.subscription.confirmation.append({"type": "message", "data": b"7"})
    assert recall("page") is None
    assert recall("other") == "other document"


@pytest.fixture
def file_cache(settings, tmp_path):
    """The embedded default: Django's file cache, without Redis and its announcements."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        }
    }


def test_with_the_embedded_file_cache_every_reuse_reads_the_version(file_cache):
    remember("page", 7, current_version(7), "document")
    assert recall("page") == "document"
    _bumped_elsewhere(7)  # no announcements without Redis: only the version tells
    assert recall("page") is None


@redis_only
def test_a_trusted_answer_is_checked_again_once_its_trust_lapses(unannounced, monkeypatch):
    now = [1000.0]
    clock = SimpleNamespace(monotonic=lambda: now[0], time_ns=time.time_ns)
    monkeypatch.setattr(client_cache, "time", clock)
    monkeypatch.setattr(client_cache, "CHECKED_ANSWER_SECONDS", 1.0)
    unannounced.subscription.confirmation.append({"type": "subscribe"})
    remember("page", 7, current_version(7), "document")
    assert recall("page") == "document"  # checked under the live subscription
    version, reads = current_version(7), []
    monkeypatch.setattr(client_cache, "current_version", lambda cid: reads.append(cid) or version)

    now[0] = 1000.5
    assert recall("page") == "document" and reads == []
    now[0] = 1001.0  # CHECKED_ANSWER_SECONDS after the check: trusted no longer
    assert recall("page") == "document" and reads == [7]


@redis_only
def test_a_new_process_subscribes_on_first_use_and_is_live_once_confirmed(unannounced):
    announcements = client_cache._Announcements()
    announcements.close()  # before any use: nothing to close
    assert announcements.poll() is False
    unannounced.subscription.confirmation.append({"type": "subscribe"})
    assert announcements.poll() is True


@pytest.fixture
def memory_cache_on_a_clock(settings, monkeypatch) -> list[float]:
    """A process-memory cache whose default lifetime (60 s) is not the answers' own, on a
    clock the test moves."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "client-cache-tests",
            "TIMEOUT": 60,
        }
    }
    # A process-memory cache outlives the test: another session in this process (mutmut
    # runs several) would otherwise find this test's answers.
    client_cache.cache.clear()
    now = [1000.0]
    clock = SimpleNamespace(time=lambda: now[0])
    monkeypatch.setattr(locmem, "time", clock)
    monkeypatch.setattr(cache_base, "time", clock)
    return now


def test_a_cached_answer_is_reused_for_five_minutes_then_computed_again(memory_cache_on_a_clock):
    computed: list[int] = []

    def compute() -> int:
        computed.append(1)
        return len(computed)

    assert cached_for_client(7, "event:42", compute) == 1
    memory_cache_on_a_clock[0] += 299
    assert cached_for_client(7, "event:42", compute) == 1
    memory_cache_on_a_clock[0] += 2
    assert cached_for_client(7, "event:42", compute) == 2


class _CacheThatStopsTakingWrites:
    """The cache, but it went down between reading and writing an answer."""

    def __init__(self, real: object) -> None:
        self._real = real

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)

    def set(self, *args: object, **kwargs: object) -> None:
        raise RedisConnectionError("Connection refused.")


def test_an_answer_the_cache_fails_to_keep_is_still_returned(monkeypatch):
    monkeypatch.setattr(client_cache, "cache", _CacheThatStopsTakingWrites(client_cache.cache))
    assert cached_for_client(7, "event:42", lambda: "document") == "document"


def test_a_row_gone_between_the_two_fetches_is_none_and_nothing_is_remembered():
    rows = iter([SimpleNamespace(client_id=7), None])  # deleted after the version was read
    assert fetch_remembered("row", lambda: next(rows), lambda row: row.client_id) is None
    assert recall("row") is None


def test_a_fetched_row_is_remembered_at_the_version_read_before_it():
    fetches: list[int] = []

    def fetch() -> SimpleNamespace:
        fetches.append(1)
        return SimpleNamespace(client_id=7, name="row")

    first = fetch_remembered("row", fetch, lambda row: row.client_id)
    assert fetch_remembered("row", fetch, lambda row: row.client_id) is first
    assert len(fetches) == 2  # the miss fetched twice around the version; the hit none
    invalidate_client(7)
    assert fetch_remembered("row", fetch, lambda row: row.client_id) is not first


class _CountingCache:
    """The cache, recording the name of every operation asked of it."""

    def __init__(self, real: object) -> None:
        self._real = real
        self.operations: list[str] = []

    def __getattr__(self, name: str) -> object:
        self.operations.append(name)
        return getattr(self._real, name)


def test_reading_a_clients_version_is_one_cache_read_once_its_counter_exists(monkeypatch):
    # Every reuse of a remembered answer that is not trusted reads the version: the page
    # load's cost is this one round trip.
    version = client_version(7)
    counting = _CountingCache(client_cache.cache)
    monkeypatch.setattr(client_cache, "cache", counting)
    assert client_version(7) == version
    assert counting.operations == ["get"]


def test_a_lost_version_counter_restarts_above_every_version_handed_out():
    first = client_version(7)
    invalidate_client(7)
    bumped = client_version(7)
    client_cache.cache.delete(client_cache._version_key(7))  # evicted, or Redis restarted
    # Answers cached under the old versions must never match again.
    assert client_version(7) > bumped > first


def test_a_clients_version_stands_however_long_nothing_changes(memory_cache_on_a_clock):
    version = client_version(7)
    memory_cache_on_a_clock[0] += 24 * 3600  # far past the cache's default lifetime
    # Were the counter to expire, every answer of the client would be computed again.
    assert client_version(7) == version


@pytest.mark.parametrize("failure", [RedisConnectionError("Connection reset."), OSError(104)])
def test_a_subscription_that_fails_to_close_is_dropped_all_the_same(failure):
    class BrokenSubscription:
        def close(self) -> None:
            raise failure

    announcements = client_cache._Announcements()
    announcements._pubsub, announcements.live = BrokenSubscription(), True
    announcements.close()  # a lost connection: nothing to raise, a new one next time
    assert (announcements._pubsub, announcements.live) == (None, False)


class _CacheThatEvictsEveryCounter:
    """The cache, full under load: a counter added is gone before it is read back."""

    def __init__(self, real: object) -> None:
        self._real = real

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)

    def get(self, key: str, default: object = None) -> object:
        return default

    def add(self, *args: object, **kwargs: object) -> bool:
        return True


def test_a_counter_evicted_as_soon_as_it_is_created_still_gives_a_version(monkeypatch):
    monkeypatch.setattr(client_cache, "cache", _CacheThatEvictsEveryCounter(client_cache.cache))
    # A number below every version handed out (they are times in nanoseconds), not a 500.
    assert client_version(7) < time.time_ns()
