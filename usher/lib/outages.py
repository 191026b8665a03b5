"""Calls to the cache and the task broker that survive their outage.

The public endpoints (tracking-config, the collector) must keep answering while Redis is
down: what they keep in the cache is an optimization (a resolution computed from the
database, a rate-limit counter), never the only copy, and a task they queue is a
shortcut the 5-minute sweep takes anyway (events not yet fanned out are found by their
`fanned_out_at`). `cache_or` and `broker_or` run a call and, if the service is
unreachable, return a fallback instead. Each outage is logged once when it starts (not
once per request) and once when the service answers again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Dependency:
    """A service whose outage is noted (and logged) once, until it answers again."""

    def __init__(self, name: str, errors: tuple[type[Exception], ...], fallback: str) -> None:
        self.name = name
        self.errors = errors
        self.fallback = fallback  # what the service does meanwhile, for the log line
        self._lock = threading.Lock()
        self._down = False

    def call_or(self, call: Callable[[], T], fallback: Callable[[], T]) -> T:
        try:
            result = call()
        except self.errors as exc:
            self._note(down=True, exc=exc)
            return fallback()
        if self._down:
            self._note(down=False)
        return result

    def _note(self, *, down: bool, exc: Exception | None = None) -> None:
        with self._lock:
            if self._down == down:
                return
            self._down = down
        if down:
            logger.warning(
                "%s unreachable (%s: %s): %s until it answers again",
                self.name,
                type(exc).__name__,
                exc,
                self.fallback,
            )
        else:
            logger.warning("%s reachable again", self.name)

    def reset(self) -> None:
        """Forget a noted outage (tests)."""
        with self._lock:
            self._down = False


# Redis's client errors (connection refused, timeouts); OSError for a file cache whose
# directory went away or filled up.
CACHE = Dependency(
    "cache",
    (RedisError, OSError),
    "serving from the database, with per-process rate limits",
)
# Kombu's error for a broker it cannot reach (after its own publish retries).
BROKER = Dependency(
    "task broker", (OperationalError,), "stored events and orders wait for the sweep"
)


def cache_or(call: Callable[[], T], fallback: Callable[[], T]) -> T:
    """`call()` against the cache, or `fallback()` while the cache is unreachable."""
    return CACHE.call_or(call, fallback)


def broker_or(call: Callable[[], T], fallback: Callable[[], T]) -> T:
    """`call()` queueing a task, or `fallback()` while the broker is unreachable."""
    return BROKER.call_or(call, fallback)


def reset() -> None:
    """Forget every noted outage (tests)."""
    CACHE.reset()
    BROKER.reset()
