"""``MMDBSource``: one MaxMind DB (``.mmdb``) file, read with the C extension, hot-reloadable.

Why a private copy: the reader mmaps the file, and a file rewritten *in place* (not replaced
by rename) under a live mapping makes the next read past its new end a SIGBUS that kills the
process. So every open copies the file into a private temporary file (``mkstemp``: mode 0600)
and maps the copy, which nobody else can touch; on POSIX the copy is unlinked at once (the
mapping keeps it alive). ``MODE_MEMORY`` would avoid the copy, but with maxminddb 3.2 it selects
the pure-Python reader: ~8 us a lookup against ~0.35 us for the C extension on the mapped copy,
while the copy costs ~3 ms per open of the 8 MB DB-IP file (once, and at each reload).

The exception: ``shared=True`` maps the file itself, read-only, for files nobody rewrites in
place, such as the embedded data installed with the package (an upgrade replaces the files,
and a replaced file's old pages stay valid under the mapping). Then every worker process maps
the same page-cache pages instead of writing and keeping its own copy (19 MB per start).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import shutil
import stat
import tempfile
import threading
import time
from itertools import islice
from typing import Any, NamedTuple

import maxminddb

from geofence.errors import DataError
from geofence.facts import GeoRecord
from geofence.geo.schemas import Record, Schema, detect_schema, refine

__all__ = ["MMDBSource"]

log = logging.getLogger("geofence.geo")

_MISS = GeoRecord()
_SAMPLES = 16  # records shown to schema detection
# Records decoded and extracted when a file is opened: all of a small DB, a bounded prefix of a
# large one (about 10 ms), so a corrupt data section is usually refused before it serves.
_VALIDATE = 4096
_PROBES = ("1.1.1.1", "81.2.69.160", "2001:4860:4860::8888")
_GRACE = 1.0  # seconds a replaced reader stays open for lookups that already hold it

_Signature = tuple[int, int, int, int, int]


def _signature(st: os.stat_result) -> _Signature:
    # ctime too: a rename that reuses a freed inode within one coarse mtime tick still moves it.
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev)


class _Opened(NamedTuple):
    reader: Any  # maxminddb.extension.Reader (untyped C type) or the pure-Python Reader
    schema: Schema
    database_type: str
    version_date: str
    signature: _Signature
    copy: str | None  # the private copy, when it could not be unlinked while mapped


class MMDBSource:
    """A ``GeoSource`` over one ``.mmdb`` file; raises ``DataError`` if it is unusable."""

    def __init__(
        self, path: str | os.PathLike[str], *, name: str | None = None, shared: bool = False
    ) -> None:
        self.path: str = os.fspath(path)
        self.name: str = name or os.path.splitext(os.path.basename(self.path))[0]
        self.shared = shared
        """Whether the file itself is mapped (see the module docstring), not a private copy."""
        opened = _open(self.path, None, shared)
        self.schema: Schema = opened.schema
        self.provides: frozenset[str] = opened.schema.provides
        self._extract = opened.schema.extract
        self._current = opened
        self.reader: Any = opened.reader
        """The ``maxminddb`` reader in service: replaced by one assignment on reload, so read it
        once per lookup. Its records are raw; ``schema.extract`` turns one into a
        ``GeoRecord``."""
        self.generation = 0
        """Bumped just before each swap, so a reader of it before and after a lookup knows
        whether the lookup may have seen newer data than its caller's snapshot."""
        self._seen: _Signature | None = opened.signature
        self._retired: list[tuple[float, _Opened]] = []
        self._last_error: str | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.closed = False
        """Whether ``close()`` ran (read by the interval-table path, which then steps aside)."""

    def lookup(self, ip: str) -> GeoRecord:
        """Facts for canonical address text; a miss is ``GeoRecord()``; raises ``DataError``."""
        reader = self.reader  # once: a concurrent reload swaps the attribute, not this one
        try:
            record = reader.get(ip)
            if record is None:
                return _MISS
            return self._extract(record)
        except Exception as exc:
            if ":" in ip and _ipv4_only(reader):
                return _MISS  # an IPv4-only database knows nothing of IPv6 addresses
            raise DataError(f"lookup of {ip} failed: {exc}", path=self.path) from exc

    @property
    def version(self) -> str:
        """Name and build date of the data in service, e.g. ``"dbip-country 2026-06-01"``, and
        how its facts are read where that is not plain (``"... (regions mapped from ...)"``)."""
        note = self.schema.note
        version = f"{self.name} {self._current.version_date}"
        return f"{version} ({note})" if note else version

    @property
    def database_type(self) -> str:
        """The ``database_type`` from the metadata of the data in service."""
        return self._current.database_type

    @property
    def last_error(self) -> str | None:
        """Why the latest replacement file was refused; ``None`` after a good (re)load."""
        return self._last_error

    def check_reload(self) -> bool:
        """Swap in the file if it changed and is good; True when swapped. Never raises."""
        if self._closed or not self._lock.acquire(blocking=False):
            return False  # another thread is already checking
        try:
            return self._check_reload_locked()
        finally:
            self._lock.release()

    def _check_reload_locked(self) -> bool:
        try:
            seen: _Signature | None = _signature(os.stat(self.path))
        except OSError:
            seen = None
        if seen == self._seen:
            return False
        self._seen = seen
        try:
            opened = _open(self.path, self.schema, self.shared)
        except DataError as exc:
            self._last_error = str(exc)
            log.warning("geo source %s: keeping %s: %s", self.name, self.version, exc)
            return False
        self._seen = opened.signature
        self._retire(self._current)
        self._current = opened
        self.generation += 1  # before the swap: see ``generation``
        self.reader = opened.reader  # the one assignment lookups observe
        self._last_error = None
        log.info("geo source %s: now serving %s", self.name, self.version)
        return True

    def _retire(self, old: _Opened) -> None:
        # The newest retired reader always stays open; older ones once the grace has passed.
        now = time.monotonic()
        keep = [(t, o) for t, o in self._retired if now - t < _GRACE]
        for t, o in self._retired:
            if now - t >= _GRACE:
                _close(o)
        self._retired = [*keep, (now, old)]

    def close(self) -> None:
        """Close every reader; later lookups raise ``DataError``."""
        with self._lock:
            if self._closed:
                return
            self._closed = self.closed = True
            for _, old in self._retired:
                _close(old)
            self._retired = []
            _close(self._current)

    def __enter__(self) -> MMDBSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MMDBSource({self.path!r}, name={self.name!r}, schema={self.schema.kind!r})"


def _close(opened: _Opened) -> None:
    _release(opened.reader, opened.copy)


def _release(reader: Any, copy: str | None) -> None:
    reader.close()
    if copy is not None:
        with contextlib.suppress(OSError):
            os.unlink(copy)


def _ipv4_only(reader: Any) -> bool:
    try:
        return bool(reader.metadata().ip_version == 4)
    except Exception:  # closed or broken: not a reason to call the lookup a miss
        return False


def _open(path: str, expect: Schema | None, shared: bool = False) -> _Opened:
    """Copy (unless ``shared``), open and validate ``path``; ``expect`` is the schema a
    replacement must have."""
    reader, signature, copy = _map_shared(path) if shared else _map_private_copy(path)
    try:
        # The package's own data was validated whole by its test suite before it shipped:
        # the samples and probes still catch a damaged install, without ~0.1 s of decoding
        # (walking records builds an ipaddress network for each) in every worker's start.
        count = _SAMPLES if shared else _VALIDATE
        schema, database_type, date = _validate(reader, path, expect, count)
    except BaseException:
        _release(reader, copy)
        raise
    return _Opened(reader, schema, database_type, date, signature, copy)


def _map_shared(path: str) -> tuple[Any, _Signature, None]:
    try:
        before = os.stat(path)
        if not stat.S_ISREG(before.st_mode):
            raise DataError("not a regular file", path=path)
        if before.st_size == 0:
            raise DataError("empty file, not a MaxMind DB", path=path)
        reader = maxminddb.open_database(path, maxminddb.MODE_AUTO)
    except DataError:
        raise
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", path=path) from None
    except Exception as exc:  # maxminddb raises InvalidDatabaseError, ValueError, TypeError...
        raise DataError(f"not a valid MaxMind DB file: {exc}", path=path) from None
    return reader, _signature(before), None


def _map_private_copy(path: str) -> tuple[Any, _Signature, str | None]:
    try:
        with open(path, "rb") as src:
            before = os.fstat(src.fileno())
            if not stat.S_ISREG(before.st_mode):
                raise DataError("not a regular file", path=path)
            if before.st_size == 0:
                raise DataError("empty file, not a MaxMind DB", path=path)
            fd, copy = tempfile.mkstemp(prefix="geofence-", suffix=".mmdb")
            try:
                with os.fdopen(fd, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                if _signature(os.fstat(src.fileno())) != _signature(before):
                    raise DataError("file changed while it was being read", path=path)
                reader = maxminddb.open_database(copy, maxminddb.MODE_AUTO)
            except BaseException:
                os.unlink(copy)
                raise
    except DataError:
        raise
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", path=path) from None
    except Exception as exc:  # maxminddb raises InvalidDatabaseError, ValueError, TypeError...
        detail = str(exc).replace(f" ({copy})", "").replace(copy, path)
        raise DataError(f"not a valid MaxMind DB file: {detail}", path=path) from None
    try:
        os.unlink(copy)
    except OSError:
        return reader, _signature(before), copy  # Windows: removed when the reader is closed
    return reader, _signature(before), None


def _validate(reader: Any, path: str, expect: Schema | None, count: int) -> tuple[Schema, str, str]:
    try:
        meta = reader.metadata()
        database_type, epoch = meta.database_type, meta.build_epoch
        records: list[Record] = [rec for _, rec in islice(reader, count)]
    except Exception as exc:
        raise DataError(f"corrupt MaxMind DB: {exc}", path=path) from None
    if not isinstance(database_type, str):
        raise DataError(f"metadata database_type is {database_type!r}", path=path)
    schema = detect_schema(database_type, records[:_SAMPLES])
    if schema is None:
        raise DataError(f"unrecognised database type {database_type!r}", path=path)
    try:
        schema = refine(schema, records)
    except Exception as exc:
        raise DataError(f"records do not read as {schema.kind}: {exc}", path=path) from None
    # Lookups keep the extractor chosen at construction, and the engine checked its policy
    # against ``provides``: a replacement must match both (GeoLite2-ASN -> GeoIP2-ISP is fine).
    if expect is not None and (schema.extract, schema.provides) != (
        expect.extract,
        expect.provides,
    ):
        raise DataError(
            f"wrong type: {database_type!r} ({schema.kind}) cannot replace {expect.kind} data",
            path=path,
        )
    try:
        for record in records:
            schema.extract(record)
        for ip in _PROBES:
            _probe(reader, ip, schema)
    except Exception as exc:
        raise DataError(f"records do not read as {schema.kind}: {exc}", path=path) from None
    return schema, database_type, _date(epoch)


def _probe(reader: Any, ip: str, schema: Schema) -> None:
    if ":" in ip and _ipv4_only(reader):
        return
    record = reader.get(ip)
    if record is not None:
        schema.extract(record)


def _date(epoch: object) -> str:
    try:
        when = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return f"build_epoch={epoch!r}"
    return when.date().isoformat()
