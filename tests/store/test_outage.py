"""A Redis that goes away, restarts or stalls (SIGSTOP): ``apply`` raises ``StoreUnavailable``
in bounded time, ``health()`` says so, and the store recovers by itself once the server is
back. Each test owns its server (the session's shared one must stay up)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from geofence.errors import StoreUnavailable
from geofence.store import Op, Store, open_store
from geofence.testing.redis_server import RedisCluster, RedisServer

DEADLINE = 60.0
OP = [Op("count", "a:1", "n"), Op("distinct", "n:1", "accounts", "a1")]


@pytest.fixture
def server() -> Iterator[RedisServer]:
    try:
        context = RedisServer.started()
        started = context.__enter__()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    try:
        yield started
    finally:
        context.__exit__(None, None, None)


def eventually(apply: Callable[[], object]) -> object:
    """``apply()``'s result once it stops raising StoreUnavailable (60 s at most)."""
    end = time.monotonic() + DEADLINE
    while True:
        try:
            return apply()
        except StoreUnavailable:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def finishes(call: Callable[[], object]) -> BaseException | object:
    """Run ``call`` in a thread; fail the test if it has not returned within the deadline (a
    store without a working timeout would hang here forever)."""
    box: list[BaseException | object] = []

    def run() -> None:
        try:
            box.append(call())
        except BaseException as exc:  # handed to the test
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive(), "apply did not return: the timeout does not bound it"
    return box[0]


def test_restart_mid_run(server: RedisServer) -> None:
    store = open_store(server.url, timeout=1.0, retry_after=0.2)
    assert store.apply(OP, 0.0) == [1, 1]
    server.stop()
    with pytest.raises(StoreUnavailable, match=str(server.port)) as caught:
        store.apply(OP, 1.0)
    assert caught.value.url == store.url
    health = store.health()
    assert not health.available
    assert health.failures == 1
    assert health.last_error
    # right after a failure the store does not wait on the server again: it raises at once
    with pytest.raises(StoreUnavailable, match="next attempt in"):
        store.apply(OP, 1.0)
    server.start()  # same port, empty (no persistence), no script cached
    assert eventually(lambda: store.apply(OP, 2.0)) == [1, 1]
    assert store.apply(OP, 3.0) == [2, 1]
    health = store.health()
    assert health.available
    assert health.retry_at is None
    assert health.last_error  # the last failure is remembered after recovery
    store.close()


def test_a_stalled_server_times_out_and_recovers(server: RedisServer) -> None:
    store = open_store(server.url, timeout=0.2, retry_after=0)
    assert store.apply(OP, 0.0) == [1, 1]
    server.pause()
    try:
        outcome = finishes(lambda: store.apply(OP, 1.0))
        assert isinstance(outcome, StoreUnavailable)
        assert "Timeout" in str(outcome)
        assert not store.health().available
    finally:
        server.resume()
    # the timed-out connection is dropped; its commands may or may not have run on SIGCONT
    after = eventually(lambda: store.apply(OP, 2.0))
    assert after in ([2, 1], [3, 1])
    assert store.health().available
    store.close()


def test_a_stalled_server_times_out_async(server: RedisServer) -> None:
    store = open_store(server.url, timeout=0.2, retry_after=0)

    async def run() -> tuple[object, object]:
        before = await store.aapply(OP, 0.0)
        server.pause()
        try:
            with pytest.raises(StoreUnavailable):
                await asyncio.wait_for(store.aapply(OP, 1.0), DEADLINE)
        finally:
            server.resume()
        end = time.monotonic() + DEADLINE
        try:
            while True:
                try:
                    return before, await store.aapply(OP, 2.0)
                except StoreUnavailable:
                    assert time.monotonic() < end
                    await asyncio.sleep(0.1)
        finally:
            await store.aclose()

    before, after = asyncio.run(run())
    assert before == [1, 1]
    assert isinstance(after, list)
    assert after[1] == 1
    assert store.health().available


def test_nothing_listening_is_unavailable_not_a_crash() -> None:
    from geofence.testing.redis_server import free_port

    store: Store = open_store(f"redis+cluster://127.0.0.1:{free_port()}", timeout=0.5)
    with pytest.raises(StoreUnavailable):
        store.apply(OP, 0.0)

    async def run() -> None:
        try:
            with pytest.raises(StoreUnavailable):
                await store.aapply(OP, 0.0)
        finally:
            await store.aclose()

    asyncio.run(run())
    assert store.health().failures >= 1


def test_a_cluster_node_restart() -> None:
    try:
        context = RedisCluster.started()
        cluster = context.__enter__()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    try:
        store = open_store(cluster.url, timeout=1.0, retry_after=0.2)
        groups = [Op("count", f"a:{i}", "n") for i in range(30)]  # spread over the 3 nodes
        assert store.apply(groups, 0.0) == [1] * 30
        node = cluster.nodes[0]
        node.stop()
        with pytest.raises(StoreUnavailable):
            store.apply(groups, 1.0)
        node.start()  # it rejoins from its nodes.conf with its slots, its keys gone
        results = eventually(lambda: store.apply(groups, 2.0))
        assert isinstance(results, list)
        # The restarted node's groups start again; the others kept counting, including during
        # the failed attempts (a pipeline over several nodes is not one transaction).
        assert 1 in results
        assert min(r for r in results if r != 1) >= 2
        store.close()
    finally:
        context.__exit__(None, None, None)
