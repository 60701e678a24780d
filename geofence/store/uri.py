"""Store URLs: the scheme picks the backend, the query string carries options.

    memory://[?max_size=N&max_members=N]                       this process only (default)
    redis://[[user]:password@]host[:port][/db]                  one server (port 6379)
    rediss://...                                                the same over TLS
    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service_name[/db]
                                                                master found by Sentinel (26379)
    redis+cluster://[[user]:password@]host[:port][,host[:port]...]  Redis Cluster (6379)

Every mistake is a ``ConfigurationError`` naming the URL (password redacted) at open time.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from geofence.errors import ConfigurationError

__all__ = ["SCHEMES", "StoreURL", "parse_store_url"]

SCHEMES = ("memory", "redis", "rediss", "redis+sentinel", "redis+cluster")
_DEFAULT_PORT = {"redis": 6379, "rediss": 6379, "redis+sentinel": 26379, "redis+cluster": 6379}


def _positive(kind: type[float] | type[int]) -> Callable[[object], object]:
    def convert(raw: object) -> object:
        value = kind(str(raw))  # str() first: a bool or a float where an int belongs fails
        if not (math.isfinite(value) and value > 0):
            raise ValueError("must be a positive number")
        return value

    return convert


def _non_negative(raw: object) -> object:
    value = float(str(raw))
    if not (math.isfinite(value) and value >= 0):
        raise ValueError("must be a number >= 0")
    return value


def _flag(raw: object) -> object:
    if isinstance(raw, bool):
        return raw
    text = str(raw).lower()
    if text not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError("must be true or false")
    return text in ("true", "1", "yes")


def _cert_reqs(raw: object) -> object:
    if raw not in ("none", "optional", "required"):
        raise ValueError("must be none, optional or required")
    return raw


_COMMON: dict[str, Callable[[object], object]] = {
    "timeout": _positive(float),
    "retry_after": _non_negative,
}
_NETWORK: dict[str, Callable[[object], object]] = {
    **_COMMON,
    "connect_timeout": _positive(float),
    "max_connections": _positive(int),
    "health_check_interval": _non_negative,
    "client_name": str,
}
_TLS: dict[str, Callable[[object], object]] = {
    "ssl_ca_certs": str,
    "ssl_certfile": str,
    "ssl_keyfile": str,
    "ssl_cert_reqs": _cert_reqs,
    "ssl_check_hostname": _flag,
}
OPTIONS: dict[str, dict[str, Callable[[object], object]]] = {
    "memory": {**_COMMON, "max_size": _positive(int), "max_members": _positive(int)},
    "redis": _NETWORK,
    "rediss": {**_NETWORK, **_TLS},
    "redis+sentinel": {**_NETWORK, **_TLS, "ssl": _flag, "sentinel_password": str},
    "redis+cluster": {**_NETWORK, **_TLS, "ssl": _flag},
}


@dataclass(frozen=True, slots=True)
class StoreURL:
    """A parsed store URL: where the servers are, which database, and the typed options."""

    scheme: str
    redacted: str
    hosts: tuple[tuple[str, int], ...] = ()
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    service_name: str | None = None
    options: Mapping[str, object] = field(default_factory=dict)


def _redact(url: str, split: urllib.parse.SplitResult) -> str:
    userinfo, at, hosts = split.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return urllib.parse.urlunsplit(split._replace(netloc=f"{user}:***@{hosts}"))


def _hosts(text: str, scheme: str, where: str) -> tuple[tuple[str, int], ...]:
    out = []
    for item in text.split(","):
        host, port_text = item, ""
        if item.startswith("["):  # [IPv6]:port
            host, _, rest = item[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else rest
        elif item.count(":") == 1:
            host, port_text = item.split(":")
        if not host:
            raise ConfigurationError(f"store URL {where}: missing host in {item!r}")
        port = _DEFAULT_PORT[scheme]
        if port_text:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise ConfigurationError(f"store URL {where}: bad port {port_text!r} in {item!r}")
            port = int(port_text)
        out.append((host, port))
    return tuple(out)


def _db(text: str, where: str) -> int:
    if not text:
        return 0
    if not text.isdigit():
        raise ConfigurationError(f"store URL {where}: database must be a number, not {text!r}")
    return int(text)


def _options(scheme: str, query: str, given: Mapping[str, object], where: str) -> dict[str, object]:
    known = OPTIONS[scheme]
    try:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise ConfigurationError(f"store URL {where}: bad query string ({exc})") from None
    # The URL is the most specific configuration: its options override keyword arguments.
    merged = {**given, **dict(pairs)}
    out: dict[str, object] = {}
    for name, raw in merged.items():
        if name not in known:
            raise ConfigurationError(
                f"store URL {where}: unknown option {name!r} for {scheme}:// "
                f"(known: {', '.join(sorted(known))})"
            )
        try:
            out[name] = known[name](raw)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"store URL {where}: option {name}={raw!r} {exc}") from None
    return out


def parse_store_url(url: str, options: Mapping[str, object] | None = None) -> StoreURL:
    """Parse ``url`` (and keyword ``options``) or raise ``ConfigurationError`` saying why."""
    if not isinstance(url, str):
        raise ConfigurationError(f"store must be a URL string such as 'memory://', not {url!r}")
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise ConfigurationError(
            f"store URL {url.split('@')[-1]!r}: unknown scheme {scheme!r} "
            f"(use one of {', '.join(s + '://' for s in SCHEMES)})"
        )
    scheme = scheme.lower()
    try:
        split = urllib.parse.urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed [IPv6 bracket
        raise ConfigurationError(f"store URL {url.split('@')[-1]!r}: {exc}") from None
    where = repr(_redact(url, split))
    opts = _options(scheme, split.query, options or {}, where)
    if scheme == "memory":
        if split.netloc or split.path.strip("/"):
            raise ConfigurationError(f"store URL {where}: memory:// takes no host or path")
        return StoreURL(scheme, _redact(url, split), options=opts)
    return _server_url(scheme, split, where, opts)


def _server_url(
    scheme: str, split: urllib.parse.SplitResult, where: str, opts: dict[str, object]
) -> StoreURL:
    """The Redis URL's servers, database, credentials and (Sentinel) service name."""
    userinfo, _, netloc = split.netloc.rpartition("@")
    if not netloc:
        raise ConfigurationError(f"store URL {where}: missing host")
    user, _, password = userinfo.partition(":")
    parts = split.path.strip("/").split("/") if split.path.strip("/") else []
    service = None
    if scheme == "redis+sentinel":
        if not parts:
            raise ConfigurationError(f"store URL {where}: missing /service_name after the hosts")
        service, parts = urllib.parse.unquote(parts[0]), parts[1:]
    if len(parts) > 1 or (scheme == "redis+cluster" and parts and parts[0] not in ("", "0")):
        raise ConfigurationError(f"store URL {where}: unexpected path {split.path!r}")
    hosts = _hosts(netloc, scheme, where)
    if len(hosts) > 1 and scheme in ("redis", "rediss"):
        raise ConfigurationError(
            f"store URL {where}: {scheme}:// takes one host; for several use "
            "redis+cluster:// or redis+sentinel://"
        )
    return StoreURL(
        scheme,
        _redact(split.geturl(), split),
        hosts=hosts,
        db=_db(parts[0] if parts else "", where),
        username=urllib.parse.unquote(user) or None,
        password=urllib.parse.unquote(password) or None,
        service_name=service,
        options=opts,
    )
