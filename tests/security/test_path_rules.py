"""Path rules judge exactly the path the application routes.

An ASGI ``path`` or a WSGI ``PATH_INFO`` never carries the query: a ``?`` in it is a literal
path character (sent as ``%3F``), so cutting the path at ``?`` would let ``/v1/models/gpt%3F/...``
past a rule written for ``/v1/models/*/...`` (and past an ``unless: paths`` the other way round).
Driven through Starlette over ``httpx.ASGITransport``, a real uvicorn and Flask's test client.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from geofence import Geofence, Request
from geofence.asgi import GeofenceMiddleware
from geofence.replay import parse_line
from geofence.wsgi import GeofenceWSGIMiddleware

from ..servers import uvicorn_server

US = "8.8.8.8"
POLICY: dict[str, Any] = {
    "name": "fine-tune-embargo",
    "default": "allow",
    "unknown": "deny",
    "rules": [
        {"name": "no-fine-tune", "action": "deny", "countries": ["US"],
         "paths": ["/v1/models/*/fine-tune"]},
    ],
}  # fmt: skip
UNLESS: dict[str, Any] = {
    "name": "docs-only",
    "default": "allow",
    "unknown": "deny",
    "rules": [
        {"name": "docs-only", "action": "deny", "countries": ["US"],
         "unless": {"paths": ["/docs"]}},
    ],
}  # fmt: skip
ENCODED = "/v1/models/gpt%3F/fine-tune"  # the model name is "gpt?"
ROUTED = "/v1/models/gpt?/fine-tune"


async def _model(request: StarletteRequest) -> PlainTextResponse:
    return PlainTextResponse(request.path_params["model"])


async def _docs(request: StarletteRequest) -> PlainTextResponse:
    return PlainTextResponse("docs")


def _starlette() -> Starlette:
    return Starlette(
        routes=[
            Route("/v1/models/{model}/fine-tune", _model),
            Route("/{page:path}", _docs),
        ]
    )


def test_evaluate_does_not_cut_the_routed_path_at_a_question_mark() -> None:
    assert Geofence(POLICY).evaluate(Request(ip=US, path=ROUTED)).rule == "no-fine-tune"
    unless = Geofence(UNLESS)
    assert unless.evaluate(Request(ip=US, path="/docs")).allowed  # the exemption itself
    assert unless.evaluate(Request(ip=US, path="/docs?x")).rule == "docs-only"  # not "/docs"


def test_an_encoded_question_mark_does_not_escape_a_path_rule_through_starlette() -> None:
    async def status(policy: dict[str, Any], target: str) -> int:
        app = GeofenceMiddleware(_starlette(), policy=policy)
        transport = httpx.ASGITransport(app, client=(US, 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            return (await client.get(target)).status_code

    assert asyncio.run(status(POLICY, ENCODED)) == 451
    assert asyncio.run(status(UNLESS, "/docs%3Fx")) == 451
    assert asyncio.run(status(UNLESS, "/docs")) == 200


def test_an_encoded_question_mark_does_not_escape_a_path_rule_through_real_uvicorn() -> None:
    for policy, target in ((POLICY, ENCODED), (UNLESS, "/docs%3Fx")):
        app = GeofenceMiddleware(_starlette(), policy=policy, trusted_proxies=["loopback"])
        with (
            uvicorn_server(app) as host,
            httpx.Client(base_url=f"http://{host}", headers={"x-forwarded-for": US}) as client,
        ):
            assert client.get(target).status_code == 451, target


def test_an_encoded_question_mark_does_not_escape_a_path_rule_through_flask() -> None:
    flask_app = Flask(__name__)

    @flask_app.route("/v1/models/<model>/fine-tune")
    def model(model: str) -> str:
        return model

    flask_app.wsgi_app = GeofenceWSGIMiddleware(flask_app.wsgi_app, policy=POLICY)  # type: ignore[method-assign]
    client = flask_app.test_client()
    response = client.get(ENCODED, environ_base={"REMOTE_ADDR": US})
    assert response.status_code == 451


@pytest.mark.parametrize(
    ("line", "path"),
    [
        (f'8.8.8.8 - - [01/Jun/2026:00:00:01 +0000] "GET {ENCODED}?x=1 HTTP/1.1" 200 5', ROUTED),
        ('{"ip": "8.8.8.8", "path": "/v1/%61dmin?debug=1"}', "/v1/admin"),
    ],
)
def test_replay_judges_the_path_the_application_would_route(line: str, path: str) -> None:
    entry = parse_line(line)
    assert entry is not None
    assert entry.path == path
