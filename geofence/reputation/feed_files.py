"""One feed's state and its files: the cache directory, a local path, the shipped snapshot.

``Feed`` is the mutable state of one feed (its ranges, where they came from, the validators of
the cached download), changed only under its ``FeedSet``'s lock. At start a feed reads the last
good download in the cache directory, else its local file, else the shipped snapshot; a
download is written atomically (temporary file, fsync, rename) with its metadata beside it.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from geofence.errors import DataError
from geofence.reputation import precompiled
from geofence.reputation.parsers import ParsedFeed, parse_feed
from geofence.reputation.range_builder import PackedRanges
from geofence.vocab.feeds import FeedSpec

__all__ = [
    "Feed",
    "FeedStatus",
    "atomic_write",
    "load_initial",
    "remove_leftovers",
    "set_parsed",
    "write_meta",
]

log = logging.getLogger("geofence.feeds")


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


class Feed:
    """The mutable state of one feed (changed under the FeedSet's lock only)."""

    __slots__ = (
        "bad", "digest", "error", "etag", "last_modified", "places", "ranges", "snapshot_digest",
        "source", "spec", "updated",
    )  # fmt: skip

    def __init__(self, spec: FeedSpec) -> None:
        self.spec = spec
        self.ranges = PackedRanges()
        self.places: list[tuple[int, int, int, str, str | None]] = []  # geofeed rows' places
        self.bad = 0
        self.source = "none"
        self.updated: float | None = None
        self.error: str | None = None
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.digest: str | None = None  # SHA-256 of the cached body the metadata describes
        self.snapshot_digest: str | None = None  # precompiled.digest of the shipped snapshot

    def describe(self, now: float) -> str:
        """``tor-exits 2024-03-12 (3d)``: the date of the data in service and its age."""
        if self.updated is None:
            return f"{self.spec.name} (no data)"
        day = datetime.fromtimestamp(self.updated, timezone.utc).strftime("%Y-%m-%d")
        return f"{self.spec.name} {day} ({int((now - self.updated) // 86400)}d)"

    def check_shrink(self, parsed: ParsedFeed) -> None:
        """Raise ``DataError`` when a download has too few entries to replace the data."""
        # Distinct ranges, not lines: one address listed 1000 times is one entry, and must
        # not pass for the 1000 different entries it would replace.
        had, now = len(set(self.ranges)), len(set(parsed.ranges))
        if had and now < had * (1 - self.spec.max_shrink):
            raise DataError(
                f"{self.spec.name}: {now} distinct entries against {had} in service: shrank by "
                f"more than {self.spec.max_shrink:.0%}; keeping the last good copy"
            )

    def accept(
        self,
        parsed: ParsedFeed,
        body: bytes,
        now: float,
        etag: str | None,
        last_modified: str | None,
        cache_dir: Path | None,
    ) -> None:
        """Put a downloaded body in service (and in ``cache_dir``, body then metadata)."""
        set_parsed(self, parsed, "download", now)
        self.error, self.etag, self.last_modified = None, etag, last_modified
        self.digest = hashlib.sha256(body).hexdigest()
        if cache_dir is not None:
            atomic_write(cache_dir / f"{self.spec.name}.body", body)
            write_meta(cache_dir, self)

    def status(self, now: float) -> FeedStatus:
        """This feed's health at ``now`` (epoch seconds)."""
        stale = self.updated is None or now - self.updated > self.spec.max_age
        return FeedStatus(
            self.spec.name, self.spec.tag, self.source, self.updated, len(self.ranges), self.bad,
            self.error, stale,
        )  # fmt: skip


def _snapshot_dir() -> Path:
    from geofence.embedded import data_dir

    return data_dir() / "feeds"


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def load_initial(feed: Feed, cache_dir: Path | None) -> None:
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
            set_parsed(feed, parsed, "cache", float(meta["updated"]))
            return
        except (OSError, ValueError, KeyError, TypeError, DataError) as exc:
            errors.append(f"cache: {exc}")
    if spec.path is not None:
        path = Path(spec.path)
        try:
            parsed = parse_feed(spec.format, _read(path), spec.select)
            set_parsed(feed, parsed, "file", path.stat().st_mtime)
            return
        except (OSError, DataError) as exc:
            if spec.url is None and spec.snapshot is None:  # nothing else to fall back on
                raise DataError(f"feed {spec.name!r}: {exc}", path=str(path)) from None
            errors.append(f"file: {exc}")
    if spec.snapshot is not None:
        path = _snapshot_dir() / spec.snapshot
        try:
            parsed, feed.snapshot_digest = parse_snapshot(
                path, spec.snapshot_format or spec.format, spec.select
            )
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
        set_parsed(feed, parsed, "snapshot", stamp)
        return
    feed.error = "; ".join(errors) or "not downloaded yet"


def parse_snapshot(path: Path, format: str, select: Sequence[str]) -> tuple[ParsedFeed, str]:
    """A shipped snapshot's ranges, precompiled beside it when that file matches (see
    reputation/precompiled.py), else parsed; and the snapshot's ``precompiled.digest``."""
    raw = path.read_bytes()
    made_from = precompiled.digest(format, select, raw)
    ready = precompiled.load(path.with_name(path.name + precompiled.SUFFIX), made_from)
    if ready is not None:
        return ready, made_from
    body = gzip.decompress(raw) if path.suffix == ".gz" else raw
    return parse_feed(format, body, select), made_from


def set_parsed(feed: Feed, parsed: ParsedFeed, source: str, updated: float | None) -> None:
    feed.ranges, feed.places, feed.bad = parsed.ranges, parsed.places, parsed.bad
    feed.source, feed.updated = source, updated


def atomic_write(path: Path, data: bytes) -> None:
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


def remove_leftovers(cache_dir: Path, now: float) -> None:
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


def write_meta(cache_dir: Path, feed: Feed) -> None:
    meta = {"updated": feed.updated, "etag": feed.etag, "last_modified": feed.last_modified,
            "url": feed.spec.url, "entries": len(feed.ranges), "sha256": feed.digest}  # fmt: skip
    atomic_write(cache_dir / f"{feed.spec.name}.json", json.dumps(meta).encode())
