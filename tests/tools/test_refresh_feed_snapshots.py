"""tools/refresh_feed_snapshots.py against a loopback server serving the real Tor list."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType

import pytest

from geofence.reputation.catalog import CATALOG
from geofence.reputation.parsers import parse_feed

from ..conftest import ServeLoopback


def _load_tool() -> ModuleType:
    path = Path(__file__).parent.parent.parent / "tools" / "refresh_feed_snapshots.py"
    spec = importlib.util.spec_from_file_location("refresh_feed_snapshots", path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


tool = _load_tool()

TOR_LIST = (
    Path(__file__).parent.parent / "data" / "feeds" / "tor" / "torbulkexitlist"
).read_bytes()
BODIES = {"/tor": TOR_LIST, "/garbage": b"<html>not a list</html>\n", "/few": b"192.0.2.1\n"}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = BODIES.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(serve_loopback: ServeLoopback) -> Iterator[str]:
    with serve_loopback(_Handler) as url:
        yield url


def test_a_download_is_parsed_then_written_as_reproducible_gzip(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        tool.main(["tor-exits", "--url", f"tor-exits={server}/tor", "--output", str(tmp_path)]) == 0
    )
    written = (tmp_path / "tor-exits.txt.gz").read_bytes()
    assert gzip.decompress(written) == TOR_LIST  # the published bytes, byte for byte
    assert written == tool.gzip_bytes(TOR_LIST)  # no name, no timestamp
    out = capsys.readouterr().out
    assert "tor-exits: written" in out
    assert hashlib.sha256(written).hexdigest() in out
    assert f"{len(parse_feed('plain', TOR_LIST).ranges)} entries, 0 bad" in out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


@pytest.mark.parametrize(
    ("path", "says"),
    [("/garbage", "refused: no entries"), ("/few", "refused: 1 entries against"), ("/gone", "404")],
)
def test_a_bad_download_leaves_the_old_snapshot(
    server: str, tmp_path: Path, path: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tool.gzip_bytes(TOR_LIST)
    (tmp_path / "tor-exits.txt.gz").write_bytes(old)
    argv = ["tor-exits", "--url", f"tor-exits={server}{path}", "--output", str(tmp_path)]
    assert tool.main(argv) == 1
    assert says in capsys.readouterr().out
    assert (tmp_path / "tor-exits.txt.gz").read_bytes() == old


def test_a_mirror_format_snapshot_is_skipped(server: str, tmp_path: Path) -> None:
    import httpx

    with httpx.Client() as client:
        result = tool.refresh_snapshot(CATALOG["apple-relay"], tmp_path, client, f"{server}/tor")
    assert (result.written, result.message.startswith("skipped")) == (False, True)
    assert not list(tmp_path.iterdir())
