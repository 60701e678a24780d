"""Store URLs: what each scheme parses into, and a specific ConfigurationError for each mistake."""

from __future__ import annotations

import sys

import pytest

from geofence.errors import ConfigurationError
from geofence.store import Op, open_store
from geofence.store.memory import MemoryStore
from geofence.store.uri import parse_store_url


@pytest.mark.parametrize(
    ("url", "scheme", "hosts", "db", "service"),
    [
        ("memory://", "memory", (), 0, None),
        ("redis://cache", "redis", (("cache", 6379),), 0, None),
        ("redis://cache:6380/2", "redis", (("cache", 6380),), 2, None),
        ("rediss://cache.example:6390/1", "rediss", (("cache.example", 6390),), 1, None),
        ("redis://[::1]:7000/0", "redis", (("::1", 7000),), 0, None),
        ("REDIS://cache", "redis", (("cache", 6379),), 0, None),
        ("redis+sentinel://s1:26379,s2/mymaster", "redis+sentinel",
         (("s1", 26379), ("s2", 26379)), 0, "mymaster"),
        ("redis+sentinel://s1/mymaster/3", "redis+sentinel", (("s1", 26379),), 3, "mymaster"),
        ("redis+cluster://n1:7000,n2:7001,[::1]:7002", "redis+cluster",
         (("n1", 7000), ("n2", 7001), ("::1", 7002)), 0, None),
    ],
)  # fmt: skip
def test_urls_parse(
    url: str, scheme: str, hosts: tuple[tuple[str, int], ...], db: int, service: str | None
) -> None:
    parsed = parse_store_url(url)
    assert (parsed.scheme, parsed.hosts, parsed.db, parsed.service_name) == (
        scheme,
        hosts,
        db,
        service,
    )


def test_credentials_are_parsed_and_redacted() -> None:
    parsed = parse_store_url("redis://app:s%40cret@cache:6379/0")
    assert (parsed.username, parsed.password) == ("app", "s@cret")
    assert parsed.redacted == "redis://app:***@cache:6379/0"
    assert "s%40cret" not in repr(parsed)
    assert open_store("redis://:pw@cache:6379/0").url == "redis://:***@cache:6379/0"


def test_options_come_from_the_query_string_and_keywords() -> None:
    parsed = parse_store_url("rediss://cache/0?timeout=0.25&ssl_cert_reqs=none", {"timeout": 1})
    assert parsed.options == {"timeout": 0.25, "ssl_cert_reqs": "none"}  # the URL wins
    store = open_store("memory://?max_size=5000&max_members=10")
    assert isinstance(store, MemoryStore)
    assert (store.max_size, store.max_members) == (5000, 10)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("memcached://cache:11211", "unknown scheme 'memcached'"),
        ("cache:6379", "unknown scheme"),
        ("redis://", "missing host"),
        ("redis://:pw@", "missing host"),
        ("redis://:6379/0", "missing host in ':6379'"),
        ("redis://cache:port/0", "bad port 'port'"),
        ("redis://cache:70000/0", "bad port '70000'"),
        ("redis://cache:0", "bad port '0'"),
        ("redis://cache/db1", "database must be a number, not 'db1'"),
        ("redis://cache/0/1", "unexpected path"),
        ("redis://a:1,b:2", "takes one host"),
        ("redis+sentinel://s1:26379", "missing /service_name"),
        ("redis+cluster://n1:7000/3", "unexpected path"),
        ("redis://[::1:7000", "Invalid IPv6 URL"),
        ("memory://somewhere", "memory:// takes no host or path"),
        ("redis://cache?timeout=-1", "option timeout='-1' must be a positive number"),
        ("redis://cache?timeout=abc", "option timeout='abc'"),
        ("redis://cache?max_size=10", "unknown option 'max_size' for redis://"),
        ("memory://?max_members=0", "option max_members='0'"),
        ("memory://?max_size=10&max_members=10", "max_size (10) must exceed max_members (10)"),
        ("rediss://cache?ssl_cert_reqs=maybe", "must be none, optional or required"),
        ("redis://cache?timeout", "bad query string"),
        ("redis://cache?=1", "unknown option ''"),
    ],
)
def test_bad_urls_fail_at_open_with_a_specific_message(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match="store URL") as caught:
        open_store(url)
    assert message in str(caught.value)


def test_a_password_never_appears_in_an_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_store("redis://app:hunter2@cache:badport/0")
    assert "hunter2" not in str(caught.value)
    assert "app:***@cache" in str(caught.value)


@pytest.mark.parametrize("bad", [None, 6379, b"redis://x"])
def test_a_url_that_is_not_a_string(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="must be a URL string"):
        open_store(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("prefix", ["", "a b", "{tag}", "x" * 33])
def test_bad_prefixes(prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="prefix"):
        open_store("memory://", prefix=prefix)


def test_unknown_keyword_option() -> None:
    with pytest.raises(ConfigurationError, match="unknown option 'pool_size'"):
        open_store("redis://cache", pool_size=4)


def test_missing_redis_py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # what an environment without it imports
    with pytest.raises(ConfigurationError, match=r"pip install 'geofence-policy\[redis\]'"):
        open_store("redis://cache:6379/0")
    assert open_store("memory://").apply([Op("count", "g", "n")], 0.0) == [1]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "max"}, "Op.kind"),
        ({"group": "a b"}, "Op.group"),
        ({"group": "{a}"}, "Op.group"),
        ({"group": "g" * 65}, "Op.group"),
        ({"group": ""}, "Op.group"),
        ({"name": "n" * 33}, "Op.name"),
        ({"name": "é"}, "Op.name"),
        ({"name": ["n"]}, "Op.name"),
        ({"value": "v" * 513}, "Op.value"),
        ({"value": 5}, "Op.value"),
        ({"amount": 1.5}, "Op.amount"),
        ({"amount": True}, "Op.amount"),
        ({"window_s": 0}, "Op.window_s"),
        ({"window_s": float("inf")}, "Op.window_s"),
        ({"window_s": float("nan")}, "Op.window_s"),
        ({"window_s": "1"}, "Op.window_s"),
    ],
)
def test_a_bad_op_is_a_caller_bug(fields: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"kind": "count", "group": "a:1", "name": "n"}
    with pytest.raises(ValueError, match=message):
        Op(**{**base, **fields})  # type: ignore[arg-type]
