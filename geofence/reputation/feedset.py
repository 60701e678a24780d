"""``FeedSet``: the configured feeds as one ``GeoSource`` that provides ``tags``.

Every feed's ranges go into one ``RangeSet`` labelled with feed names, so a lookup is one
bisect whatever the number of feeds; the label set maps to a prebuilt ``GeoRecord`` whose tags
are each feed's category tag plus ``feed:<name>``. A refresh builds a new set and swaps it in
with one assignment: a lookup never sees half of an update.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import inspect
import json
import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, NamedTuple, Union

from geofence.errors import ConfigurationError, DataError
from geofence.facts import GeoRecord
from geofence.reputation.parsers import ParsedFeed, parse_feed
from geofence.reputation.ranges import RangeSet, RangeSetBuilder
from geofence.reputation.stale_warning import warn_stale_at_start
from geofence.vocab.feeds import CATALOG, EMBEDDED, FeedSpec, unknown_feed
from geofence.vocab.tags import FEED_PREFIX, GEOFEED_PREFIX

__all__ = ["FeedSet", "FeedStatus", "FeedsSpec", "StalePolicy", "open_feeds"]

StalePolicy = Literal["keep", "open", "closed"]
FeedsSpec = Union[None, bool, str, "FeedSet", Sequence[str | FeedSpec | Mapping[str, object]]]

log = logging.getLogger("geofence.feeds")

_MISS = GeoRecord()
_new = tuple.__new__
_AF_INET, _AF_INET6, _inet_pton = socket.AF_INET, socket.AF_INET6, socket.inet_pton


class FeedStatus(NamedTuple):
    """The health of one feed, as ``FeedSet.health()`` and ``geofence feeds status`` show it."""

    name: str
    tag: str
    source: str
    """``download``, ``cache``, ``file``, ``snapshot`` or ``none``."""
    updated: float | None
    """When the data in service was published or downloaded (epoch seconds)."""
    entries: int
    bad: int
    error: str | None
    """The last failure (a refused download, say); the data in service is kept."""
    stale: bool
    """Older than the feed's ``max_age``."""

    def age(self, now: float | None = None) -> float | None:
        """Seconds since ``updated``."""
        return None if self.updated is None else (now or time.time()) - self.updated


class _Feed:
    """The mutable state of one feed (changed under the FeedSet's lock only)."""

    __slots__ = (
        "bad", "digest", "error", "etag", "last_modified", "places", "ranges", "source", "spec",
        "updated",
    )  # fmt: skip

    def __init__(self, spec: FeedSpec) -> None:
        self.spec = spec
        self.ranges: list[tuple[int, int, int]] = []
        self.places: list[tuple[int, int, int, str, str | None]] = []  # geofeed rows' places
        self.bad = 0
        self.source = "none"
        self.updated: float | None = None
        self.error: str | None = None
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.digest: str | None = None  # SHA-256 of the cached body the metadata describes


class _State(NamedTuple):
    ranges: RangeSet
    records: dict[frozenset[str], GeoRecord]
    always: GeoRecord
    tags_packed: Callable[[bytes], frozenset[str]]  # see FeedSet.tags_packed


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
        self._feeds: dict[str, _Feed] = {}
        for spec in specs:
            if spec.name in self._feeds:
                raise ConfigurationError(f"feed {spec.name!r} is configured twice")
            self._feeds[spec.name] = _Feed(spec)
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
            _remove_leftovers(self.cache_dir, time.time())
        for feed in self._feeds.values():
            _load_initial(feed, self.cache_dir)
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
            return _MISS
        labels = state.ranges.labels_packed(packed)
        if labels is None:
            return state.always
        return state.records[labels]

    @property
    def version(self) -> str:
        """Each feed with the date of its data and its age: ``feeds tor-exits 2024-03-12 (3d)``."""
        now = self._clock()
        parts = []
        for feed in self._feeds.values():
            if feed.updated is None:
                parts.append(f"{feed.spec.name} (no data)")
                continue
            day = datetime.fromtimestamp(feed.updated, timezone.utc).strftime("%Y-%m-%d")
            parts.append(f"{feed.spec.name} {day} ({int((now - feed.updated) // 86400)}d)")
        return "feeds " + ", ".join(parts)

    def check_reload(self) -> bool:
        """True once after each swap (a refresh, or a feed turning stale)."""
        with self._lock:
            stale = self._stale_names()
            if stale != self._stale:
                _log_staleness(stale - self._stale, self._stale - stale, self.on_stale)
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
        return tuple(
            FeedStatus(
                f.spec.name,
                f.spec.tag,
                f.source,
                f.updated,
                len(f.ranges),
                f.bad,
                f.error,
                f.updated is None or now - f.updated > f.spec.max_age,
            )
            for f in self._feeds.values()
        )

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
                _write_meta(self.cache_dir, feed)

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
            # Distinct ranges, not lines: one address listed 1000 times is one entry, and must
            # not pass for the 1000 different entries it would replace.
            had = len(set(feed.ranges))
            now = len(set(parsed.ranges))
            if had and now < had * (1 - spec.max_shrink):
                raise DataError(
                    f"{name}: {now} distinct entries against {had} in service: shrank by more "
                    f"than {spec.max_shrink:.0%}; keeping the last good copy"
                )
        except DataError as exc:
            self.record_error(name, str(exc))
            raise
        with self._lock:
            feed.ranges, feed.places, feed.bad = parsed.ranges, parsed.places, parsed.bad
            feed.source, feed.updated, feed.error = "download", self._clock(), None
            feed.etag, feed.last_modified = etag, last_modified
            feed.digest = hashlib.sha256(body).hexdigest()
            if self.cache_dir is not None:
                _atomic_write(self.cache_dir / f"{name}.body", body)
                _write_meta(self.cache_dir, feed)
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

    def _install(self, state: _State) -> None:
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

    def _build(self) -> _State:
        stale = self._stale_names() if self.on_stale != "keep" else frozenset()
        builder = RangeSetBuilder()
        for feed in self._feeds.values():
            if self.on_stale == "open" and feed.spec.name in stale:
                continue
            labels = frozenset({feed.spec.name})
            for version, first, last in feed.ranges:
                builder.add(version, first, last, labels)
            _add_places(builder, feed)
        ranges = builder.build()
        always: frozenset[str] = frozenset()
        if self.on_stale == "closed":
            always = frozenset().union(*(self._tags_of(frozenset({n})) for n in stale))
        records = {
            labels: _new(
                GeoRecord, (None, None, None, (), None, None, None, self._tags_of(labels) | always)
            )
            for labels in ranges.label_sets
        }
        always_record = _MISS if not always else GeoRecord(tags=always)
        tags = ranges.packed_lookup([records[ls].tags for ls in ranges.label_sets], always)
        return _State(ranges, records, always_record, tags)

    def _tags_of(self, labels: frozenset[str]) -> frozenset[str]:
        """Tags for range labels: a feed name gives its tag and ``feed:<name>``, a geofeed
        label (``geofeed:GB``) is the tag itself."""
        tags: set[str] = set()
        for label in labels:
            if label.startswith(GEOFEED_PREFIX):
                tags.add(label)
            else:
                tags.update((self._feeds[label].spec.tag, FEED_PREFIX + label))
        return frozenset(tags)

    def __enter__(self) -> FeedSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FeedSet({list(self._feeds)!r}, {self._state.ranges!r})"


def _log_staleness(now_stale: frozenset[str], fresh: frozenset[str], on_stale: str) -> None:
    """Say when feeds pass their ``max_age`` (and what that does) or come back."""
    effect = {
        "keep": "still serving its last data",
        "open": "its ranges no longer match (on_stale=open)",
        "closed": "every address now gets its tag (on_stale=closed)",
    }[on_stale]
    for name in sorted(now_stale):
        log.warning("geofence: feed %s is stale (older than its max_age): %s", name, effect)
    for name in sorted(fresh):
        log.info("geofence: feed %s is current again", name)


def _snapshot_dir() -> Path:
    from geofence.embedded import data_dir

    return data_dir() / "feeds"


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _load_initial(feed: _Feed, cache_dir: Path | None) -> None:
    """The last good download, else the local file, else the shipped snapshot."""
    spec = feed.spec
    errors: list[str] = []
    if cache_dir is not None and (cache_dir / f"{spec.name}.body").is_file():
        try:
            meta = json.loads((cache_dir / f"{spec.name}.json").read_text(encoding="utf-8"))
            body = (cache_dir / f"{spec.name}.body").read_bytes()
            parsed = parse_feed(spec.format, body, spec.select)
            feed.digest = hashlib.sha256(body).hexdigest()
            if meta.get("sha256", feed.digest) == feed.digest:
                feed.etag, feed.last_modified = meta.get("etag"), meta.get("last_modified")
            else:  # killed between the two writes: the validators belong to the older body
                log.warning("geofence: feed %s: cache metadata is older than its body; "
                            "the next download is unconditional", spec.name)  # fmt: skip
            _set(feed, parsed, "cache", float(meta["updated"]))
            return
        except (OSError, ValueError, KeyError, TypeError, DataError) as exc:
            errors.append(f"cache: {exc}")
    if spec.path is not None:
        path = Path(spec.path)
        try:
            parsed = parse_feed(spec.format, _read(path), spec.select)
            _set(feed, parsed, "file", path.stat().st_mtime)
            return
        except (OSError, DataError) as exc:
            if spec.url is None and spec.snapshot is None:  # nothing else to fall back on
                raise DataError(f"feed {spec.name!r}: {exc}", path=str(path)) from None
            errors.append(f"file: {exc}")
    if spec.snapshot is not None:
        path = _snapshot_dir() / spec.snapshot
        try:
            parsed = parse_feed(spec.snapshot_format or spec.format, _read(path), spec.select)
        except (OSError, DataError) as exc:
            raise DataError(
                f"feed {spec.name!r}: the shipped snapshot is unreadable: {exc}", path=str(path)
            ) from None
        day = spec.snapshot_date
        stamp = (
            None
            if day is None
            else datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
        )
        _set(feed, parsed, "snapshot", stamp)
        return
    feed.error = "; ".join(errors) or "not downloaded yet"


def _set(feed: _Feed, parsed: ParsedFeed, source: str, updated: float | None) -> None:
    feed.ranges, feed.places, feed.bad = parsed.ranges, parsed.places, parsed.bad
    feed.source, feed.updated = source, updated


def _add_places(builder: RangeSetBuilder, feed: _Feed) -> None:
    """A geofeed's rows again, labelled also ``geofeed:<country>`` (and ``geofeed:<region>``):
    the builder unions them with the feed's own label over the same ranges."""
    name = feed.spec.name
    labels: dict[tuple[str, str | None], frozenset[str]] = {}  # one frozenset per place
    for version, first, last, country, region in _most_specific(feed.places):
        key = (country, region)
        found = labels.get(key)
        if found is None:
            tags = {name, GEOFEED_PREFIX + country}
            if region is not None:
                tags.add(GEOFEED_PREFIX + region)
            found = labels[key] = frozenset(tags)
        builder.add(version, first, last, found)


_Place = tuple[int, int, int, str, "str | None"]


def _most_specific(places: Sequence[_Place]) -> list[_Place]:
    """The places with overlaps resolved as RFC 8805 asks: a more specific prefix wins over
    the one it sits in (a /24 listed as US inside a /22 listed as GB is US). Of two rows for
    the same prefix, the later wins."""
    out: list[_Place] = []
    for version in (4, 6):
        out += _split_nested([p for p in places if p[0] == version])
    return out


def _split_nested(places: list[_Place]) -> list[_Place]:
    # Prefixes nest or are disjoint, so one sweep, outer before inner, with a stack of the open
    # prefixes ([next value not yet given out, last value, place]) splits each around those
    # inside it.
    out: list[_Place] = []
    stack: list[list[Any]] = []

    def close(before: int) -> None:
        while stack and stack[-1][1] < before:
            cursor, last, place = stack.pop()
            if cursor <= last:
                out.append((place[0], cursor, last, place[3], place[4]))
            if stack:
                stack[-1][0] = max(stack[-1][0], last + 1)

    for place in sorted(places, key=lambda p: (p[1], -p[2])):
        first = place[1]
        close(first)
        if stack and stack[-1][0] < first:  # the outer prefix up to this one
            outer = stack[-1]
            out.append((place[0], outer[0], first - 1, outer[2][3], outer[2][4]))
            outer[0] = first
        stack.append([first, place[2], place])
    close(1 << 128)
    return out


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}{_TMP_SUFFIX}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


_TMP_SUFFIX = ".tmp"
_TMP_MAX_AGE = 3600.0  # seconds: older temporary files were left by a killed writer


def _remove_leftovers(cache_dir: Path, now: float) -> None:
    """Delete temporary files a killed process left in the cache directory.

    Only old ones: another process sharing the directory may be writing a young one now.
    """
    try:
        leftovers = list(cache_dir.glob(f".*{_TMP_SUFFIX}"))
    except OSError:
        return
    for path in leftovers:
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > _TMP_MAX_AGE:
                path.unlink()
                log.info("geofence: removed %s, left by an interrupted cache write", path)


def _write_meta(cache_dir: Path, feed: _Feed) -> None:
    meta = {"updated": feed.updated, "etag": feed.etag, "last_modified": feed.last_modified,
            "url": feed.spec.url, "entries": len(feed.ranges), "sha256": feed.digest}  # fmt: skip
    _atomic_write(cache_dir / f"{feed.spec.name}.json", json.dumps(meta).encode())


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
