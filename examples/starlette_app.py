"""Starlette behind a local reverse proxy: ``uvicorn examples.starlette_app:app``.

Denied clients get 451 with a problem+json body; a denied WebSocket is closed before accept.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from geofence.asgi import GeofenceMiddleware
from geofence.embedded import example_policy_path


async def home(request: Request) -> JSONResponse:
    decision = request.state.geofence
    return JSONResponse({"country": decision.country, "rule": decision.rule})


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(f"hello from {websocket.state.geofence.country}")
    await websocket.close()


app = Starlette(
    routes=[Route("/", home), Route("/health", health), WebSocketRoute("/ws", echo)],
    middleware=[
        Middleware(
            GeofenceMiddleware,
            policy=example_policy_path(),
            trusted_proxies=["loopback"],  # the reverse proxy in front of this app
            exempt_paths=["/health"],
        )
    ],
)
