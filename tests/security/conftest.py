"""A feed server on 127.0.0.1 whose behaviour a test switches: good, stalled, reset, 500..."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

MODES = ("ok", "stall", "reset", "500", "truncate", "huge", "huge-chunked")


class FeedServer:
    """What ``/feed`` answers: ``mode`` and ``body`` (with ``etag``), changed by the test."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.body = b""
        self.etag: str | None = None
        self.stall = 1.0  # seconds a stalled answer waits: longer than the tests' timeouts
        self.hits = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.feed_server = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/feed"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def serve(self, body: bytes, etag: str | None = None, mode: str = "ok") -> None:
        """Answer with ``body`` (and ``etag``) from now on, in ``mode``."""
        assert mode in MODES, mode
        self.body, self.etag, self.mode = body, etag, mode

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        server: FeedServer = self.server.feed_server  # type: ignore[attr-defined]
        server.hits += 1
        mode, body, etag = server.mode, server.body, server.etag
        if mode == "ok" and etag is not None and self.headers.get("if-none-match") == etag:
            self._head(304, None, etag)
        elif mode == "ok":
            self._head(200, len(body), etag)
            self.wfile.write(body)
        elif mode == "stall":
            time.sleep(server.stall)
            self.close_connection = True
        elif mode == "reset":  # half the body, then a TCP reset (SO_LINGER 0)
            self._head(200, len(body), etag)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
        elif mode == "500":
            self._head(500, 4, None)
            self.wfile.write(b"oops")
        elif mode == "truncate":  # promises the whole body, sends half, hangs up cleanly
            self._head(200, len(body), etag)
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
        else:  # huge: 4 MiB, with or without a length
            chunk = b"# padding " + b"x" * 1013 + b"\n"
            self._head(200, None if mode == "huge-chunked" else 4096 * len(chunk), None)
            try:
                for _ in range(4096):
                    self.wfile.write(chunk)
            except OSError:
                pass  # the client stopped reading at its bound
            self.close_connection = True

    def _head(self, code: int, length: int | None, etag: str | None) -> None:
        self.send_response(code)
        if etag is not None:
            self.send_header("etag", etag)
        if length is not None:
            self.send_header("content-length", str(length))
        else:
            self.send_header("connection", "close")
            self.close_connection = True
        self.end_headers()


@pytest.fixture(scope="session")
def _feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def feed_server(_feed_server: FeedServer) -> FeedServer:
    """The loopback feed server, reset to answer ``ok`` with an empty body."""
    _feed_server.serve(b"")
    _feed_server.stall = 1.0
    _feed_server.hits = 0
    return _feed_server
