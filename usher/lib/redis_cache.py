"""Django's Redis cache backend, reusing its Redis client objects.

Django builds a new `redis.Redis` for every cache call (`RedisCacheClient.get_client`),
and that constructor registers a couple of hundred response callbacks: on the
collector's path (a rate-limit script, a flag, a version read) it was about a seventh
of a request's CPU. A client object is only a handle on its connection pool, safe to
share between calls and threads (the pool hands out connections and notices a fork), so
each pool gets one.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._client(connection_pool=self._get_connection_pool(write))
            self._clients[index] = client
        return client


class RedisCache(DjangoRedisCache):
    """`django.core.cache.backends.redis.RedisCache` with one client object per pool."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient


def delete_prefixed_keys(prefix: str) -> None:
    """Delete every key the default cache (Redis) holds under the key prefix `prefix`:
    how a test run, or a benchmark's flight, that wrote under a prefix of its own leaves
    a shared Redis server as it found it."""
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def is_redis(config: dict[str, Any]) -> bool:
    """Whether a CACHES entry is a Redis cache (Django's or ours)."""
    return config["BACKEND"].endswith("RedisCache")
