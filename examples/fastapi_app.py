"""FastAPI behind a local reverse proxy: ``uvicorn examples.fastapi_app:app``.

A denied WebSocket handshake is answered with the 451 problem response where the server offers
the ASGI WebSocket denial-response extension (uvicorn does).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, WebSocket

from geofence.asgi import GeofenceMiddleware
from geofence.embedded import example_policy_path

app = FastAPI()
app.add_middleware(
    GeofenceMiddleware,
    policy=example_policy_path(),
    trusted_proxies=["loopback"],
    exempt_paths=["/health"],
    websocket_denial_response=True,
)


@app.get("/")
async def home(request: Request) -> dict[str, Any]:
    decision = request.state.geofence
    return {"country": decision.country, "rule": decision.rule}


@app.get("/health")
async def health() -> str:
    return "ok"


@app.websocket("/ws")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(f"hello from {websocket.state.geofence.country}")
    await websocket.close()
