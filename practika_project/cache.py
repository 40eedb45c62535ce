"""Django's Redis cache, with one redis-py client per connection pool instead of one per call.

Django's RedisCacheClient builds a new `redis.Redis` around the pool for every cache operation,
and redis-py 8 fills a case-insensitive dict of ~170 response callbacks in each: about 0.1 ms,
as long as the round trip to Redis itself (docs/PERFORMANCE.md, B8). A client holds no
connection of its own (it borrows one from the pool for each command), so one client per pool is
safe to share between threads; the pool starts afresh in a forked child by itself.
"""

from __future__ import annotations

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
