"""Cache of resolved tracking codes, invalidated by a per-client version counter.

Every cached answer for a marketplace client (resolved codes, tracking-config documents,
server-side codes) is stored under a key that embeds the client's current version.
Any change a resolution depends on bumps that version, so every old answer is orphaned
at once, without having to know which events or organizers it covered; orphans simply
expire. A lost counter (eviction, Redis restart) restarts at the current time in
nanoseconds, which is above any version handed out before, so no stale entry can match.

Each process also keeps the answers it served last (`remember` / `recall`), checked
against the client's version before reuse: one cache read instead of a database lookup
and a second cache read, and still a fresh answer on the next page load after an edit.

The cache is only an optimization: while it is unreachable every answer is computed from
the database (`cache_or`), and is cached again once the cache answers.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import transaction

from usher.lib.outages import cache_or

# How long a resolution is reused; changes invalidate it at once through the version.
RESOLUTION_CACHE_SECONDS = 5 * 60
# Answers each process remembers (least recently used go first): bounded memory whatever
# the number of pages and clients.
LOCAL_ANSWERS_MAX_ENTRIES = 4096

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


def current_version(client_id: int) -> int | None:
    """The client's version, or None while the cache is unreachable (nothing can then be
    checked, so nothing remembered may be reused)."""
    return cache_or(lambda: client_version(client_id), lambda: None)


_local_lock = threading.Lock()
_local_answers: OrderedDict[Hashable, tuple[int, int, Any]] = OrderedDict()


def remember(key: Hashable, client_id: int, version: int, value: object) -> None:
    """Keep `value` in this process for `recall`, valid while the client is at `version`
    (read before `value` was computed, so a change in between makes it a newer one)."""
    with _local_lock:
        _local_answers[key] = (client_id, version, value)
        _local_answers.move_to_end(key)
        while len(_local_answers) > LOCAL_ANSWERS_MAX_ENTRIES:
            _local_answers.popitem(last=False)


def recall(key: Hashable) -> Any | None:
    """What `remember` kept under `key`, if the client's version has not moved since;
    costs one cache read. None when unknown, outdated, or the cache is unreachable."""
    with _local_lock:
        entry = _local_answers.get(key)
        if entry is not None:
            _local_answers.move_to_end(key)
    if entry is None:
        return None
    client_id, version, value = entry
    return value if current_version(client_id) == version else None


def forget_local_answers() -> None:
    """Empty this process's remembered answers (tests)."""
    with _local_lock:
        _local_answers.clear()


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
