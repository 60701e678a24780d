"""GeofenceMiddleware's ASGI side: WebSockets, lifespan, scope state, raw paths, odd scopes.

The shared HTTP behaviour is table-driven in test_enforcement.py. Here the middleware is driven
with ASGI messages through queues (the protocol itself), httpx.ASGITransport, and Starlette.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from geofence import Geofence
from geofence.asgi import GeofenceMiddleware

CN, US = "1.0.1.1", "8.8.8.8"
POLICY: dict[str, Any] = {
    "name": "regions",
    "rules": [
        {"name": "embargo", "action": "deny", "countries": ["CN"]},
        {"name": "supported", "action": "allow", "countries": ["US"]},
    ],
}


async def _endpoint(request: StarletteRequest) -> PlainTextResponse:
    decision = request.state.geofence
    return PlainTextResponse(f"{decision.action.value} {decision.country}")


async def _echo(websocket: WebSocket) -> None:
    await websocket.accept()
    text = await websocket.receive_text()
    await websocket.send_text(f"{text} from {websocket.state.geofence.country}")
    await websocket.close()


ROUTES = [Route("/", _endpoint), Route("/health", _endpoint), WebSocketRoute("/ws", _echo)]


def _starlette(**options: Any) -> GeofenceMiddleware:
    return GeofenceMiddleware(Starlette(routes=ROUTES), policy=POLICY, **options)


async def _drive(
    app: Any, scope: dict[str, Any], incoming: list[dict[str, Any]], sent: list[Any] | None = None
) -> list[Any]:
    """Run ``app`` on ``scope``, feeding ``incoming`` messages; returns what it sent."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for message in incoming:
        queue.put_nowait(message)
    sent = [] if sent is None else sent

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, queue.get, send), timeout=5)
    return sent


def _ws_scope(client: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "headers": [(b"host", b"api.test")],
        "client": (client, 50000),
        "server": ("127.0.0.1", 8000),
        "subprotocols": [],
        **extra,
    }


def test_starlette_request_state_sees_the_decision() -> None:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(_starlette(), client=(US, 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            return await client.get("/")

    response = asyncio.run(run())
    assert (response.status_code, response.text) == (200, "allow US")


def test_percent_encoded_exempt_path_is_not_exempt() -> None:
    async def run(path: str) -> int:
        transport = httpx.ASGITransport(_starlette(exempt_paths=["/health"]), client=(CN, 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            return (await client.get(path)).status_code

    # The app would serve both at /health; only the plain spelling is exempt.
    assert asyncio.run(run("/health")) == 200
    assert asyncio.run(run("/%68ealth")) == 451


def test_denied_websocket_is_closed_before_accept_with_1008() -> None:
    connect = [{"type": "websocket.connect"}]
    sent = asyncio.run(_drive(_starlette(), _ws_scope(CN), connect))
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "geofence: deny (embargo)"}]


def test_allowed_websocket_reaches_the_app() -> None:
    incoming = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hi"},
        {"type": "websocket.disconnect", "code": 1000},
    ]
    sent = asyncio.run(_drive(_starlette(), _ws_scope(US), incoming))
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[1]["text"] == "hi from US"


def test_denied_websocket_gets_the_http_denial_response_where_offered() -> None:
    scope = _ws_scope(CN, extensions={"websocket.http.response": {}})
    app = _starlette(websocket_denial_response=True)
    sent = asyncio.run(_drive(app, scope, [{"type": "websocket.connect"}]))
    assert [m["type"] for m in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert sent[0]["status"] == 451
    assert (b"content-type", b"application/problem+json") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["rule"] == "embargo"
    # Without the extension the same option falls back to the close.
    sent = asyncio.run(_drive(app, _ws_scope(CN), [{"type": "websocket.connect"}]))
    assert sent[0]["type"] == "websocket.close"


def test_websocket_that_leaves_before_the_handshake_gets_nothing() -> None:
    gone = [{"type": "websocket.disconnect", "code": 1001}]
    assert asyncio.run(_drive(_starlette(), _ws_scope(CN), gone)) == []


def test_scope_state_is_created_or_kept() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = GeofenceMiddleware(app, policy=POLICY)
    bare = {"type": "http", "method": "GET", "path": "/", "headers": [], "client": (US, 1)}
    kept = {**bare, "state": {"db": "pool"}}
    asyncio.run(_drive(middleware, bare, []))
    asyncio.run(_drive(middleware, kept, []))
    assert bare["state"]["geofence"].country == "US"
    assert kept["state"]["db"] == "pool"
    assert kept["state"]["geofence"].country == "US"


ODD_SCOPES: list[dict[str, Any]] = [
    {"headers": [(b"x-forwarded-for", b"\xff\xfe\x00garbage")]},
    {"headers": [(b"x-forwarded-for", "8.8.8.8")]},  # a str, where bytes belong
    {"headers": "x-forwarded-for: 8.8.8.8"},
    {"headers": [(b"x-forwarded-for",)]},
    {"client": None},
    {"client": ("not an address", 1)},
    {"client": ["127.0.0.1"]},
    {"path": None, "method": 7},
]


@pytest.mark.parametrize("odd", ODD_SCOPES)
def test_malformed_scopes_get_a_decision_never_an_error(odd: dict[str, Any]) -> None:
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "client": (CN, 1)}
    scope.update(odd)
    app = GeofenceMiddleware(Starlette(routes=ROUTES), policy=POLICY, trusted_proxies=["loopback"])
    sent = asyncio.run(_drive(app, scope, [{"type": "http.request", "body": b""}]))
    assert sent[0]["status"] == 451  # CN, or unknown: both are denied by this policy


class _Refreshing(Geofence):
    """A Geofence with background work, as a reputation refresher adds it."""

    events: list[str]

    async def astart(self) -> None:
        self.events.append("geofence start")

    async def astop(self) -> None:
        self.events.append("geofence stop")


class _SyncRefreshing(Geofence):
    """Background work with only synchronous hooks: the middleware runs them from lifespan."""

    events: list[str]
    astart = None  # type: ignore[assignment]
    astop = None  # type: ignore[assignment]

    def start(self) -> None:
        self.events.append("geofence start")

    def stop(self) -> None:
        self.events.append("geofence stop")


LIFESPAN = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]


def _app_with_lifespan(events: list[str]) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("app start")
        yield
        events.append("app stop")

    return Starlette(routes=ROUTES, lifespan=lifespan)


@pytest.mark.parametrize("kind", [_Refreshing, _SyncRefreshing])
def test_lifespan_starts_and_stops_the_geofence_around_the_app(kind: Any) -> None:
    events: list[str] = []
    gf = kind(POLICY)
    gf.events = events
    app = GeofenceMiddleware(_app_with_lifespan(events), geofence=gf)
    sent = asyncio.run(_drive(app, {"type": "lifespan", "state": {}}, LIFESPAN))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert events == ["geofence start", "app start", "app stop", "geofence stop"]


def test_lifespan_passes_through_without_background_work() -> None:
    events: list[str] = []
    app = GeofenceMiddleware(_app_with_lifespan(events), policy=POLICY)
    sent = asyncio.run(_drive(app, {"type": "lifespan", "state": {}}, LIFESPAN))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert events == ["app start", "app stop"]


def test_a_failed_app_startup_stops_the_geofence() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield  # pragma: no cover

    gf = _Refreshing(POLICY)
    gf.events = events
    app = GeofenceMiddleware(Starlette(lifespan=lifespan), geofence=gf)
    sent: list[Any] = []
    with pytest.raises(RuntimeError, match="no database"):
        asyncio.run(_drive(app, {"type": "lifespan", "state": {}}, LIFESPAN, sent))
    assert [m["type"] for m in sent] == ["lifespan.startup.failed"]
    assert events == ["geofence start", "geofence stop"]


def test_the_middleware_needs_no_framework() -> None:
    code = (
        "import sys, geofence.asgi, geofence.wsgi\n"
        "frameworks = ('starlette', 'fastapi', 'flask', 'django', 'werkzeug', 'uvicorn')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in frameworks))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_feeds_option_reaches_the_engine() -> None:
    # 185.220.101.5 is a Tor exit range in the embedded snapshot, in Germany (allowed by country).
    policy = {
        "name": "no-tor",
        "default": "allow",
        "rules": [{"name": "tor", "action": "deny", "tags": ["tor"]}],
    }

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await PlainTextResponse("ok")(scope, receive, send)

    middleware = GeofenceMiddleware(app, policy=policy, feeds="embedded")
    assert middleware.geofence.feeds is not None

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=middleware, client=("185.220.101.5", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/")

    response = asyncio.run(get())
    assert response.status_code == 451
    assert response.json()["rule"] == "tor"
    middleware.geofence.close()
