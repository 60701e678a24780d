"""FastAPI behind a local reverse proxy: ``uvicorn examples.fastapi_app:app``.

Routes opt in with ``Depends(GeofenceDependency(...))``: ``/`` and ``/ws`` under
examples/policy.yaml, ``/admin`` under a stricter policy, ``/health`` under none. A denied
WebSocket is closed before accept (the client sees HTTP 403); ``geofence.asgi``'s middleware
answers it with the 451 response instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, WebSocket

from geofence import Decision
from geofence.fastapi import GeofenceDependency, add_problem_handler

POLICY = Path(__file__).with_name("policy.yaml")
ADMIN_POLICY = {
    "name": "admin",
    "default": "deny",
    "rules": [{"name": "office", "action": "allow", "networks": ["203.0.113.0/24"]}],
}

supported = GeofenceDependency(policy=POLICY, trusted_proxies=["loopback"])
office_only = GeofenceDependency(geofence=supported.geofence.with_policy(ADMIN_POLICY))
Supported = Annotated[Decision, Depends(supported)]  # the route's Decision, or 451/403
OfficeOnly = Annotated[Decision, Depends(office_only)]

app = FastAPI()
add_problem_handler(app)  # blocked requests get the RFC 9457 problem+json body


@app.get("/")
async def home(decision: Supported) -> dict[str, Any]:
    return {"country": decision.country, "rule": decision.rule}


@app.get("/admin")
async def admin(decision: OfficeOnly) -> dict[str, Any]:
    return {"rule": decision.rule}


@app.get("/health")
async def health() -> str:
    return "ok"


@app.websocket("/ws")
async def echo(websocket: WebSocket, decision: Supported) -> None:
    await websocket.accept()
    await websocket.send_text(f"hello from {decision.country}")
    await websocket.close()
