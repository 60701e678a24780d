"""FastAPI integration: ``GeofenceDependency`` for ``Depends``, a policy per route or router.

    from fastapi import Depends, FastAPI
    from geofence.fastapi import GeofenceDependency, add_problem_handler

    app = FastAPI()
    add_problem_handler(app)                       # blocked requests get the problem+json body
    supported = GeofenceDependency(policy="policy.yaml", trusted_proxies=["private"])

    @app.post("/v1/messages")
    async def messages(decision: Decision = Depends(supported)): ...

    admin = APIRouter(dependencies=[Depends(GeofenceDependency(policy="admin.yaml"))])

The dependency decides the request with ``aevaluate``, puts the decision on
``request.state.geofence`` and returns it; a request that is not allowed raises
``GeofenceBlocked`` (an ``HTTPException``) with the decision's status (451, or 403 for a
challenge) and headers; on a WebSocket route it closes the handshake with 1008, which the
client sees as HTTP 403 (``geofence.asgi.GeofenceMiddleware`` sends the 451 response
instead). With ``add_problem_handler(app)`` its body is the RFC 9457 problem
document; without it FastAPI's default ``{"detail": {...problem...}}``. Takes the Geofence
arguments, the middleware options and ``identify`` (see ``geofence.identify``; may be async;
its two-argument form gets Starlette's ``Request`` too).
Needs the ``fastapi`` extra.
"""

from __future__ import annotations

import json
from typing import Any

from geofence.decision import Decision
from geofence.enforcement import BlockResponse, Enforcement
from geofence.engine import Geofence
from geofence.frameworks import require
from geofence.identify import IdentifyCallable
from geofence.policy import PolicySource
from geofence.request import Request

require("fastapi", "fastapi")

from fastapi import FastAPI, HTTPException, WebSocketException  # noqa: E402
from fastapi import Request as FastAPIRequest  # noqa: E402
from fastapi.responses import Response  # noqa: E402
from starlette.requests import HTTPConnection  # noqa: E402

_POLICY_VIOLATION = 1008  # RFC 6455 section 7.4.1

__all__ = ["GeofenceBlocked", "GeofenceDependency", "add_problem_handler"]


class GeofenceBlocked(HTTPException):
    """A request geofence stopped: ``status_code``, ``headers``, ``detail`` (the problem
    document as a dict), ``response`` (the exact block response) and ``decision``."""

    def __init__(self, response: BlockResponse, decision: Decision) -> None:
        detail: Any = json.loads(response.body) if response.body else None
        headers = {k: v for k, v in response.headers if k.lower() != "content-type"}
        super().__init__(status_code=response.status, detail=detail, headers=headers)
        self.response = response
        self.decision = decision


class GeofenceDependency:
    """``Depends(GeofenceDependency(policy=...))``: the Decision, or ``GeofenceBlocked``."""

    def __init__(
        self,
        policy: PolicySource | None = None,
        *,
        geofence: Geofence | None = None,
        identify: IdentifyCallable | None = None,
        **options: Any,
    ) -> None:
        if policy is not None:
            options["policy"] = policy
        if identify is not None:
            options["identify"] = identify
        self.enforcement = Enforcement("GeofenceDependency", geofence, options, asynchronous=True)
        self.geofence = self.enforcement.geofence

    async def __call__(self, request: HTTPConnection) -> Decision:
        scope = request.scope
        req = Request.from_asgi(scope, headers=self.enforcement.needs_headers)
        outcome = await self.enforcement.acheck(req, scope.get("raw_path"), request)
        decision = outcome.decision
        request.state.geofence = decision
        if outcome.block is None:
            return decision
        if scope["type"] == "websocket":  # closed before accept: the client sees HTTP 403
            rule = decision.rule or "-"
            raise WebSocketException(
                _POLICY_VIOLATION, f"geofence: {decision.action.value} ({rule})"
            )
        raise GeofenceBlocked(outcome.block, decision)


async def _problem_response(request: FastAPIRequest, exc: Exception) -> Response:
    assert isinstance(exc, GeofenceBlocked)
    block = exc.response
    return Response(block.body, status_code=block.status, headers=dict(block.headers))


def add_problem_handler(app: FastAPI) -> None:
    """Answer ``GeofenceBlocked`` with the exact block response (problem+json body)."""
    app.add_exception_handler(GeofenceBlocked, _problem_response)
