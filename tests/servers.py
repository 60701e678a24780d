"""Real servers on 127.0.0.1 for tests, each in a thread: uvicorn and hypercorn for ASGI apps,
and any standard-library ``socketserver`` server (``http.server``, ``wsgiref``).

Each yields ``host:port`` once the server accepts connections and stops it afterwards. The
server's own log records are collected in ``logs`` so a test can assert it logged no error;
``answer_lifespan`` lets a test app take part in the ASGI lifespan protocol uvicorn runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import uvicorn

START_DEADLINE = 60.0  # seconds: a loaded 2-core machine can be slow to start a server


class LogRecords(logging.Handler):
    """Every record of the named loggers, at WARNING and above, while installed."""

    def __init__(self, *names: str) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self._loggers = [logging.getLogger(n) for n in names]

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def errors(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= logging.ERROR]

    def __enter__(self) -> LogRecords:
        for logger in self._loggers:
            logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for logger in self._loggers:
            logger.removeHandler(self)


async def answer_lifespan(
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """Complete each lifespan startup, then the shutdown: an app's ``lifespan`` scope."""
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


@contextmanager
def socketserver_thread(server: socketserver.BaseServer) -> Iterator[str]:
    """Serve ``server`` (already bound, e.g. to port 0) in a thread; shut it down afterwards."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _QuietWSGIHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # one access-log line per request on stderr is noise in a test run


def wsgiref_server(app: Any) -> contextlib.AbstractContextManager[str]:
    """A WSGI app under the standard library's wsgiref server, in a thread."""
    return socketserver_thread(make_server("127.0.0.1", 0, app, handler_class=_QuietWSGIHandler))


@contextmanager
def uvicorn_server(app: Any, ws: str = "websockets-sansio") -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="on", ws=ws, log_level="warning", log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_DEADLINE
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def hypercorn_server(app: Any) -> Iterator[str]:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    port = _free_port()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete,
        args=(serve(app, config, shutdown_trigger=stop.wait),),
        daemon=True,
    )
    thread.start()
    try:
        deadline = time.monotonic() + START_DEADLINE
        while True:
            assert thread.is_alive(), "hypercorn stopped while starting"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "hypercorn did not start"
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()
