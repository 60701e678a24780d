"""A download's total deadline, and downloads side by side, against a real loopback server:
a server dripping one byte per read defeats per-read timeouts, and one stalled feed must not
hold the others."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest

from geofence.errors import ConfigurationError
from geofence.reputation.catalog import FeedSpec
from geofence.reputation.feedset import FeedSet
from geofence.reputation.fetch import arefresh, iter_refresh, refresh

from ..conftest import ServeLoopback

BULK = Path(__file__).resolve().parent.parent / "data" / "feeds" / "tor" / "torbulkexitlist"
GENEROUS = 60.0  # seconds: how long a test waits for a condition before failing


class _Handler(BaseHTTPRequestHandler):
    release: ClassVar[threading.Event] = threading.Event()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/drip":  # one byte every 0.05 s, each read well inside any timeout
            self.send_response(200)
            self.send_header("content-length", "100000")
            self.end_headers()
            try:
                for _ in range(100000):
                    self.wfile.write(b"1")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:  # the client gave up: what the deadline is for
                return
        elif self.path == "/stalled":  # answers only once the test says so
            self.release.wait(GENEROUS)
            self._send(BULK.read_bytes())
        else:
            self._send(BULK.read_bytes())

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server(serve_loopback: ServeLoopback) -> Iterator[str]:
    with serve_loopback(_Handler) as url:
        yield url


def _set(server: str, tmp_path: Path, *paths: str) -> FeedSet:
    specs = [
        FeedSpec(name=f"f{i}", tag="tor", format="plain", url=server + path)
        for i, path in enumerate(paths)
    ]
    return FeedSet(specs, cache_dir=tmp_path)


def test_a_dripping_server_is_cut_off_at_the_deadline(server: str, tmp_path: Path) -> None:
    feeds = _set(server, tmp_path, "/drip")
    (outcome,) = refresh(feeds, timeout=5.0, retries=0, deadline=0.5)
    assert outcome.status == "failed"
    assert "deadline" in (outcome.error or "")
    assert feeds.health()[0].entries == 0


def test_the_async_twin_has_the_deadline_too(server: str, tmp_path: Path) -> None:
    import asyncio

    feeds = _set(server, tmp_path, "/drip")
    (outcome,) = asyncio.run(arefresh(feeds, timeout=5.0, retries=0, deadline=0.5))
    assert (outcome.status, "deadline" in (outcome.error or "")) == ("failed", True)


def test_one_stalled_feed_does_not_hold_the_others(server: str, tmp_path: Path) -> None:
    _Handler.release.clear()
    feeds = _set(server, tmp_path, "/stalled", "/tor", "/tor2")
    try:
        outcomes = iter_refresh(feeds, workers=3, retries=0, timeout=GENEROUS)
        first, second = next(outcomes), next(outcomes)
        # Both quick feeds finished while the first one was still waiting for the server.
        assert {first.name, second.name} == {"f1", "f2"}
        assert not _Handler.release.is_set()
        assert first.status == second.status == "updated"
    finally:
        _Handler.release.set()
    (last,) = list(outcomes)
    assert (last.name, last.status) == ("f0", "updated")


def test_refresh_keeps_the_order_of_names(server: str, tmp_path: Path) -> None:
    _Handler.release.set()
    feeds = _set(server, tmp_path, "/stalled", "/tor")
    assert [o.name for o in refresh(feeds, workers=2, retries=0)] == ["f0", "f1"]


def test_workers_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="workers must be at least 1"):
        refresh(FeedSet([]), workers=0)
