"""geofence.fastapi through httpx.ASGITransport (Starlette's TestClient now warns that it wants
another httpx); served by real uvicorn, WebSocket included, in tests/test_examples.py."""

# No `from __future__ import annotations`: FastAPI reads the route signatures at run time,
# and the dependencies here are local names.
import asyncio
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request, WebSocket

from geofence import Decision
from geofence.enforcement import BlockResponse
from geofence.errors import ConfigurationError, PolicyError
from geofence.fastapi import GeofenceBlocked, GeofenceDependency, add_problem_handler
from geofence.request import Request as GeofenceRequest

US, CN = "8.8.8.8", "1.0.1.1"
POLICY = {
    "name": "api",
    "default": "deny",
    "rules": [
        {"name": "gate", "action": "challenge", "countries": ["BR"]},
        {"name": "supported", "action": "allow", "countries": ["US"]},
    ],
}
BR = "177.67.80.1"


def _app(dependency: GeofenceDependency, problem_handler: bool = True) -> FastAPI:
    app = FastAPI()
    if problem_handler:
        add_problem_handler(app)
    Guarded = Annotated[Decision, Depends(dependency)]

    @app.get("/")
    async def home(decision: Guarded, request: Request) -> dict[str, Any]:
        assert request.state.geofence is decision
        return {"country": decision.country, "rule": decision.rule}

    @app.get("/open")
    async def open_route() -> str:
        return "no dependency, no decision"

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, decision: Guarded) -> None:
        await websocket.accept()
        await websocket.send_text(str(decision.country))
        await websocket.close()

    return app


class _Client:
    """``get`` through the app in-process, from client address ``ip``."""

    def __init__(self, app: FastAPI, ip: str) -> None:
        self.app, self.ip = app, ip

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        async def run() -> httpx.Response:
            transport = httpx.ASGITransport(self.app, client=(self.ip, 4000))
            async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as c:
                return await c.get(path, headers=headers)

        return asyncio.run(run())


def _client(app: FastAPI, ip: str) -> _Client:
    return _Client(app, ip)


def test_dependency_returns_the_decision_or_raises_the_problem_response() -> None:
    app = _app(GeofenceDependency(policy=POLICY))
    assert _client(app, US).get("/").json() == {"country": "US", "rule": "supported"}
    denied = _client(app, CN).get("/")
    assert denied.status_code == 451
    assert denied.headers["content-type"] == "application/problem+json"
    assert denied.headers["cache-control"] == "no-store"
    assert denied.json()["status"] == 451
    challenged = _client(app, BR).get("/")
    assert challenged.status_code == 403
    assert challenged.json()["rule"] == "gate"
    assert _client(app, CN).get("/open").status_code == 200  # per route: only where depended on


def test_without_the_problem_handler_fastapi_wraps_the_problem_in_detail() -> None:
    app = _app(GeofenceDependency(policy=POLICY), problem_handler=False)
    denied = _client(app, CN).get("/")
    assert denied.status_code == 451
    assert denied.json()["detail"]["status"] == 451


def test_identify_names_the_account_and_aevaluate_decides() -> None:
    seen: list[GeofenceRequest] = []

    def on_deny(decision: Decision, req: GeofenceRequest) -> BlockResponse:
        seen.append(req)
        return BlockResponse(451, (("content-type", "application/problem+json"),), b"{}")

    dependency = GeofenceDependency(
        policy=POLICY, identify=lambda r: dict(r.headers).get("x-account"), on_deny=on_deny
    )
    _client(_app(dependency), CN).get("/", headers={"x-account": "acct-9"})
    assert [r.account for r in seen] == ["acct-9"]


def test_an_async_identify_gives_the_caller_fields_and_a_broken_one_never_allows() -> None:
    decisions: list[Decision] = []

    async def identify(request: GeofenceRequest, native: Request) -> Any:
        account = native.headers.get("x-account")
        if account == "broken":
            raise ConnectionError("user database down")
        return {"account": account, "declared_country": "DE"} if account else None

    dependency = GeofenceDependency(policy=POLICY, identify=identify, on_decision=decisions.append)
    app = _app(dependency)
    assert _client(app, US).get("/", headers={"x-account": "acct-1"}).status_code == 200
    assert decisions[-1].signals["declared_mismatch"].value == 1.0  # declared DE, seen in US
    assert _client(app, US).get("/", headers={"x-account": "broken"}).status_code == 451
    assert decisions[-1].reasons[-1] == "identify() raised ConnectionError"
    assert _client(app, US).get("/").status_code == 200
    assert dict(decisions[-1].signals) == {}


def test_blocked_exception_carries_the_decision() -> None:
    app = FastAPI()
    caught: list[GeofenceBlocked] = []

    @app.exception_handler(GeofenceBlocked)
    async def handler(request: Request, exc: GeofenceBlocked) -> Any:
        caught.append(exc)
        from fastapi.responses import PlainTextResponse

        return PlainTextResponse("custom", status_code=exc.status_code)

    @app.get("/")
    async def home(
        decision: Annotated[Decision, Depends(GeofenceDependency(policy=POLICY))],
    ) -> str:
        return "x"

    assert _client(app, CN).get("/").text == "custom"
    assert caught[0].decision.country == "CN"


def test_bad_configuration_fails_at_construction() -> None:
    with pytest.raises(PolicyError):
        GeofenceDependency(policy={"name": "x"})
    with pytest.raises(ConfigurationError, match="identify must be a callable"):
        GeofenceDependency(policy=POLICY, identify=42)
