"""The examples in examples/, each served by a real server on 127.0.0.1.

ASGI examples run under uvicorn (HTTP and WebSocket), WSGI examples under wsgiref's server, each
in a thread on a free port. The examples trust loopback as their reverse proxy, so a client here
names itself with X-Forwarded-For (8.8.8.8 is in US and 1.0.1.1 in CN in the embedded data).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.servers import uvicorn_server, wsgiref_server

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
US, CN = "8.8.8.8", "1.0.1.1"


def _load(name: str) -> ModuleType:
    """Import examples/<name>.py once (Django's settings can be configured only once)."""
    module_name = f"geofence_examples_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


# Django's settings are process-wide (and other tests configure them), so the Django example is
# served by wsgiref in a process of its own.
_SERVE_IN_PROCESS = """
import importlib.util, sys
from wsgiref.simple_server import WSGIRequestHandler, make_server
class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass
spec = importlib.util.spec_from_file_location("example", sys.argv[1])
module = sys.modules["example"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
server = make_server("127.0.0.1", 0, getattr(module, sys.argv[2]), handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
"""


@contextmanager
def _wsgiref_process(name: str, attribute: str) -> Iterator[str]:
    command = [sys.executable, "-c", _SERVE_IN_PROCESS, str(EXAMPLES / f"{name}.py"), attribute]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            port = process.stdout.readline().strip()
            assert port.isdigit(), f"the {name} server did not start"
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(10)


EXAMPLE_SERVERS = ["starlette_app", "fastapi_app", "flask_app", "django_app"]


@pytest.fixture(scope="module", params=EXAMPLE_SERVERS)
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """``(example name, host:port)`` with the example served for this module's tests."""
    name: str = request.param
    server: Any
    if name == "django_app":
        server = _wsgiref_process(name, "application")
    elif name == "flask_app":
        server = wsgiref_server(_load(name).app)
    else:
        server = uvicorn_server(_load(name).app)
    with server as address:
        yield name, address


def _get(address: str, path: str, client: str) -> httpx.Response:
    with httpx.Client(base_url=f"http://{address}", timeout=5) as http:
        return http.get(path, headers={"x-forwarded-for": client})


def test_allowed_client_reaches_the_view_with_the_decision(served: tuple[str, str]) -> None:
    response = _get(served[1], "/", US)
    assert response.status_code == 200
    assert response.json() == {"country": "US", "rule": "supported"}


def test_denied_client_gets_451_problem(served: tuple[str, str]) -> None:
    response = _get(served[1], "/", CN)
    assert response.status_code == 451
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["status"] == 451


def test_health_check_is_exempt(served: tuple[str, str]) -> None:
    assert _get(served[1], "/health", CN).status_code == 200
    if served[0] != "fastapi_app":  # FastAPI's routes opt in: /health/ is its redirect
        assert _get(served[1], "/health/", CN).status_code == 451
    if served[0] == "starlette_app":
        # uvicorn passes the raw target, so the percent-encoded spelling is not exempt;
        # wsgiref passes none, so there the decoded path is all the middleware can compare.
        assert _get(served[1], "/%68ealth", CN).status_code == 451


@pytest.mark.parametrize(("name", "denied_status"), [("starlette_app", 451), ("fastapi_app", 403)])
def test_websocket_allowed_and_denied_under_uvicorn(name: str, denied_status: int) -> None:
    with uvicorn_server(_load(name).app) as address:
        url = f"ws://{address}/ws"
        with connect(url, additional_headers={"x-forwarded-for": US}, open_timeout=5) as ws:
            assert ws.recv(timeout=5) == "hello from US"
        with pytest.raises(InvalidStatus) as refused:
            connect(url, additional_headers={"x-forwarded-for": CN}, open_timeout=5)
    # The ASGI middleware answers with the 451 through the denial-response extension; the
    # FastAPI dependency closes before accept, which reaches the client as HTTP 403.
    assert refused.value.response.status_code == denied_status


@pytest.mark.parametrize("name", ["flask_app", "fastapi_app"])
def test_a_view_with_its_own_policy(name: str) -> None:
    server = (
        wsgiref_server(_load(name).app) if name == "flask_app" else uvicorn_server(_load(name).app)
    )
    with server as address:
        assert _get(address, "/", US).status_code == 200
        denied = _get(address, "/admin", US)  # allowed country, not the office network
        assert denied.status_code == 451
        assert denied.headers["content-type"] == "application/problem+json"
        assert denied.json()["rule"] is None  # the admin policy's default, not a rule
        assert _get(address, "/admin", "203.0.113.7").json() == {"rule": "office"}
