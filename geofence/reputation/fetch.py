"""Downloading feeds: ``refresh`` / ``arefresh`` twins and background refreshers.

The decisions are written once (``_conditional_headers``, ``_classify``, ``_accept``) and driven
by a thin sync loop over ``httpx.Client`` and an async one over ``httpx.AsyncClient``. Each
download has a timeout and a size bound, is retried with exponential backoff on transport errors
and 5xx answers, is conditional (``If-None-Match`` / ``If-Modified-Since``: a 304 keeps the copy),
and only replaces the data in service when ``FeedSet.replace`` accepts it (parses, is not empty,
did not shrink too much); the cache directory then gets it by atomic rename.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

import httpx

from geofence.errors import DataError
from geofence.reputation.feedset import FeedSet

__all__ = [
    "DEFAULT_MAX_BYTES",
    "AsyncRefresher",
    "FetchOutcome",
    "Refresher",
    "arefresh",
    "due",
    "refresh",
]

log = logging.getLogger("geofence.feeds")

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""The largest feed body accepted (the Apple relay list, the largest, is ~12 MB)."""
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_USER_AGENT = "geofence-feeds/0.1 (+https://github.com/geofence)"

Progress = Callable[[str, int, int | None], None]
"""``progress(feed, bytes_so_far, total_or_None)``, called while downloading."""


class FetchOutcome(NamedTuple):
    """What one feed's refresh did."""

    name: str
    status: str
    """``updated``, ``not-modified``, ``failed`` or ``skipped`` (no URL)."""
    entries: int
    """Entries in service afterwards."""
    error: str | None = None


class _Retry(Exception):
    """A failure worth another attempt (transport error, timeout, 5xx)."""


class _TooLarge(DataError):
    pass


def _conditional_headers(feeds: FeedSet, name: str) -> dict[str, str]:
    entries, etag, modified = feeds.feed_state(name)
    headers = {"user-agent": _USER_AGENT}
    if entries:  # a conditional request only makes sense with a copy to keep
        if etag:
            headers["if-none-match"] = etag
        if modified:
            headers["if-modified-since"] = modified
    return headers


def _classify(response: httpx.Response) -> None:
    """Raise ``_Retry`` for 5xx, ``DataError`` for other non-2xx/304 answers."""
    if response.status_code >= 500:
        raise _Retry(f"HTTP {response.status_code}")
    if response.status_code != 304 and not 200 <= response.status_code < 300:
        raise DataError(f"HTTP {response.status_code} from {response.request.url}")


def _check_length(response: httpx.Response, max_bytes: int) -> int | None:
    declared = response.headers.get("content-length")
    total = int(declared) if declared and declared.isdigit() else None
    if total is not None and total > max_bytes:
        raise _TooLarge(f"body of {total} bytes is over the {max_bytes}-byte bound")
    return total


def _add_chunk(chunks: list[bytes], chunk: bytes, size: int, max_bytes: int) -> int:
    chunks.append(chunk)
    size += len(chunk)
    if size > max_bytes:
        raise _TooLarge(f"body over the {max_bytes}-byte bound")
    return size


def _accept(feeds: FeedSet, name: str, response: httpx.Response, body: bytes) -> FetchOutcome:
    if response.status_code == 304:
        asked = response.request.headers
        if "if-none-match" not in asked and "if-modified-since" not in asked:
            # A 304 confirms only a copy that was asked about: without validators there was
            # none, and taking it would make a feed with no data (or old data) look fresh.
            raise DataError(f"HTTP 304 from {response.request.url} to an unconditional request")
        feeds.touch(name)
        return FetchOutcome(name, "not-modified", feeds.feed_state(name)[0])
    parsed = feeds.replace(
        name,
        body,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
    )
    if parsed.bad:
        log.warning("geofence: feed %s: %d bad entries, e.g. %s", name, parsed.bad,
                    parsed.bad_samples[0])  # fmt: skip
    return FetchOutcome(name, "updated", parsed.count)


def _failed(feeds: FeedSet, name: str, error: str) -> FetchOutcome:
    feeds.record_error(name, error)
    log.warning("geofence: feed %s not refreshed: %s", name, error)
    return FetchOutcome(name, "failed", feeds.feed_state(name)[0], error)


def due(feeds: FeedSet, now: float | None = None) -> list[str]:
    """The feeds with a URL whose data is older than their refresh interval (or missing)."""
    now = time.time() if now is None else now
    out = []
    for status in feeds.health():
        spec = feeds.spec(status.name)
        if spec.url and (status.updated is None or now - status.updated >= spec.refresh_interval):
            out.append(status.name)
    return out


def _delay(backoff: float, attempt: int) -> float:
    """Exponential backoff before retry ``attempt`` (1, 2, ...): backoff, 2*backoff, ..."""
    return backoff * 2.0 ** (attempt - 1)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def refresh(
    feeds: FeedSet,
    names: Iterable[str] | None = None,
    *,
    client: httpx.Client | None = None,
    retries: int = 2,
    backoff: float = 0.5,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
) -> list[FetchOutcome]:
    """Download ``names`` (default: every feed with a URL) now; never raises for one feed."""
    own = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=True)
    try:
        return [
            _refresh_one(feeds, name, http, retries, backoff, max_bytes, progress)
            for name in (feeds.names if names is None else names)
        ]
    finally:
        if own:
            http.close()


def _refresh_one(
    feeds: FeedSet,
    name: str,
    http: httpx.Client,
    retries: int,
    backoff: float,
    max_bytes: int,
    progress: Progress | None,
) -> FetchOutcome:
    url = feeds.spec(name).url
    if not url:
        return FetchOutcome(name, "skipped", feeds.feed_state(name)[0])
    error = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(_delay(backoff, attempt))
        try:
            with http.stream("GET", url, headers=_conditional_headers(feeds, name)) as response:
                _classify(response)
                total = _check_length(response, max_bytes)
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size = _add_chunk(chunks, chunk, size, max_bytes)
                    if progress is not None:
                        progress(name, size, total)
                return _accept(feeds, name, response, b"".join(chunks))
        except (_Retry, httpx.TransportError) as exc:
            error = _describe(exc)
        except DataError as exc:
            return _failed(feeds, name, str(exc))
    return _failed(feeds, name, f"{error} (after {retries + 1} attempts)")


async def arefresh(
    feeds: FeedSet,
    names: Iterable[str] | None = None,
    *,
    client: httpx.AsyncClient | None = None,
    retries: int = 2,
    backoff: float = 0.5,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
) -> list[FetchOutcome]:
    """The async twin of ``refresh``: feeds are downloaded concurrently."""
    own = client is None
    http = client or httpx.AsyncClient(timeout=timeout, follow_redirects=True)
    try:
        jobs = [
            _arefresh_one(feeds, name, http, retries, backoff, max_bytes, progress)
            for name in (feeds.names if names is None else names)
        ]
        return list(await asyncio.gather(*jobs))
    finally:
        if own:
            await http.aclose()


async def _arefresh_one(
    feeds: FeedSet,
    name: str,
    http: httpx.AsyncClient,
    retries: int,
    backoff: float,
    max_bytes: int,
    progress: Progress | None,
) -> FetchOutcome:
    url = feeds.spec(name).url
    if not url:
        return FetchOutcome(name, "skipped", feeds.feed_state(name)[0])
    error = ""
    for attempt in range(retries + 1):
        if attempt:
            await asyncio.sleep(_delay(backoff, attempt))
        try:
            headers = _conditional_headers(feeds, name)
            async with http.stream("GET", url, headers=headers) as response:
                _classify(response)
                total = _check_length(response, max_bytes)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size = _add_chunk(chunks, chunk, size, max_bytes)
                    if progress is not None:
                        progress(name, size, total)
                # Parsing and building the set is CPU work: off the event loop.
                body = b"".join(chunks)
                return await asyncio.to_thread(_accept, feeds, name, response, body)
        except (_Retry, httpx.TransportError) as exc:
            error = _describe(exc)
        except DataError as exc:
            return _failed(feeds, name, str(exc))
    return _failed(feeds, name, f"{error} (after {retries + 1} attempts)")


class Refresher:
    """A daemon thread that refreshes due feeds every ``interval`` seconds (for WSGI servers).

    Started by ``start()``; ``FeedSet.close()`` (so ``Geofence.close()``) stops it.
    """

    def __init__(self, feeds: FeedSet, interval: float = 60.0, **options: object) -> None:
        self.feeds = feeds
        self.interval = interval
        self.options = options
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="geofence-feeds", daemon=True)
        self.runs = 0

    def start(self) -> Refresher:
        """Start the thread (once)."""
        self.feeds.refresher = self
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                names = due(self.feeds)
                if names:
                    refresh(self.feeds, names, **self.options)  # type: ignore[arg-type]
            except Exception:  # the refresher must outlive any one bad round
                log.exception("geofence: feed refresh round failed")
            self.runs += 1
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop and join the thread."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)


class AsyncRefresher:
    """An asyncio task that refreshes due feeds every ``interval`` seconds (for ASGI apps)."""

    def __init__(self, feeds: FeedSet, interval: float = 60.0, **options: object) -> None:
        self.feeds = feeds
        self.interval = interval
        self.options = options
        self.task: asyncio.Task[None] | None = None
        self.runs = 0

    def start(self) -> AsyncRefresher:
        """Create the task on the running loop."""
        self.task = asyncio.get_running_loop().create_task(self._run(), name="geofence-feeds")
        return self

    async def _run(self) -> None:
        while True:
            try:
                names = due(self.feeds)
                if names:
                    await arefresh(self.feeds, names, **self.options)  # type: ignore[arg-type]
            except Exception:
                log.exception("geofence: feed refresh round failed")
            self.runs += 1
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        """Cancel the task and wait for it."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
