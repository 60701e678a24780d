"""Request: the framework-neutral view of one HTTP request that geofence decides on.

Only what a decision needs is kept: the TCP peer address, the header lines (for forwarding
headers), the path, the method, and what the application knows about the caller (account,
declared country, account creation time, client fingerprint) with the request's time.
``Request.from_asgi`` and ``Request.from_wsgi`` never raise: a server hands them whatever it
has, and a malformed scope must turn into an "unknown client" decision, not a 500.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = ["CALLER_FIELDS", "HeadersInput", "Request"]

HeaderLines = tuple[tuple[str, str], ...]
HeaderChoice = bool | AbstractSet[str]
"""Which header lines ``from_asgi`` / ``from_wsgi`` convert: all, none, or those named."""
HeadersInput = (
    Mapping[str, str]
    | Iterable[tuple[str, str]]
    | Iterable[tuple[bytes, bytes]]
    | str
    | bytes
    | None
)
"""What ``Request(headers=...)`` accepts: a mapping, ``(name, value)`` pairs or a raw block."""

CALLER_FIELDS = ("account", "declared_country", "account_created", "fingerprint", "time")
"""The fields an application's ``identify=`` callable may return (``time`` besides)."""

_WSGI_CONTENT = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}


def _text(value: object) -> str:
    """Header text from str or bytes (bytes are latin-1, as HTTP/1.1 puts them on the wire)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("latin-1")
    raise TypeError(f"header names and values must be str or bytes, not {type(value).__name__}")


def _parse_block(block: str) -> HeaderLines:
    """Header lines from a raw ``Name: value`` block; lines without a name are skipped."""
    lines: list[tuple[str, str]] = []
    for raw in block.splitlines():
        if raw[:1] in (" ", "\t") and lines:
            # obs-fold (RFC 9112 section 5.2): a continuation is the previous value plus one SP.
            name, value = lines[-1]
            lines[-1] = (name, f"{value} {raw.strip()}".strip())
            continue
        name, sep, value = raw.partition(":")
        name = name.strip()
        # A request line ("GET http://h/ HTTP/1.1") has a colon too, but no field name has spaces.
        if sep and name and not any(c in name for c in " \t"):
            lines.append((name.lower(), value.strip()))
    return tuple(lines)


def _header_lines(headers: object) -> HeaderLines:
    if headers is None:
        return ()
    if isinstance(headers, (str, bytes, bytearray)):
        return _parse_block(_text(headers))
    items: Iterable[Any]
    items = headers.items() if isinstance(headers, Mapping) else headers  # type: ignore[assignment]
    lines: list[tuple[str, str]] = []
    for name, value in items:
        name = _text(name).lower()
        # A mapping may carry several lines of one header as a list or tuple.
        for one in value if isinstance(value, (list, tuple)) else (value,):
            lines.append((name, _text(one)))
    return tuple(lines)


@dataclass(frozen=True, slots=True, init=False)
class Request:
    """One request as geofence sees it.

    >>> Request(ip="10.0.0.5", headers={"X-Forwarded-For": "81.2.69.142"}).headers
    (('x-forwarded-for', '81.2.69.142'),)
    """

    ip: str | None = None
    """The TCP peer address as text (``"10.0.0.5"``, ``"::1"``), or ``None`` when unknown."""
    headers: HeaderLines = field(default=())
    """Every header line in order, as ``(lower-case name, value)``; repeated names are kept."""
    path: str = "/"
    """URL path without the query string."""
    method: str = "GET"
    """HTTP method."""
    account: str | None = None
    """The caller's account id, when the application knows it (hashed before it is stored)."""
    declared_country: str | None = None
    """The account's billing or KYC country (ISO 3166-1 alpha-2, upper case), if known."""
    account_created: datetime | None = None
    """When the account was created (timezone-aware; a naive value is read as UTC)."""
    fingerprint: str | None = None
    """A client fingerprint the application computed (device id, JA4...); if absent, a weak
    one is derived from the headers SDKs send (``geofence.signals.fingerprint``)."""
    time: datetime | None = None
    """When the request happened (timezone-aware); ``None``: the moment of ``evaluate``."""

    def __init__(
        self,
        ip: str | None = None,
        headers: HeadersInput = (),
        path: str = "/",
        method: str = "GET",
        account: str | None = None,
        *,
        declared_country: str | None = None,
        account_created: datetime | None = None,
        fingerprint: str | None = None,
        time: datetime | None = None,
    ) -> None:
        # A hand-written __init__ so `headers` can accept every input form yet be typed as
        # the one stored form; frozen means fields are set through object.__setattr__.
        if ip is not None and not isinstance(ip, str):
            raise TypeError(f"Request.ip must be a str or None, not {type(ip).__name__}")
        for name, value in (("path", path), ("method", method)):
            if not isinstance(value, str):
                raise TypeError(f"Request.{name} must be a str, not {type(value).__name__}")
        if account is not None and not isinstance(account, str):
            raise TypeError(f"Request.account must be a str or None, not {type(account).__name__}")
        setter = object.__setattr__
        setter(self, "ip", ip)
        setter(self, "headers", _header_lines(headers))
        setter(self, "path", path)
        setter(self, "method", method)
        setter(self, "account", account)
        setter(self, "declared_country", _country(declared_country))
        setter(self, "account_created", _aware("account_created", account_created))
        if fingerprint is not None and not isinstance(fingerprint, str):
            raise TypeError(
                f"Request.fingerprint must be a str or None, not {type(fingerprint).__name__}"
            )
        setter(self, "fingerprint", fingerprint)
        setter(self, "time", _aware("time", time))

    def with_caller(self, **fields: Any) -> Request:
        """This request with caller fields (``account``, ``declared_country``,
        ``account_created``, ``fingerprint``, ``time``) set, checked like ``Request()``'s."""
        unknown = set(fields) - set(CALLER_FIELDS)
        if unknown:
            raise TypeError(
                f"unknown caller field(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(CALLER_FIELDS)}"
            )
        current = {name: getattr(self, name) for name in CALLER_FIELDS}
        current.update(fields)
        fresh = Request(**current)
        for name in ("ip", "headers", "path", "method"):
            object.__setattr__(fresh, name, getattr(self, name))
        return fresh

    @classmethod
    def _build(cls, ip: str | None, headers: HeaderLines, path: str, method: str) -> Request:
        """Build without checking or converting: the adapters have already done both."""
        self = object.__new__(cls)
        setter = object.__setattr__
        setter(self, "ip", ip)
        setter(self, "headers", headers)
        setter(self, "path", path)
        setter(self, "method", method)
        for name in CALLER_FIELDS:
            setter(self, name, None)
        return self

    def header_values(self, name: str) -> tuple[str, ...]:
        """Every line of header ``name`` (any case), in the order received."""
        name = name.lower()
        return tuple([value for key, value in self.headers if key == name])

    @classmethod
    def from_asgi(cls, scope: object, *, headers: HeaderChoice = True) -> Request:
        """Build from an ASGI http or websocket scope; never raises, whatever the scope holds.

        ``headers=False`` skips converting the header lines, for callers that will not read
        them (the middleware when no proxy is trusted and no hook is set); a set of lower-case
        names converts only those lines (the middleware when only the forwarding header is
        read: converting every line was most of its cost per request).
        """
        get = getattr(scope, "get", None)
        if not callable(get):
            return cls._build(None, (), "/", "GET")
        try:
            ip = _asgi_peer(get("client"))
        except Exception:
            ip = None
        try:
            if headers is True:
                lines = _asgi_headers(get("headers"))
            else:
                lines = _asgi_named_headers(get("headers"), headers) if headers else ()
        except Exception:
            lines = ()
        try:
            path = get("path")
            method = "GET" if get("type") == "websocket" else get("method")
        except Exception:
            path = method = None
        return cls._build(
            ip,
            lines,
            path if isinstance(path, str) and path else "/",
            method if isinstance(method, str) and method else "GET",
        )

    @classmethod
    def from_wsgi(cls, environ: object, *, headers: HeaderChoice = True) -> Request:
        """Build from a WSGI environ (PEP 3333); never raises, whatever the environ holds.

        ``headers``: ``False`` or a set of lower-case names, as in ``from_asgi``.
        """
        get = getattr(environ, "get", None)
        if not callable(get):
            return cls._build(None, (), "/", "GET")
        try:
            ip = get("REMOTE_ADDR")
            method = get("REQUEST_METHOD")
            path = _wsgi_path(get("SCRIPT_NAME"), get("PATH_INFO"))
        except Exception:
            ip = method = None
            path = "/"
        try:
            if headers is True or headers is False:
                lines = _wsgi_headers(environ) if headers else ()
            else:
                lines = tuple(line for line in _wsgi_headers(environ) if line[0] in headers)
        except Exception:
            lines = ()
        return cls._build(
            ip if isinstance(ip, str) and ip else None,
            lines,
            path,
            method if isinstance(method, str) and method else "GET",
        )


def _asgi_peer(client: object) -> str | None:
    if isinstance(client, (list, tuple)) and client and isinstance(client[0], str):
        return client[0] or None
    return None


def _asgi_headers(raw: object) -> HeaderLines:
    if not isinstance(raw, (list, tuple)):
        return ()
    lines: list[tuple[str, str]] = []
    for item in raw:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            name, value = item
            if isinstance(name, bytes) and isinstance(value, bytes):
                lines.append((name.decode("latin-1").lower(), value.decode("latin-1")))
    return tuple(lines)


def _asgi_named_headers(raw: object, names: AbstractSet[str]) -> HeaderLines:
    """``_asgi_headers(raw)`` keeping only the lines named in ``names``, without converting
    the others (a name is compared as bytes, lower-cased, before anything is decoded)."""
    if not isinstance(raw, (list, tuple)):
        return ()
    wanted = {name.encode("latin-1") for name in names}
    lines: list[tuple[str, str]] = []
    for item in raw:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            name, value = item
            if isinstance(name, bytes) and name.lower() in wanted and isinstance(value, bytes):
                lines.append((name.decode("latin-1").lower(), value.decode("latin-1")))
    return tuple(lines)


def _wsgi_headers(environ: object) -> HeaderLines:
    items = getattr(environ, "items", None)
    if not callable(items):
        return ()
    lines: list[tuple[str, str]] = []
    for key, value in items():
        if not isinstance(key, str) or not isinstance(value, str):
            continue
        if key.startswith("HTTP_") and len(key) > 5:
            lines.append((key[5:].lower().replace("_", "-"), value))
        elif key in _WSGI_CONTENT and value:
            lines.append((_WSGI_CONTENT[key], value))
    return tuple(lines)


def _wsgi_path(script_name: object, path_info: object) -> str:
    """The URL path, decoded as UTF-8 like an ASGI ``path``.

    PEP 3333 hands the path over as latin-1-decoded bytes; re-encoding recovers the bytes.
    """
    path = "".join(p for p in (script_name, path_info) if isinstance(p, str))
    if not path:
        return "/"
    try:
        return path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return path


def _country(code: object) -> str | None:
    if code is None:
        return None
    if not isinstance(code, str):
        raise TypeError(
            f"Request.declared_country must be a str or None, not {type(code).__name__}"
        )
    upper = code.strip().upper()
    # The shape only: this layer sits below the code tables, and the signal stage treats a
    # code that is no country as undeclared (and says so in the evidence).
    if not (len(upper) == 2 and upper.isascii() and upper.isalpha()):
        raise ValueError(
            f"Request.declared_country {code[:16]!r} is not an ISO 3166-1 alpha-2 country code"
        )
    return upper


def _aware(name: str, when: object) -> datetime | None:
    """``when`` as a timezone-aware datetime; a naive one is read as UTC."""
    if when is None:
        return None
    if not isinstance(when, datetime):
        raise TypeError(f"Request.{name} must be a datetime or None, not {type(when).__name__}")
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
