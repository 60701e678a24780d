"""Fault injection: a misbehaving feed server, bad database replacements and a killed process.

In every case the engine keeps answering from the last good data, ``on_stale`` decides what a
feed past its ``max_age`` does, the problem shows in ``health()`` / ``last_error`` and the log,
and the cache directory never holds a half-written file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from geofence import Geofence
from geofence.geo import MMDBSource
from geofence.reputation.catalog import FeedSpec
from geofence.reputation.feedset import FeedSet, StalePolicy
from geofence.reputation.fetch import arefresh, refresh

from ..conftest import write_mmdb
from .conftest import FeedServer

POLICY: dict[str, Any] = {
    "name": "faults",
    "default": "deny",
    "unknown": "deny",
    "rules": [
        {"name": "listed", "action": "deny", "tags": ["tor"]},
        {"name": "supported", "action": "allow", "countries": ["US"]},
    ],
}
LISTED = [f"20.0.{i // 250}.{i % 250}" for i in range(1000)]
GOOD = ("\n".join(["# exits", *LISTED]) + "\n").encode()
IN_LIST, NOT_IN_LIST = "20.0.1.7", "20.1.0.1"  # both US
MAX_AGE = 3600.0
FAST: dict[str, Any] = {"retries": 1, "backoff": 0.01, "timeout": 0.15, "max_bytes": 1 << 20}
# The short timeout is for the stalling server only: elsewhere a loaded machine can take longer
# than 0.15 s to connect, and the failure seen would be a ConnectTimeout, not the fault.
PATIENT: dict[str, Any] = {**FAST, "timeout": 10.0}

# (fault, how the server misbehaves, body, what the failure says)
FAULTS: list[tuple[str, str, bytes, str]] = [
    ("stall", "stall", GOOD, "Timeout"),
    ("reset mid-body", "reset", GOOD, "Error"),
    ("500", "500", GOOD, "HTTP 500"),
    ("truncated", "truncate", GOOD, "Error"),
    ("valid but empty list", "ok", b"# exits\n# (none today)\n", "no entries"),
    ("90% shrunk list", "ok", ("\n".join(LISTED[:100]) + "\n").encode(), "shrank"),
    ("huge body with a length", "huge", b"", "over the"),
    ("huge body chunked", "huge-chunked", b"", "over the"),
]


class Clock:
    """A clock the test moves: ``FeedSet(clock=...)`` judges staleness by it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _feeds(server: FeedServer, cache: Path, on_stale: StalePolicy, clock: Clock) -> FeedSet:
    spec = FeedSpec(name="exits", tag="tor", format="plain", url=server.url, max_age=MAX_AGE)
    return FeedSet([spec], cache_dir=cache, on_stale=on_stale, clock=clock)


def _shape(gf: Geofence, ip: str) -> tuple[str, str | None]:
    d = gf.evaluate(ip)
    return d.action.value, d.rule


@pytest.fixture
def geo(tmp_path: Path) -> MMDBSource:
    return MMDBSource(write_mmdb(tmp_path / "us.mmdb", [("20.0.0.0/8", {"country_code": "US"})]))


@pytest.mark.parametrize("twin", ["refresh", "arefresh"])
@pytest.mark.parametrize("on_stale", ["keep", "open", "closed"])
@pytest.mark.parametrize(("fault", "mode", "body", "error"), FAULTS, ids=[f[0] for f in FAULTS])
def test_a_failing_feed_server_never_changes_the_answers(
    feed_server: FeedServer,
    geo: MMDBSource,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    mode: str,
    body: bytes,
    error: str,
    on_stale: StalePolicy,
    twin: str,
) -> None:
    clock = Clock()
    feeds = _feeds(feed_server, tmp_path / "cache", on_stale, clock)
    gf = Geofence(POLICY, geo=geo, feeds=feeds, reload_interval=None)
    feed_server.serve(GOOD, etag='"good"')
    refresh(feeds, **PATIENT)
    gf.reload()
    assert _shape(gf, IN_LIST) == ("deny", "listed")
    assert _shape(gf, NOT_IN_LIST) == ("allow", "supported")
    cached = (tmp_path / "cache" / "exits.body").read_bytes()

    feed_server.serve(body, etag='"bad"', mode=mode)
    options = FAST if mode == "stall" else PATIENT
    with caplog.at_level(logging.WARNING, logger="geofence"):
        if twin == "refresh":
            (outcome,) = refresh(feeds, **options)
        else:
            (outcome,) = asyncio.run(arefresh(feeds, **options))
    assert outcome.status == "failed", fault
    assert error in (outcome.error or ""), outcome
    # The last good data still answers, the problem is visible, the cache is untouched.
    gf.reload()
    assert _shape(gf, IN_LIST) == ("deny", "listed"), fault
    assert _shape(gf, NOT_IN_LIST) == ("allow", "supported"), fault
    (status,) = feeds.health()
    assert (status.source, status.entries, status.stale) == ("download", 1000, False)
    assert error in (status.error or "")
    assert any("exits" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert (tmp_path / "cache" / "exits.body").read_bytes() == cached

    # Past max_age without a good download: on_stale decides.
    caplog.clear()
    clock.now += MAX_AGE + 1
    with caplog.at_level(logging.WARNING, logger="geofence"):
        gf.reload()
    assert feeds.health()[0].stale
    assert not feeds.healthy
    expected = {
        "keep": (("deny", "listed"), ("allow", "supported")),  # serve the old list
        "open": (("allow", "supported"), ("allow", "supported")),  # the list stops matching
        "closed": (("deny", "listed"), ("deny", "listed")),  # everyone gets the tag
    }[on_stale]
    assert (_shape(gf, IN_LIST), _shape(gf, NOT_IN_LIST)) == expected
    assert any("stale" in r.getMessage() for r in caplog.records), caplog.records

    # The server recovers: the next good download ends the stale state.
    feed_server.serve(GOOD, etag='"good-2"')
    (outcome,) = refresh(feeds, **FAST)
    assert outcome.status == "updated"
    gf.reload()
    assert feeds.healthy
    assert (_shape(gf, IN_LIST), _shape(gf, NOT_IN_LIST)) == (
        ("deny", "listed"),
        ("allow", "supported"),
    )


# -- geo databases replaced by bad files while requests run --------------------------------------


def _bad_files(tmp_path: Path, good: Path) -> dict[str, Path]:
    data = good.read_bytes()
    corrupt = bytearray(data)
    corrupt[16 : len(data) // 2] = b"\xff" * (len(data) // 2 - 16)  # the search tree
    files = {
        "truncated": data[: len(data) // 2],
        "empty": b"",
        "text": b"<html>not a database</html>\n" * 100,
        "corrupt tree": bytes(corrupt),
    }
    out = {name: tmp_path / f"bad-{i}.mmdb" for i, name in enumerate(files)}
    for name, content in files.items():
        out[name].write_bytes(content)
    asn = {"autonomous_system_number": 64500, "autonomous_system_organization": "X"}
    out["wrong type"] = write_mmdb(
        tmp_path / "asn.mmdb",
        [("20.0.0.0/8", asn)],
        database_type="GeoLite2-ASN",
    )
    return out


def test_bad_geo_replacements_keep_the_last_good_database_under_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = write_mmdb(tmp_path / "us.mmdb", [("20.0.0.0/8", {"country_code": "US"})])
    fr = write_mmdb(tmp_path / "fr.mmdb", [("20.0.0.0/8", {"country_code": "FR"})])
    live = tmp_path / "live.mmdb"
    live.write_bytes(good.read_bytes())
    bad = _bad_files(tmp_path, good)
    source = MMDBSource(live)
    policy = {
        "name": "geo-faults",
        "rules": [
            {"name": "fr", "action": "challenge", "countries": ["FR"]},
            {"name": "supported", "action": "allow", "countries": ["US"]},
        ],
    }
    gf = Geofence(policy, geo=source, reload_interval=0.0)  # request threads check every time
    stop = threading.Event()
    seen: set[tuple[str | None, str]] = set()
    errors: list[BaseException] = []

    def evaluate() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                d = gf.evaluate(f"20.{n % 7}.{n % 250}.{n % 199}")
                seen.add((d.country, d.action.value))
            except BaseException as exc:  # pragma: no cover - the test fails on any
                errors.append(exc)

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    with caplog.at_level(logging.WARNING, logger="geofence"):
        for t in threads:
            t.start()
        try:
            for name, path in bad.items():
                staging = tmp_path / "staging.mmdb"
                staging.write_bytes(path.read_bytes())
                os.replace(staging, live)
                time.sleep(0.05)
                gf.reload()
                assert source.last_error, name
                assert seen == {("US", "allow")}, (name, seen)
            # A file rewritten in place (not renamed) under the running process.
            with open(live, "r+b") as handle:
                handle.truncate(100)
            time.sleep(0.05)
            gf.reload()
            assert seen == {("US", "allow")}
            staging = tmp_path / "staging.mmdb"
            staging.write_bytes(fr.read_bytes())
            os.replace(staging, live)
            deadline = time.monotonic() + 60  # generous: a loaded machine may be slow to swap
            while ("FR", "challenge") not in seen and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            stop.set()
            for t in threads:
                t.join(10)
    assert errors == []
    assert seen == {("US", "allow"), ("FR", "challenge")}
    assert source.last_error is None
    keeping = [r for r in caplog.records if "keeping" in r.getMessage()]
    assert len(keeping) >= len(bad)
    assert all(r.levelno == logging.WARNING for r in keeping)
    gf.close()


# -- crash safety: SIGKILL while the feed cache is being written ----------------------------------

ENTRIES = 20_000
PADDING = 8 << 20  # a big body makes the cache write long enough to be killed in


def _big_body(generation: int) -> bytes:
    entries = "\n".join(f"{10 + generation}.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
                        for i in range(ENTRIES))  # fmt: skip
    return f"# generation {generation}\n{entries}\n# {'x' * PADDING}\n".encode()


_CHILD = textwrap.dedent(
    """
    import sys
    from geofence.reputation.catalog import FeedSpec
    from geofence.reputation.feedset import FeedSet
    from geofence.reputation.fetch import refresh

    url, cache = sys.argv[1], sys.argv[2]
    spec = FeedSpec(name="exits", tag="tor", format="plain", url=url)
    feeds = FeedSet([spec], cache_dir=cache)  # starts from whatever the last run left
    print("started", feeds.health()[0].source, flush=True)
    while True:
        (outcome,) = refresh(feeds, retries=0, timeout=10.0)
        print(outcome.status, flush=True)
    """
)


class _Alternating(FeedServer):
    """Serves generation 1, 2, 1, 2... one per request, each with its own ETag."""

    def __init__(self, bodies: list[bytes]) -> None:
        super().__init__()
        self.bodies = bodies
        self.serve(bodies[0], '"g1"')

    def next(self) -> None:
        i = 1 if self.body is self.bodies[0] else 0
        self.serve(self.bodies[i], f'"g{i + 1}"')


def _kill_when_writing(child: subprocess.Popen[str], cache: Path, target: str) -> bool:
    """SIGKILL ``child`` as soon as its temporary copy of ``target`` appears in ``cache``."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and child.poll() is None:
        if any(name.startswith(f".{target}.") for name in os.listdir(cache)):
            child.send_signal(signal.SIGKILL)
            return True
    child.send_signal(signal.SIGKILL)
    return False


@pytest.mark.parametrize("target", ["exits.body", "exits.json"], ids=["body", "metadata"])
def test_a_process_killed_while_writing_the_cache_leaves_a_whole_copy(
    tmp_path: Path, target: str
) -> None:
    bodies = [_big_body(1), _big_body(2)]
    cache = tmp_path / "cache"
    server = _Alternating(bodies)
    partial = 0
    try:
        for _ in range(3):
            child = subprocess.Popen(
                [sys.executable, "-c", _CHILD, server.url, str(cache)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert child.stdout is not None
            with child, child.stdout:
                try:
                    started = child.stdout.readline().split()
                    assert started[0] == "started"
                    assert started[1] in ("none", "cache")  # a restart starts from the cache
                    first = child.stdout.readline().strip()  # one whole round
                    assert first in ("updated", "not-modified")
                    server.next()
                    assert _kill_when_writing(child, cache, target), "it never wrote again"
                finally:
                    child.kill()
            partial += any(p.name.startswith(f".{target}.") for p in cache.iterdir())
            server.next()
            _assert_whole_copy(cache, bodies)
    finally:
        server.close()
    assert partial  # at least one kill landed mid-write (its temporary file was left behind)


def _assert_whole_copy(cache: Path, bodies: list[bytes]) -> None:
    body = (cache / "exits.body").read_bytes()
    assert body in bodies, f"half-written cache: {len(body)} bytes"
    generation = bodies.index(body) + 1
    meta = json.loads((cache / "exits.json").read_text())
    assert meta["entries"] == ENTRIES
    # A temporary file left by the killed write is never taken for the data.
    assert {p.name for p in cache.iterdir() if not p.name.startswith(".")} == {
        "exits.body",
        "exits.json",
    }
    spec = FeedSpec(name="exits", tag="tor", format="plain", url="http://127.0.0.1:9/")
    restarted = FeedSet([spec], cache_dir=cache)
    (status,) = restarted.health()
    assert (status.source, status.entries, status.error) == ("cache", ENTRIES, None)
    # A restart never pairs the body with the validators (ETag) of the body it replaced: a
    # conditional request would then keep the wrong list for good on a 304.
    assert restarted.feed_state("exits")[1] in (f'"g{generation}"', None), meta
    assert restarted.lookup(f"{10 + generation}.0.0.5").tags == {"tor", "feed:exits"}
