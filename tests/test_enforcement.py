"""Behaviour both middleware classes share, table-driven through each of them.

Every case runs through ``GeofenceMiddleware`` (``httpx.ASGITransport``) and
``GeofenceWSGIMiddleware`` (``httpx.WSGITransport``) around a bare application that echoes the
published decision. The embedded data places 1.0.1.1 in CN and 8.8.8.8 in US.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from geofence import ConfigurationError, Decision, Geofence, PolicyError, Request
from geofence.asgi import GeofenceMiddleware
from geofence.enforcement import BlockResponse
from geofence.wsgi import GeofenceWSGIMiddleware

CN, US, UNKNOWN = "1.0.1.1", "8.8.8.8", "192.0.2.7"

POLICY: dict[str, Any] = {
    "name": "regions",
    "rules": [
        {"name": "office", "action": "allow", "networks": ["203.0.113.0/24"]},
        {"name": "embargo", "action": "deny", "countries": ["CN"]},
        {"name": "verify", "action": "challenge", "paths": ["/verify"]},
        {"name": "supported", "action": "allow", "countries": ["US"]},
    ],
}
ADMIN_POLICY: dict[str, Any] = {
    "name": "admin",
    "rules": [{"name": "office-only", "action": "allow", "networks": ["203.0.113.0/24"]}],
}


@dataclass
class Reply:
    status: int
    headers: httpx.Headers
    text: str

    def problem(self) -> dict[str, Any]:
        assert self.headers["content-type"] == "application/problem+json"
        body: dict[str, Any] = json.loads(self.text)
        return body


async def _echo_asgi(scope: Any, receive: Any, send: Any) -> None:
    decision = scope["state"]["geofence"]
    exempt = scope["state"].get("geofence_exempt", False)
    body = f"{decision.action.value} {decision.rule} exempt={exempt}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _echo_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    decision = environ["geofence.decision"]
    exempt = environ.get("geofence.exempt", False)
    start_response("200 OK", [("content-type", "text/plain")])
    return [f"{decision.action.value} {decision.rule} exempt={exempt}".encode()]


def _via_asgi(options: Mapping[str, Any], peer: str, path: str, headers: Any) -> Reply:
    app = GeofenceMiddleware(_echo_asgi, **options)

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app, client=(peer, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            return await client.get(path, headers=headers)

    response = asyncio.run(run())
    return Reply(response.status_code, response.headers, response.text)


def _via_wsgi(options: Mapping[str, Any], peer: str, path: str, headers: Any) -> Reply:
    app = GeofenceWSGIMiddleware(_echo_wsgi, **options)
    transport = httpx.WSGITransport(app, remote_addr=peer)
    with httpx.Client(transport=transport, base_url="http://api.test") as client:
        response = client.get(path, headers=headers)
    return Reply(response.status_code, response.headers, response.text)


Call = Callable[[Mapping[str, Any], str, str, Any], Reply]


@pytest.fixture(params=[_via_asgi, _via_wsgi], ids=["asgi", "wsgi"])
def call(request: pytest.FixtureRequest) -> Call:
    """Send one GET through one adapter: ``call(options, peer, path, headers)``."""
    via: Call = request.param
    return via


@pytest.fixture(scope="module")
def geofence() -> Iterable[Geofence]:
    with Geofence(POLICY) as gf:
        yield gf


CASES: list[tuple[str, dict[str, Any], str, str, dict[str, str], int, str]] = [
    # id, middleware options, peer, path, headers, status, echoed "action rule" (or problem rule)
    ("allowed", {}, US, "/", {}, 200, "allow supported exempt=False"),
    ("denied", {}, CN, "/", {}, 451, "embargo"),
    ("unknown-denied", {}, UNKNOWN, "/", {}, 451, "None"),
    ("challenged", {}, US, "/verify", {}, 403, "verify"),
    ("report-only", {"report_only": True}, CN, "/", {}, 200, "deny embargo exempt=False"),
    ("exempt", {"exempt_paths": ["/health"]}, CN, "/health", {}, 200, "deny embargo exempt=True"),
    ("exempt-query", {"exempt_paths": ["/health"]}, CN, "/health?deep=1", {}, 200, "exempt=True"),
    ("exempt-case", {"exempt_paths": ["/health"]}, CN, "/Health", {}, 451, "embargo"),
    ("exempt-slash", {"exempt_paths": ["/health"]}, CN, "/health/", {}, 451, "embargo"),
    ("exempt-below", {"exempt_paths": ["/health"]}, CN, "/health/x", {}, 451, "embargo"),
    ("exempt-listed", {"exempt_paths": ["/health", "/health/"]}, CN, "/health/", {}, 200, "=True"),
    ("route", {"routes": {"/admin": ADMIN_POLICY}}, US, "/admin", {}, 451, "None"),
    ("route-below", {"routes": {"/admin/": ADMIN_POLICY}}, US, "/admin/x", {}, 451, "None"),
    ("route-sibling", {"routes": {"/admin": ADMIN_POLICY}}, US, "/administrator", {}, 200, "allow"),
    ("route-other", {"routes": {"/admin": ADMIN_POLICY}}, US, "/api", {}, 200, "supported"),
    # Forwarding headers from a peer nobody trusts are ignored: the peer is the client.
    ("spoofed-xff-allowed", {}, CN, "/", {"x-forwarded-for": US}, 451, "embargo"),
    ("spoofed-xff-denied", {}, US, "/", {"x-forwarded-for": CN}, 200, "allow supported"),
    # Through trusted proxies the rightmost untrusted hop is the client.
    ("proxy-chain", {"trusted_proxies": ["10.0.0.0/8"]}, "10.0.0.1", "/",
     {"x-forwarded-for": f"{CN}, 10.0.0.2"}, 451, "embargo"),
    ("proxy-chain-us", {"trusted_proxies": ["10.0.0.0/8"]}, "10.0.0.1", "/",
     {"x-forwarded-for": f"{US}, 10.0.0.2"}, 200, "allow supported"),
    ("proxy-chain-spoofed-left", {"trusted_proxies": ["10.0.0.0/8"]}, "10.0.0.1", "/",
     {"x-forwarded-for": f"{CN}, {US}"}, 200, "allow supported"),
    # Invalid headers make the client unknown (the policy's unknown action), never a 500.
    ("garbage-xff", {"trusted_proxies": ["10.0.0.0/8"]}, "10.0.0.1", "/",
     {"x-forwarded-for": f"{US}, not-an-ip"}, 451, "None"),
    ("empty-xff", {"trusted_proxies": ["10.0.0.0/8"]}, "10.0.0.1", "/",
     {"x-forwarded-for": ""}, 451, "None"),
    ("forwarded-unknown", {"trusted_proxies": ["loopback"], "client_ip_header": "forwarded"},
     "127.0.0.1", "/", {"forwarded": "for=unknown"}, 451, "None"),
    ("huge-xff", {"trusted_proxies": ["10.0.0.0/8"]}, "10.0.0.1", "/",
     {"x-forwarded-for": ",".join(["10.0.0.3"] * 2000)}, 451, "None"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "peer", "path", "headers", "status", "expect"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_decides_before_the_app(
    call: Call,
    options: dict[str, Any],
    peer: str,
    path: str,
    headers: dict[str, str],
    status: int,
    expect: str,
) -> None:
    reply = call({"policy": POLICY, **options}, peer, path, headers)
    assert reply.status == status, reply.text
    if status == 200:
        assert expect in reply.text
    else:
        assert str(reply.problem()["rule"]) == expect


def test_policy_report_mode_never_blocks(call: Call) -> None:
    reply = call({"policy": {**POLICY, "mode": "report"}}, CN, "/", {})
    assert (reply.status, reply.text) == (200, "deny embargo exempt=False")


def test_problem_body_names_rule_and_reason_but_no_facts(call: Call) -> None:
    reply = call({"policy": POLICY}, CN, "/", {})
    problem = reply.problem()
    assert reply.headers["cache-control"] == "no-store"
    assert "link" not in reply.headers
    assert set(problem) == {"type", "title", "status", "detail", "rule", "decision_id"}
    assert problem["type"] == "urn:geofence:problem:blocked"
    assert problem["status"] == 451
    assert "embargo" in problem["detail"]
    assert CN not in reply.text
    assert "CN" not in reply.text


def test_challenge_problem_has_the_challenge_type(call: Call) -> None:
    reply = call(
        {"policy": POLICY, "problem_type_base": "https://docs.example/p/"}, US, "/verify", {}
    )
    problem = reply.problem()
    assert (reply.status, problem["type"]) == (403, "https://docs.example/p/challenge")
    assert problem["title"] == "Challenge required"


def test_expose_facts_and_blocked_by_link(call: Call) -> None:
    options = {"policy": POLICY, "expose_facts": True, "blocked_by": "https://example.org/law"}
    reply = call(options, CN, "/", {})
    problem = reply.problem()
    assert reply.headers["link"] == '<https://example.org/law>; rel="blocked-by"'
    assert problem["client"]["ip"] == CN
    assert problem["client"]["country"] == "CN"
    assert problem["reasons"] == ["country CN is in rule 'embargo' countries"]


def test_a_rule_status_is_sent(call: Call) -> None:
    policy = {"name": "p", "default": "allow", "rules": [
        {"name": "cn", "action": "deny", "status": 403, "countries": ["CN"]},
    ]}  # fmt: skip
    assert call({"policy": policy}, CN, "/", {}).status == 403


def test_debug_header(call: Call) -> None:
    options = {"policy": POLICY, "debug_header": "Geofence-Decision", "exempt_paths": ["/h"]}
    allowed = call(options, US, "/", {}).headers["geofence-decision"]
    denied = call(options, CN, "/", {}).headers["geofence-decision"]
    exempt = call(options, CN, "/h", {}).headers["geofence-decision"]
    assert allowed.startswith("allow; rule=supported; mode=enforce; id=")
    assert denied.startswith("deny; rule=embargo; mode=enforce; id=")
    assert exempt.endswith("; exempt")
    assert "geofence-decision" not in call({"policy": POLICY}, US, "/", {}).headers


def _teapot(decision: Decision, request: Request) -> BlockResponse:
    body = f"{decision.action.value} {decision.rule} {request.path}".encode()
    return BlockResponse(418, (("content-type", "text/plain"),), body)


def _broken(decision: Decision, request: Request) -> BlockResponse:
    raise RuntimeError("hook bug")


def _wrong_type(decision: Decision, request: Request) -> BlockResponse:
    return "nope"  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("hook", "peer", "path", "status", "text"),
    [
        ("on_deny", CN, "/x", 418, "deny embargo /x"),
        ("on_challenge", US, "/verify", 418, "challenge verify /verify"),
        ("on_deny", US, "/verify", 403, '"rule":"verify"'),  # the other hook is not used
    ],
)
def test_hooks_build_the_response(
    call: Call, hook: str, peer: str, path: str, status: int, text: str
) -> None:
    reply = call({"policy": POLICY, hook: _teapot}, peer, path, {})
    assert (reply.status, text in reply.text) == (status, True)


@pytest.mark.parametrize("hook", [_broken, _wrong_type])
def test_a_failing_hook_still_blocks(
    call: Call, hook: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="geofence.middleware"):
        reply = call({"policy": POLICY, "on_deny": hook}, CN, "/", {})
    assert reply.status == 451
    assert reply.problem()["rule"] == "embargo"
    assert "on_deny hook" in caplog.text


def test_report_and_exempt_are_logged(call: Call, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="geofence.middleware"):
        call({"policy": POLICY, "report_only": True}, CN, "/r", {})
        call({"policy": POLICY, "exempt_paths": ["/health"]}, CN, "/health", {})
        call({"policy": POLICY}, CN, "/b", {})
    text = caplog.text
    assert "not enforced (report mode): deny '/r' rule=embargo" in text
    assert "exempts these exact paths from enforcement: /health" in text
    assert "not enforced (exempt path): deny '/health'" in text
    assert "blocked: deny '/b' rule=embargo" in text


def test_injected_geofence_and_its_route_siblings(call: Call, geofence: Geofence) -> None:
    options = {"geofence": geofence, "routes": {"/admin": ADMIN_POLICY}}
    assert call(options, US, "/", {}).status == 200
    assert call(options, US, "/admin/users", {}).problem()["rule"] is None


def test_longest_route_prefix_wins(call: Call) -> None:
    open_policy = {"name": "open", "default": "allow", "unknown": "allow", "rules": []}
    options = {"policy": POLICY, "routes": {"/admin": ADMIN_POLICY, "/admin/public": open_policy}}
    assert call(options, CN, "/admin/public/x", {}).status == 200
    assert call(options, US, "/admin/private", {}).status == 451


BAD_OPTIONS: list[tuple[dict[str, Any], str]] = [
    ({}, "needs geofence=Geofence(...) or policy="),
    ({"polcy": POLICY}, "unknown option 'polcy' (did you mean 'policy'?)"),
    ({"geofence": "gf"}, "geofence= must be a Geofence, not str"),
    ({"policy": POLICY, "exempt_paths": "/health"}, "exempt_paths takes a list"),
    ({"policy": POLICY, "exempt_paths": ["health"]}, "not 'health'"),
    ({"policy": POLICY, "exempt_paths": ["/h%65alth"]}, "not '/h%65alth'"),
    ({"policy": POLICY, "exempt_paths": ["/health?x"]}, "no query"),
    ({"policy": POLICY, "routes": ["/admin"]}, "routes maps path prefixes to policies"),
    ({"policy": POLICY, "routes": {"/": ADMIN_POLICY}}, "'/' is the whole app"),
    ({"policy": POLICY, "routes": {"/a": ADMIN_POLICY, "/a/": ADMIN_POLICY}}, "listed twice"),
    ({"policy": POLICY, "report_only": "yes"}, "report_only must be True or False"),
    ({"policy": POLICY, "expose_facts": 1}, "expose_facts must be True or False"),
    ({"policy": POLICY, "on_deny": "deny.html"}, "on_deny must be callable"),
    ({"policy": POLICY, "blocked_by": "/legal"}, "blocked_by must be an absolute URL"),
    ({"policy": POLICY, "blocked_by": "https://x/ y"}, "blocked_by must be an absolute URL"),
    ({"policy": POLICY, "debug_header": "Geo Decision"}, "debug_header must be a header name"),
    ({"policy": POLICY, "problem_type_base": ""}, "problem_type_base must be a URI"),
]


@pytest.mark.parametrize("middleware", [GeofenceMiddleware, GeofenceWSGIMiddleware])
@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
def test_bad_options_fail_at_construction(
    middleware: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=r"^GeofenceW?S?G?I?Middleware: ") as caught:
        middleware(_echo_wsgi, **options)
    assert message in str(caught.value)


@pytest.mark.parametrize("middleware", [GeofenceMiddleware, GeofenceWSGIMiddleware])
def test_geofence_and_its_arguments_are_exclusive(middleware: Any, geofence: Geofence) -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        middleware(_echo_wsgi, geofence=geofence, trusted_proxies=["loopback"])


@pytest.mark.parametrize("middleware", [GeofenceMiddleware, GeofenceWSGIMiddleware])
def test_a_bad_route_policy_fails_at_construction(middleware: Any) -> None:
    bad = {"name": "bad", "rules": [{"name": "uk", "action": "deny", "countries": ["UK"]}]}
    with pytest.raises(PolicyError, match="GB"):
        middleware(_echo_wsgi, policy=POLICY, routes={"/uk": bad})
