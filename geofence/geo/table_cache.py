"""Where interval tables live: one file per data version on disk, one slot per row maker.

A table is keyed by the SHA-256 of its source files (and the table format), kept under
``$GEOFENCE_TABLES_DIR`` (else ``$XDG_CACHE_HOME/geofence/tables``, else
``~/.cache/geofence/tables``) and memory-mapped, so a restart or a second worker maps the
file another process built instead of building its own. A ``TableSlot`` finds or builds the
table in a background thread, never on the request path: until it is ready (and after a hot
reload, until the new data's table is), lookups take the row-build path.

``GEOFENCE_TABLES`` chooses: ``cached`` (the default: use a table already built, by
``python tools/precompile_interval_tables.py`` at package or image build time, or by an earlier
``build``), ``build`` (find, else build in the background and cache it: a build walks every
network, tens of seconds and a few hundred MB for the embedded data, so it is not the
default in every worker) or ``off``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from geofence.geo.interval_table import IntervalTable, build_table

__all__ = ["TableSlot", "cache_dir", "table_key", "tables_mode"]

log = logging.getLogger("geofence")

_FORMAT = b"geofence-interval-table 2"


def tables_mode() -> str:
    """``build``, ``cached`` or ``off`` (``GEOFENCE_TABLES``; anything else counts as off)."""
    mode = os.environ.get("GEOFENCE_TABLES", "cached")
    return mode if mode in ("build", "cached") else "off"


def cache_dir() -> Path:
    """The directory of cached tables (created on first write)."""
    chosen = os.environ.get("GEOFENCE_TABLES_DIR")  # as GEOFENCE_FEEDS_DIR is for feeds
    if chosen:
        return Path(chosen)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "geofence" / "tables"


def table_key(paths: Sequence[str], schemas: Sequence[str]) -> str:
    """SHA-256 of the format, each source's schema and each source file's bytes, in order."""
    digest = hashlib.sha256(_FORMAT)
    for path, schema in zip(paths, schemas, strict=True):
        digest.update(schema.encode() + b"\0")
        digest.update(_file_digest(path))
    return digest.hexdigest()


_DIGESTS: dict[tuple[str, int, int], bytes] = {}  # (path, size, mtime_ns) -> SHA-256


def _file_digest(path: str) -> bytes:
    # Once per file version and process: every Geofence over the embedded data would otherwise
    # hash its ~30 MB again.
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    found = _DIGESTS.get(key)
    if found is None:
        file_digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                file_digest.update(chunk)
        found = _DIGESTS[key] = file_digest.digest()
    return found


class TableSlot:
    """The table of the data in service, or ``None`` while none is ready.

    ``sources`` are ``MMDBSource``-likes (``path``, ``schema``, ``reader``, ``generation``);
    ``facts_of(readers)`` gives the row-build path's facts of an address over those readers.
    """

    def __init__(
        self,
        sources: Sequence[Any],
        facts_of: Callable[[Sequence[Any]], Callable[[str], tuple[Any, ...]]],
    ) -> None:
        self._sources = tuple(sources)
        self._facts_of = facts_of
        self.table: IntervalTable | None = None
        self.readers: tuple[Any, Any, Any] = (None, None, None)
        """The readers of the first three sources (repeating the first when fewer) that the
        table was made from: a reload swaps one, so the row maker checks them by identity."""
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()  # set when a table is in service (tests wait on it)
        self.refresh()

    def current_generation(self) -> int:
        return sum(s.generation for s in self._sources)

    def refresh(self) -> None:
        """Find or build the table of the data in service now, in a background thread."""
        mode = tables_mode()
        if mode == "off":
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return  # it re-checks the generation when done
            self.table = None
            self.ready.clear()
            self._thread = threading.Thread(
                target=self._run, args=(mode,), name="geofence-table", daemon=True
            )
            self._thread.start()

    def _run(self, mode: str) -> None:
        try:
            while True:
                generation = self.current_generation()
                readers = [s.reader for s in self._sources]  # once: a reload swaps these
                table = self._find_or_build(readers, mode)
                if table is None or generation != self.current_generation():
                    if table is not None:
                        table.close()
                    if table is None:
                        return
                    continue  # the data changed while building: again, for the new data
                self.readers = (*readers, readers[0], readers[0])[:3]
                self.table = table
                self.ready.set()
                return
        except Exception:  # a table is an optimisation: the row-build path still serves
            log.exception("geofence: building the interval table failed; lookups unaffected")

    def _find_or_build(self, readers: list[Any], mode: str) -> IntervalTable | None:
        paths = [s.path for s in self._sources]
        key = table_key(paths, [f"{s.schema.kind} {s.schema.note}" for s in self._sources])
        path = cache_dir() / f"{key}.table"
        if path.is_file():
            return IntervalTable(str(path))
        if mode != "build":
            return None
        ipv6 = all(r.metadata().ip_version == 6 for r in readers)
        data = build_table(readers, self._facts_of(readers), ipv6=ipv6)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)  # atomic: a concurrent worker maps a whole file or none
        log.info("geofence: built the interval table %s", path)
        return IntervalTable(str(path))
