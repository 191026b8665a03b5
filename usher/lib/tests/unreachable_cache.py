"""A cache backend whose Redis server is down: every call fails as redis-py's do, so
tests can check what the service does during an outage."""

from __future__ import annotations

from typing import Any, NoReturn

from django.core.cache.backends.base import BaseCache
from redis.exceptions import ConnectionError as RedisConnectionError

REFUSED = "Error 111 connecting to 127.0.0.1:6379. Connection refused."


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise RedisConnectionError(REFUSED)


class _UnreachableRedis:
    """The raw client behind the cache (what token buckets and sliding windows run their
    scripts on, and tracking's bumps are announced through)."""

    def get_client(self, write: bool = False) -> _UnreachableRedis:
        return self

    eval = evalsha = publish = pubsub = staticmethod(_refuse)


class UnreachableCache(BaseCache):
    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        self._cache = _UnreachableRedis()

    add = get = set = touch = delete = get_many = set_many = staticmethod(_refuse)
    delete_many = has_key = incr = decr = clear = staticmethod(_refuse)
