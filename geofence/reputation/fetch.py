"""Refreshing feeds: ``refresh`` / ``arefresh`` twins over a bounded pool of downloads
(``download.py`` does each one), and the background refreshers that call them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed

import httpx

from geofence.errors import ConfigurationError
from geofence.reputation.download import (
    DEFAULT_DEADLINE,
    FetchOutcome,
    Progress,
    _Options,
    adownload,
    download,
)
from geofence.reputation.feedset import FeedSet

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_WORKERS",
    "AsyncRefresher",
    "FetchOutcome",
    "Refresher",
    "arefresh",
    "due",
    "iter_refresh",
    "refresh",
]

log = logging.getLogger("geofence.feeds")

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""The largest feed body accepted (the Apple relay list, the largest, is ~12 MB)."""
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_WORKERS = 4
"""Downloads at once: enough to hide a stalled feed, few enough for one host's rate limits."""


def due(feeds: FeedSet, now: float | None = None) -> list[str]:
    """The feeds with a URL whose data is older than their refresh interval (or missing)."""
    now = time.time() if now is None else now
    out = []
    for status in feeds.health():
        spec = feeds.spec(status.name)
        if spec.url and (status.updated is None or now - status.updated >= spec.refresh_interval):
            out.append(status.name)
    return out


def refresh(
    feeds: FeedSet,
    names: Iterable[str] | None = None,
    *,
    client: httpx.Client | None = None,
    retries: int = 2,
    backoff: float = 0.5,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    deadline: float = DEFAULT_DEADLINE,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
) -> list[FetchOutcome]:
    """Download ``names`` (default: every feed with a URL) now, in ``names`` order; never
    raises for one feed. Up to ``workers`` downloads run at once, so one stalled feed does not
    hold the others; each takes at most ``deadline`` seconds in all (plus one read timeout)."""
    return list(iter_refresh(feeds, names, client=client, retries=retries, backoff=backoff,
                             max_bytes=max_bytes, timeout=timeout, deadline=deadline,
                             workers=workers, progress=progress, ordered=True))  # fmt: skip


def iter_refresh(
    feeds: FeedSet,
    names: Iterable[str] | None = None,
    *,
    client: httpx.Client | None = None,
    retries: int = 2,
    backoff: float = 0.5,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    deadline: float = DEFAULT_DEADLINE,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
    ordered: bool = False,
) -> Iterator[FetchOutcome]:
    """``refresh``, yielding each feed's outcome as it finishes (or in order, ``ordered``)."""
    if workers < 1:
        raise ConfigurationError(f"refresh: workers must be at least 1, not {workers!r}")
    options = _Options(retries, backoff, max_bytes, deadline, progress)
    wanted = list(feeds.names if names is None else names)
    own = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=True)
    try:
        if workers == 1 or len(wanted) <= 1:
            for name in wanted:
                yield download(feeds, name, http, options)
            return
        with ThreadPoolExecutor(min(workers, len(wanted)), "geofence-feed") as pool:
            jobs = [pool.submit(download, feeds, name, http, options) for name in wanted]
            for job in jobs if ordered else as_completed(jobs):
                yield job.result()
    finally:
        if own:
            http.close()


async def arefresh(
    feeds: FeedSet,
    names: Iterable[str] | None = None,
    *,
    client: httpx.AsyncClient | None = None,
    retries: int = 2,
    backoff: float = 0.5,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    deadline: float = DEFAULT_DEADLINE,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
) -> list[FetchOutcome]:
    """The async twin of ``refresh``: up to ``workers`` feeds are downloaded concurrently."""
    if workers < 1:
        raise ConfigurationError(f"arefresh: workers must be at least 1, not {workers!r}")
    options = _Options(retries, backoff, max_bytes, deadline, progress)
    gate = asyncio.Semaphore(workers)
    own = client is None
    http = client or httpx.AsyncClient(timeout=timeout, follow_redirects=True)

    async def one(name: str) -> FetchOutcome:
        async with gate:
            return await adownload(feeds, name, http, options)

    try:
        return list(
            await asyncio.gather(*(one(n) for n in (feeds.names if names is None else names)))
        )
    finally:
        if own:
            await http.aclose()


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
