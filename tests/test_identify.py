"""identify= on the ASGI middleware (httpx.ASGITransport, real uvicorn) and the WSGI middleware
(a real wsgiref server): caller fields reach the signals, a broken identify never allows, and a
decision that depends on an account is never served to another account from the address cache.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from geofence import Decision, Geofence, Request
from geofence.asgi import GeofenceMiddleware
from geofence.errors import ConfigurationError
from geofence.wsgi import GeofenceWSGIMiddleware
from tests.servers import answer_lifespan, uvicorn_server, wsgiref_server

JP, GB, US = "1.0.16.1", "81.2.69.160", "8.8.8.8"
ROAMING = {
    "name": "roaming",
    "default": "allow",
    "rules": [{"name": "roamer", "action": "deny", "signals": {"account_countries": ">= 2"}}],
}
SERVED = {
    "name": "served",
    "default": "deny",
    "unknown": "deny",
    "rules": [{"name": "us", "action": "allow", "countries": ["US"]}],
}


def by_header(request: Request) -> dict[str, Any] | None:
    account = dict(request.headers).get("x-account")
    return None if account is None else {"account": account}


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await answer_lifespan(receive, send)
        return
    decision: Decision = scope["state"]["geofence"]
    countries = decision.signals.get("account_countries")
    body = f"{decision.action.value} {format(countries.value, 'g') if countries else '-'}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _asgi_get(app: Any, peer: str, account: str | None = None) -> httpx.Response:
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(peer, 4711))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            headers = {} if account is None else {"x-account": account}
            return await client.get("/v1/messages", headers=headers)

    return asyncio.run(get())


def test_an_account_decision_is_never_served_to_another_account_on_the_address(
    store_url: str,
) -> None:
    app = GeofenceMiddleware(_echo, policy=ROAMING, store=store_url, identify=by_header)
    try:
        assert _asgi_get(app, JP, "alice").text == "allow 1"
        # The address-only verdict of GB is cached first, then one account after another.
        assert _asgi_get(app, GB).text == "allow -"
        assert _asgi_get(app, GB, "bob").text == "allow 1"
        denied = _asgi_get(app, GB, "alice")  # alice has now been in JP and GB
        assert denied.status_code == 451
        assert denied.json()["rule"] == "roamer"
        assert _asgi_get(app, GB, "bob").text == "allow 1"
        assert _asgi_get(app, GB).text == "allow -"
        assert _asgi_get(app, GB, "alice").status_code == 451
    finally:
        app.geofence.close()


def test_the_caller_fields_reach_the_signals() -> None:
    created = datetime.now(timezone.utc) - timedelta(hours=1)

    async def identify(request: Request) -> dict[str, Any]:  # async: awaited under ASGI
        await asyncio.sleep(0)
        return {
            "account": "carol",
            "declared_country": "us",
            "fingerprint": "device-1",
            "account_created": created,
        }

    decisions: list[Decision] = []
    app = GeofenceMiddleware(_echo, policy=ROAMING, identify=identify, on_decision=decisions.append)
    assert _asgi_get(app, GB).status_code == 200
    signals = decisions[0].signals
    assert signals["declared_mismatch"].value == 1.0  # declared US, seen in GB
    assert signals["fingerprint_accounts"].value == 1
    assert signals["network_new_accounts"].value == 1  # created within the window


def test_the_two_argument_form_gets_the_native_request() -> None:
    seen: list[object] = []

    def identify(request: Request, native: dict[str, Any]) -> str:
        seen.append(native["type"])
        return str(native["state"]["user"])  # an account id alone is the account

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope.setdefault("state", {})["user"] = "dave"  # what an auth middleware leaves
        await inner(scope, receive, send)

    inner = GeofenceMiddleware(_echo, policy=ROAMING, identify=identify)
    assert _asgi_get(app, GB).text == "allow 1"
    assert seen == ["http"]


BROKEN: list[tuple[Any, str]] = [
    ({"acount": "x"}, "unknown key(s) 'acount' (did you mean 'account'?)"),
    ({"account": 42}, "Request.account must be a str or None, not int"),
    ({"declared_country": "USA"}, "'USA' is not an ISO 3166-1 alpha-2 country code"),
    (["account", "x"], "must return a mapping such as {'account': ...}"),
]


@pytest.mark.parametrize(("returned", "message"), BROKEN)
def test_a_bad_return_gets_the_unknown_action_and_is_logged_once(
    returned: object, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    decisions: list[Decision] = []
    app = GeofenceMiddleware(
        _echo, policy=SERVED, identify=lambda r: returned, on_decision=decisions.append
    )
    with caplog.at_level(logging.DEBUG, "geofence.middleware"):
        first, second = _asgi_get(app, US), _asgi_get(app, US)
    assert (first.status_code, second.status_code) == (451, 451)  # US alone would be allowed
    assert message in decisions[0].reasons[-1]
    assert message in (decisions[0].ip_problem or "")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert message in errors[0].getMessage()


def test_a_raising_identify_gets_the_unknown_action_with_its_traceback_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def identify(request: Request) -> None:
        raise LookupError("session store down")

    decisions: list[Decision] = []
    app = GeofenceMiddleware(_echo, policy=SERVED, identify=identify, on_decision=decisions.append)
    assert _asgi_get(app, US).status_code == 451
    assert decisions[0].reasons[-1] == "identify() raised LookupError"
    assert "session store down" in caplog.text


@pytest.mark.parametrize("nobody", [None, "", {"account": ""}, {}])
def test_nobody_known_and_the_address_decides(nobody: object) -> None:
    app = GeofenceMiddleware(_echo, policy=SERVED, identify=lambda r: nobody)
    assert _asgi_get(app, US).text == "allow -"


def test_identify_is_checked_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="identify must be a callable"):
        GeofenceMiddleware(_echo, policy=SERVED, identify="accounts.identify")

    async def identify(request: Request) -> None:
        return None

    with pytest.raises(ConfigurationError, match="identify is async"):
        GeofenceWSGIMiddleware(_wsgi_echo, policy=SERVED, identify=identify)


def test_under_real_uvicorn_with_redis(redis_server: Any) -> None:
    app = GeofenceMiddleware(
        _echo,
        policy=ROAMING,
        store=f"{redis_server.url}?timeout=2",
        trusted_proxies=["loopback"],
        identify=by_header,
    )
    try:
        with uvicorn_server(app) as host, httpx.Client(base_url=f"http://{host}") as client:
            for ip, expected in ((JP, 200), (GB, 451)):
                headers = {"x-account": "erin", "x-forwarded-for": ip}
                assert client.get("/", headers=headers).status_code == expected
    finally:
        app.geofence.close()


# -- WSGI: the same callable, a real server -------------------------------------------------------


def _wsgi_echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    decision: Decision = environ["geofence.decision"]
    countries = decision.signals.get("account_countries")
    start_response("200 OK", [("content-type", "text/plain")])
    return [
        f"{decision.action.value} {format(countries.value, 'g') if countries else '-'}".encode()
    ]


def test_wsgi_under_a_real_server_keeps_accounts_apart(store_url: str) -> None:
    # The loopback peer is a trusted proxy here, so each request names its client address.
    app = GeofenceWSGIMiddleware(
        _wsgi_echo,
        policy=ROAMING,
        store=store_url,
        trusted_proxies=["loopback"],
        identify=lambda request, environ: environ.get("HTTP_X_ACCOUNT"),
    )
    try:
        with wsgiref_server(app) as host, httpx.Client(base_url=f"http://{host}") as client:

            def get(ip: str, account: str | None = None) -> httpx.Response:
                headers = {"x-forwarded-for": ip}
                if account is not None:
                    headers["x-account"] = account
                return client.get("/", headers=headers)

            assert get(JP, "alice").text == "allow 1"
            assert get(GB).text == "allow -"
            assert get(GB, "bob").text == "allow 1"
            assert get(GB, "alice").status_code == 451
            assert get(GB, "bob").text == "allow 1"
    finally:
        app.geofence.close()


def test_a_sync_context_refuses_an_awaitable_result(caplog: pytest.LogCaptureFixture) -> None:
    async def later() -> dict[str, str]:
        return {"account": "x"}

    gf = Geofence(SERVED)
    app = GeofenceWSGIMiddleware(_wsgi_echo, geofence=gf, identify=lambda r: later())
    with wsgiref_server(app) as host:
        response = httpx.get(f"http://{host}/")
    assert response.status_code == 451
    assert "identify() returned an awaitable" in caplog.text
    assert "never awaited" not in caplog.text


def test_a_websocket_handshake_is_identified_too() -> None:
    async def identify(request: Request) -> dict[str, str]:
        return {"account": dict(request.headers)["x-account"]}

    async def accept(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})

    app = GeofenceMiddleware(accept, policy=ROAMING, identify=identify)

    async def handshake(ip: str) -> list[dict[str, Any]]:
        scope = {"type": "websocket", "path": "/ws", "headers": [(b"x-account", b"frank")],
                 "client": (ip, 4711), "extensions": {}}  # fmt: skip
        messages = iter([{"type": "websocket.connect"}])
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return next(messages)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    assert [m["type"] for m in asyncio.run(handshake(JP))] == ["websocket.accept"]
    (refused,) = asyncio.run(handshake(GB))  # a second country within the window
    assert (refused["type"], refused["code"]) == ("websocket.close", 1008)
    assert "roamer" in refused["reason"]
