"""GeofenceWSGIMiddleware's WSGI side: the environ, raw request targets, start_response.

The shared HTTP behaviour is table-driven in test_enforcement.py; here the middleware is called
as a WSGI server calls it, with environ dicts.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from geofence.wsgi import GeofenceWSGIMiddleware

CN, US = "1.0.1.1", "8.8.8.8"
POLICY: dict[str, Any] = {
    "name": "regions",
    "rules": [
        {"name": "embargo", "action": "deny", "countries": ["CN"]},
        {"name": "supported", "action": "allow", "countries": ["US"]},
    ],
}


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    return [environ["geofence.decision"].action.value.encode()]


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, headers))
        return lambda data: None

    body = b"".join(app(environ, start_response))
    return started[0][0], started[0][1], body


def _environ(peer: str, path: str = "/", **extra: Any) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "REMOTE_ADDR": peer,
        "SERVER_NAME": "api.test",
        "SERVER_PORT": "80",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        **extra,
    }


def test_decision_is_published_in_the_environ() -> None:
    environ = _environ(US)
    status, _, body = _call(GeofenceWSGIMiddleware(_app, policy=POLICY), environ)
    assert (status, body) == ("200 OK", b"allow")
    assert environ["geofence.decision"].country == "US"
    assert "geofence.exempt" not in environ


def test_denied_gets_451_with_its_reason_phrase() -> None:
    status, headers, body = _call(GeofenceWSGIMiddleware(_app, policy=POLICY), _environ(CN))
    assert status == "451 Unavailable For Legal Reasons"
    assert ("cache-control", "no-store") in headers
    assert json.loads(body)["rule"] == "embargo"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ({}, "200 OK"),  # the server gives no raw target: the decoded path decides
        ({"REQUEST_URI": "/health"}, "200 OK"),
        ({"REQUEST_URI": "/health?verbose=1"}, "200 OK"),
        ({"RAW_URI": "/health"}, "200 OK"),
        ({"REQUEST_URI": "/%68ealth"}, "451 Unavailable For Legal Reasons"),
        ({"RAW_URI": "/h%65alth"}, "451 Unavailable For Legal Reasons"),
        ({"REQUEST_URI": "http://api.test/health"}, "451 Unavailable For Legal Reasons"),
    ],
)
def test_exempt_only_when_the_raw_target_is_plain(raw: dict[str, str], status: str) -> None:
    app = GeofenceWSGIMiddleware(_app, policy=POLICY, exempt_paths=["/health"])
    environ = _environ(CN, "/health", **raw)
    assert _call(app, environ)[0] == status
    assert environ.get("geofence.exempt", False) is (status == "200 OK")


def test_script_name_is_part_of_the_path() -> None:
    app = GeofenceWSGIMiddleware(_app, policy=POLICY, routes={"/api/admin": {
        "name": "admin", "default": "allow", "unknown": "allow", "rules": [],
    }})  # fmt: skip
    mounted = _environ(CN, "/admin/users", SCRIPT_NAME="/api")
    assert _call(app, mounted)[0] == "200 OK"
    assert _call(app, _environ(CN, "/admin/users"))[0].startswith("451")


def test_debug_header_keeps_exc_info() -> None:
    seen: list[Any] = []

    def failing(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        try:
            raise ValueError("boom")
        except ValueError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        return [b"error page"]

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.append((status, headers, exc_info))
        return lambda data: None

    app = GeofenceWSGIMiddleware(failing, policy=POLICY, debug_header="X-Geofence")
    app(_environ(US), start_response)
    status, headers, exc_info = seen[0]
    assert status == "500 Internal Server Error"
    assert headers[0][0] == "x-geofence"
    assert headers[0][1].startswith("allow; rule=supported;")
    assert exc_info[0] is ValueError


@pytest.mark.parametrize(
    "odd",
    [
        {"REMOTE_ADDR": ""},
        {"REMOTE_ADDR": None},
        {"REMOTE_ADDR": "not-an-ip"},
        {"PATH_INFO": "/\udcff\udcfe"},
        {"PATH_INFO": None, "REQUEST_METHOD": 7},
        {"HTTP_X_FORWARDED_FOR": "\x00\xff garbage"},
        {"REQUEST_URI": b"/health"},
    ],
)
def test_malformed_environs_get_a_decision_never_an_error(odd: dict[str, Any]) -> None:
    app = GeofenceWSGIMiddleware(
        _app, policy=POLICY, trusted_proxies=["loopback"], exempt_paths=["/health"]
    )
    environ = _environ("127.0.0.1")
    environ.update(odd)
    assert _call(app, environ)[0].startswith("451")


def test_headers_are_converted_only_when_something_reads_them() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"ok"]

    def on_deny(decision: Any, request: Any) -> Any:
        raise AssertionError("not called here")

    assert not GeofenceWSGIMiddleware(app, policy=POLICY).enforcement.needs_headers
    trusting = GeofenceWSGIMiddleware(app, policy=POLICY, trusted_proxies=["loopback"])
    assert trusting.enforcement.needs_headers
    hooked = GeofenceWSGIMiddleware(app, policy=POLICY, on_deny=on_deny)
    assert hooked.enforcement.needs_headers
    # Without a trusted proxy a forwarding header changes nothing, converted or not.
    environ = {"REMOTE_ADDR": "1.0.1.1", "PATH_INFO": "/", "HTTP_X_FORWARDED_FOR": "8.8.8.8"}
    captured: list[str] = []
    GeofenceWSGIMiddleware(app, policy=POLICY)(environ, lambda s, h, e=None: captured.append(s))
    assert environ["geofence.decision"].ip == "1.0.1.1"
