"""One measurement of issue 13's targets, in this interpreter, printed as JSON on stdout.

    python benchmarks/engine_probe.py MODE

Run as a script by ``benchmarks/engine.py``, once with the checkout under test on ``PYTHONPATH``
and once with the baseline checkout, so both sides run the same code against different
``geofence`` packages. It uses only the public API (and ``maxminddb`` for the limit), so it runs
on both. Modes: ``speed`` (per-call costs), ``startup`` (``Geofence()`` construction),
``worker`` (a worker's unique memory, after construction and lookups; waits on stdin),
``import`` (unique memory after ``import geofence`` only; waits on stdin), ``tail`` (latency
percentiles over many distinct addresses).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

TINY = os.environ.get("GEOFENCE_BENCH_TINY") == "1"  # the smoke test's sizes
N = 500 if TINY else 30_000
REPEAT = 1 if TINY else 7


def _addresses(count: int, seed: int, v6: bool = False) -> list[str]:
    return list(_each_address(count, seed, v6))


def _each_address(count: int, seed: int, v6: bool = False) -> Iterator[str]:
    rng = random.Random(seed)
    made = 0
    while made < count:
        if v6:
            # Global unicast 2000::/3 with a mix of shapes ("::" runs, short groups).
            high = 0x2000 | rng.getrandbits(13)
            groups = [high, rng.getrandbits(16), rng.getrandbits(16) & 0xFFF]
            groups += [0] * rng.randrange(0, 4)
            groups += [rng.getrandbits(16) for _ in range(8 - len(groups))]
            packed = struct.pack("!8H", *groups[:8])
            yield socket.inet_ntop(socket.AF_INET6, packed)
        else:
            n = rng.getrandbits(32)
            first = n >> 24
            if first in (0, 10, 100, 127, 169, 172, 192, 198, 203) or first >= 224:
                continue
            yield socket.inet_ntoa(struct.pack("!I", n))
        made += 1


def _per_call_ns(run: Callable[[], None], calls: int) -> float:
    samples = []
    for _ in range(REPEAT):
        start = time.perf_counter_ns()
        run()
        samples.append((time.perf_counter_ns() - start) / calls)
    return sorted(samples)[len(samples) // 2]


def _scope(peer: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": "/v1/messages", "raw_path": b"/v1/messages",
            "query_string": b"", "headers": list(headers), "client": (peer, 50000),
            "server": ("127.0.0.1", 8000), "scheme": "http", "http_version": "1.1",
            "asgi": {"version": "3.0"}}  # fmt: skip


def _uncached(gf: Any, addresses: list[str]) -> float:
    def run() -> None:
        gf.clear_cache()
        for a in addresses:
            gf.evaluate(a)

    return _per_call_ns(run, len(addresses))


def _tables_ready(gf: Any) -> Any:
    """Wait until the interval table of ``gf``'s data is mapped, where this package has them
    (a table already in the cache maps in milliseconds, off the request path)."""
    slot = getattr(getattr(gf, "_make_row", None), "slot", None)
    if slot is not None:
        slot.ready.wait(60)
    return gf


def _regions(policy: str, paths: Sequence[Any], v4: list[str]) -> dict[str, float]:
    """Uncached evaluate with the region layer loaded and without it (tracker 15), alternating."""
    from geofence import Geofence

    if len(paths) < 3:  # a baseline without the region layer: both sides measure without it
        paths = (*paths, None)
    country, asn, regions = (None if p is None else str(p) for p in paths)
    layered = [country, asn] if regions is None else [country, asn, regions]
    with_layer = _tables_ready(Geofence(policy, geo=layered, reload_interval=None))
    without = _tables_ready(Geofence(policy, geo=[country, asn], reload_interval=None))
    pairs: dict[str, list[float]] = {"uncached_regions": [], "uncached_no_regions": []}
    for _ in range(3):
        pairs["uncached_no_regions"].append(_uncached(without, v4))
        pairs["uncached_regions"].append(_uncached(with_layer, v4))
    return {key: sorted(values)[1] for key, values in pairs.items()}


def speed() -> dict[str, float]:
    import maxminddb

    from geofence import Geofence
    from geofence.embedded import default_geo_paths, example_policy_path

    country_path = str(default_geo_paths()[0])
    policy = str(example_policy_path())
    v4, v6 = _addresses(N, 1), _addresses(N, 2, v6=True)
    raw = maxminddb.open_database(country_path)
    get = raw.get
    for a in v4 + v6:  # fault the mapped pages in first: neither side pays for them below
        get(a)
    out: dict[str, float] = {}
    out["raw_get_v4"] = _per_call_ns(lambda: [get(a) for a in v4] and None, N)
    out["raw_get_v6"] = _per_call_ns(lambda: [get(a) for a in v6] and None, N)
    gf = _tables_ready(Geofence(policy, geo=country_path, reload_interval=None))
    out["uncached_v4"] = _uncached(gf, v4)
    out["uncached_v6"] = _uncached(gf, v6)
    ev = gf.evaluate
    clients = [a for a in v4 if ev(a).allowed][: N // 30]  # allowed: the app runs for each
    for a in clients:
        ev(a)
    out["cached_address"] = _per_call_ns(lambda: [ev(a) for a in clients] and None, len(clients))
    scopes = [_scope(a) for a in clients]
    out["cached_scope"] = _per_call_ns(lambda: [ev(s) for s in scopes] and None, len(scopes))
    out.update(_middleware(policy, country_path, clients))
    out.update(_regions(policy, default_geo_paths(), v4))
    return out


def _middleware(policy: str, geo: str, clients: list[str]) -> dict[str, float]:
    """In-process ASGI: the bare app against GeofenceMiddleware with trusted proxies (cached)."""
    from geofence.asgi import GeofenceMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        return None

    mw = GeofenceMiddleware(app, policy=policy, geo=geo, trusted_proxies=["10.0.0.0/8"],
                            reload_interval=None)  # fmt: skip
    scopes = [
        _scope("10.0.0.7", [(b"host", b"api"), (b"x-forwarded-for", f"{a}, 10.1.2.3".encode())])
        for a in clients
    ]

    async def timed(target: Any) -> float:
        samples = []
        for _ in range(REPEAT):
            start = time.perf_counter_ns()
            for s in scopes:
                await target(s, receive, send)
            samples.append((time.perf_counter_ns() - start) / len(scopes))
        return sorted(samples)[len(samples) // 2]

    async def pairs() -> dict[str, float]:
        await timed(mw)  # warm: every client cached
        bare, wrapped = [], []
        for _ in range(3):  # alternately, so a drift of the machine moves both alike
            bare.append(await timed(app))
            wrapped.append(await timed(mw))
        return {"mw_bare": sorted(bare)[1], "mw_proxies": sorted(wrapped)[1]}

    return asyncio.run(pairs())


def startup() -> dict[str, float]:
    start = time.perf_counter()
    from geofence import Geofence
    from geofence.embedded import example_policy_path

    imported = time.perf_counter()
    Geofence(example_policy_path(), feeds="embedded", reload_interval=None)
    return {"import_s": imported - start, "construct_s": time.perf_counter() - imported}


def uss_mb() -> float:
    """Unique set size: private clean + private dirty pages (/proc/self/smaps_rollup)."""
    total = 0
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total / 1024


def private_mb_of(suffix: str) -> float:
    """Private pages of the mappings of files whose name ends with ``suffix`` (smaps)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            fields = line.split()
            if fields and "-" in fields[0] and not fields[0].endswith(":"):
                inside = len(fields) > 5 and fields[5].endswith(suffix)
            elif inside and fields[0] in ("Private_Clean:", "Private_Dirty:"):
                total += int(fields[1])
    return total / 1024


_ALIVE: list[object] = []  # a worker's Geofence, kept (with its mappings) while it waits


def worker() -> dict[str, float]:
    import geofence  # noqa: F401

    imported = uss_mb()
    from geofence import Geofence
    from geofence.embedded import example_policy_path

    gf = _tables_ready(Geofence(example_policy_path(), feeds="embedded", reload_interval=None))
    _ALIVE.append(gf)
    for a in _each_address(N, 3):  # one at a time: the harness's own list is not counted
        gf.evaluate(a)
    return {"uss_mb": uss_mb(), "uss_at_import_mb": imported,
            "mmdb_private_mb": private_mb_of(".mmdb"),
            "tmp_copies_mb": private_mb_of(".mmdb (deleted)")}  # fmt: skip


def import_only() -> dict[str, float]:
    import geofence  # noqa: F401

    return {"uss_mb": uss_mb()}


def tail(count: int) -> dict[str, float]:
    """Latency percentiles of ``evaluate`` over ``count`` distinct addresses, default cache."""
    from geofence import Geofence
    from geofence.embedded import example_policy_path

    gf = Geofence(example_policy_path(), reload_interval=None)
    ev, clock, ntoa, pack = gf.evaluate, time.perf_counter_ns, socket.inet_ntoa, struct.pack
    samples = [0] * count
    n = 0x01000000
    for i in range(count):
        n = (n + 2654435761) & 0xFFFFFFFF  # a full-period walk: every address distinct
        text = ntoa(pack("!I", n))
        start = clock()
        ev(text)
        samples[i] = clock() - start
    samples.sort()
    return {f"p{q}": samples[min(count - 1, int(count * q / 100))] for q in (50, 99, 99.9, 99.99)}


def main() -> None:
    mode = sys.argv[1]
    if mode == "speed":
        result = speed()
    elif mode == "startup":
        result = startup()
    elif mode == "tail":
        result = tail(int(sys.argv[2]))
    else:
        result = worker() if mode == "worker" else import_only()
        print(json.dumps(result), flush=True)
        sys.stdin.readline()  # stay alive (mappings held) until the parent has measured all
        return
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
