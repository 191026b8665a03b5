"""Token buckets (outbound platform calls) and sliding windows (inbound floods); on Redis
in CI, on local memory with the embedded defaults, per process while the cache is down."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from redis.exceptions import NoScriptError

from usher.lib import ratelimit
from usher.lib.ratelimit import TokenBucket, hit_sliding_window, hit_sliding_windows

LOCAL_MEMORY = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
redis_only = pytest.mark.skipif(
    not django_settings.CACHES["default"]["BACKEND"].endswith("RedisCache"),
    reason="the shared limits run as Lua scripts on Redis (CI runs on Redis)",
)


@pytest.fixture(params=["configured", "files", "local_memory", "cache_down"])
def backend(request, settings, caplog, tmp_path) -> Iterator[str]:
    """Each limit on the configured cache (Redis in CI: the Lua scripts), on the file
    cache (the embedded default) and Django's local-memory cache (in-process buckets, the
    cache's own counters), and with the cache down (per-process state)."""
    if request.param == "files":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(tmp_path),
            }
        }
    elif request.param == "local_memory":
        settings.CACHES = LOCAL_MEMORY
    elif request.param == "cache_down":
        request.getfixturevalue("unreachable_cache")
    with caplog.at_level(logging.WARNING, logger="usher.lib.outages"):
        yield request.param
    if request.param != "cache_down":
        # The limit ran where it should, not on the per-process fallback.
        assert not [r for r in caplog.records if r.name == "usher.lib.outages"]


class Clock:
    """A `time` module whose `time()` the test moves."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(settings, monkeypatch) -> Clock:
    """The in-process bucket (no Redis) on a clock the test moves."""
    settings.CACHES = LOCAL_MEMORY
    fake = Clock(1_000_000.0)
    monkeypatch.setattr(ratelimit, "time", fake)
    return fake


def bucket(rate: float = 1.0, capacity: float = 3.0) -> TokenBucket:
    return TokenBucket(f"test:{uuid.uuid4()}", rate_per_second=rate, capacity=capacity)


def test_a_bucket_grants_its_burst_then_says_how_long_to_wait(backend):
    limited = bucket(rate=2.0, capacity=3.0)
    assert [limited.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limited.take()
    assert 0.4 < wait <= 0.5  # one token at two per second


def test_a_bucket_takes_several_tokens_at_once(backend):
    limited = bucket(rate=2.0, capacity=3.0)
    assert limited.take(2.0) == 0.0
    wait = limited.take(2.0)  # one token left: the second is half a second away
    assert 0.4 < wait <= 0.5


def test_a_refused_take_consumes_nothing(backend):
    limited = bucket(rate=1.0, capacity=1.0)
    assert limited.take() == 0.0
    first_wait = limited.take()
    second_wait = limited.take()
    assert 0 < second_wait <= first_wait  # refusals do not dig the bucket deeper


def test_buckets_with_different_keys_are_independent(backend):
    one, other = bucket(capacity=1.0), bucket(capacity=1.0)
    assert one.take() == 0.0 and one.take() > 0
    assert other.take() == 0.0


def test_a_local_bucket_refills_at_its_rate_up_to_its_capacity(clock):
    limited = bucket(rate=2.0, capacity=3.0)
    assert limited.take(3.0) == 0.0
    assert limited.take() == 0.5
    clock.now += 0.25
    assert limited.take() == 0.25  # half a token came in; the refusal took nothing
    clock.now += 0.25
    assert limited.take() == 0.0
    clock.now += 3600.0  # idle for an hour: full, not fuller
    assert limited.take(3.0) == 0.0
    assert limited.take(0.5) == 0.25


def test_a_local_bucket_refills_nothing_when_the_clock_steps_back(clock):
    limited = bucket(rate=1.0, capacity=1.0)
    assert limited.take() == 0.0
    clock.now -= 10.0
    assert limited.take() == 1.0
    clock.now += 0.5
    assert limited.take() == 0.5


WINDOW_SECONDS = 60


def hits(key: str, count: int, at: float, limit: int = 10) -> list[bool]:
    return [hit_sliding_window(key, limit, WINDOW_SECONDS, now=at) for _ in range(count)]


def test_a_window_counts_hits_up_to_its_limit(backend):
    assert hits(f"test:{uuid.uuid4()}", 4, at=1_000_000.0, limit=2) == [True, True, False, False]


def test_a_burst_across_a_window_boundary_cannot_pass_twice_the_limit(backend):
    key = f"test:{uuid.uuid4()}"
    start = 1_000_000 * WINDOW_SECONDS  # the start of a window
    assert sum(hits(key, 15, at=start - 1.0)) == 10  # the end of one window
    # One second into the next, the last window's ten still count for 59/60 of ten.
    assert sum(hits(key, 15, at=start + 1.0)) == 1


def test_the_previous_window_weighs_in_proportion_to_its_overlap(backend):
    key = f"test:{uuid.uuid4()}"
    start = 1_000_000 * WINDOW_SECONDS
    assert sum(hits(key, 10, at=start - 30.0)) == 10
    assert sum(hits(key, 10, at=start + 30.0)) == 5  # half of the last window still inside
    # Half-way through the next window, half of those 5 count: 2.5 + 8 hits stay under 10.
    assert sum(hits(key, 10, at=start + WINDOW_SECONDS + 30.0)) == 8


def test_several_windows_count_a_hit_in_turn_and_name_the_one_that_refuses(backend):
    address, site = f"test:{uuid.uuid4()}", f"test:{uuid.uuid4()}"
    limits = [(address, 3), (site, 2)]
    at = 1_000_000.0
    results = [hit_sliding_windows(limits, WINDOW_SECONDS, now=at) for _ in range(4)]
    assert results == [None, None, 1, 0]
    # The third hit counted for the address (refused by the site), the fourth for neither:
    # three hits on the address, two on the site.
    assert hits(address, 2, at=at, limit=4) == [True, False]
    assert hits(site, 2, at=at, limit=3) == [True, False]


def test_bucket_keys_carry_the_cache_key_prefix(settings, monkeypatch):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_PREFIX": "tenant-b",
        }
    }
    keys: list[str] = []

    class Recorder:
        def evalsha(self, digest: str, count: int, key: str, *args: float) -> str:
            keys.append(key)
            return "0"

    monkeypatch.setattr(ratelimit, "redis_client", Recorder)
    assert TokenBucket("meta:act_1", rate_per_second=1.0, capacity=1.0).take() == 0.0
    assert keys == ["tenant-b:1:bucket:meta:act_1"]


def test_limits_hold_per_process_while_the_cache_is_down(unreachable_cache, caplog):
    key = f"test:{uuid.uuid4()}"
    with caplog.at_level(logging.WARNING, logger="usher.lib.outages"):
        assert hits(key, 4, at=1_000_000.0, limit=2) == [True, True, False, False]
        limited = bucket(rate=1.0, capacity=1.0)
        assert limited.take() == 0.0
        assert limited.take() > 0
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "cache unreachable" in caplog.records[0].message


# The two tests below run in this order and share one bucket key: the second sees the
# bucket the first drained full again, because every test starts with fresh buckets.
SHARED_KEY = "test:shared-between-tests"


def test_a_test_may_drain_a_bucket():
    drained = TokenBucket(SHARED_KEY, rate_per_second=0.001, capacity=1.0)
    assert drained.take() == 0.0
    assert drained.take() > 0


def test_the_next_test_finds_the_bucket_full_again():
    assert TokenBucket(SHARED_KEY, rate_per_second=0.001, capacity=1.0).take() == 0.0


def test_a_window_read_without_a_time_uses_the_clock(backend):
    key = f"test:{uuid.uuid4()}"
    assert [hit_sliding_window(key, 1, WINDOW_SECONDS) for _ in range(2)] == [True, False]


def test_per_process_windows_forget_stale_keys_to_stay_bounded(unreachable_cache, monkeypatch):
    monkeypatch.setattr(ratelimit, "LOCAL_WINDOWS_MAX_KEYS", 3)
    start = 1_000_000 * WINDOW_SECONDS
    stale = [f"test:{uuid.uuid4()}" for _ in range(2)]
    live, newcomer = f"test:{uuid.uuid4()}", f"test:{uuid.uuid4()}"
    for key in stale:
        assert hits(key, 1, at=start - 2 * WINDOW_SECONDS) == [True]
    assert hits(live, 2, at=start - 1.0) == [True, True]

    assert hits(newcomer, 1, at=start + 1.0) == [True]  # the fourth key: room is made

    assert set(ratelimit._local_windows) == {live, newcomer}
    # The live key's two hits of the last window still count (59/60 of two).
    assert hits(live, 3, at=start + 1.0, limit=3) == [True, True, False]


def test_a_flood_of_live_keys_starts_the_per_process_windows_over(unreachable_cache, monkeypatch):
    monkeypatch.setattr(ratelimit, "LOCAL_WINDOWS_MAX_KEYS", 3)
    keys = [f"test:{uuid.uuid4()}" for _ in range(4)]
    for key in keys:
        assert hits(key, 1, at=1_000_000.0) == [True]

    assert list(ratelimit._local_windows) == [keys[-1]]


def test_calls_to_one_platform_account_draw_from_one_bucket(backend):
    first = ratelimit.account_bucket("meta", "act_1", rate=1.0, capacity=2.0)
    assert first.take(2.0) == 0.0
    # Another API's calls to the same account find it empty; other accounts do not.
    assert ratelimit.account_bucket("meta", "act_1", rate=1.0, capacity=2.0).take() > 0
    assert ratelimit.account_bucket("meta", "act_2", rate=1.0, capacity=2.0).take(2.0) == 0.0
    assert ratelimit.account_bucket("tiktok", "act_1", rate=1.0, capacity=2.0).take(2.0) == 0.0
    wait = ratelimit.account_bucket("google_ads", "act_1", rate=4.0, capacity=1.0)
    assert wait.take() == 0.0
    assert 0.2 < wait.take() <= 0.25  # its own rate and capacity


def no_outage_noted(caplog: pytest.LogCaptureFixture) -> bool:
    return not [r for r in caplog.records if r.name == "usher.lib.outages"]


@redis_only
def test_on_redis_every_process_draws_from_one_bucket(caplog):
    limited = bucket(rate=0.001, capacity=1.0)
    assert limited.take() == 0.0
    ratelimit.reset_local_buckets()  # another process holds no bucket of its own

    assert limited.take() > 0
    assert no_outage_noted(caplog)


@redis_only
def test_on_redis_with_replicas_limits_are_counted_on_the_primary(settings, caplog):
    primary = settings.CACHES["default"]["LOCATION"]
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": [primary, "redis://127.0.0.1:1/0"]}
    }
    limited = bucket(rate=0.001, capacity=1.0)

    assert limited.take() == 0.0
    assert hits(f"test:{uuid.uuid4()}", 2, at=1_000_000.0, limit=1) == [True, False]
    assert no_outage_noted(caplog)  # the unreachable replica was never asked


@redis_only
def test_on_redis_several_windows_take_one_round_trip(monkeypatch):
    client = ratelimit.redis_client()
    commands: list[str] = []

    class Counting:
        def __getattr__(self, name: str) -> object:
            commands.append(name)
            return getattr(client, name)

    monkeypatch.setattr(ratelimit, "redis_client", Counting)
    limits = [(f"test:{uuid.uuid4()}", 3), (f"test:{uuid.uuid4()}", 2)]

    assert hit_sliding_windows(limits, WINDOW_SECONDS, now=1_000_000.0) is None
    assert commands == ["evalsha"]  # by its digest: the script's text is not sent again


@redis_only
def test_on_redis_a_server_that_lost_the_scripts_still_counts_every_window(monkeypatch, caplog):
    client = ratelimit.redis_client()

    class Restarted:  # a Redis restarted since: it knows no script by its digest
        def __getattr__(self, name: str) -> object:
            return getattr(client, name)

        def evalsha(self, *args: object) -> object:
            raise NoScriptError("No matching script. Please use EVAL.")

    monkeypatch.setattr(ratelimit, "redis_client", Restarted)
    limits = [(f"test:{uuid.uuid4()}", 2), (f"test:{uuid.uuid4()}", 1)]
    with caplog.at_level(logging.WARNING, logger="usher.lib.outages"):
        answers = [hit_sliding_windows(limits, WINDOW_SECONDS, now=1_000_000.0) for _ in range(2)]
        taken = [bucket(capacity=1).take() for _ in range(1)]
    assert answers == [None, 1]  # the second window refuses the second hit
    assert taken == [0.0]
    assert not [r for r in caplog.records if r.name == "usher.lib.outages"]  # shared, not local


@redis_only
def test_on_redis_a_windows_counter_lives_through_the_next_window_and_no_longer():
    key = f"test:{uuid.uuid4()}"
    assert hits(key, 1, at=1_000_000.0) == [True]

    client = ratelimit.redis_client()
    ttls = [client.ttl(name) for name in client.keys(f"*{key}*")]
    assert ttls and all(2 * WINDOW_SECONDS <= ttl <= 2 * WINDOW_SECONDS + 1 for ttl in ttls)


class RecordingCache:
    """The configured cache, recording the lifetime of every counter it adds; told to,
    it lets a counter expire between the `add` that found it and the `incr`."""

    def __init__(self) -> None:
        self.lifetimes: list[object] = []
        self.expire_before_next_incr = False

    def __getattr__(self, name: str) -> object:
        return getattr(cache, name)

    def add(self, key: str, value: object, timeout: object = "default") -> bool:
        self.lifetimes.append(timeout)
        return cache.add(key, value, timeout=None if timeout == "default" else timeout)

    def incr(self, key: str) -> int:
        if self.expire_before_next_incr:
            self.expire_before_next_incr = False
            cache.delete(key)
        return cache.incr(key)


@pytest.fixture
def recording_cache(settings, monkeypatch) -> RecordingCache:
    """Django's local-memory cache (no Redis: the windows count with add and incr)."""
    settings.CACHES = LOCAL_MEMORY
    recorder = RecordingCache()
    monkeypatch.setattr(ratelimit, "cache", recorder)
    return recorder


def test_without_redis_a_windows_counter_lives_through_the_next_window_and_no_longer(
    recording_cache,
):
    assert hits(f"test:{uuid.uuid4()}", 2, at=1_000_000.0) == [True, True]

    assert recording_cache.lifetimes
    assert all(
        isinstance(lifetime, int) and 2 * WINDOW_SECONDS <= lifetime <= 2 * WINDOW_SECONDS + 1
        for lifetime in recording_cache.lifetimes
    )


def test_without_redis_a_counter_expiring_before_its_increment_opens_the_window_again(
    recording_cache,
):
    key = f"test:{uuid.uuid4()}"
    assert hits(key, 1, at=1_000_000.0, limit=2) == [True]
    recording_cache.expire_before_next_incr = True

    # The hit that found the counter gone counts as its first: one more fits, then none.
    assert hits(key, 3, at=1_000_000.0, limit=2) == [True, True, False]
    assert len(recording_cache.lifetimes) == 4  # the re-opening add has its lifetime too
    assert all(lifetime == recording_cache.lifetimes[0] for lifetime in recording_cache.lifetimes)


def test_a_key_first_seen_at_the_start_of_a_window_has_no_past(backend):
    start = 1_000_000 * WINDOW_SECONDS  # the previous window would weigh in full here
    assert hits(f"test:{uuid.uuid4()}", 2, at=start, limit=1) == [True, False]


def test_hits_two_windows_ago_no_longer_count(backend):
    key = f"test:{uuid.uuid4()}"
    start = 1_000_000 * WINDOW_SECONDS
    assert hits(key, 2, at=start - 2 * WINDOW_SECONDS, limit=1) == [True, False]

    assert hits(key, 2, at=start, limit=1) == [True, False]
