"""The state store: one ``apply`` round trip on a loopback Redis against a bare redis-py PING
in the same run (target: p50 and p99 below 2x), ``memory://`` cost, and memory per account.

``python -m benchmarks.store`` runs this section alone and writes its rows into
``benchmarks/RESULTS.md`` (between markers, replacing the previous ones); ``python -m
benchmarks`` runs it with every other section. A redis-server of its own is started on a
free loopback port (the section records why when the binary or redis-py is missing).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.measure import Section, Sizes, have, ratio, rss_added
from geofence.store import Op, Store, open_store
from geofence.store.memory import MemoryStore
from geofence.testing.redis_server import RedisCluster, RedisServer

T0 = 1_780_000_000.0
DAY = 86400.0


def request_ops(account: int, i: int) -> list[Op]:
    """What one request of one account writes: 6 distinct + 3 counts + swap + first in its
    account group, plus the network, ASN and fingerprint groups' counters (4 groups)."""
    a, net = f"a:{account:016x}", f"n:{account // 20:08x}"
    return [
        Op("distinct", a, "countries", ("US", "DE", "FR")[i % 3]),
        Op("distinct", a, "networks", f"{(account + i) % 7}"),
        Op("distinct", a, "asns", f"{(account + i) % 3}"),
        Op("distinct", a, "fingerprints", f"{account % 5}"),
        Op("distinct", a, "hours", f"{i % 24}"),
        Op("distinct", a, "mismatch", f"{i % 2}"),
        Op("count", a, "requests"),
        Op("count", a, "anonymized", amount=i % 2),
        Op("count", a, "declared_other", amount=0),
        Op("swap", a, "last", f"52.5,13.4,{T0 + i}"),
        Op("first", a, "seen", f"{T0}"),
        Op("distinct", net, "accounts", a),
        Op("distinct", net, "new_accounts", a),
        Op("distinct", f"s:{account % 50:04x}", "accounts", a),
        Op("distinct", f"f:{account % 9:04x}", "accounts", a),
    ]


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    call()
    return float(time.perf_counter_ns() - start)


def _p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1] if len(samples) > 1 else samples[0]


def round_trips(s: Section, store: Store, client: Any, calls: int) -> None:
    """apply vs PING, alternately in one loop so load affects both alike."""
    ping, apply, single = [], [], []
    for i in range(calls):
        ops = request_ops(i % 500, i)
        ping.append(_timed(client.ping))
        apply.append(_timed(lambda ops=ops, i=i: store.apply(ops, T0 + i)))
        single.append(_timed(lambda ops=ops, i=i: store.apply(ops[6:7], T0 + i)))
    for q, name in ((50, "p50"), (99, "p99")):
        base, value = _p(ping, q), _p(apply, q)
        s.add(f"redis-py PING round trip, {name}", base, "ns")
        s.add(f"Store.apply round trip (15 ops, 4 groups), {name}", value, "ns",
              ratio=ratio(value, base), against=f"PING {name}", target="< 2x",
              met=ratio(value, base) < 2, note="loopback redis-server, hiredis")  # fmt: skip
    one = _p(single, 50)
    s.add("Store.apply round trip (1 count op), p50", one, "ns", ratio=ratio(one, _p(ping, 50)),
          against="PING p50", note="the fixed cost of a call")  # fmt: skip


def cluster_round_trips(s: Section, calls: int) -> None:
    """The same batch on a 3-node cluster: one script call per group, pipelined per node."""
    from redis.cluster import RedisCluster as Client

    try:
        context = RedisCluster.started()
        cluster = context.__enter__()
    except FileNotFoundError as exc:
        s.missing("cluster round trip", str(exc))
        return
    try:
        store = open_store(f"{cluster.url}?timeout=1")
        client = Client(host="127.0.0.1", port=cluster.nodes[0].port)
        store.apply(request_ops(0, 0), T0)
        ping = [_timed(client.ping) for _ in range(calls)]  # PING goes to one node
        apply = [_timed(lambda i=i: store.apply(request_ops(i % 500, i), T0 + i))
                 for i in range(calls)]  # fmt: skip
        base, value = _p(ping, 50), _p(apply, 50)
        s.add("cluster Store.apply round trip (15 ops, 4 groups), p50", value, "ns",
              ratio=ratio(value, base), against="cluster PING p50",
              note="3 nodes; Op building included")  # fmt: skip
        store.close()
        client.close()
    finally:
        context.__exit__(None, None, None)


def async_round_trips(s: Section, url: str, calls: int) -> None:
    from redis.asyncio import Redis

    async def run() -> tuple[list[float], list[float]]:
        store, client = open_store(url), Redis.from_url(url.split("?")[0])
        ping, apply = [], []
        for i in range(calls):
            start = time.perf_counter_ns()
            await client.ping()
            ping.append(float(time.perf_counter_ns() - start))
            start = time.perf_counter_ns()
            await store.aapply(request_ops(i % 500, i), T0 + i)
            apply.append(float(time.perf_counter_ns() - start))
        await store.aclose()
        await client.aclose()
        return ping, apply

    ping, apply = asyncio.run(run())
    base, value = _p(ping, 50), _p(apply, 50)
    s.add("async Store.aapply round trip, p50", value, "ns", ratio=ratio(value, base),
          against="async PING p50", target="< 2x", met=ratio(value, base) < 2)  # fmt: skip


def memory_per_account(s: Section, store: Store, client: Any, accounts: int) -> None:
    """A day of traffic: each account makes 24 requests (one an hour), then MEMORY USAGE of
    every key, split by group kind. The day is replayed in seconds, so every window union
    is still alive; in real time a union lives two buckets, so only the last two per
    counter are counted."""
    client.flushall()
    for hour in range(24):
        for account in range(accounts):
            store.apply(request_ops(account, hour), T0 + hour * 3600 + account % 3600)
    totals = _usage_by_group(client)
    networks = max(1, accounts // 20)
    s.add("MEMORY USAGE per tracked account (a day, 24 requests)", totals.get("a", 0) / accounts,
          "B", note="6 distinct + 3 counts + swap + first: 6 buckets + 2 unions each")  # fmt: skip
    s.add("MEMORY USAGE per tracked network (20 accounts)", totals.get("n", 0) / networks, "B",
          note="distinct accounts + new accounts, HLL")  # fmt: skip
    every = sum(totals.values())
    s.add(
        "MEMORY USAGE per account, all groups",
        every / accounts,
        "B",
        note=f"{accounts} accounts, {networks} networks, 50 ASNs, 9 fingerprints",
    )


def _usage_by_group(client: Any) -> dict[str, int]:
    """``MEMORY USAGE`` of every key, summed by group kind (``a``, ``n``/``n4``, ``s``, ...);
    of each counter's window unions only the last two count (see memory_per_account)."""
    totals: dict[str, int] = {}
    unions: dict[str, list[tuple[int, int]]] = {}
    for key in client.scan_iter(count=1000):
        size = int(client.memory_usage(key, samples=0) or 0)
        stem, _, last = key.rpartition(":")
        if last.startswith("u"):
            unions.setdefault(stem, []).append((int(last[1:]), size))
            continue
        kind = key.split(":", 2)[1]  # "{geofence:a:..." -> "a"
        totals[kind] = totals.get(kind, 0) + size
    for stem, found in unions.items():
        kind = stem.split(":", 2)[1]
        totals[kind] = totals.get(kind, 0) + sum(size for _, size in sorted(found)[-2:])
    return totals


def memory_through_signals(s: Section, url: str, client: Any, accounts: int) -> None:
    """What the signal stage itself writes: ``accounts`` accounts, 20 per /24, each making 24
    requests (one an hour) through ``Geofence.evaluate``, then MEMORY USAGE by group."""
    from datetime import datetime, timezone

    from geofence import Geofence, Request

    client.flushall()
    policy = {"name": "bench", "default": "allow", "rules": []}
    with Geofence(policy, store=url, reload_interval=None) as gf:
        for hour in range(24):
            for k in range(accounts):
                when = datetime.fromtimestamp(T0 + hour * 3600 + k % 3600, timezone.utc)
                ip = f"81.2.{k // 20 % 256}.{k % 20 + 1}"
                gf.evaluate(Request(ip, account=f"acct-{k}", declared_country="GB",
                                    fingerprint=f"fp-{k % 9}", time=when))  # fmt: skip
    totals = _usage_by_group(client)
    networks = max(1, accounts // 20)
    s.add("signal stage: MEMORY USAGE per tracked account (a day, 24 requests)",
          totals.get("a", 0) / accounts, "B", note="through Geofence.evaluate")  # fmt: skip
    s.add("signal stage: MEMORY USAGE per tracked network (20 accounts)",
          totals.get("n4", 0) / networks, "B", note="accounts HLL + new-account count")  # fmt: skip
    s.add("signal stage: MEMORY USAGE per account, all groups", sum(totals.values()) / accounts,
          "B", note=f"{accounts} accounts, {networks} networks, 9 fingerprints")  # fmt: skip


def memory_store(s: Section, calls: int, accounts: int) -> None:
    """memory:// apply against building the same 15 ``Op`` objects (which a caller pays)."""
    store = open_store("memory://")
    work = [(i % 500, i, T0 + i) for i in range(calls)]
    built = [(request_ops(a, i), now) for a, i, now in work]
    build, apply = [], []
    for _ in range(5):
        build.append(_timed(lambda: [request_ops(a, i) for a, i, _ in work]) / calls)
        apply.append(_timed(lambda: [store.apply(ops, now) for ops, now in built]) / calls)
    base, per_request = statistics.median(build), statistics.median(apply)
    s.add("building the 15 Ops of a request", base, "ns")
    s.add("memory:// apply (15 ops, 4 groups)", per_request, "ns",
          ratio=ratio(per_request, base), against="building its Ops",
          note=f"{per_request / 15:,.0f} ns per op")  # fmt: skip

    def fill() -> Store:
        fresh = open_store("memory://")
        for hour in range(24):
            for account in range(accounts):
                fresh.apply(request_ops(account, hour), T0 + hour * 3600)
        return fresh

    filled, added = rss_added(fill)
    assert isinstance(filled, MemoryStore)
    units = filled.units / accounts
    s.add("memory:// RSS per tracked account (a day)", added / accounts, "B",
          note=f"all four groups, RSS growth (coarse); {units:.1f} max_size units")  # fmt: skip


def state_store(sizes: Sizes, _addresses: Sequence[str] = ()) -> Section:
    """The section: round trips, memory:// cost, memory per account."""
    s = Section("state store")
    calls, accounts = max(200, sizes.addresses // 4), max(50, sizes.addresses // 10)
    memory_store(s, calls, accounts)
    reason = have("redis")
    if reason:
        s.missing("redis round trips", reason.replace("[bench]", "[redis]"))
        return s
    from redis import Redis

    try:
        context = RedisServer.started()
        server = context.__enter__()
    except FileNotFoundError as exc:
        s.missing("redis round trips", str(exc))
        return s
    try:
        url = f"{server.url}?timeout=1"
        store, client = open_store(url), Redis.from_url(server.url, decode_responses=True)
        store.apply(request_ops(0, 0), T0)  # load the script, open the connection
        client.ping()
        round_trips(s, store, client, calls)
        async_round_trips(s, url, calls // 2)
        memory_per_account(s, store, client, accounts)
        memory_through_signals(s, url, client, max(50, accounts // 4))  # 24 evaluates each
        store.close()
        client.close()
    finally:
        context.__exit__(None, None, None)
    cluster_round_trips(s, calls // 2)
    return s


START, END = "<!-- store benchmark: start -->", "<!-- store benchmark: end -->"


def write_results(section: Section, path: Path, elapsed: float) -> str:
    """Put this section's table into ``path`` between the markers (appended the first time)."""
    from benchmarks import report

    block = "\n".join([START, "", f"## State store (`python -m benchmarks.store`, {elapsed:.0f} s)",
                       "", *report.machine(), "", *report.table([section]), "", END])  # fmt: skip
    report.put_block(path, START, END, block)
    return block


def main(argv: Sequence[str] | None = None) -> int:
    tiny = "--tiny" in (argv if argv is not None else sys.argv[1:])
    start = time.perf_counter()
    section = state_store(Sizes.tiny() if tiny else Sizes.full())
    target = Path(__file__).with_name("RESULTS-partial.md" if tiny else "RESULTS.md")
    print(write_results(section, target, time.perf_counter() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
