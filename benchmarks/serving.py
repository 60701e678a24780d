"""Middleware throughput on loopback: a minimal Starlette app under uvicorn, bare, behind
``GeofenceMiddleware`` and behind fastapi-guard's ``SecurityMiddleware`` doing the same job
(deny four embargoed countries, client address from ``X-Forwarded-For`` sent by a trusted
127.0.0.1 proxy, DB-IP country data).

Each server runs in its own process on a listening socket made here (``127.0.0.1:0``); the load
comes from this process over keep-alive connections, rounds alternating between the servers so
background noise hits them alike.

    python -m benchmarks.serving serve KIND FD     # used by the harness
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.measure import Section, Sizes, have

EMBARGOED = ("CU", "IR", "KP", "SY")
POLICY: dict[str, Any] = {
    "name": "bench-embargo",
    "default": "allow",
    "unknown": "allow",
    "rules": [{"name": "embargoed", "action": "deny", "countries": list(EMBARGOED)}],
}
KINDS = ("bare", "geofence", "fastapi-guard")
_CONNECTIONS = 8


class DbipCountry:
    """fastapi-guard's ``GeoIPHandler`` protocol over the embedded DB-IP country database, so
    it needs no IPinfo download (the same data geofence reads)."""

    def __init__(self) -> None:
        import maxminddb

        from geofence.embedded import default_geo_paths

        self._reader = maxminddb.open_database(str(default_geo_paths()[0]))

    @property
    def is_initialized(self) -> bool:
        return True

    async def initialize(self) -> None:
        return None

    async def initialize_redis(self, redis_handler: object) -> None:
        return None

    async def initialize_agent(self, agent_handler: object) -> None:
        return None

    def get_country(self, ip: str) -> str | None:
        record = self._reader.get(ip)
        code = record.get("country_code") if isinstance(record, dict) else None
        return code if isinstance(code, str) else None

    async def refresh(self) -> None:
        return None

    def close(self) -> None:
        self._reader.close()


def build_app(kind: str) -> Any:
    """The minimal Starlette app, bare or behind one of the middlewares."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    async def endpoint(request: Any) -> Any:
        from starlette.responses import PlainTextResponse

        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", endpoint)])
    if kind == "geofence":
        from geofence import Geofence
        from geofence.asgi import GeofenceMiddleware

        gf = Geofence(POLICY, trusted_proxies=["loopback"], reload_interval=None)
        app.add_middleware(GeofenceMiddleware, geofence=gf)
    elif kind == "fastapi-guard":
        from guard import SecurityConfig, SecurityMiddleware

        config = SecurityConfig(
            trusted_proxies=("127.0.0.1",), geo_ip_handler=DbipCountry(),
            blocked_countries=frozenset(EMBARGOED), enable_redis=False,
            enable_rate_limiting=False, enable_ip_banning=False,
            enable_penetration_detection=False, exclude_paths=[],
            log_country_check_level=None, log_suspicious_level=None,
        )  # fmt: skip
        app.add_middleware(SecurityMiddleware, config=config)
    return app


def _serve(kind: str, fd: int) -> None:
    import uvicorn

    # The socket is adopted as it is (``fd=`` would take it for a Unix socket and lose
    # TCP_NODELAY); uvicorn's own X-Forwarded-For handling is off so that each middleware
    # resolves the client itself, from the trusted 127.0.0.1 proxy.
    sock = socket.socket(fileno=fd)
    config = uvicorn.Config(
        build_app(kind), log_level="error", access_log=False, lifespan="on", proxy_headers=False
    )
    uvicorn.Server(config).run(sockets=[sock])


async def _load(port: int, addresses: Sequence[str], seconds: float) -> tuple[int, int]:
    """Requests completed (200) and other responses in ``seconds`` over keep-alive."""
    requests = [
        f"GET / HTTP/1.1\r\nhost: bench\r\nx-forwarded-for: {a}\r\n\r\n".encode() for a in addresses
    ]
    deadline = time.perf_counter() + seconds
    counts = [0, 0]

    async def client(offset: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = offset
        try:
            while time.perf_counter() < deadline:
                writer.write(requests[i % len(requests)])
                i += 1
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                counts[0 if head.startswith(b"HTTP/1.1 200") else 1] += 1
        finally:
            writer.close()

    await asyncio.gather(*(client(k * 97) for k in range(_CONNECTIONS)))
    return counts[0], counts[1]


def _wait_ready(port: int, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"GET / HTTP/1.1\r\nhost: bench\r\n\r\n")
                if conn.recv(64).startswith(b"HTTP/1.1"):
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"server on port {port} did not answer")


def allowed_addresses(addresses: Sequence[str], count: int = 1000) -> list[str]:
    """Addresses the embargo policy allows, so every request reaches the app in every setup."""
    from geofence import Geofence

    with Geofence(POLICY, reload_interval=None) as gf:
        return [a for a in addresses if gf.evaluate(a).allowed][:count]


def throughput(sizes: Sizes, addresses: Sequence[str]) -> Section:
    """Requests per second for each setup, median of alternating rounds, as ratios to bare."""
    s = Section("middleware")
    why = have("uvicorn", "starlette")
    if why:
        s.missing("middleware throughput", why)
        return s
    kinds = list(KINDS)
    if have("guard"):
        kinds.remove("fastapi-guard")
        s.missing("fastapi-guard SecurityMiddleware", have("guard") or "")
    probe = allowed_addresses(addresses)
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for kind in kinds:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(1024)
            proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.serving", "serve", kind, str(sock.fileno())],
                pass_fds=(sock.fileno(),),
            )
            servers[kind] = (proc, sock.getsockname()[1])
            sock.close()
        samples: dict[str, list[float]] = {k: [] for k in kinds}
        bad: dict[str, int] = dict.fromkeys(kinds, 0)
        for _, port in servers.values():
            _wait_ready(port)
            asyncio.run(_load(port, probe, min(0.5, sizes.serve_seconds)))  # warm the cache
        for _ in range(sizes.serve_rounds):
            for kind in kinds:
                ok, other = asyncio.run(_load(servers[kind][1], probe, sizes.serve_seconds))
                samples[kind].append(ok / sizes.serve_seconds)
                bad[kind] += other
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)
    base = statistics.median(samples["bare"])
    s.add("bare Starlette app under uvicorn", base, "req/s")
    for kind in kinds[1:]:
        rps = statistics.median(samples[kind])
        label = "GeofenceMiddleware" if kind == "geofence" else "fastapi-guard SecurityMiddleware"
        extra: dict[str, Any] = {}
        if kind == "geofence":
            extra = {"target": ">= 0.9x", "met": rps / base >= 0.9}
        s.add(f"{label} (same app)", rps, "req/s", ratio=rps / base, against="bare app",
              note=f"{bad[kind]} non-200 responses" if bad[kind] else "", **extra)  # fmt: skip
    return s


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        _serve(sys.argv[2], int(sys.argv[3]))
    else:
        print(__doc__)
