"""Answers cached per marketplace client, invalidated by a per-client version counter.

Every cached answer for a marketplace client (resolved codes, tracking-config documents,
server-side codes, the collector's site-key and page lookups) is stored under a key that
embeds the client's current version. Any change an answer depends on (the client, its
events, organizers and tracking codes: see `usher.marketplace.signals` and
`usher.tracking.signals`) bumps that version, so every old answer is orphaned at once,
without having to know which events or organizers it covered; orphans simply expire. A
lost counter (eviction, Redis restart) restarts at the current time in nanoseconds, which
is above any version handed out before, so no stale entry can match.

Each process also keeps the answers it served last (`remember` / `recall`), reused while
the client's version stands: checked with one cache read, or with none at all while the
process is subscribed to the bumps (Redis pub/sub), which reach it before the next page
load can. An edit still shows on the next page load (or collector request).

The cache is only an optimization: while it is unreachable every answer is computed from
the database (`cache_or`), and is cached again once the cache answers. Shared by
`tracking` (what a page loads) and `events` (the collector), so it lives in `lib`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

from usher.lib.outages import cache_or
from usher.lib.ratelimit import redis_client

# How long a resolution is reused; changes invalidate it at once through the version.
RESOLUTION_CACHE_SECONDS = 5 * 60
# Answers each process remembers (least recently used go first): bounded memory whatever
# the number of pages and clients.
LOCAL_ANSWERS_MAX_ENTRIES = 4096
# How long an answer checked under a live subscription to bumps is reused without asking
# the cache: bounds staleness should the subscription die without the process noticing.
CHECKED_ANSWER_SECONDS = 1.0
# The pub/sub channel (under the cache's key prefix) that bumps are announced on.
BUMPS_CHANNEL = "tracking:bumps"

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


@dataclass
class _Remembered:
    client_id: int
    version: int
    value: Any
    trusted_epoch: int = -1  # the subscription under which it was last checked
    checked_at: float = 0.0  # time.monotonic() of that check


class _Announcements:
    """This process's subscription to the clients' version bumps (Redis pub/sub).

    A bump publishes the client's id after moving its version; Redis puts the message
    in every subscriber's socket before the writer gets its answer. Each request first
    reads what arrived (a non-blocking read of a local socket, no round trip), so an
    answer checked against the version after the subscription was confirmed stays
    current without asking the cache again: any later bump arrives before the next
    page load can. Without Redis, or while the subscription is not confirmed, `live`
    is False and every reuse checks the version (one cache read).
    """

    def __init__(self) -> None:
        self._pubsub: Any = None
        self._pid = 0
        self.live = False
        self.epoch = 0  # a new one per confirmed subscription: older checks count for nothing
        self._lock = threading.Lock()  # one connection; threaded servers share it

    def poll(self) -> bool:
        """Apply the bumps announced since the last call; whether the subscription is live."""
        if not hasattr(getattr(cache, "_cache", None), "get_client"):  # not Redis (now)
            return False
        with self._lock:
            return self._poll()

    def _poll(self) -> bool:
        try:
            if self._pubsub is None or self._pid != os.getpid():  # none yet, or forked
                self.live = False
                self._pid = os.getpid()
                self._pubsub = redis_client().pubsub()
                self._pubsub.subscribe(cache.make_key(BUMPS_CHANNEL))
            while (message := self._pubsub.get_message(timeout=0.0)) is not None:
                if message["type"] == "subscribe":
                    self.live, self.epoch = True, self.epoch + 1
                elif message["type"] == "message":
                    _forget_client(int(message["data"]))
        except (RedisError, OSError, ValueError):  # lost: check versions until resubscribed
            self.close()
        return self.live

    def close(self) -> None:
        pubsub, self._pubsub, self.live = self._pubsub, None, False
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                pubsub.close()


_ANNOUNCEMENTS = _Announcements()
_local_lock = threading.Lock()
_local_answers: OrderedDict[Hashable, _Remembered] = OrderedDict()


def remember(key: Hashable, client_id: int, version: int, value: object) -> None:
    """Keep `value` in this process for `recall`, valid while the client is at `version`
    (read before `value` was computed, so a change in between makes it a newer one)."""
    with _local_lock:
        _local_answers[key] = _Remembered(client_id, version, value)
        _local_answers.move_to_end(key)
        while len(_local_answers) > LOCAL_ANSWERS_MAX_ENTRIES:
            _local_answers.popitem(last=False)


def recall(key: Hashable) -> Any | None:
    """What `remember` kept under `key`, if the client's version has not moved since.
    None when unknown, outdated, or the cache is unreachable.

    Free once checked under a live subscription to bumps (for CHECKED_ANSWER_SECONDS at
    most, in case the subscription died unnoticed); otherwise one cache read.
    """
    live = _ANNOUNCEMENTS.poll()
    with _local_lock:
        entry = _local_answers.get(key)
        if entry is not None:
            _local_answers.move_to_end(key)
    if entry is None:
        return None
    now = time.monotonic()
    if (
        live
        and entry.trusted_epoch == _ANNOUNCEMENTS.epoch
        and now - entry.checked_at < CHECKED_ANSWER_SECONDS
    ):
        return entry.value
    if current_version(entry.client_id) != entry.version:
        return None
    entry.trusted_epoch = _ANNOUNCEMENTS.epoch if live else -1
    entry.checked_at = now
    return entry.value


def _forget_client(client_id: int) -> None:
    with _local_lock:
        for key in [k for k, e in _local_answers.items() if e.client_id == client_id]:
            del _local_answers[key]


def forget_local_answers() -> None:
    """Empty this process's remembered answers and drop its subscription (tests)."""
    with _local_lock:
        _local_answers.clear()
    _ANNOUNCEMENTS.close()


def _bump(client_id: int) -> None:
    key = _version_key(client_id)
    try:
        cache.incr(key)
    except ValueError:  # no counter yet (or evicted): any fresh one is newer
        cache.add(key, time.time_ns(), timeout=None)
    # This process forgets at once: the announcement below reaches its own subscription
    # a moment later, and a request it serves in between must not see the old answer.
    _forget_client(client_id)
    client = redis_client()
    if client is not None:  # after the version moved: a process told re-reads the new one
        client.publish(cache.make_key(BUMPS_CHANNEL), str(client_id))


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


def fetch_remembered(
    key: Hashable, fetch: Callable[[], T | None], client_id_of: Callable[[T], int]
) -> T | None:
    """What `remember` kept under `key` while its client's version stands; else `fetch()`
    (a row of some client, or None), remembered for the next call.

    On a miss it fetches twice around one read of the version: the value remembered is
    the one fetched after that read, so a change committed in between has moved the
    version and the value is never reused as current.
    """
    remembered = recall(key)
    if remembered is not None:
        return remembered
    found = fetch()
    if found is None:
        return None
    version = current_version(client_id_of(found))
    if version is None:  # the cache is unreachable: nothing can be checked later
        return found
    current = fetch()  # as of that version
    if current is not None and client_id_of(current) == client_id_of(found):
        remember(key, client_id_of(current), version, current)
    return current
