"""Rate limits shared by every process: token buckets for outbound platform calls and
fixed windows for inbound floods.

With Redis (production), a bucket is one Lua script run atomically on the server, so
all workers on all machines draw from the same bucket. With the local-memory cache
(embedded defaults, one machine) a lock-protected in-process bucket stands in.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.core.cache import cache

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
        client = _redis_client()
        if client is not None:
            wait = client.eval(
                _TAKE_LUA,
                1,
                f"usher:bucket:{self.key}",
                self.rate_per_second,
                self.capacity,
                tokens,
            )
            return float(wait)
        return self._take_locally(time.time(), tokens)

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


def hit_window(key: str, limit: int, window_seconds: int) -> bool:
    """Count one hit in the current fixed window; False once `limit` is exceeded."""
    window = int(time.time() // window_seconds)
    cache_key = f"usher:window:{key}:{window}"
    if cache.add(cache_key, 1, timeout=window_seconds + 1):
        return True
    try:
        return cache.incr(cache_key) <= limit
    except ValueError:  # expired between add and incr: this hit opens a new window
        cache.add(cache_key, 1, timeout=window_seconds + 1)
        return True


def _redis_client():
    """The raw Redis client behind Django's cache, or None on other cache backends."""
    backend = getattr(cache, "_cache", None)
    get_client = getattr(backend, "get_client", None)
    return get_client(write=True) if get_client is not None else None


def reset_local_buckets() -> None:
    """Forget the in-process buckets (tests)."""
    with _local_lock:
        _local_buckets.clear()
