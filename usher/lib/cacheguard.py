"""Cache calls that survive a cache outage.

The public endpoints (tracking-config, the collector) must keep answering while Redis is
down: what they keep in the cache is an optimization (a resolution computed from the
database, a rate-limit counter), never the only copy. `cache_or` runs a cache call and,
if the cache is unreachable, returns a fallback instead. The outage is logged once when
it starts (not once per request) and once when the cache answers again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Redis's client errors (connection refused, timeouts); OSError for a file cache whose
# directory went away or filled up.
CACHE_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)

T = TypeVar("T")

_lock = threading.Lock()
_down = False


def cache_or(call: Callable[[], T], fallback: Callable[[], T]) -> T:
    """`call()` against the cache, or `fallback()` while the cache is unreachable."""
    try:
        result = call()
    except CACHE_ERRORS as exc:
        _note_down(exc)
        return fallback()
    if _down:
        _note_up()
    return result


def _note_down(exc: Exception) -> None:
    global _down
    with _lock:
        if _down:
            return
        _down = True
    logger.warning(
        "cache unreachable (%s: %s): serving from the database and per-process limits "
        "until it answers again",
        type(exc).__name__,
        exc,
    )


def _note_up() -> None:
    global _down
    with _lock:
        if not _down:
            return
        _down = False
    logger.warning("cache reachable again")


def cache_is_down() -> bool:
    """Whether the last cache call failed (for tests and health checks)."""
    return _down


def reset() -> None:
    """Forget a noted outage (tests)."""
    global _down
    with _lock:
        _down = False
