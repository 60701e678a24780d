"""``FeedSet``: the configured feeds as one ``GeoSource`` that provides ``tags``.

Every feed's ranges go into one ``RangeSet`` labelled with feed names, so a lookup is one
bisect whatever the number of feeds; the label set maps to a prebuilt ``GeoRecord`` whose tags
are each feed's category tag plus ``feed:<name>``. A refresh builds a new set and swaps it in
with one assignment: a lookup never sees half of an update.
"""

from __future__ import annotations

import inspect
import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal, Union

from geofence.errors import ConfigurationError, DataError
from geofence.facts import GeoRecord
from geofence.reputation.feed_files import (
    Feed,
    FeedStatus,
    load_initial,
    remove_leftovers,
    write_meta,
)
from geofence.reputation.feed_index import MISS, FeedIndex, build_index
from geofence.reputation.parsers import ParsedFeed, parse_feed
from geofence.reputation.ranges import RangeSet
from geofence.reputation.stale_warning import log_staleness, warn_stale_at_start
from geofence.vocab.feeds import CATALOG, EMBEDDED, FeedSpec, unknown_feed

__all__ = ["FeedSet", "FeedStatus", "FeedsSpec", "StalePolicy", "open_feeds"]

StalePolicy = Literal["keep", "open", "closed"]
FeedsSpec = Union[None, bool, str, "FeedSet", Sequence[str | FeedSpec | Mapping[str, object]]]

log = logging.getLogger("geofence.feeds")

_AF_INET, _AF_INET6, _inet_pton = socket.AF_INET, socket.AF_INET6, socket.inet_pton


class FeedSet:
    """Feeds as a ``GeoSource`` providing ``tags`` (``{"tor", "feed:tor-exits"}``).

    ``cache_dir``: where downloads and their metadata are kept (atomically replaced), and read
    first at start. ``on_stale``: what a feed older than its ``max_age`` does: ``keep`` serving
    its last data, fail ``open`` (its ranges stop matching) or ``closed`` (every address gets
    its tag, so rules naming it deny all).
    """

    def __init__(
        self,
        specs: Iterable[FeedSpec],
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        on_stale: StalePolicy = "keep",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._feeds: dict[str, Feed] = {}
        for spec in specs:
            if spec.name in self._feeds:
                raise ConfigurationError(f"feed {spec.name!r} is configured twice")
            self._feeds[spec.name] = Feed(spec)
        if on_stale not in ("keep", "open", "closed"):
            raise ConfigurationError(f"on_stale must be keep, open or closed, not {on_stale!r}")
        self.name = "feeds"
        self.provides: frozenset[str] = frozenset({"tags"})
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.on_stale: StalePolicy = on_stale
        self._clock = clock
        self._lock = threading.RLock()
        self._swapped = False
        self._listeners: list[Callable[[], Callable[[], None] | None]] = []
        self._closed = False
        self._stale: frozenset[str] = frozenset()
        self.refresher: object | None = None  # set by fetch.start_refresher
        if self.cache_dir is not None:
            remove_leftovers(self.cache_dir, time.time())
        for feed in self._feeds.values():
            load_initial(feed, self.cache_dir)
        self._stale = self._stale_names()
        # Said once per process per feed; check_reload() then says when staleness changes.
        stale = [s for s in self.health() if s.stale]
        warn_stale_at_start(stale, self._clock(), on_stale)
        self.generation = 0  # bumped before each swap of _state, like MMDBSource's
        self._install(self._build())

    # -- the GeoSource protocol ---------------------------------------------------------------

    def lookup(self, ip: str) -> GeoRecord:
        """The tags of the feeds listing ``ip`` (``Address.text``); a miss is ``GeoRecord()``."""
        state = self._state
        try:
            packed = _inet_pton(_AF_INET6 if ":" in ip else _AF_INET, ip)
        except (OSError, ValueError):
            return MISS
        labels = state.ranges.labels_packed(packed)
        if labels is None:
            return state.always
        return state.records[labels]

    @property
    def version(self) -> str:
        """Each feed with the date of its data and its age: ``feeds tor-exits 2024-03-12 (3d)``."""
        now = self._clock()
        return "feeds " + ", ".join(feed.describe(now) for feed in self._feeds.values())

    def check_reload(self) -> bool:
        """True once after each swap (a refresh, or a feed turning stale)."""
        with self._lock:
            stale = self._stale_names()
            if stale != self._stale:
                log_staleness(stale - self._stale, self._stale - stale, self.on_stale)
                self._stale = stale  # before _install, which times the next change from it
                if self.on_stale != "keep":
                    self.generation += 1
                    self._install(self._build())
                    self._swapped = True
            swapped, self._swapped = self._swapped, False
            return swapped

    def close(self) -> None:
        """Stop the background refresher, if one runs."""
        self._closed = True
        refresher, self.refresher = self.refresher, None
        task = getattr(refresher, "task", None)
        if task is not None:
            task.cancel()  # an asyncio refresher: its stop() is a coroutine, close() is not
            return
        stop = getattr(refresher, "stop", None)
        if callable(stop):
            stop()

    # -- inspection -------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """The configured feed names."""
        return tuple(self._feeds)

    def spec(self, name: str) -> FeedSpec:
        """The spec of feed ``name``."""
        return self._feeds[name].spec

    @property
    def ranges(self) -> RangeSet:
        """The combined range set in service (labels are feed names)."""
        return self._state.ranges

    def matches(self, address: str) -> list[tuple[str, str, str]]:
        """``(feed, tag, network)`` for every feed listing ``address``: for ``geofence lookup``."""
        from geofence.net import normalize

        found = self._state.ranges.match(normalize(address))
        if found is None:
            return []
        network, labels = found
        names = sorted(labels & self._feeds.keys())  # not the geofeed:<place> labels
        return [(name, self._feeds[name].spec.tag, network) for name in names]

    def group(self, name: str) -> Callable[[bytes], bool] | None:
        """A trusted-proxy predicate for a feed or group name, following refreshes."""
        members = frozenset(
            f.spec.name for f in self._feeds.values() if name in (f.spec.name, f.spec.group)
        )
        if not members:
            return None

        def contains(packed: bytes) -> bool:
            labels = self._state.ranges.labels_packed(packed)
            return labels is not None and not labels.isdisjoint(members)

        return contains

    def health(self) -> tuple[FeedStatus, ...]:
        """The status of every feed."""
        now = self._clock()
        return tuple(f.status(now) for f in self._feeds.values())

    @property
    def healthy(self) -> bool:
        """True when no feed is stale or missing."""
        return not any(s.stale for s in self.health())

    # -- updates ----------------------------------------------------------------------------

    def places(self, name: str) -> int:
        """How many geofeed rows of feed ``name`` in service say where they are."""
        return len(self._feeds[name].places)

    def feed_state(self, name: str) -> tuple[int, str | None, str | None]:
        """``(entries, etag, last_modified)`` of feed ``name``, for a conditional download."""
        feed = self._feeds[name]
        return len(feed.ranges), feed.etag, feed.last_modified

    def record_error(self, name: str, error: str) -> None:
        """Note a failed refresh; the data in service stays."""
        with self._lock:
            self._feeds[name].error = error

    def touch(self, name: str) -> None:
        """A 304: the data in service is still current."""
        with self._lock:
            feed = self._feeds[name]
            feed.updated = self._clock()
            feed.error = None
            if self.cache_dir is not None and feed.source in ("download", "cache"):
                write_meta(self.cache_dir, feed)

    def replace(
        self,
        name: str,
        body: bytes,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> ParsedFeed:
        """Parse a downloaded body and swap it in; raises ``DataError`` and keeps the old data
        when it is not the format, is empty, or shrank by more than ``max_shrink``."""
        feed = self._feeds[name]
        spec = feed.spec
        try:
            parsed = parse_feed(spec.format, body, spec.select)
            feed.check_shrink(parsed)
        except DataError as exc:
            self.record_error(name, str(exc))
            raise
        with self._lock:
            feed.accept(parsed, body, self._clock(), etag, last_modified, self.cache_dir)
            self.generation += 1
            self._install(self._build())
            self._swapped = True
        self._notify()  # outside the lock: the engine's wake-up only sets a number
        return parsed

    def _stale_names(self) -> frozenset[str]:
        return frozenset(s.name for s in self.health() if s.stale)

    def needs_check(self) -> bool:
        """True when a swap awaits ``check_reload()`` or a feed's staleness is due to change."""
        return self._swapped or self._clock() >= self._due_at

    @property
    def watches_staleness(self) -> bool:
        """Whether staleness changes decisions (``on_stale`` open or closed): then the engine
        asks ``needs_check()`` on every request, since only this set's clock says when."""
        return self.on_stale != "keep"

    def on_swap(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after each ``replace()``; held weakly when it is a bound method,
        so a Geofence that registered it can still be collected."""
        self._listeners.append(
            weakref.WeakMethod(callback) if inspect.ismethod(callback) else (lambda: callback)
        )

    def _notify(self) -> None:
        for listener in list(self._listeners):
            callback = listener()
            if callback is None:
                self._listeners.remove(listener)
            else:
                callback()

    def _install(self, state: FeedIndex) -> None:
        self._state = state
        # When the next fresh feed passes its max_age (in this set's clock); with on_stale=keep
        # staleness changes no decision, so the request path need not watch for it.
        self._due_at = float("inf")
        if self.on_stale != "keep":
            self._due_at = min(
                (
                    f.updated + f.spec.max_age
                    for f in self._feeds.values()
                    if f.updated is not None and f.spec.name not in self._stale
                ),
                default=float("inf"),
            )
        self.tags_packed: Callable[[bytes], frozenset[str]] = state.tags_packed
        """The tags for the 4 or 16 bytes of a normalised address (``Address.packed``): the
        engine's hot path, one call (replaced with the data on each swap)."""

    def _build(self) -> FeedIndex:
        stale = self._stale_names() if self.on_stale != "keep" else frozenset()
        return build_index(self._feeds.values(), stale, self.on_stale)

    def __enter__(self) -> FeedSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FeedSet({list(self._feeds)!r}, {self._state.ranges!r})"


def open_feeds(
    spec: FeedsSpec,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    on_stale: StalePolicy = "keep",
) -> FeedSet | None:
    """A ``FeedSet`` from ``None``/``False`` (none), ``True``/``"embedded"`` (the shipped
    snapshots), catalog names, ``FeedSpec`` objects or mappings; or a ``FeedSet`` as is."""
    if spec is None or spec is False:
        return None
    if isinstance(spec, FeedSet):
        return spec
    if spec is True or spec == "embedded":
        items: Sequence[object] = EMBEDDED
    elif isinstance(spec, str):
        items = [spec]
    else:
        items = spec
    specs: list[FeedSpec] = []
    for item in items:
        if isinstance(item, FeedSpec):
            specs.append(item)
        elif isinstance(item, str) and item in CATALOG:
            specs.append(CATALOG[item])
        elif isinstance(item, str) and item == "embedded":
            specs.extend(CATALOG[n] for n in EMBEDDED)
        elif isinstance(item, Mapping):
            try:
                specs.append(FeedSpec.model_validate(item))
            except ValueError as exc:
                raise ConfigurationError(f"feed {dict(item).get('name')!r}: {exc}") from None
        else:
            raise ConfigurationError(unknown_feed(item))
    # The same catalog feed named twice (feeds="embedded" and a policy's `feeds: [embedded]`)
    # is one feed; two different specs under one name stay an error in FeedSet.
    unique = list(dict.fromkeys(specs))
    return FeedSet(unique, cache_dir=cache_dir, on_stale=on_stale)
