"""One feed's download: the conditional request, the bounds and the answer's acceptance.

Written once (``_conditional_headers``, ``_classify``, ``_accept``) and driven by a thin sync
loop over ``httpx.Client`` and an async one over ``httpx.AsyncClient``. Each download has a
per-read timeout, a size bound and a total ``deadline`` (a server dripping one byte per read
would otherwise hold it for ever: httpx timeouts are per read), is retried with exponential
backoff on transport errors and 5xx answers within that deadline, is conditional
(``If-None-Match`` / ``If-Modified-Since``: a 304 keeps the copy it confirms), and only replaces
the data in service when ``FeedSet.replace`` accepts it. ``fetch`` runs many of these at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import NamedTuple

import httpx

from geofence.errors import DataError
from geofence.reputation.feedset import FeedSet

log = logging.getLogger("geofence.feeds")

DEFAULT_DEADLINE = 300.0
"""Seconds one feed's download may take in all, retries included."""
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


def _delay(backoff: float, attempt: int) -> float:
    """Exponential backoff before retry ``attempt`` (1, 2, ...): backoff, 2*backoff, ..."""
    return backoff * 2.0 ** (attempt - 1)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _Options(NamedTuple):
    retries: int
    backoff: float
    max_bytes: int
    deadline: float
    progress: Progress | None


def _past(stop: float) -> bool:
    return time.monotonic() > stop


def _over_deadline(options: _Options) -> _Retry:
    return _Retry(f"download took over the {options.deadline:g} s deadline")


def download(feeds: FeedSet, name: str, http: httpx.Client, options: _Options) -> FetchOutcome:
    """Download feed ``name`` once, with retries, within ``options.deadline``; never raises."""
    url = feeds.spec(name).url
    if not url:
        return FetchOutcome(name, "skipped", feeds.feed_state(name)[0])
    stop, error, attempts = time.monotonic() + options.deadline, "", 0
    while attempts <= options.retries and not (attempts and _past(stop)):
        if attempts:
            time.sleep(min(_delay(options.backoff, attempts), max(0.0, stop - time.monotonic())))
        attempts += 1
        try:
            with http.stream("GET", url, headers=_conditional_headers(feeds, name)) as response:
                _classify(response)
                total = _check_length(response, options.max_bytes)
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size = _add_chunk(chunks, chunk, size, options.max_bytes)
                    if _past(stop):
                        raise _over_deadline(options)
                    if options.progress is not None:
                        options.progress(name, size, total)
                return _accept(feeds, name, response, b"".join(chunks))
        except (_Retry, httpx.TransportError) as exc:
            error = _describe(exc)
        except DataError as exc:
            return _failed(feeds, name, str(exc))
    return _failed(feeds, name, f"{error} (after {attempts} attempts)")


async def adownload(
    feeds: FeedSet, name: str, http: httpx.AsyncClient, options: _Options
) -> FetchOutcome:
    """The async twin of ``download``."""
    url = feeds.spec(name).url
    if not url:
        return FetchOutcome(name, "skipped", feeds.feed_state(name)[0])
    stop, error, attempts = time.monotonic() + options.deadline, "", 0
    while attempts <= options.retries and not (attempts and _past(stop)):
        if attempts:
            await asyncio.sleep(
                min(_delay(options.backoff, attempts), max(0.0, stop - time.monotonic()))
            )
        attempts += 1
        try:
            headers = _conditional_headers(feeds, name)
            async with http.stream("GET", url, headers=headers) as response:
                _classify(response)
                total = _check_length(response, options.max_bytes)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size = _add_chunk(chunks, chunk, size, options.max_bytes)
                    if _past(stop):
                        raise _over_deadline(options)
                    if options.progress is not None:
                        options.progress(name, size, total)
                # Parsing and building the set is CPU work: off the event loop.
                body = b"".join(chunks)
                return await asyncio.to_thread(_accept, feeds, name, response, body)
        except (_Retry, httpx.TransportError) as exc:
            error = _describe(exc)
        except DataError as exc:
            return _failed(feeds, name, str(exc))
    return _failed(feeds, name, f"{error} (after {attempts} attempts)")
