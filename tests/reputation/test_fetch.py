"""Fetching against a real HTTP server on 127.0.0.1 serving the real feed files (no mocks)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest

from geofence import Geofence
from geofence.reputation.catalog import FeedSpec
from geofence.reputation.feedset import FeedSet
from geofence.reputation.fetch import AsyncRefresher, Refresher, arefresh, due, refresh

from ..conftest import ServeLoopback

FEEDS = Path(__file__).resolve().parent.parent / "data" / "feeds"
BULK = (FEEDS / "tor" / "torbulkexitlist").read_bytes()  # 1174 exits
DNSEL = (FEEDS / "tor" / "exit-addresses").read_bytes()  # 500 exits
ETAG = '"bulk-1"'


class _Handler(BaseHTTPRequestHandler):
    hits: ClassVar[dict[str, int]] = {}

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        path = self.path
        self.hits[path] = self.hits.get(path, 0) + 1
        if path == "/tor":
            if self.headers.get("if-none-match") == ETAG:
                self._send(304, b"")
            else:
                self._send(200, BULK, etag=ETAG)
        elif path == "/dnsel":
            self._send(200, DNSEL)
        elif path == "/404":
            self._send(404, b"not found")
        elif path == "/500":
            self._send(500, b"oops")
        elif path == "/flaky":  # 503 once, then the list: a retry succeeds
            self._send(503, b"busy") if self.hits[path] == 1 else self._send(200, BULK)
        elif path == "/slow":
            time.sleep(0.5)
            self._send(200, BULK)
        elif path == "/truncated":  # promises the whole list, sends half, hangs up
            self.send_response(200)
            self.send_header("content-length", str(len(BULK)))
            self.end_headers()
            self.wfile.write(BULK[: len(BULK) // 2])
            self.close_connection = True
        elif path == "/oversized":
            self._send(200, BULK * 4)
        elif path == "/oversized-chunked":  # no length: the bound applies while reading
            self.send_response(200)
            self.end_headers()
            self.wfile.write(BULK * 4)
            self.close_connection = True
        elif path == "/garbage":
            self._send(200, b"<html><body>Captive portal: please log in</body></html>")
        elif path == "/always-304":  # answers 304 whatever was asked, validators or none
            self._send(304, b"")
        elif path == "/deep-json":  # nesting past the parser's recursion limit
            self._send(200, b'{"prefixes": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
        elif path == "/one-exit-repeated":  # as many lines as the list, one distinct entry
            self._send(200, b"\n".join([BULK.splitlines()[0]] * len(BULK.splitlines())))
        elif path == "/shrink":
            self._send(200, b"\n".join(BULK.splitlines()[:50]))
        else:
            self._send(404, b"")

    def _send(self, code: int, body: bytes, etag: str | None = None) -> None:
        self.send_response(code)
        if etag:
            self.send_header("etag", etag)
        if code != 304:
            self.send_header("content-length", str(len(body)))
        self.end_headers()
        if code != 304:
            self.wfile.write(body)


@pytest.fixture(scope="module")
def server(serve_loopback: ServeLoopback) -> Iterator[str]:
    with serve_loopback(_Handler) as url:
        yield url


def _feeds(server: str, path: str, tmp_path: Path, **extra: object) -> FeedSet:
    spec = FeedSpec.model_validate(
        {"name": "tor", "tag": "tor", "format": "plain", "url": server + path, **extra}
    )
    return FeedSet([spec], cache_dir=tmp_path)


FAST = {"retries": 1, "backoff": 0.01, "timeout": 2.0}


def test_200_then_304_keeps_the_copy_and_the_cache(server: str, tmp_path: Path) -> None:
    feeds = _feeds(server, "/tor", tmp_path)
    assert feeds.health()[0].entries == 0
    (outcome,) = refresh(feeds, **FAST)  # type: ignore[arg-type]
    assert (outcome.status, outcome.entries) == ("updated", 1174)
    assert feeds.lookup("185.241.208.232").tags == {"tor", "feed:tor"}
    assert (tmp_path / "tor.body").read_bytes() == BULK
    (again,) = refresh(feeds, **FAST)  # type: ignore[arg-type]
    assert (again.status, again.entries) == ("not-modified", 1174)
    assert feeds.health()[0].error is None


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/404", "HTTP 404"),
        ("/500", "HTTP 500 (after 2 attempts)"),
        ("/slow", "Timeout"),
        ("/truncated", "RemoteProtocolError"),
        ("/oversized", "over the 4096-byte bound"),
        ("/oversized-chunked", "over the 4096-byte bound"),
        ("/garbage", "no entries"),
    ],
)
def test_failures_keep_the_last_good_copy(
    server: str, tmp_path: Path, path: str, message: str
) -> None:
    feeds = _feeds(server, "/tor", tmp_path)
    refresh(feeds, **FAST)  # type: ignore[arg-type]
    spec = feeds.spec("tor").model_copy(update={"url": server + path})
    failing = FeedSet([spec], cache_dir=tmp_path)  # starts from the cached good copy
    assert failing.health()[0].source == "cache"
    options = {**FAST, "timeout": 0.2, "max_bytes": 4096 if "oversized" in path else 10**8}
    (outcome,) = refresh(failing, **options)  # type: ignore[arg-type]
    assert outcome.status == "failed"
    assert message in (outcome.error or "")
    status = failing.health()[0]
    assert (status.entries, status.source) == (1174, "cache")
    assert message in (status.error or "")
    assert failing.lookup("185.241.208.232").tags == {"tor", "feed:tor"}
    assert (tmp_path / "tor.body").read_bytes() == BULK


def test_404_is_not_retried_but_5xx_is(server: str, tmp_path: Path) -> None:
    _Handler.hits.clear()
    refresh(_feeds(server, "/404", tmp_path), **FAST)  # type: ignore[arg-type]
    refresh(_feeds(server, "/500", tmp_path), **FAST)  # type: ignore[arg-type]
    assert (_Handler.hits["/404"], _Handler.hits["/500"]) == (1, 2)
    (outcome,) = refresh(_feeds(server, "/flaky", tmp_path), **FAST)  # type: ignore[arg-type]
    assert outcome.status == "updated"


def test_a_shrunken_list_is_refused(server: str, tmp_path: Path) -> None:
    feeds = _feeds(server, "/tor", tmp_path)
    refresh(feeds, **FAST)  # type: ignore[arg-type]
    shrink = FeedSet(
        [feeds.spec("tor").model_copy(update={"url": server + "/shrink"})], cache_dir=tmp_path
    )
    (outcome,) = refresh(shrink, **FAST)  # type: ignore[arg-type]
    assert outcome.status == "failed"
    assert "shrank" in (outcome.error or "")
    assert shrink.health()[0].entries == 1174


def test_duplicates_do_not_pass_for_distinct_entries_in_the_shrink_guard(
    server: str, tmp_path: Path
) -> None:
    feeds = _feeds(server, "/tor", tmp_path)
    refresh(feeds, **FAST)  # type: ignore[arg-type]
    repeated = FeedSet(
        [feeds.spec("tor").model_copy(update={"url": server + "/one-exit-repeated"})],
        cache_dir=tmp_path,
    )
    (outcome,) = refresh(repeated, **FAST)  # type: ignore[arg-type]
    assert outcome.status == "failed"
    assert "1 distinct entries against 1174" in (outcome.error or "")
    assert repeated.lookup("185.241.208.232").tags == {"tor", "feed:tor"}


def test_an_unsolicited_304_does_not_make_an_empty_feed_fresh(server: str, tmp_path: Path) -> None:
    feeds = _feeds(server, "/always-304", tmp_path, max_age=3600)
    assert feeds.health()[0].stale
    (outcome,) = refresh(feeds, **FAST)  # type: ignore[arg-type]
    assert outcome.status == "failed"
    assert "304" in (outcome.error or "")
    status = feeds.health()[0]
    assert (status.entries, status.stale) == (0, True)


def test_a_304_to_a_conditional_request_still_confirms_the_copy(
    server: str, tmp_path: Path
) -> None:
    feeds = _feeds(server, "/tor", tmp_path)
    refresh(feeds, **FAST)  # type: ignore[arg-type]
    confirming = FeedSet(
        [feeds.spec("tor").model_copy(update={"url": server + "/always-304"})],
        cache_dir=tmp_path,
    )
    confirming._feeds["tor"].etag = ETAG  # the cached copy's validator, as a download stored it
    (outcome,) = refresh(confirming, **FAST)  # type: ignore[arg-type]
    assert (outcome.status, outcome.entries) == ("not-modified", 1174)


def test_a_deeply_nested_json_feed_fails_alone_and_the_next_feed_refreshes(
    server: str, tmp_path: Path
) -> None:
    deep = FeedSpec(name="cloud", tag="hosting", format="aws", url=server + "/deep-json")
    tor = FeedSpec(name="tor", tag="tor", format="plain", url=server + "/tor")
    feeds = FeedSet([deep, tor], cache_dir=tmp_path)
    first, second = refresh(feeds, **FAST)  # type: ignore[arg-type]
    assert first.status == "failed"
    assert "nested too deeply" in (first.error or "")
    assert (second.status, second.entries) == ("updated", 1174)


def test_async_twin_and_progress(server: str, tmp_path: Path) -> None:
    feeds = FeedSet(
        [
            FeedSpec(name="bulk", tag="tor", format="plain", url=server + "/tor"),
            FeedSpec(name="dnsel", tag="tor", format="tordnsel", url=server + "/dnsel"),
            FeedSpec(name="gone", tag="tor", format="plain", url=server + "/404"),
        ]
    )
    seen: list[tuple[str, int, int | None]] = []
    outcomes = asyncio.run(
        arefresh(feeds, progress=lambda *a: seen.append(a), **FAST)  # type: ignore[arg-type]
    )
    assert [(o.name, o.status, o.entries) for o in outcomes] == [
        ("bulk", "updated", 1174),
        ("dnsel", "updated", 500),
        ("gone", "failed", 0),
    ]
    assert ("bulk", len(BULK), len(BULK)) in seen
    assert feeds.lookup("185.241.208.232").tags == {"tor", "feed:bulk", "feed:dnsel"}


def test_thread_refresher_swaps_while_threads_evaluate(server: str, tmp_path: Path) -> None:
    feeds = _feeds(server, "/tor", tmp_path)
    policy = {"name": "p", "default": "allow", "unknown": "allow",
              "rules": [{"name": "tor", "action": "deny", "tags": ["tor"]}]}  # fmt: skip
    errors: list[BaseException] = []
    with Geofence(policy, feeds=feeds, reload_interval=0.0) as gf:
        assert due(feeds) == ["tor"]
        stop = threading.Event()

        def evaluate() -> None:
            try:
                while not stop.is_set():
                    d = gf.evaluate("185.241.208.232")
                    assert d.rule in (None, "tor")
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        workers = [threading.Thread(target=evaluate) for _ in range(3)]
        for w in workers:
            w.start()
        refresher = Refresher(feeds, interval=0.05, **FAST).start()
        deadline = time.monotonic() + 10
        while gf.evaluate("185.241.208.232").rule != "tor" and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        for w in workers:
            w.join(5)
        assert gf.evaluate("185.241.208.232").rule == "tor"
        assert due(feeds) == []
    assert not refresher._thread.is_alive()  # Geofence.close() stopped it
    assert errors == []


def test_async_refresher_task(server: str, tmp_path: Path) -> None:
    feeds = _feeds(server, "/tor", tmp_path)

    async def main() -> int:
        refresher = AsyncRefresher(feeds, interval=0.05, **FAST).start()
        for _ in range(1000):  # up to 10 s; done in a few ms normally
            if feeds.health()[0].entries:
                break
            await asyncio.sleep(0.01)
        await refresher.stop()
        return feeds.health()[0].entries

    assert asyncio.run(main()) == 1174


TOR_POLICY = {
    "name": "no-tor",
    "default": "allow",
    "rules": [{"name": "tor", "action": "deny", "tags": ["tor"]}],
}


def _wait_for_tor_rule(gf: Geofence) -> str | None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rule = gf.evaluate("185.241.208.232").rule
        if rule == "tor":
            return rule
        time.sleep(0.01)
    return None


def test_geofence_start_and_stop_run_the_thread_refresher(server: str, tmp_path: Path) -> None:
    feeds = _feeds(server, "/tor", tmp_path)
    with Geofence(TOR_POLICY, feeds=feeds, reload_interval=0.0) as gf:
        assert gf.evaluate("185.241.208.232").rule is None  # nothing fetched yet
        gf.start(interval=0.05)
        gf.start(interval=0.05)  # idempotent: one refresher
        refresher = feeds.refresher
        assert isinstance(refresher, Refresher)
        assert _wait_for_tor_rule(gf) == "tor"
        gf.stop()
        assert feeds.refresher is None
        assert not refresher._thread.is_alive()


def test_asgi_lifespan_starts_and_stops_the_async_refresher(server: str, tmp_path: Path) -> None:
    from geofence.asgi import GeofenceMiddleware

    feeds = _feeds(server, "/tor", tmp_path)
    gf = Geofence(TOR_POLICY, feeds=feeds, reload_interval=0.0)

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        assert scope["type"] == "lifespan"
        while True:  # a minimal lifespan-aware app: acknowledge startup, then shutdown
            message = await receive()  # type: ignore[operator]
            await send({"type": message["type"] + ".complete"})  # type: ignore[operator]
            if message["type"] == "lifespan.shutdown":
                return

    async def main() -> tuple[bool, bool]:
        inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        outbox: list[dict[str, str]] = []

        async def send(message: dict[str, str]) -> None:
            outbox.append(message)

        middleware = GeofenceMiddleware(app, geofence=gf)
        await inbox.put({"type": "lifespan.startup"})
        running = asyncio.create_task(
            middleware({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
        )
        for _ in range(1000):
            if feeds.health()[0].entries:
                break
            await asyncio.sleep(0.01)
        started = isinstance(feeds.refresher, AsyncRefresher)
        await inbox.put({"type": "lifespan.shutdown"})
        await running
        return started, feeds.refresher is None

    started, stopped = asyncio.run(main())
    assert started
    assert stopped
    assert gf.evaluate("185.241.208.232").rule == "tor"
    gf.close()
