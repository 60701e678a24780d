"""What a client sees when geofence stops a WebSocket handshake, under real uvicorn and hypercorn.

With the server offering the ``websocket.http.response`` extension (both do), the client gets
the 451 problem response, and the server logs no error; with ``websocket_denial_response=False``
the close before accept reaches it as a bare HTTP 403.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from geofence.asgi import GeofenceMiddleware
from tests.servers import LogRecords, answer_lifespan, hypercorn_server, uvicorn_server

US, CN = "8.8.8.8", "1.0.1.1"
POLICY = {
    "name": "ws",
    "default": "allow",
    "rules": [{"name": "embargoed", "action": "deny", "countries": ["CN"]}],
}


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await answer_lifespan(receive, send)
        return
    assert scope["type"] == "websocket"
    await receive()
    await send({"type": "websocket.accept"})
    country = scope["state"]["geofence"].country
    await send({"type": "websocket.send", "text": f"hello from {country}"})
    await send({"type": "websocket.close", "code": 1000})


def _app(**options: Any) -> GeofenceMiddleware:
    return GeofenceMiddleware(_echo, policy=POLICY, trusted_proxies=["loopback"], **options)


Server = Callable[[Any], AbstractContextManager[str]]
SERVERS: dict[str, Server] = {
    "uvicorn-websockets-sansio": lambda app: uvicorn_server(app, "websockets-sansio"),
    "uvicorn-wsproto": lambda app: uvicorn_server(app, "wsproto"),
    "hypercorn": hypercorn_server,
}
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "hypercorn.error", "asyncio")


def _refused(address: str) -> InvalidStatus:
    url = f"ws://{address}/ws"
    with connect(url, additional_headers={"x-forwarded-for": US}, open_timeout=30) as ws:
        assert ws.recv(timeout=30) == "hello from US"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, additional_headers={"x-forwarded-for": CN}, open_timeout=30)
    return refused.value


@pytest.mark.parametrize("server", SERVERS)
def test_denied_handshake_gets_451_problem_and_the_server_logs_no_error(server: str) -> None:
    with LogRecords(*SERVER_LOGGERS) as logs, SERVERS[server](_app()) as address:
        refused = _refused(address)
    response = refused.response
    assert response.status_code == 451
    assert response.headers["content-type"] == "application/problem+json"
    assert json.loads(bytes(response.body or b""))["rule"] == "embargoed"
    assert logs.errors() == []


@pytest.mark.parametrize("server", SERVERS)
def test_without_the_denial_response_the_close_reaches_the_client_as_403(server: str) -> None:
    with (
        LogRecords(*SERVER_LOGGERS) as logs,
        SERVERS[server](_app(websocket_denial_response=False)) as address,
    ):
        refused = _refused(address)
    assert refused.response.status_code == 403
    assert logs.errors() == []
