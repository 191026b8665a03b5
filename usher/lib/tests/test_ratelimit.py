"""Token buckets (outbound platform calls) and fixed windows (inbound floods); on Redis
in CI, on local memory with the embedded defaults."""

from __future__ import annotations

import uuid

from usher.lib.ratelimit import TokenBucket, hit_window


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


def test_a_fixed_window_counts_hits_up_to_its_limit():
    key = f"test:{uuid.uuid4()}"
    assert [hit_window(key, limit=2, window_seconds=60) for _ in range(4)] == [
        True,
        True,
        False,
        False,
    ]


# The two tests below run in this order and share one bucket key: the second sees the
# bucket the first drained full again, because every test starts with fresh buckets.
SHARED_KEY = "test:shared-between-tests"


def test_a_test_may_drain_a_bucket():
    drained = TokenBucket(SHARED_KEY, rate_per_second=0.001, capacity=1.0)
    assert drained.take() == 0.0
    assert drained.take() > 0


def test_the_next_test_finds_the_bucket_full_again():
    assert TokenBucket(SHARED_KEY, rate_per_second=0.001, capacity=1.0).take() == 0.0
