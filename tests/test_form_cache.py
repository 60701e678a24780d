"""A scope or environ decided from the caches alone (``Geofence.evaluate_cached``, the
middleware's ``check_form``) decides exactly as the ``Request`` built from it, through trusted
proxies too, and reports each decision once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from geofence import Decision, Geofence, Request
from geofence.asgi import GeofenceMiddleware
from geofence.request_forms import raw_header_lines
from geofence.wsgi import GeofenceWSGIMiddleware

POLICY = {
    "name": "p",
    "default": "allow",
    "unknown": "challenge",
    "rules": [{"name": "gb", "action": "deny", "countries": ["GB"]}],
}
GB, US = "81.2.69.142", "216.160.83.56"
PROXY = "10.0.0.7"


def _scope(peer: str, xff: str | None = None, path: str = "/") -> dict[str, Any]:
    headers = [(b"host", b"api")]
    if xff is not None:
        headers.append((b"x-forwarded-for", xff.encode()))
    return {"type": "http", "method": "GET", "path": path, "headers": headers,
            "client": (peer, 1234)}  # fmt: skip


def _public(d: Decision) -> dict[str, Any]:
    return {k: v for k, v in d.to_dict().items() if k != "decision_id"}


NAMES = st.sampled_from([b"x-forwarded-for", b"X-Forwarded-For", b"host", b"x-forwarded-fo"])
ITEMS = st.one_of(
    st.tuples(NAMES, st.binary(max_size=20)),
    st.lists(st.one_of(NAMES, st.binary(max_size=5)), min_size=2, max_size=2),
    st.tuples(st.sampled_from(["x-forwarded-for", 7, None]), st.binary(max_size=5)),
    st.tuples(NAMES, st.sampled_from(["text", 3, None])),
    st.tuples(NAMES),
    st.just(b"x-forwarded-for"),
    st.integers(),
)


@given(st.lists(ITEMS, max_size=6))
def test_raw_header_lines_reads_what_the_built_request_reads(headers: list[Any]) -> None:
    scope = {"type": "http", "headers": headers, "client": (PROXY, 1)}
    lines = raw_header_lines(scope, "x-forwarded-for")
    if lines is not None:  # None: the full path decides
        assert lines == Request.from_asgi(scope).header_values("x-forwarded-for")
    pairs = all(isinstance(i, (tuple, list)) and len(i) == 2 for i in headers)
    if pairs and all(isinstance(i[0], (bytes, str)) for i in headers):
        assert lines is not None  # well-formed enough: the shortcut answers


def test_raw_header_lines_reads_no_environ_and_no_foreign_shapes() -> None:
    assert raw_header_lines({"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": GB}, "x") is None
    assert raw_header_lines({"type": "http", "headers": "x-forwarded-for: 1"}, "x") is None
    assert raw_header_lines({"type": "lifespan"}, "x") is None


def test_behind_trusted_proxies_a_cached_scope_decides_as_its_request() -> None:
    gf = Geofence(POLICY, trusted_proxies=["10.0.0.0/8"], reload_interval=None)
    cases = [
        _scope(PROXY, f"{GB}, 10.1.2.3"),
        _scope(PROXY, f"{US}, 10.1.2.3"),
        _scope(PROXY, f"{US}, {GB}"),  # the right-most untrusted hop decides
        _scope(US, GB),  # an untrusted peer's header is ignored
        _scope(PROXY, "not an address"),
        _scope(PROXY),
    ]
    for scope in cases:
        assert gf.evaluate_cached(scope) is None  # nothing cached yet
        slow = gf.evaluate(Request.from_asgi(scope))
        fast = gf.evaluate_cached(scope)
        if slow.ip is not None:
            assert fast is not None
            assert _public(fast) == _public(slow)
            assert _public(gf.evaluate(scope)) == _public(slow)
    assert gf.evaluate(_scope(PROXY, f"{GB}, 10.1.2.3")).country == "GB"
    # A spoofing client behind no trusted proxy shares no cache key with the proxy's client.
    assert gf.evaluate(_scope(US, f"{GB}, 10.1.2.3")).country == "US"


def test_a_route_dependent_policy_is_never_answered_from_the_peer() -> None:
    policy = {**POLICY, "rules": [{**POLICY["rules"][0], "paths": ["/admin"]}]}  # type: ignore[dict-item]
    gf = Geofence(policy, trusted_proxies=["10.0.0.0/8"], reload_interval=None)
    scope = _scope(PROXY, GB, path="/admin")
    assert not gf.evaluate(scope).allowed
    assert gf.evaluate_cached(scope) is None
    assert not gf.evaluate(scope).allowed
    assert gf.evaluate(_scope(PROXY, GB, path="/")).allowed


def test_the_asgi_middleware_blocks_and_reports_once_per_request_from_the_cache() -> None:
    seen: list[Decision] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    mw = GeofenceMiddleware(app, policy=POLICY, trusted_proxies=["127.0.0.1"],
                            reload_interval=None, on_decision=seen.append,
                            debug_header="x-geofence")  # fmt: skip

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=mw, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return [
                await client.get("/", headers={"x-forwarded-for": xff})
                for xff in (GB, GB, US, US, f"{US}, {GB}")
            ]

    responses = asyncio.run(run())
    assert [r.status_code for r in responses] == [451, 451, 200, 200, 451]
    assert all("x-geofence" in r.headers for r in responses)
    assert [d.country for d in seen] == ["GB", "GB", "US", "US", "GB"]
    assert mw.geofence.evaluate_cached(_scope("127.0.0.1", GB)) is not None


def test_the_wsgi_middleware_decides_cached_peers_without_a_request() -> None:
    seen: list[Decision] = []

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("content-type", "text/plain")])
        return [b"ok"]

    mw = GeofenceWSGIMiddleware(app, policy=POLICY, reload_interval=None, on_decision=seen.append)
    statuses = []
    for peer in (GB, GB, US, US):
        environ = {"REMOTE_ADDR": peer, "REQUEST_METHOD": "GET", "PATH_INFO": "/",
                   "wsgi.version": (1, 0)}  # fmt: skip

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(status.split()[0])

        b"".join(mw(environ, start_response))
        assert environ["geofence.decision"] is seen[-1]
    assert statuses == ["451", "451", "200", "200"]
    assert [d.country for d in seen] == ["GB", "GB", "US", "US"]
