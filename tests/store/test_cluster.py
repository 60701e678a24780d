"""On a real 3-node Redis Cluster: every key of a group lives on one node (one hash slot), the
groups of one batch spread over the nodes, and a batch costs one script call per group and
nothing else (no COMMAND GETKEYS round trip per call, which redis-py's blocking cluster
pipeline would otherwise make to route a script)."""

from __future__ import annotations

import asyncio

from geofence.store import Op, open_store
from geofence.testing.redis_server import RedisCluster
from geofence.testing.redis_server import command as redis_command

T0 = 1_780_000_000.0


def _stats(cluster: RedisCluster) -> dict[str, int]:
    calls: dict[str, int] = {}
    for node in cluster.nodes:
        for line in redis_command(node.port, "INFO", "commandstats").splitlines():
            if line.startswith("cmdstat_"):
                name, _, rest = line.partition(":")
                count = int(rest.split(",")[0].split("=")[1])
                calls[name] = calls.get(name, 0) + count
    return calls


def _keys_by_node(cluster: RedisCluster) -> list[set[str]]:
    return [
        set(redis_command(n.port, "KEYS", "*").split("\r\n")[2::2]) - {""} for n in cluster.nodes
    ]


def test_groups_spread_over_nodes_and_each_keeps_to_one(redis_cluster: RedisCluster) -> None:
    for node in redis_cluster.nodes:
        redis_command(node.port, "FLUSHALL")
    store = open_store(f"{redis_cluster.url}?timeout=2", prefix="slots")
    groups = [f"a:{i}" for i in range(12)]
    ops = [Op(kind, g, "n", "v") for g in groups for kind in ("distinct", "count", "swap")]
    store.apply(ops, T0)
    by_node = _keys_by_node(redis_cluster)
    holding = {g: [i for i, keys in enumerate(by_node) if any(f":{g}}}" in k for k in keys)]
               for g in groups}  # fmt: skip
    assert all(len(nodes) == 1 for nodes in holding.values()), holding
    assert len({nodes[0] for nodes in holding.values()}) > 1  # the groups did spread
    store.close()


def test_a_batch_is_one_script_call_per_group(redis_cluster: RedisCluster) -> None:
    store = open_store(f"{redis_cluster.url}?timeout=2")
    ops = [Op("count", f"g:{i}", "n") for i in range(4)]
    store.apply(ops, T0)  # connect, cache the script
    for node in redis_cluster.nodes:
        redis_command(node.port, "CONFIG", "RESETSTAT")
    for i in range(5):
        store.apply(ops, T0 + i)

    async def run() -> None:
        for i in range(5):
            await store.aapply(ops, T0 + i)
        await store.aclose()

    asyncio.run(run())
    calls = _stats(redis_cluster)
    assert calls.get("cmdstat_evalsha") == 10 * 4
    assert "cmdstat_command|getkeys" not in calls, calls
    store.close()
