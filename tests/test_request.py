from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geofence.request import Request

PAIRS = (("x-forwarded-for", "1.1.1.1"), ("host", "example"), ("x-forwarded-for", "2.2.2.2"))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Forwarded-For": "1.1.1.1", "Host": "example"}, PAIRS[:2]),
        ({"x-forwarded-for": ["1.1.1.1", "2.2.2.2"]}, (PAIRS[0], PAIRS[2])),
        (
            [("X-Forwarded-For", "1.1.1.1"), ("Host", "example"), ("x-forwarded-for", "2.2.2.2")],
            PAIRS,
        ),
        ([(b"X-Forwarded-For", b"1.1.1.1"), (b"host", b"example")], PAIRS[:2]),
        ((("x-a", "caf\xe9"),), (("x-a", "caf\xe9"),)),
        ("X-Forwarded-For: 1.1.1.1\r\nHost:example\r\nx-forwarded-for:  2.2.2.2 \r\n\r\n", PAIRS),
        (b"Host: example\nX-Long: a\n b\n\tc\n", (("host", "example"), ("x-long", "a b c"))),
        (b"X-A: caf\xe9\r\n", (("x-a", "caf\xe9"),)),
        ("GET http://h/ HTTP/1.1\r\nHost: example\r\nno colon here\r\n", (("host", "example"),)),
        (None, ()),
        ((), ()),
        ({}, ()),
    ],
)
def test_headers_are_stored_as_lower_case_lines_in_order(
    headers: Any, expected: tuple[tuple[str, str], ...]
) -> None:
    assert Request(headers=headers).headers == expected


def test_header_values_returns_every_line_in_order() -> None:
    request = Request(headers=PAIRS)
    assert request.header_values("X-Forwarded-For") == ("1.1.1.1", "2.2.2.2")
    assert request.header_values("host") == ("example",)
    assert request.header_values("missing") == ()


def test_defaults_and_fields() -> None:
    request = Request()
    assert (request.ip, request.headers, request.path, request.method, request.account) == (
        None,
        (),
        "/",
        "GET",
        None,
    )
    request = Request("10.0.0.5", {"a": "b"}, "/v1/messages", "POST", "acct_42")
    assert (request.ip, request.path, request.method, request.account) == (
        "10.0.0.5",
        "/v1/messages",
        "POST",
        "acct_42",
    )


def test_request_is_frozen_hashable_and_compares_by_value() -> None:
    request = Request(ip="10.0.0.5", headers={"a": "b"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.ip = "1.2.3.4"  # type: ignore[misc]
    assert request == Request(ip="10.0.0.5", headers=[("A", "b")])
    assert hash(request) == hash(Request(ip="10.0.0.5", headers=[("a", "b")]))
    assert not hasattr(request, "__dict__")


@pytest.mark.parametrize(
    "kwargs",
    [{"ip": 1}, {"path": None}, {"method": b"GET"}, {"account": 42}, {"headers": [("a", 1)]}],
)
def test_constructor_rejects_wrong_types(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        Request(**kwargs)


HTTP_SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "https",
    "path": "/v1/caf\xe9",
    "raw_path": b"/v1/caf%C3%A9",
    "query_string": b"a=1",
    "root_path": "",
    "headers": [
        (b"host", b"example"),
        (b"x-forwarded-for", b"1.1.1.1"),
        (b"X-Forwarded-For", b"2.2.2.2"),
        (b"x-name", b"caf\xe9"),
    ],
    "client": ("10.0.0.5", 51234),
    "server": ("10.0.0.1", 443),
}


def test_from_asgi_http_scope() -> None:
    request = Request.from_asgi(HTTP_SCOPE)
    assert request.ip == "10.0.0.5"
    assert request.path == "/v1/caf\xe9"
    assert request.method == "POST"
    assert request.account is None
    assert request.header_values("x-forwarded-for") == ("1.1.1.1", "2.2.2.2")
    assert request.header_values("x-name") == ("caf\xe9",)  # latin-1, byte for byte


def test_from_asgi_websocket_scope_is_a_get() -> None:
    scope = {k: v for k, v in HTTP_SCOPE.items() if k != "method"}
    scope["type"] = "websocket"
    request = Request.from_asgi(scope)
    assert (request.method, request.ip, request.path) == ("GET", "10.0.0.5", "/v1/caf\xe9")


@pytest.mark.parametrize(
    ("scope", "ip", "headers", "path", "method"),
    [
        ({"type": "http", "client": None}, None, (), "/", "GET"),
        ({"type": "http"}, None, (), "/", "GET"),
        ({}, None, (), "/", "GET"),
        ({"client": ["::1", 80], "path": "/x", "method": "PUT"}, "::1", (), "/x", "PUT"),
        ({"client": 12, "headers": [(1, 2)], "path": b"/x", "method": 5}, None, (), "/", "GET"),
        ({"client": (None, 1), "headers": "garbage"}, None, (), "/", "GET"),
        ({"client": (), "headers": [(b"a",), (b"a", b"b", b"c"), None]}, None, (), "/", "GET"),
        (
            {"client": ("",), "headers": [("a", "b"), (b"ok", b"1")]},
            None,
            (("ok", "1"),),
            "/",
            "GET",
        ),
        ({"path": "", "method": ""}, None, (), "/", "GET"),
    ],
)
def test_from_asgi_is_defensive(
    scope: dict[str, Any], ip: str | None, headers: tuple[Any, ...], path: str, method: str
) -> None:
    request = Request.from_asgi(scope)
    assert (request.ip, request.headers, request.path, request.method) == (
        ip,
        headers,
        path,
        method,
    )


class ExplodingScope(dict[str, Any]):
    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError(key)

    def items(self) -> Any:
        raise RuntimeError("items")


@pytest.mark.parametrize("scope", [None, 12, "scope", [], ExplodingScope()])
def test_from_asgi_and_from_wsgi_never_raise_on_non_mappings(scope: Any) -> None:
    for build in (Request.from_asgi, Request.from_wsgi):
        request = build(scope)
        assert (request.ip, request.headers, request.path, request.method) == (None, (), "/", "GET")


def test_from_wsgi_environ() -> None:
    environ = {
        "REQUEST_METHOD": "DELETE",
        "SCRIPT_NAME": "/app",
        # PEP 3333: the UTF-8 bytes of "/café" arrive decoded as latin-1.
        "PATH_INFO": "/caf\xc3\xa9",
        "QUERY_STRING": "a=1",
        "REMOTE_ADDR": "10.0.0.5",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "",
        "HTTP_X_FORWARDED_FOR": "1.1.1.1, 2.2.2.2",
        "HTTP_CF_CONNECTING_IP": "3.3.3.3",
        "HTTP_": "nameless",
        "wsgi.version": (1, 0),
        "wsgi.input": object(),
    }
    request = Request.from_wsgi(environ)
    assert request.ip == "10.0.0.5"
    assert request.method == "DELETE"
    assert request.path == "/app/caf\xe9"
    assert request.header_values("x-forwarded-for") == ("1.1.1.1, 2.2.2.2",)
    assert request.header_values("cf-connecting-ip") == ("3.3.3.3",)
    assert request.header_values("content-type") == ("application/json",)
    assert request.header_values("content-length") == ()  # empty means absent
    assert len(request.headers) == 3


@pytest.mark.parametrize(
    ("environ", "ip", "path", "method"),
    [
        ({}, None, "/", "GET"),
        ({"REMOTE_ADDR": "", "PATH_INFO": ""}, None, "/", "GET"),
        ({"REMOTE_ADDR": 5, "PATH_INFO": b"/x", "REQUEST_METHOD": None}, None, "/", "GET"),
        ({"PATH_INFO": "/\xff"}, None, "/\xff", "GET"),  # not UTF-8: kept as given
        ({"REMOTE_ADDR": "::1", "PATH_INFO": "/ok", 1: "x", "HTTP_A": 2}, "::1", "/ok", "GET"),
    ],
)
def test_from_wsgi_is_defensive(
    environ: dict[Any, Any], ip: str | None, path: str, method: str
) -> None:
    request = Request.from_wsgi(environ)
    assert (request.ip, request.path, request.method, request.headers) == (ip, path, method, ())


scalars = st.one_of(
    st.none(), st.integers(), st.text(max_size=8), st.binary(max_size=8), st.floats()
)
garbage = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)
keys = st.sampled_from(
    ["type", "client", "headers", "path", "method", "REMOTE_ADDR", "PATH_INFO", "HTTP_X_A"]
)


@given(st.dictionaries(keys, garbage, max_size=6))
def test_building_from_any_scope_or_environ_never_raises(scope: dict[str, Any]) -> None:
    for request in (Request.from_asgi(scope), Request.from_wsgi(scope)):
        assert request.ip is None or isinstance(request.ip, str)
        assert isinstance(request.path, str)
        assert isinstance(request.method, str)
        assert all(isinstance(n, str) and isinstance(v, str) for n, v in request.headers)


def test_adapters_can_skip_header_conversion() -> None:
    environ = {"REMOTE_ADDR": "192.0.2.1", "PATH_INFO": "/x", "HTTP_X_FORWARDED_FOR": "8.8.8.8"}
    assert Request.from_wsgi(environ).header_values("x-forwarded-for") == ("8.8.8.8",)
    lean = Request.from_wsgi(environ, headers=False)
    assert (lean.ip, lean.path, lean.headers) == ("192.0.2.1", "/x", ())
    scope = {"type": "http", "client": ("192.0.2.1", 1), "headers": [(b"a", b"b")], "path": "/"}
    assert Request.from_asgi(scope).headers == (("a", "b"),)
    assert Request.from_asgi(scope, headers=False).headers == ()
