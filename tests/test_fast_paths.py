"""The request path's shortcuts decide exactly as the long way does: a scope's cached peer, the
resolution cache behind trusted proxies, and the exception-free parse of bare addresses."""

from __future__ import annotations

from typing import Any

import pytest

from geofence import Geofence, Request
from geofence.cache import CLIENT_CACHE_SIZE, client_key
from geofence.errors import AddressError
from geofence.net import Normalizer
from geofence.request_forms import raw_peer

POLICY = {
    "name": "p",
    "default": "allow",
    "unknown": "challenge",
    "rules": [{"name": "gb", "action": "deny", "countries": ["GB"]}],
}
PATH_POLICY = {
    "name": "paths",
    "default": "allow",
    "rules": [{"name": "admin-gb", "action": "deny", "countries": ["GB"], "paths": ["/admin"]}],
}
GB, US = "81.2.69.142", "216.160.83.56"  # in the MaxMind test data: GB and US


def _scope(peer: object, path: str = "/", headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    return {"type": "http", "method": "GET", "path": path, "headers": headers or [],
            "client": (peer, 1234) if peer is not None else None}  # fmt: skip


def _same(a: Any, b: Any) -> None:
    assert (a.action, a.rule, a.ip, a.country, a.reasons, a.status) == (
        b.action,
        b.rule,
        b.ip,
        b.country,
        b.reasons,
        b.status,
    )


def _public(d: Any) -> dict[str, Any]:
    return {k: v for k, v in d.to_dict().items() if k != "decision_id"}


@pytest.mark.parametrize("peer", [GB, US, "::ffff:81.2.69.142", "2001:DB8::1", "", "bogus", 7])
def test_a_cached_scope_decides_as_the_request_built_from_it(peer: object) -> None:
    gf = Geofence(POLICY, reload_interval=None)
    scope = _scope(peer)
    first = gf.evaluate(scope)  # the long way; it fills the cache
    again = gf.evaluate(scope)  # the peer's cached entry, without a Request
    via_request = gf.evaluate(Request.from_asgi(scope))
    _same(first, again)
    assert _public(again) == _public(via_request)  # both answered from the cache


def test_a_cached_environ_decides_as_the_long_way() -> None:
    gf = Geofence(POLICY, reload_interval=None)
    environ = {"REMOTE_ADDR": GB, "PATH_INFO": "/", "REQUEST_METHOD": "GET"}
    first, again = gf.evaluate(environ), gf.evaluate(environ)
    _same(first, again)
    assert (again.action.value, again.rule) == ("deny", "gb")


def test_a_path_rule_still_sees_the_path_of_a_scope_whose_peer_is_cached() -> None:
    gf = Geofence(PATH_POLICY, reload_interval=None)
    assert gf.evaluate(GB).allowed  # the address is cached; the verdict needs the path
    assert not gf.evaluate(_scope(GB, "/admin")).allowed
    assert gf.evaluate(_scope(GB, "/public")).allowed


def test_raw_peer_reads_what_the_request_builders_read() -> None:
    assert raw_peer(_scope(GB)) == GB
    assert raw_peer({"type": "websocket", "client": [GB, 1]}) == GB
    assert raw_peer({"REMOTE_ADDR": US}) == US
    for form in (_scope(None), _scope(""), _scope(5), {"type": "http", "client": ()}, {}):
        assert raw_peer(form) is None


def test_resolutions_through_trusted_proxies_are_cached_per_peer_and_header() -> None:
    gf = Geofence(POLICY, trusted_proxies=["10.0.0.0/8"], reload_interval=None)

    def via(peer: str, xff: str) -> Any:
        return gf.evaluate(Request(ip=peer, headers={"x-forwarded-for": xff}))

    for _ in range(2):  # the second round is answered from the cache
        assert via("10.0.0.1", f"{GB}, 10.0.0.2").country == "GB"
        assert via("10.0.0.1", f"{US}, 10.0.0.2").country == "US"
        # The same header from an untrusted peer is ignored: the peer is the client.
        assert via(US, GB).country == "US"
        assert via("10.0.0.1", "not an address").ip is None
    assert len(gf._gen.clients) == 4
    gf.clear_cache()
    assert len(gf._gen.clients) == 0


def test_the_resolution_cache_stays_bounded_whatever_headers_clients_send() -> None:
    gf = Geofence(POLICY, trusted_proxies=["10.0.0.0/8"], reload_interval=None)
    long_header = ", ".join([GB] * 40)  # beyond the key bound: resolved, never cached
    assert gf.evaluate(Request(ip="10.0.0.1", headers={"x-forwarded-for": long_header})).ip == GB
    assert len(gf._gen.clients) == 0
    for n in range(CLIENT_CACHE_SIZE + 500):
        xff = f"81.2.{n // 250 % 256}.{n % 250}"
        gf.evaluate(Request(ip="10.0.0.1", headers={"x-forwarded-for": xff}))
    assert len(gf._gen.clients) <= CLIENT_CACHE_SIZE


def test_client_keys_never_collide_across_different_inputs() -> None:
    inputs = [
        ("10.0.0.1", ("a, b",)),
        ("10.0.0.1", ("a", " b")),
        ("10.0.0.1", ("a,", " b")),
        ("10.0.0.1", ()),
        ("10.0.0.1", ("",)),
        ("10.0.0.11", ("",)),
        ("10.0.0.1", ("1:",)),
        ("10.0.0.", ("11:1",)),
    ]
    keys = [client_key(peer, lines) for peer, lines in inputs]
    assert None not in keys
    assert len(set(keys)) == len(inputs)
    assert client_key(None, ("1.2.3.4",)) is None


@pytest.mark.parametrize(
    "text",
    [GB, "1.2.3.04", "127.1", "2001:db8::1", "2001:DB8:0::1", "::ffff:1.2.3.4", "2002:c000:201::",
     "64:ff9b::102:304", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "[2001:db8::1]:443",
     "fe80::1%eth0", "1.2.3.4:80", "", "::", "x" * 200, "1.2.3.4\x00", "é::1", ":::"],
)  # fmt: skip
def test_normalize_or_none_is_normalize_without_the_exception(text: str) -> None:
    n = Normalizer(["2001:db8:64::/96"])
    try:
        expected = n.normalize(text)
    except AddressError:
        expected = None
    assert n.normalize_or_none(text) == expected


SCOPE_HEADERS = [(b"Host", b"api"), (b"X-Forwarded-For", b"81.2.69.142, 10.0.0.2"),
                 (b"user-agent", b"curl"), (b"x-forwarded-for", b"216.160.83.56")]  # fmt: skip


def test_requests_can_convert_only_the_named_header_lines() -> None:
    scope = _scope("10.0.0.1", headers=SCOPE_HEADERS)
    full = Request.from_asgi(scope)
    named = Request.from_asgi(scope, headers=frozenset({"x-forwarded-for"}))
    assert named.headers == tuple(line for line in full.headers if line[0] == "x-forwarded-for")
    assert len(named.headers) == 2
    assert Request.from_asgi(scope, headers=frozenset()).headers == ()
    environ = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": GB, "HTTP_HOST": "api"}
    assert Request.from_wsgi(environ, headers=frozenset({"x-forwarded-for"})).headers == (
        ("x-forwarded-for", GB),
    )


def test_middleware_converts_only_what_its_readers_need() -> None:
    from geofence.enforcement import BlockResponse, Enforcement

    gf = Geofence(POLICY, trusted_proxies=["10.0.0.0/8"], reload_interval=None)
    assert Enforcement("t", gf, {}).needs_headers == frozenset({"x-forwarded-for"})
    plain = Geofence(POLICY, reload_interval=None)
    assert Enforcement("t", plain, {}).needs_headers is False

    def hook(decision: Any, request: Request) -> BlockResponse:
        return BlockResponse(403)

    assert Enforcement("t", gf, {"on_deny": hook}).needs_headers is True
    # Through the named lines alone the walk finds the same client as through all of them.
    scope = _scope("10.0.0.1", headers=SCOPE_HEADERS)
    named = Request.from_asgi(scope, headers=Enforcement("t", gf, {}).needs_headers)
    _same(gf.evaluate(named), gf.evaluate(Request.from_asgi(scope)))
    assert gf.evaluate(named).country == "US"  # the right-most untrusted hop
