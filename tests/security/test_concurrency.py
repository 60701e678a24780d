"""Concurrency: threads and an asyncio load evaluate while the geo database is replaced and a
``Refresher`` downloads a changing feed; no exception, no decision mixing generations, bounded
memory.

Each geo generation has its own country *and* its own build date, so a decision whose country
and ``data_versions`` disagree read two generations. Each feed generation lists a different
block, so a decision's tags must agree with the block it was listed in by some generation.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from geofence import Decision, Geofence
from geofence.asgi import GeofenceMiddleware
from geofence.reputation.catalog import FeedSpec
from geofence.reputation.feedset import FeedSet
from geofence.reputation.fetch import Refresher

from ..conftest import EPOCH_2026_06_01, write_mmdb
from .conftest import FeedServer

DAY = 86400
COUNTRIES = ("US", "GB", "DE", "FR")  # geo generation k says COUNTRIES[k], built on June k+1
DATES = {c: f"2026-06-0{k + 1}" for k, c in enumerate(COUNTRIES)}
ACTIONS = {"US": "allow", "GB": "allow", "DE": "challenge", "FR": "challenge"}
POLICY: dict[str, Any] = {
    "name": "concurrency",
    "default": "deny",
    "unknown": "deny",
    "rules": [
        {"name": "listed", "action": "deny", "tags": ["tor"]},
        {"name": "allowed", "action": "allow", "countries": ["US", "GB"]},
        {"name": "checked", "action": "challenge", "countries": ["DE", "FR"]},
    ],
}
# Feed generation A lists 20.0.0.0/24, B lists 20.0.1.0/24; 20.0.2.0/23 is never listed.
FEED_BODIES = ["\n".join(f"20.0.{block}.{i}" for i in range(256)).encode() for block in (0, 1)]
ADDRESSES = [f"20.0.{n >> 8}.{n & 255}" for n in range(1024)]
CACHE_SIZE = 512  # smaller than the address set: eviction runs under load too
RUN_SECONDS = 1.5  # at least this long, then until enough of every kind of work has happened
DEADLINE_SECONDS = 120.0  # generous: a busy 2-core machine gets there, just later
ENOUGH_SWAPS = 12
ENOUGH_EVALUATIONS = 1000


def _check(d: Decision, ip: str) -> str | None:
    """Why ``d`` is not consistent with one generation of each source, or None."""
    if d.country not in DATES:
        return f"{ip}: country {d.country}"
    geo_version = next(v for v in d.data_versions[0].split(", ") if v.startswith("live "))
    if geo_version != f"live {DATES[d.country]}":
        return f"torn {ip}: {d.country} from {geo_version}: two geo generations"
    listed = "tor" in d.tags
    if listed and int(ip.split(".")[2]) > 1:
        return f"{ip}: tagged but never listed"
    expected = ("deny", "listed") if listed else (ACTIONS[d.country], None)
    if (d.action.value, d.rule if listed else None) != expected:
        return f"{ip}: {d.action.value} by {d.rule} with {d.country} {sorted(d.tags)}"
    return None


def test_threads_and_asyncio_evaluate_through_geo_reloads_and_feed_refreshes(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    generations = [
        write_mmdb(
            tmp_path / f"gen{k}.mmdb",
            [("20.0.0.0/8", {"country_code": country})],
            build_epoch=EPOCH_2026_06_01 + k * DAY - DAY // 2,
        )
        for k, country in enumerate(COUNTRIES)
    ]
    live = tmp_path / "live.mmdb"
    live.write_bytes(generations[0].read_bytes())
    feed_server.serve(FEED_BODIES[0], etag='"A"')
    spec = FeedSpec(
        name="exits", tag="tor", format="plain", url=feed_server.url, refresh_interval=0.001
    )
    feeds = FeedSet([spec], cache_dir=tmp_path / "cache")
    gf = Geofence(POLICY, geo=live, feeds=feeds, reload_interval=0.0, cache_size=CACHE_SIZE)
    app = GeofenceMiddleware(_ok, geofence=gf)
    refresher = Refresher(feeds, interval=0.005, retries=0, timeout=2.0).start()

    stop = threading.Event()
    problems: list[str] = []
    errors: list[BaseException] = []
    counts: list[int] = []
    progress = [0] * 7  # evaluations done so far, one slot per evaluating thread

    def evaluate_in_a_thread(offset: int) -> None:
        n = offset
        try:
            while not stop.is_set():
                progress[offset] += 1
                ip = ADDRESSES[n % len(ADDRESSES)]
                problem = _check(gf.evaluate(ip), ip)
                if problem:
                    problems.append(problem)
                n += 7
                if n % 64 < 7:
                    time.sleep(0.0005)  # leave the refresher and the feed server some GIL
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        counts.append(n - offset)

    async def one_client(offset: int) -> int:
        n = offset
        while not stop.is_set():
            progress[6] += 1
            ip = ADDRESSES[n % len(ADDRESSES)]
            scope = {"type": "http", "method": "GET", "path": "/", "headers": [],
                     "client": (ip, 1)}  # fmt: skip
            await app(scope, _receive, _discard)
            problem = _check(scope["state"]["geofence"], ip)
            if problem:
                problems.append(problem)
            n += 13
            await asyncio.sleep(0)
        return n - offset

    def asyncio_load() -> None:
        async def main() -> None:
            counts.extend(await asyncio.gather(*(one_client(i) for i in range(16))))

        try:
            asyncio.run(main())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    # Short GIL slices, so the refresher, the feed server and the swapping thread get their
    # turns among the busy evaluating threads.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)
    tracemalloc.start()
    workers = [threading.Thread(target=evaluate_in_a_thread, args=(i,)) for i in range(6)]
    workers.append(threading.Thread(target=asyncio_load))
    for worker in workers:
        worker.start()
    swaps = 0
    try:
        began = time.monotonic()

        def enough() -> bool:
            # Wait for the work itself, not for a fixed time: on a loaded 2-core machine the
            # refresher and the feed server get fewer turns per second, so it takes longer.
            return (
                time.monotonic() - began >= RUN_SECONDS
                and swaps >= ENOUGH_SWAPS
                and refresher.runs > 5
                and feed_server.hits > 5
                and sum(progress) > ENOUGH_EVALUATIONS
            )

        while not enough() and time.monotonic() - began < DEADLINE_SECONDS:
            swaps += 1
            staging = tmp_path / "staging.mmdb"
            staging.write_bytes(generations[swaps % len(generations)].read_bytes())
            os.replace(staging, live)
            feed_server.serve(FEED_BODIES[swaps % 2], etag=f'"{swaps}"')
            time.sleep(0.03)
    finally:
        stop.set()
        for worker in workers:
            worker.join(10)
        refresher.stop()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        sys.setswitchinterval(switch)
    assert errors == []
    torn = [p for p in problems if p.startswith("torn ")]
    assert [p for p in problems if not p.startswith("torn ")][:5] == []
    # An uncached lookup that raced a swap catches up before it is cached or decided.
    assert torn == [], torn[:5]
    assert sum(counts) > 1000, counts  # the load really ran alongside the swaps
    assert refresher.runs > 5
    assert feed_server.hits > 5  # the feed really was downloaded again and again
    assert len(gf._gen.cache) <= CACHE_SIZE
    assert peak < 64 << 20, f"{peak / 2**20:.1f} MiB"
    # Once quiet, both sources converge on their last generation.
    gf.reload()
    final = gf.evaluate("20.0.3.1")
    assert final.country == COUNTRIES[swaps % len(COUNTRIES)]
    assert [p for p in (_check(gf.evaluate(ip), ip) for ip in ADDRESSES) if p] == []
    gf.close()


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def _discard(message: dict[str, Any]) -> None:
    pass
