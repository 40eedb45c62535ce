"""The Redis cache backend: one redis-py client per pool, shared by threads, as Django's own cache."""

from __future__ import annotations

import threading

import pytest
import redis
from django.conf import settings
from django.core.cache import caches

from practika_project.cache import RedisCache


@pytest.fixture
def cache(clean_redis):
    backend = RedisCache(clean_redis, {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}})
    yield backend
    backend.close()


def test_the_configured_cache_is_this_backend(redis_url):
    assert settings.CACHES["default"]["BACKEND"] == "practika_project.cache.RedisCache"
    assert isinstance(caches["default"], RedisCache)


def test_every_operation_borrows_the_same_client(cache):
    client = cache._cache.get_client()
    assert cache._cache.get_client(write=True) is client
    assert isinstance(client, redis.Redis)


def test_threads_share_it_as_a_cache(cache):
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                cache.set(f"k{n}:{i}", (n, i))
                assert cache.get_many([f"k{n}:{i}", "missing"]) == {f"k{n}:{i}": (n, i)}
            assert cache.add(f"k{n}:count", 0)
            assert cache.incr(f"k{n}:count") == 1
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert cache.get("k7:49") == (7, 49)


def test_a_connection_killed_by_redis_is_replaced(cache, clean_redis):
    cache.set("kept", "yes")
    client = cache._cache.get_client()
    # Only the pool's own connection (the one it lends again next): the server is shared.
    killed = redis.Redis.from_url(clean_redis).client_kill_filter(_id=client.client_id())
    assert killed == 1
    assert cache.get("kept") == "yes"  # redis-py retries once on a fresh connection from the pool
    assert cache._cache.get_client() is client
