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
