"""Bypasses through the middleware: odd spellings of an exempt path, WebSockets, spoofed headers
and hostile header bytes.

The ASGI side is driven through ``httpx.ASGITransport`` (which passes ``raw_path``) and, for
targets httpx itself normalises (dot segments), with scopes as a server builds them; the WSGI
side with environs carrying ``REQUEST_URI`` or ``RAW_URI``. The peer is in an embargoed country
throughout, so anything but a 451 (or, on a WebSocket, a close before accept) is a bypass.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from geofence.asgi import GeofenceMiddleware
from geofence.wsgi import GeofenceWSGIMiddleware

CN, US, PROXY = "1.0.1.1", "8.8.8.8", "10.0.0.1"
POLICY: dict[str, Any] = {
    "name": "middleware-bypass",
    "default": "deny",
    "unknown": "deny",
    "rules": [
        {"name": "embargo", "action": "deny", "countries": ["CN"]},
        {"name": "supported", "action": "allow", "countries": ["US"]},
    ],
}
EXEMPT = "/health"

# Raw request targets that differ from the exempt path only in spelling. A server may decode
# and normalise the path it hands over, or not; either way none of these is the exempt path.
SPELLINGS: list[tuple[str, bytes]] = [
    ("percent-encoded letter", b"/%68ealth"),
    ("percent-encoded upper hex", b"/heal%74%68"),
    ("percent-encoded slash", b"%2Fhealth"),
    ("double percent-encoding", b"/%2568ealth"),
    ("encoded NUL suffix", b"/health%00"),
    ("encoded space suffix", b"/health%20"),
    ("upper case", b"/HEALTH"),
    ("mixed case", b"/Health"),
    ("trailing slash", b"/health/"),
    ("encoded trailing slash", b"/health%2f"),
    ("double leading slash", b"//health"),
    ("double slash inside", b"/health//"),
    ("dot segment", b"/./health"),
    ("dot-dot segment", b"/x/../health"),
    ("trailing dot segment", b"/health/."),
    ("encoded dot segment", b"/x/%2e%2e/health"),
    ("matrix parameter", b"/health;x=1"),
    ("empty matrix parameter", b"/health;"),
    ("absolute form", b"http://api.test/health"),
]
SPELLING_IDS = [s[0] for s in SPELLINGS]


async def _endpoint(request: StarletteRequest) -> PlainTextResponse:
    return PlainTextResponse(request.state.geofence.action.value)


async def _echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("accepted")
    await websocket.close()


def _starlette() -> Starlette:
    return Starlette(
        routes=[
            Route("/", _endpoint),
            Route(EXEMPT, _endpoint),
            WebSocketRoute("/ws", _echo),
            WebSocketRoute(EXEMPT, _echo),
        ]
    )


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    """An app that serves whatever reaches it: any 200 past the middleware is a bypass."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"served"})


def _asgi_status(app: Any, scope: dict[str, Any]) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return int(sent[0]["status"])


def _http_scope(path: str, raw: bytes, client: str = CN) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": raw,
        "query_string": b"",
        "headers": [(b"host", b"api.test")],
        "client": (client, 50000),
        "server": ("127.0.0.1", 8000),
    }


def _decoded(raw: bytes) -> str:
    """The path as a server that does not normalise hands it over (percent-decoded UTF-8)."""
    return unquote_to_bytes(raw).decode("utf-8", "surrogateescape")


# -- exempt paths -------------------------------------------------------------------------------


def test_exempt_path_spellings_are_not_exempt_through_httpx_asgi_transport() -> None:
    app = GeofenceMiddleware(_starlette(), policy=POLICY, exempt_paths=[EXEMPT])

    async def run() -> dict[bytes, int]:
        transport = httpx.ASGITransport(app, client=(CN, 1))
        statuses: dict[bytes, int] = {}
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.get("http://api.test/health?probe=1")).status_code == 200
            for _, raw in SPELLINGS:
                try:
                    url = httpx.URL("http://api.test").copy_with(raw_path=raw)
                except httpx.InvalidURL:
                    continue  # not a target httpx sends ("%2Fhealth", the absolute form)
                if url.raw_path != raw:
                    continue  # httpx normalised it (dot segments): see the scope test below
                statuses[raw] = (await client.get(url)).status_code
        return statuses

    statuses = asyncio.run(run())
    assert len(statuses) >= 14  # most spellings went over the wire as written
    assert {raw: s for raw, s in statuses.items() if s != 451} == {}


@pytest.mark.parametrize("normalising_server", [False, True], ids=["as-received", "normalised"])
@pytest.mark.parametrize(("spelling", "raw"), SPELLINGS, ids=SPELLING_IDS)
def test_exempt_path_spellings_are_not_exempt_in_asgi_scopes(
    spelling: str, raw: bytes, normalising_server: bool
) -> None:
    app = GeofenceMiddleware(_ok, policy=POLICY, exempt_paths=[EXEMPT])
    assert _asgi_status(app, _http_scope(EXEMPT, EXEMPT.encode())) == 200  # the control
    # A normalising server hands over "/health" but keeps the target in raw_path.
    path = EXEMPT if normalising_server else _decoded(raw)
    assert _asgi_status(app, _http_scope(path, raw)) == 451, spelling


def _environ(path_info: str, **extra: Any) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path_info,
        "QUERY_STRING": "",
        "REMOTE_ADDR": CN,
        "SERVER_NAME": "api.test",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        **extra,
    }


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    return [b"served"]


def _wsgi_status(app: Any, environ: dict[str, Any]) -> str:
    started: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append(status)
        return lambda data: None

    b"".join(app(environ, start_response))
    return started[0]


@pytest.mark.parametrize("raw_key", ["REQUEST_URI", "RAW_URI"])
@pytest.mark.parametrize("normalising_server", [False, True], ids=["as-received", "normalised"])
@pytest.mark.parametrize(("spelling", "raw"), SPELLINGS, ids=SPELLING_IDS)
def test_exempt_path_spellings_are_not_exempt_in_wsgi_environs(
    spelling: str, raw: bytes, normalising_server: bool, raw_key: str
) -> None:
    app = GeofenceWSGIMiddleware(_wsgi_app, policy=POLICY, exempt_paths=[EXEMPT])
    assert _wsgi_status(app, _environ(EXEMPT, **{raw_key: "/health?x=1"})) == "200 OK"
    # PEP 3333: PATH_INFO is the decoded bytes as latin-1; the raw target is passed as sent.
    path_info = EXEMPT if normalising_server else unquote_to_bytes(raw).decode("latin-1")
    environ = _environ(path_info, **{raw_key: raw.decode("latin-1")})
    assert _wsgi_status(app, environ).startswith("451"), spelling


def test_route_policies_match_the_decoded_path_so_encoding_cannot_escape_them() -> None:
    strict = {"name": "admin", "default": "deny", "rules": []}
    app = GeofenceMiddleware(_ok, policy=POLICY, routes={"/admin": strict})
    for raw in (b"/admin", b"/%61dmin", b"/admin/", b"/%61dmin/x"):
        assert _asgi_status(app, _http_scope(_decoded(raw), raw, client=US)) == 451, raw
    assert _asgi_status(app, _http_scope("/", b"/", client=US)) == 200


# -- WebSocket instead of HTTP ------------------------------------------------------------------


def _websocket(
    app: Any, target: bytes, client: str, headers: list[tuple[bytes, bytes]]
) -> list[Any]:
    """Open a WebSocket on ``app`` as a server would; returns what the app sent back."""
    path, _, query = target.partition(b"?")
    scope = {
        **_http_scope(_decoded(path), path, client),
        "type": "websocket",
        "scheme": "ws",
        "query_string": query,
        "subprotocols": [],
    }
    del scope["method"]
    scope["headers"] = [*scope["headers"], *headers]
    incoming = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hello"},
        {"type": "websocket.disconnect", "code": 1000},
    ]
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), 5))
    return sent


def _closed_before_accept(sent: list[Any]) -> bool:
    return len(sent) == 1 and sent[0]["type"] == "websocket.close" and sent[0]["code"] == 1008


@pytest.mark.parametrize("target", [b"/ws", b"/health", b"/%68ealth", b"/HEALTH", b"/ws?x=1"])
def test_a_websocket_is_closed_with_1008_before_accept(target: bytes) -> None:
    exempt = [] if target == b"/health" else [EXEMPT]  # exempt paths cover HTTP and WebSockets
    app = GeofenceMiddleware(_starlette(), policy=POLICY, exempt_paths=exempt)
    sent = _websocket(app, target, CN, [])
    assert _closed_before_accept(sent), sent
    assert "embargo" in sent[0]["reason"]


def test_a_websocket_from_an_untrusted_peer_with_spoofed_headers_is_closed() -> None:
    app = GeofenceMiddleware(_starlette(), policy=POLICY, trusted_proxies=["private"])
    spoof = [
        (b"x-forwarded-for", US.encode()),
        (b"forwarded", f"for={US}".encode()),
        (b"x-real-ip", US.encode()),
    ]
    assert _closed_before_accept(_websocket(app, b"/ws", CN, spoof))
    # The control: the same handshake from the allowed country is accepted.
    sent = _websocket(app, b"/ws", US, [])
    assert [m["type"] for m in sent][:2] == ["websocket.accept", "websocket.send"]


# -- spoofed forwarding headers through the middleware -------------------------------------------

SPOOFS: list[tuple[str, list[tuple[str, str]]]] = [
    ("x-forwarded-for", [("x-forwarded-for", US)]),
    ("x-forwarded-for chain", [("x-forwarded-for", f"{US}, {PROXY}")]),
    ("x-forwarded-for lines", [("x-forwarded-for", US), ("x-forwarded-for", PROXY)]),
    ("forwarded", [("forwarded", f"for={US}")]),
    ("forwarded quoted", [("forwarded", f'for="{US}:443";proto=https')]),
    ("x-real-ip", [("x-real-ip", US)]),
    ("cf-connecting-ip", [("cf-connecting-ip", US)]),
    ("true-client-ip", [("true-client-ip", US)]),
    ("upper-case names", [("X-Forwarded-For", US), ("CF-Connecting-IP", US)]),
]
HEADERS = ["x-forwarded-for", "forwarded", "x-real-ip", "cf-connecting-ip", "true-client-ip"]


@pytest.mark.parametrize("client_ip_header", HEADERS)
@pytest.mark.parametrize(("technique", "sent"), SPOOFS, ids=[s[0] for s in SPOOFS])
def test_spoofed_headers_from_an_untrusted_peer_are_ignored_by_both_middlewares(
    client_ip_header: str, technique: str, sent: list[tuple[str, str]]
) -> None:
    options: dict[str, Any] = {
        "policy": POLICY,
        "trusted_proxies": ["private", "loopback"],
        "client_ip_header": client_ip_header,
        "debug_header": "geofence-decision",
    }
    asgi = GeofenceMiddleware(_ok, **options)
    scope = _http_scope("/", b"/")
    scope["headers"] += [(k.encode(), v.encode()) for k, v in sent]
    assert _asgi_status(asgi, scope) == 451, technique
    wsgi = GeofenceWSGIMiddleware(_wsgi_app, **options)
    environ = _environ("/", REQUEST_URI="/")
    for name, value in sent:  # a WSGI server joins repeated lines with ", "
        key = "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]}, {value}" if key in environ else value
    assert _wsgi_status(wsgi, environ).startswith("451"), technique


# -- hostile header bytes ------------------------------------------------------------------------

HOSTILE: list[tuple[str, list[tuple[bytes, bytes]]]] = [
    ("latin-1 bytes", [(b"x-forwarded-for", b"\xe9\xff\xfe")]),
    ("utf-8 fullwidth digits", [(b"x-forwarded-for", "８.８.８.８".encode())]),  # noqa: RUF001
    ("NUL and CR LF", [(b"x-forwarded-for", b"8.8.8.8\x00\r\nx-real-ip: 8.8.8.8")]),
    ("control bytes in the name", [(b"x-forwarded-\x01for", b"8.8.8.8")]),
    ("non-ascii name", [("x-forwardéd-for".encode(), b"8.8.8.8")]),
    ("64 KiB value", [(b"x-forwarded-for", b"8.8.8.8, " * 6554)]),
    ("1 MiB value", [(b"forwarded", b"for=8.8.8.8;" * 87382)]),
    ("5000 header lines", [(b"x-forwarded-for", b"8.8.8.8")] * 5000),
    ("huge host", [(b"host", b"a" * 100_000)]),
    ("empty name and value", [(b"", b"")]),
]


@pytest.mark.parametrize("trusted", [False, True], ids=["untrusted-peer", "trusted-peer"])
@pytest.mark.parametrize(("technique", "sent"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_header_bytes_never_give_a_500(
    technique: str, sent: list[tuple[bytes, bytes]], trusted: bool
) -> None:
    options: dict[str, Any] = {
        "policy": POLICY,
        "trusted_proxies": ["private"],
        "debug_header": "geofence-decision",
        "expose_facts": True,
    }
    peer = PROXY if trusted else CN
    asgi = GeofenceMiddleware(_ok, **options)
    scope = _http_scope("/", b"/", client=peer)
    scope["headers"] += sent
    # Denied (an embargoed or undeterminable client), or for a trusted peer forwarding a valid
    # allowed address, served: never an error.
    assert _asgi_status(asgi, scope) in ((451, 200) if trusted else (451,)), technique
    wsgi = GeofenceWSGIMiddleware(_wsgi_app, **options)
    environ = _environ("/", REQUEST_URI="/", REMOTE_ADDR=peer)
    for name, value in sent:
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        environ[key] = value.decode("latin-1")
    status = _wsgi_status(wsgi, environ)
    assert status.startswith(("451", "200") if trusted else ("451",)), technique


def test_hostile_paths_and_methods_never_give_a_500() -> None:
    app = GeofenceMiddleware(_ok, policy=POLICY, exempt_paths=[EXEMPT], debug_header="gf")
    for path, raw in [
        ("/\udcff", b"/%ff"),
        ("/\x00", b"/%00"),
        ("/" + "a" * 100_000, b"/" + b"a" * 100_000),
        ("/é", "/é".encode()),
        ("", b""),
    ]:
        scope = _http_scope(path, raw)
        scope["method"] = "G\x00T"
        assert _asgi_status(app, scope) == 451, path
