"""Shipped feed snapshots, parsed ahead of time: ``<snapshot>.ranges`` beside each snapshot,
and ``embedded.index``, the lookup ranges of the embedded feed set built from them.

Parsing the shipped snapshots' 105k lines took about half of ``Geofence(feeds="embedded")``
(~0.35 s) in every worker at every start, for text that changes only when the package does.
``tools/precompile_feed_snapshots.py`` writes each snapshot's ``ParsedFeed`` once; a start
reads it back (gzip: a JSON header line, then the packed ranges as raw bytes) instead of parsing.
Building the ``RangeSet`` of those ranges took most of the rest (~0.25 s): a feed set made of
exactly the shipped snapshots reads the one built by the tool instead.

It is only ever a shortcut: the header holds the SHA-256 of the snapshot file it was made
from (with its format, selection and ``FORMAT_VERSION``), so a snapshot refreshed without
regenerating, or any damage, falls back to parsing the snapshot. tests/reputation keeps the
shipped files equal to a fresh parse, so a parser change that forgets to regenerate fails CI.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from array import array
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from geofence.reputation.parsers import ParsedFeed
from geofence.reputation.range_builder import PackedRanges
from geofence.reputation.ranges import Family, RangeSet

__all__ = [
    "FORMAT_VERSION",
    "INDEX",
    "SUFFIX",
    "digest",
    "dump",
    "dump_index",
    "index_key",
    "load",
    "load_index",
]

FORMAT_VERSION = 2
SUFFIX = ".ranges"
INDEX = "embedded.index"


def digest(format: str, select: Sequence[str], snapshot: bytes) -> str:
    """What a precompiled file must have been made from: this format, selection and file."""
    head = json.dumps([FORMAT_VERSION, format, list(select)]).encode()
    return hashlib.sha256(head + b"\0" + snapshot).hexdigest()


def dump(parsed: ParsedFeed, made_from: str) -> bytes:
    """The precompiled file of ``parsed``; ``made_from`` is its ``digest``."""
    ranges = parsed.ranges
    header = {
        "sha256": made_from,
        "byteorder": sys.byteorder,
        "kinds": len(ranges._kinds),
        "v4": len(ranges._v4),
        "v6": len(ranges._v6) // 4,
        "bad": parsed.bad,
        "bad_samples": parsed.bad_samples,
        "meta": parsed.meta,
        "places": [list(place) for place in parsed.places],
    }
    line = json.dumps(header, separators=(",", ":")).encode()
    body = line + b"\n" + bytes(ranges._kinds) + ranges._v4.tobytes() + ranges._v6.tobytes()
    return gzip.compress(body, mtime=0)  # the same ranges give the same bytes


def _read(path: Path, field: str, expected: str) -> tuple[dict[str, Any], memoryview] | None:
    """The JSON header line and the body after it of the gzip file at ``path``, or None when
    the header's ``field`` is not ``expected`` or the file was written on another byte order.
    Raises what a missing or damaged file raises; the callers treat that as "not stored"."""
    data = gzip.decompress(path.read_bytes())
    end = data.index(b"\n")
    header: dict[str, Any] = json.loads(data[:end])
    if header.get(field) != expected or header.get("byteorder") != sys.byteorder:
        return None
    return header, memoryview(data)[end + 1 :]


def load(path: Path, made_from: str) -> ParsedFeed | None:
    """The ``ParsedFeed`` stored at ``path`` if it was made from ``made_from``, else None."""
    try:
        stored = _read(path, "sha256", made_from)
        if stored is None:
            return None
        return _parsed(*stored)
    except (OSError, EOFError, ValueError, KeyError, TypeError):  # missing or damaged: parse
        return None


def _parsed(header: dict[str, Any], body: memoryview) -> ParsedFeed | None:
    kinds, count4, count6 = int(header["kinds"]), int(header["v4"]), int(header["v6"])
    end4 = kinds + 8 * count4
    if array("Q").itemsize != 8 or len(body) != end4 + 32 * count6 or count4 + count6 != kinds:
        return None
    ranges = PackedRanges()
    ranges._kinds = bytearray(body[:kinds])
    if ranges._kinds.count(4) != count4:
        return None
    ranges._v4 = array("Q")
    ranges._v4.frombytes(body[kinds:end4])
    ranges._v6 = array("Q")
    ranges._v6.frombytes(body[end4:])
    places = [(int(v), int(a), int(b), str(c), r) for v, a, b, c, r in header["places"]]
    return ParsedFeed(
        ranges=ranges,
        bad=int(header["bad"]),
        bad_samples=[str(s) for s in header["bad_samples"]],
        meta={str(k): str(v) for k, v in header["meta"].items()},
        places=places,
    )


def _v6_bytes(values: Iterable[int]) -> bytes:
    return b"".join(v.to_bytes(16, "big") for v in values)


def _v6_ints(data: memoryview | bytes) -> list[int]:
    raw = bytes(data)
    return [int.from_bytes(raw[i : i + 16], "big") for i in range(0, len(raw), 16)]


def index_key(names: Sequence[str], digests: Sequence[str | None]) -> str | None:
    """What a feed set's lookup ranges are built from: its feeds, in order, and the ``digest``
    of each one's snapshot; None when a feed has none."""
    if any(d is None for d in digests):
        return None
    made_from = json.dumps([FORMAT_VERSION, list(names), list(digests)]).encode()
    return hashlib.sha256(made_from).hexdigest()


def dump_index(ranges: RangeSet, key: str) -> bytes:
    """The file of a built ``RangeSet``; ``key`` is its ``index_key``."""
    v4, v6 = ranges._v4, ranges._v6
    header = {
        "key": key,
        "byteorder": sys.byteorder,
        "v4": len(v4.starts),
        "v6": len(v6.starts),
        "label_sets": [sorted(labels) for labels in ranges.label_sets],
    }
    parts = [json.dumps(header, separators=(",", ":")).encode(), b"\n"]
    parts += [array("I", v4.starts).tobytes(), array("I", v4.ends).tobytes()]
    parts += [array("I", v4.labels).tobytes(), array("I", v6.labels).tobytes()]
    parts += [_v6_bytes(v6.starts), _v6_bytes(v6.ends)]
    return gzip.compress(b"".join(parts), mtime=0)


def load_index(path: Path, key: str) -> RangeSet | None:
    """The ``RangeSet`` stored at ``path`` if it was built for ``key``, else None."""
    try:
        stored = _read(path, "key", key)
        if stored is None:
            return None
        header, body = stored
        n4, n6 = int(header["v4"]), int(header["v6"])
        label_sets = tuple(frozenset(map(str, labels)) for labels in header["label_sets"])
        if array("I").itemsize != 4 or len(body) != 12 * n4 + 36 * n6:
            return None
        arrays = []
        for offset, size in ((0, 4 * n4), (4 * n4, 4 * n4), (8 * n4, 4 * n4), (12 * n4, 4 * n6)):
            item = array("I")
            item.frombytes(body[offset : offset + size])
            arrays.append(item)
        six = _v6_ints(body[12 * n4 + 4 * n6 :])
        if max(arrays[2], default=0) >= len(label_sets) or max(arrays[3], default=0) >= len(
            label_sets
        ):
            return None
        v4 = Family(arrays[0], arrays[1], arrays[2])
        return RangeSet(v4, Family(six[:n6], six[n6:], arrays[3]), label_sets)
    except (OSError, EOFError, ValueError, KeyError, TypeError):  # missing or damaged: build
        return None
