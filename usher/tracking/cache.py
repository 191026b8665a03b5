"""Cache of resolved tracking codes, invalidated by a per-client version counter.

Every cached answer for a marketplace client (resolved codes, tracking-config documents,
server-side codes) is stored under a key that embeds the client's current version.
Any change a resolution depends on bumps that version, so every old answer is orphaned
at once, without having to know which events or organizers it covered; orphans simply
expire. A lost counter (eviction, Redis restart) restarts at the current time in
nanoseconds, which is above any version handed out before, so no stale entry can match.

The cache is only an optimization: while it is unreachable every answer is computed from
the database (`cache_or`), and is cached again once the cache answers.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction

from usher.lib.cacheguard import cache_or

# How long a resolution is reused; changes invalidate it at once through the version.
RESOLUTION_CACHE_SECONDS = 5 * 60

T = TypeVar("T")


def _version_key(client_id: int) -> str:
    return f"tracking:version:{client_id}"


def client_version(client_id: int) -> int:
    key = _version_key(client_id)
    version = cache.get(key)
    if version is None:
        cache.add(key, time.time_ns(), timeout=None)
        version = cache.get(key, 0)
    return int(version)


def _bump(client_id: int) -> None:
    key = _version_key(client_id)
    try:
        cache.incr(key)
    except ValueError:  # no counter yet (or evicted): any fresh one is newer
        cache.add(key, time.time_ns(), timeout=None)


def invalidate_client(client_id: int | None) -> None:
    """Orphan every cached answer of this client, now and again once the transaction
    commits: a concurrent reader that cached the pre-commit state in between is
    orphaned by the second bump."""
    if client_id is None:
        return

    def bump() -> None:  # an unreachable cache holds no answer to orphan
        cache_or(lambda: _bump(client_id), lambda: None)

    bump()
    transaction.on_commit(bump)


def cached_for_client(client_id: int, name: str, compute: Callable[[], T]) -> T:
    """`compute()`, reused for RESOLUTION_CACHE_SECONDS until the client's data changes.

    `name` identifies the answer within the client (e.g. "event:42"); it is hashed, so
    any characters are allowed. `compute` must return a picklable value, never None.
    """
    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    key = cache_or(lambda: f"tracking:{client_id}:{client_version(client_id)}:{digest}", lambda: "")
    hit = cache_or(lambda: cache.get(key), lambda: None) if key else None
    if hit is not None:
        return hit
    value = compute()
    if key:
        cache_or(lambda: cache.set(key, value, RESOLUTION_CACHE_SECONDS), lambda: None)
    return value
