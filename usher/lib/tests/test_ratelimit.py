"""Token buckets (outbound platform calls) and sliding windows (inbound floods); on Redis
in CI, on local memory with the embedded defaults, per process while the cache is down."""

from __future__ import annotations

import logging
import uuid

from usher.lib import ratelimit
from usher.lib.ratelimit import TokenBucket, hit_sliding_window, hit_sliding_windows


def bucket(rate: float = 1.0, capacity: float = 3.0) -> TokenBucket:
    return TokenBucket(f"test:{uuid.uuid4()}", rate_per_second=rate, capacity=capacity)


def test_a_bucket_grants_its_burst_then_says_how_long_to_wait():
    limited = bucket(rate=2.0, capacity=3.0)
    assert [limited.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limited.take()
    assert 0.4 < wait <= 0.5  # one token at two per second


def test_a_refused_take_consumes_nothing():
    limited = bucket(rate=1.0, capacity=1.0)
    assert limited.take() == 0.0
    first_wait = limited.take()
    second_wait = limited.take()
    assert second_wait <= first_wait  # refusals do not dig the bucket deeper


def test_buckets_with_different_keys_are_independent():
    one, other = bucket(capacity=1.0), bucket(capacity=1.0)
    assert one.take() == 0.0 and one.take() > 0
    assert other.take() == 0.0


WINDOW_SECONDS = 60


def hits(key: str, count: int, at: float, limit: int = 10) -> list[bool]:
    return [hit_sliding_window(key, limit, WINDOW_SECONDS, now=at) for _ in range(count)]


def test_a_window_counts_hits_up_to_its_limit():
    assert hits(f"test:{uuid.uuid4()}", 4, at=1_000_000.0, limit=2) == [True, True, False, False]


def test_a_burst_across_a_window_boundary_cannot_pass_twice_the_limit():
    key = f"test:{uuid.uuid4()}"
    start = 1_000_000 * WINDOW_SECONDS  # the start of a window
    assert sum(hits(key, 15, at=start - 1.0)) == 10  # the end of one window
    # One second into the next, the last window's ten still count for 59/60 of ten.
    assert sum(hits(key, 15, at=start + 1.0)) == 1


def test_the_previous_window_weighs_in_proportion_to_its_overlap():
    key = f"test:{uuid.uuid4()}"
    start = 1_000_000 * WINDOW_SECONDS
    assert sum(hits(key, 10, at=start - 30.0)) == 10
    assert sum(hits(key, 10, at=start + 30.0)) == 5  # half of the last window still inside
    # Half-way through the next window, half of those 5 count: 2.5 + 8 hits stay under 10.
    assert sum(hits(key, 10, at=start + WINDOW_SECONDS + 30.0)) == 8


def test_several_windows_count_a_hit_in_turn_and_name_the_one_that_refuses():
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
        def eval(self, script: str, count: int, key: str, *args: float) -> str:
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
