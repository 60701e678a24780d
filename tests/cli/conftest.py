"""The feed commands' loopback server: the shipped Tor exit list at every path but ``/broken``,
which answers 503 (a failing feed)."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from ..conftest import ServeLoopback

TOR_LIST = Path(__file__).resolve().parent.parent / "data" / "feeds" / "tor" / "torbulkexitlist"


class _TorListHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/broken":
            self.send_response(503)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        body = TOR_LIST.read_bytes()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server(serve_loopback: ServeLoopback) -> Iterator[str]:
    """The base URL of the server (``http://127.0.0.1:PORT``)."""
    with serve_loopback(_TorListHandler) as url:
        yield url
