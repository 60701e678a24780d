"""Middleware target of issue 4, as ratios measured in one run.

    python -m benchmarks.middleware [--seconds S] [--rounds R] [--connections C]

Requests per second of a minimal app served on 127.0.0.1, with the geofence middleware (the
embedded data and example policy; the loopback client is a cached address) against the same app
without it (target: at least 0.9):

- ASGI: a one-route Starlette app under uvicorn;
- WSGI: a bare WSGI callable under gunicorn (gthread worker, keep-alive) when it is installed,
  else under wsgiref's server.

Each server runs in its own process; the load comes from ``wrk`` when it is on PATH (apt-get
install wrk), else from an asyncio keep-alive client in another process. With ``taskset`` the
server and the load generator are pinned to different cores. Bare and geofenced rounds alternate,
and the medians are compared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

from geofence.embedded import example_policy_path

POLICY = str(example_policy_path())


# -- the applications (built in the server process) --------------------------------------------


def asgi_bare() -> Any:
    """A one-route Starlette app."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/", home)])


def asgi_geofenced() -> Any:
    """The same app behind GeofenceMiddleware."""
    from geofence.asgi import GeofenceMiddleware

    return GeofenceMiddleware(asgi_bare(), policy=POLICY)


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("content-type", "text/plain"), ("content-length", "2")])
    return [b"ok"]


def wsgi_bare() -> Any:
    """A bare WSGI callable."""
    return _wsgi_app


def wsgi_geofenced() -> Any:
    """The same callable behind GeofenceWSGIMiddleware."""
    from geofence.wsgi import GeofenceWSGIMiddleware

    return GeofenceWSGIMiddleware(_wsgi_app, policy=POLICY)


# -- servers -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and os.cpu_count() else []


def _wsgi_server() -> str:
    return "gunicorn" if importlib.util.find_spec("gunicorn") else "wsgiref"


def _server_command(kind: str, factory: str, port: int) -> list[str]:
    target = f"benchmarks.middleware:{factory}"
    if kind == "asgi":
        return [
            sys.executable, "-m", "uvicorn", "--factory", target, "--port", str(port),
            "--host", "127.0.0.1", "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
    if _wsgi_server() == "gunicorn":
        return [
            sys.executable, "-m", "gunicorn", f"{target}()", "--bind", f"127.0.0.1:{port}",
            "--worker-class", "gthread", "--threads", "4", "--workers", "1",
            "--keep-alive", "30", "--log-level", "warning",
        ]  # fmt: skip
    return [sys.executable, "-m", "benchmarks.middleware", "--serve-wsgiref", factory, str(port)]


@contextlib.contextmanager
def _serving(kind: str, factory: str) -> Iterator[int]:
    port = _free_port()
    command = [*_pin(0), *_server_command(kind, factory, port)]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL) as process:
        try:
            deadline = time.monotonic() + 20
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{' '.join(command)} did not start")
                time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait(10)


def _serve_wsgiref(factory: str, port: int) -> None:
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    with make_server("127.0.0.1", port, globals()[factory](), handler_class=Quiet) as server:
        server.serve_forever()


# -- load --------------------------------------------------------------------------------------


def _load(port: int, seconds: float, connections: int) -> float:
    """Requests per second sustained against 127.0.0.1:port/."""
    if shutil.which("wrk"):
        command = [
            *_pin(1), "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            f"http://127.0.0.1:{port}/",
        ]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        found = re.search(r"Requests/sec:\s*([\d.]+)", out)
        if found is None or "Non-2xx" in out:
            raise RuntimeError(f"unexpected wrk output:\n{out}")
        return float(found.group(1))
    command = [
        *_pin(1), sys.executable, "-m", "benchmarks.middleware", "--client",
        str(port), str(seconds), str(connections),
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return float(out)


_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def _client(port: int, seconds: float, connections: int) -> float:
    """An asyncio keep-alive client: ``connections`` loops, reconnecting when a server closes."""
    deadline = time.monotonic() + seconds
    done = [0]

    async def one() -> None:
        while time.monotonic() < deadline:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                while time.monotonic() < deadline:
                    writer.write(_REQUEST)
                    head = await reader.readuntil(b"\r\n\r\n")
                    if not head.startswith(b"HTTP/1.1 200") and not head.startswith(
                        b"HTTP/1.0 200"
                    ):
                        raise RuntimeError(head.decode("latin-1"))
                    length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                    await reader.readexactly(int(length.group(1)) if length else 0)
                    done[0] += 1
                    if re.search(rb"(?i)connection:\s*close", head) or head.startswith(b"HTTP/1.0"):
                        break
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

    start = time.monotonic()
    await asyncio.gather(*(one() for _ in range(connections)))
    return done[0] / (time.monotonic() - start)


# -- the run -----------------------------------------------------------------------------------


def measure(kind: str, seconds: float, rounds: int, connections: int) -> dict[str, Any]:
    """Median requests/second of the bare and the geofenced app, alternating rounds."""
    samples: dict[str, list[float]] = {"bare": [], "geofenced": []}
    for _ in range(rounds):
        for variant in samples:
            with _serving(kind, f"{kind}_{variant}") as port:
                _load(port, 1, connections)  # warm up: imports, caches, the JIT-less interpreter
                samples[variant].append(_load(port, seconds, connections))
    bare = statistics.median(samples["bare"])
    geofenced = statistics.median(samples["geofenced"])
    return {
        "server": "uvicorn" if kind == "asgi" else _wsgi_server(),
        "bare_rps": round(bare),
        "geofenced_rps": round(geofenced),
        "ratio": round(geofenced / bare, 3),
        "target": ">= 0.9",
        "samples": {k: [round(v) for v in vs] for k, vs in samples.items()},
    }


def main(argv: list[str] | None = None) -> int:
    """Print the ASGI and WSGI ratios as JSON."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--serve-wsgiref"]:
        _serve_wsgiref(args[1], int(args[2]))
        return 0
    if args[:1] == ["--client"]:
        print(asyncio.run(_client(int(args[1]), float(args[2]), int(args[3]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", choices=["asgi", "wsgi"])
    options = parser.parse_args(args)
    kinds = [options.only] if options.only else ["asgi", "wsgi"]
    report = {
        "load": "wrk" if shutil.which("wrk") else "asyncio client",
        **{k: measure(k, options.seconds, options.rounds, options.connections) for k in kinds},
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
