"""redis+sentinel:// against a real Sentinel (``redis-server --sentinel``, same binary) that
watches a real server: the store finds the master through it, sync and async."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from geofence.store import Op, open_store
from geofence.testing.redis_server import RedisSentinel, RedisServer


@pytest.fixture(scope="module")
def sentinel() -> Iterator[RedisSentinel]:
    try:
        context = RedisServer.started()
        server = context.__enter__()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    watcher = RedisSentinel(server, service="geofence-test")
    try:
        yield watcher.start()
    finally:
        watcher.stop()
        context.__exit__(None, None, None)


def test_the_master_is_found_through_sentinel(sentinel: RedisSentinel) -> None:
    assert sentinel.url.endswith("/geofence-test/0")
    store = open_store(f"{sentinel.url}?timeout=2")
    direct = open_store(f"{sentinel.server.url}?timeout=2")
    ops = [Op("count", "a:1", "n"), Op("distinct", "a:1", "c", "DE")]
    assert store.apply(ops, 0.0) == [1, 1]
    assert direct.apply(ops, 0.0) == [2, 1]  # the same server behind the sentinel

    async def run() -> list[object]:
        try:
            return list(await store.aapply(ops, 0.0))
        finally:
            await store.aclose()

    assert asyncio.run(run()) == [3, 1]
    store.close()
    direct.close()


def test_an_unknown_service_is_unavailable(sentinel: RedisSentinel) -> None:
    from geofence.errors import StoreUnavailable

    port = sentinel.sentinel.port
    store = open_store(f"redis+sentinel://127.0.0.1:{port}/nobody?timeout=2")
    with pytest.raises(StoreUnavailable, match="nobody"):
        store.apply([Op("count", "a:1", "n")], 0.0)
    store.close()
