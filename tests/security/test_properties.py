"""Property tests: for any input a client controls, evaluate() answers and never believes it
unless a trusted proxy vouches for it."""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geofence import Decision, Geofence, Request, normalize

from ..conftest import examples

POLICY: dict[str, Any] = {
    "name": "properties",
    "default": "deny",
    "unknown": "deny",
    "rules": [
        {"name": "health", "action": "allow", "paths": ["/healthz"]},
        {"name": "embargo", "action": "deny", "countries": ["CN", "CU", "IR", "KP", "SY"]},
        {"name": "supported", "action": "allow", "countries": ["US", "DE", "GB", "FR"]},
    ],
}
GF = Geofence(POLICY, trusted_proxies=["private", "loopback"], reload_interval=None)
PROXIES = ("x-forwarded-for", "forwarded", "x-real-ip", "cf-connecting-ip", "true-client-ip")
_GEOFENCES = {
    header: Geofence(POLICY, trusted_proxies=["private"], client_ip_header=header)
    for header in PROXIES
}

ipv4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
ipv6 = st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n)))
# Public as geofence judges it: after normalisation, so an IPv4-compatible ::a00:0 is the
# private 10.0.0.0 (which a "private" trusted-proxy set rightly trusts), not a public IPv6.
public = st.one_of(ipv4, ipv6).filter(
    lambda a: (
        ipaddress.ip_address(a).is_global and ipaddress.ip_address(normalize(a).text).is_global
    )
)
addressish = st.one_of(
    ipv4,
    ipv6,
    st.text(max_size=60),
    st.from_regex(r"\[?[0-9a-fA-F:.%]{0,45}\]?(:[0-9]{0,6})?", fullmatch=True),
)
header_names = st.one_of(st.sampled_from(PROXIES), st.text(min_size=1, max_size=20))
header_values = st.one_of(
    addressish,
    st.lists(addressish, max_size=8).map(", ".join),
    st.builds(lambda a: f"for={a}", addressish),
    st.builds(lambda a: f'for="[{a}]:443";proto=https', addressish),
    st.binary(max_size=80).map(lambda b: b.decode("latin-1")),
)
headers = st.lists(st.tuples(header_names, header_values), max_size=12)
paths = st.one_of(st.just("/healthz"), st.text(max_size=40))
methods = st.one_of(st.sampled_from(["GET", "POST", "OPTIONS"]), st.text(max_size=10))


@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.too_slow])
@given(addressish)
def test_any_bare_input_gives_a_decision(text: str) -> None:
    d = GF.evaluate(text)
    assert isinstance(d, Decision)
    d.to_dict()
    if d.ip is None:
        assert not d.allowed


@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.too_slow])
@given(public, headers, paths, methods)
def test_an_untrusted_peer_is_the_client_whatever_it_sends(
    peer: str, sent: list[tuple[str, str]], path: str, method: str
) -> None:
    for header in PROXIES:
        gf = _GEOFENCES[header]
        d = gf.evaluate(Request(ip=peer, headers=sent, path=path, method=method))
        assert d.ip == normalize(peer).text
        assert d.ip_source == "peer"


@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["10.0.0.1", "127.0.0.1", "::1", "::ffff:10.1.2.3"]), headers, paths)
def test_a_trusted_peer_never_makes_evaluate_raise(
    peer: str, sent: list[tuple[str, str]], path: str
) -> None:
    for header in PROXIES:
        d = _GEOFENCES[header].evaluate(Request(ip=peer, headers=sent, path=path))
        assert isinstance(d, Decision)
        if d.ip is None:  # an unknown client is only let in by a request-only rule
            assert not d.allowed or d.rule == "health"


@settings(max_examples=examples(300))
@given(st.one_of(ipv4, ipv6))
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalize(text)
    twice = normalize(once.text)
    assert twice.text == once.text
    assert twice.via == "direct"


@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(["type", "client", "headers", "path", "method", "REMOTE_ADDR"]),
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=20),
            st.binary(max_size=20),
            st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=40)), max_size=4),
            st.tuples(st.text(max_size=20), st.integers()),
        ),
    )
)
def test_any_scope_or_environ_shape_gives_a_decision(document: dict[str, Any]) -> None:
    assert isinstance(GF.evaluate(document), Decision)
