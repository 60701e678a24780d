"""Shared fixtures: the copied MaxMind test data, small .mmdb files built in a test, a
real HTTP server on 127.0.0.1 for feed downloads, and real Redis servers for the stores."""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from netaddr import IPSet

from geofence.testing.redis_server import RedisCluster, RedisServer
from geofence.testing.redis_server import command as redis_command
from tests.servers import socketserver_thread

# Interval tables (geofence/geo/table_cache.py): none from the user's cache, and none looked for
# (each Geofence would hash its files in a thread); tests/geo/test_interval_table.py builds its
# own into temporary directories.
os.environ["GEOFENCE_TABLES_DIR"] = tempfile.mkdtemp(prefix="geofence-tables-")
os.environ["GEOFENCE_TABLES"] = "off"

MAXMIND = Path(__file__).resolve().parent / "data" / "maxmind"

# A long fuzz run: HYPOTHESIS_PROFILE=fuzz python -m pytest tests/security tests/policy/test_load.py
# (README, Security). Tests that pin max_examples scale it with examples().
settings.register_profile(
    "fuzz", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck)
)
# The everyday profile has no per-example deadline and no too-slow health check: both are
# timings, and a 2-core machine with one core kept busy made one example take 452 ms (> 200 ms).
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
FUZZ_FACTOR = 50 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else 1


def examples(n: int) -> int:
    """``n`` Hypothesis examples in CI, 50 times as many in the fuzz profile."""
    return n * FUZZ_FACTOR


EPOCH_2026_06_01 = 1780345978  # 2026-06-01T20:32:58Z, the build_epoch of the real DB-IP file

MakeMMDB = Callable[..., Path]


def load_tool(name: str) -> ModuleType:
    """A script of tools/ as a module (tools/ is not a package), loaded once."""
    module_name = f"geofence_tools_{name}"
    if module_name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "tools" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None
        assert spec.loader is not None
        sys.modules[module_name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[module_name])
    return sys.modules[module_name]


# The data builders' writer (tools/mmdb_build.py): build_epoch given, so versions are predictable.
_FixedEpochWriter = load_tool("mmdb_build").ReproducibleWriter


def write_mmdb(
    path: Path,
    entries: Iterable[tuple[str, Any]],
    *,
    database_type: str = "country",
    ip_version: int = 6,
    build_epoch: int = EPOCH_2026_06_01,
) -> Path:
    """Write ``(cidr, record)`` entries to an .mmdb file at ``path``."""
    writer = _FixedEpochWriter(
        build_epoch=build_epoch,
        ip_version=ip_version,
        database_type=database_type,
        ipv4_compatible=ip_version == 6,
    )
    for cidr, record in entries:
        writer.insert_network(IPSet([cidr]), record)
    writer.to_db_file(str(path))
    return path


@pytest.fixture
def make_mmdb(tmp_path: Path) -> MakeMMDB:
    """``make_mmdb(name, entries, **options)`` writes ``tmp_path/name`` and returns its path."""

    def make(name: str, entries: Iterable[tuple[str, Any]], **options: Any) -> Path:
        return write_mmdb(tmp_path / name, entries, **options)

    return make


@pytest.fixture
def maxmind_db() -> Callable[[str], Path]:
    """The path of a copied MaxMind test database, by file stem."""

    def path(stem: str) -> Path:
        found = MAXMIND / "test-data" / f"{stem}.mmdb"
        assert found.is_file(), found
        return found

    return path


@contextmanager
def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    with socketserver_thread(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as address:
        yield f"http://{address}"


ServeLoopback = Callable[[type[BaseHTTPRequestHandler]], AbstractContextManager[str]]


@pytest.fixture(scope="session")
def serve_loopback() -> ServeLoopback:
    """``with serve_loopback(Handler) as base_url:`` runs a real HTTP server on 127.0.0.1."""
    return _serve


# -- Redis: real servers from the redis-server binary, one of each per session -------------------
# ``store_url`` runs a test once per backend (memory://, one Redis server, a 3-node Redis Cluster)
# with every server flushed first, so tests never see each other's counters.

STORE_BACKENDS = ("memory", "redis", "cluster")
REDIS_TIMEOUT = 2.0  # seconds: generous, the machine running the tests may be loaded


def _redis_or_skip(start: Callable[[], AbstractContextManager[Any]]) -> Iterator[Any]:
    try:
        context = start()
        started = context.__enter__()
    except FileNotFoundError as exc:  # only a missing binary skips; a failing server fails
        pytest.skip(str(exc))
    try:
        yield started
    finally:
        context.__exit__(None, None, None)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real ``redis-server`` on a free loopback port for the whole session."""
    yield from _redis_or_skip(RedisServer.started)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A real 3-node Redis Cluster (same binary, ``redis-cli --cluster create``), every slot
    assigned, for the whole session."""
    yield from _redis_or_skip(RedisCluster.started)


@pytest.fixture(params=STORE_BACKENDS)
def store_url(request: pytest.FixtureRequest) -> str:
    """A store URL per backend, its server(s) flushed: ``memory://``, ``redis://``,
    ``redis+cluster://`` (each with a generous ``timeout``)."""
    if request.param == "memory":
        return "memory://"
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        redis_command(server.port, "FLUSHALL")
        return f"{server.url}?timeout={REDIS_TIMEOUT}"
    cluster: RedisCluster = request.getfixturevalue("redis_cluster")
    for node in cluster.nodes:
        redis_command(node.port, "FLUSHALL")
    return f"{cluster.url}?timeout={REDIS_TIMEOUT}"
