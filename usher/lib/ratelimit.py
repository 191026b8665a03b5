"""Rate limits shared by every process: token buckets for outbound platform calls and
sliding windows for inbound floods.

With Redis (production), a bucket is one Lua script run atomically on the server, so
all workers on all machines draw from the same bucket. With the local-memory cache
(embedded defaults, one machine) a lock-protected in-process bucket stands in. Both
fall back to per-process state while the cache is unreachable (`cache_or`): a limit a
little looser for a while beats refusing, or failing, every request.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from redis import Redis
from redis.exceptions import NoScriptError

from usher.lib.outages import cache_or

# KEYS[1] = bucket; ARGV = rate per second, capacity, tokens wanted. The clock is Redis's
# own (TIME), so workers with skewed clocks cannot refill the bucket, and `at` never runs
# backwards. Returns the seconds to wait before the tokens are available (0 = taken now).
_TAKE_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = math.min(tonumber(state[2]) or now, now)
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= wanted then
  tokens = tokens - wanted
else
  wait = (wanted - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return tostring(wait)
"""

# KEYS = each window's previous and current counters, in pairs; ARGV = the previous
# window's weight, the counters' lifetime, then each window's limit. One round trip counts
# a hit in each window in turn, atomically (concurrent hits cannot all slip under a
# limit), and stops at the first that refuses it (not counted there nor in the later
# ones): returns that window's number (1-based), or 0 when every window took the hit.
_SLIDING_WINDOWS_LUA = """
local weight = tonumber(ARGV[1])
for i = 1, #KEYS / 2 do
  local previous = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local current = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  if previous * weight + current >= tonumber(ARGV[2 + i]) then
    return i
  end
  if redis.call('INCR', KEYS[2 * i]) == 1 then
    redis.call('EXPIRE', KEYS[2 * i], ARGV[2])
  end
end
return 0
"""


def run_script(client: Redis, script: str, keys: Sequence[str], args: Sequence[object]) -> Any:
    """Run a Lua script on Redis by its SHA1 (EVALSHA): Redis neither receives nor
    hashes its text again on every call, as EVAL makes it; a server that does not know
    the script (restarted, flushed) gets the text once (EVAL caches it)."""
    try:
        return client.evalsha(_sha1(script), len(keys), *keys, *args)
    except NoScriptError:
        return client.eval(script, len(keys), *keys, *args)


@functools.cache
def _sha1(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


_local_lock = threading.Lock()
_local_buckets: dict[str, tuple[float, float]] = {}


@dataclass(frozen=True)
class TokenBucket:
    """`rate_per_second` tokens flow in, up to `capacity`; a call takes one or more."""

    key: str
    rate_per_second: float
    capacity: float

    def take(self, tokens: float = 1.0) -> float:
        """Take `tokens` if available and return 0; otherwise take nothing and return
        the seconds to wait."""
        client = redis_client()
        if client is None:
            return self._take_locally(time.time(), tokens)
        # Raw Redis keys bypass the cache's own naming: make_key adds CACHE_KEY_PREFIX
        # (and the version), so two deployments on one Redis keep separate buckets.
        key = cache.make_key(f"bucket:{self.key}")
        return cache_or(
            lambda: float(
                run_script(client, _TAKE_LUA, [key], [self.rate_per_second, self.capacity, tokens])
            ),
            lambda: self._take_locally(time.time(), tokens),
        )

    def _take_locally(self, now: float, tokens: float) -> float:
        with _local_lock:
            available, at = _local_buckets.get(self.key, (self.capacity, now))
            available = min(self.capacity, available + max(0.0, now - at) * self.rate_per_second)
            if available >= tokens:
                _local_buckets[self.key] = (available - tokens, now)
                return 0.0
            _local_buckets[self.key] = (available, now)
            return (tokens - available) / self.rate_per_second


def account_bucket(platform: str, account_id: str, rate: float, capacity: float) -> TokenBucket:
    """The one bucket of outbound calls to a platform account: conversions, audiences and
    campaigns calls to the same account draw from it, as the platform counts them together."""
    return TokenBucket(f"{platform}:{account_id}", rate_per_second=rate, capacity=capacity)


# Per-process sliding windows while the cache is down: key -> (window, previous, current).
_local_windows: dict[str, tuple[int, int, int]] = {}
LOCAL_WINDOWS_MAX_KEYS = 50_000  # bounded memory under a flood of distinct addresses


def sliding_count(previous: int, current: int, previous_weight: float) -> float:
    """Hits in the last window's length: the current window's, plus the previous
    window's in proportion to how much of it still lies inside (a steady estimate that
    a burst at a window boundary cannot double, as it can a fixed window)."""
    return previous * previous_weight + current


def hit_sliding_window(
    key: str, limit: int, window_seconds: int, *, now: float | None = None
) -> bool:
    """Count one hit unless `limit` hits already fell within the last `window_seconds`
    (refused hits are not counted); False when refused."""
    return hit_sliding_windows([(key, limit)], window_seconds, now=now) is None


def hit_sliding_windows(
    limits: Sequence[tuple[str, int]], window_seconds: int, *, now: float | None = None
) -> int | None:
    """Count one hit in each (key, limit) window in turn, stopping at the first whose
    limit is reached; returns that one's index, or None when every window took the hit.
    On Redis, one round trip whatever the number of windows."""
    now = time.time() if now is None else now
    window = int(now // window_seconds)
    weight = 1.0 - (now % window_seconds) / window_seconds
    return cache_or(
        lambda: _hit_shared(limits, window_seconds, window, weight),
        lambda: _hit_all_locally(limits, window, weight),
    )


def _hit_shared(
    limits: Sequence[tuple[str, int]], window_seconds: int, window: int, weight: float
) -> int | None:
    lifetime = 2 * window_seconds + 1  # still read as the previous window
    counters = [(f"window:{key}:{window - 1}", f"window:{key}:{window}") for key, _ in limits]
    client = redis_client()
    if client is not None:  # Redis: one script, one round trip
        keys = [cache.make_key(counter) for pair in counters for counter in pair]
        arguments = [repr(weight), lifetime, *(limit for _, limit in limits)]
        refused = int(run_script(client, _SLIDING_WINDOWS_LUA, keys, arguments))
        return refused - 1 if refused else None
    for index, ((previous_key, current_key), (_, limit)) in enumerate(
        zip(counters, limits, strict=True)
    ):
        counts = cache.get_many([previous_key, current_key])
        if sliding_count(counts.get(previous_key, 0), counts.get(current_key, 0), weight) >= limit:
            return index
        if not cache.add(current_key, 1, timeout=lifetime):
            try:
                cache.incr(current_key)
            except ValueError:  # expired between add and incr: this hit opens the window
                cache.add(current_key, 1, timeout=lifetime)
    return None


def _hit_all_locally(limits: Sequence[tuple[str, int]], window: int, weight: float) -> int | None:
    for index, (key, limit) in enumerate(limits):
        if not _hit_locally(key, limit, window, weight):
            return index
    return None


def _hit_locally(key: str, limit: int, window: int, weight: float) -> bool:
    with _local_lock:
        stored_window, previous, current = _local_windows.get(key, (window, 0, 0))
        if stored_window == window - 1:
            previous, current = current, 0
        elif stored_window != window:
            previous, current = 0, 0
        if sliding_count(previous, current, weight) >= limit:
            return False
        if len(_local_windows) >= LOCAL_WINDOWS_MAX_KEYS and key not in _local_windows:
            _forget_old_windows(window)
        _local_windows[key] = (window, previous, current + 1)
        return True


def _forget_old_windows(window: int) -> None:
    for stale in [k for k, (w, _, _) in _local_windows.items() if w < window - 1]:
        del _local_windows[stale]
    if len(_local_windows) >= LOCAL_WINDOWS_MAX_KEYS:
        _local_windows.clear()  # a flood of live addresses: start over rather than grow


def redis_client():
    """The raw Redis client behind Django's cache, or None on other cache backends."""
    backend = getattr(cache, "_cache", None)
    get_client = getattr(backend, "get_client", None)
    return get_client(write=True) if get_client is not None else None


def reset_local_buckets() -> None:
    """Forget the in-process buckets and windows (tests)."""
    with _local_lock:
        _local_buckets.clear()
        _local_windows.clear()
