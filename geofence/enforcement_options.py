"""What a middleware accepts: its options, their checks, and the response type its hooks return.

Every check runs once, at construction: a wrong option is a ``ConfigurationError`` that names the
adapter and the option, never an error at request time. ``Enforcement`` (geofence/enforcement.py)
calls these and keeps the results; the adapters re-export nothing from here.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from geofence.decision import Decision
from geofence.engine import Geofence, GeoSpec, PolicySource
from geofence.errors import ConfigurationError
from geofence.identify import IdentifyCallable
from geofence.reputation.feedset import FeedsSpec
from geofence.request import Request

__all__ = [
    "BlockHook",
    "BlockResponse",
    "EnforcementOptions",
    "blocked_by",
    "build_geofence",
    "check_names",
    "debug_header",
    "exempt_paths",
    "flag",
    "hook",
    "problem_type_base",
    "routes",
]

_PATH_FORBIDDEN = frozenset("?#%")
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_GEOFENCE_ARGS = frozenset(inspect.signature(Geofence).parameters)


@dataclass(frozen=True, slots=True)
class BlockResponse:
    """The HTTP response sent instead of the application's: status, header pairs and body."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


BlockHook = Callable[[Decision, Request], BlockResponse]
"""``on_deny`` / ``on_challenge``: build the response for a stopped request."""


class EnforcementOptions(TypedDict, total=False):
    """The keyword options of both middleware classes (besides ``geofence=``).

    Either pass ``geofence=Geofence(...)`` or the ``Geofence`` arguments themselves (``policy``,
    ``geo``, ``trusted_proxies``, ...), not both.
    """

    policy: PolicySource
    geo: GeoSpec
    feeds: FeedsSpec
    trusted_proxies: Iterable[str]
    client_ip_header: str
    nat64_prefixes: Iterable[str]
    cache_size: int
    reload_interval: float | None
    on_decision: Callable[[Decision], None] | None
    on_deny: BlockHook | None
    on_challenge: BlockHook | None
    exempt_paths: Iterable[str]
    routes: Mapping[str, PolicySource]
    report_only: bool
    blocked_by: str | None
    expose_facts: bool
    debug_header: str | None
    problem_type_base: str
    identify: IdentifyCallable | None


_MIDDLEWARE_ARGS = frozenset(EnforcementOptions.__annotations__) - _GEOFENCE_ARGS


def check_names(adapter: str, options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``options`` into (middleware options, ``Geofence`` arguments); an unknown name
    is an error that suggests the closest known one."""
    known = _GEOFENCE_ARGS | _MIDDLEWARE_ARGS
    for name in options:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigurationError(f"{adapter}: unknown option {name!r}{hint}")
    middleware = {k: v for k, v in options.items() if k in _MIDDLEWARE_ARGS}
    return middleware, {k: v for k, v in options.items() if k in _GEOFENCE_ARGS}


def problem_type_base(adapter: str, base: object) -> str:
    """The URI prefix of problem ``type`` fields."""
    if not isinstance(base, str) or not base or not base.isprintable() or " " in base:
        raise ConfigurationError(f"{adapter}: problem_type_base must be a URI, not {base!r}")
    return base


def build_geofence(adapter: str, geofence: object, arguments: dict[str, Any]) -> Geofence:
    """The ``Geofence`` given, or one built from the arguments (never both, never neither)."""
    if geofence is not None:
        if not isinstance(geofence, Geofence):
            raise ConfigurationError(
                f"{adapter}: geofence= must be a Geofence, not {type(geofence).__name__}"
            )
        if arguments:
            raise ConfigurationError(
                f"{adapter}: pass geofence= or Geofence arguments "
                f"({', '.join(sorted(arguments))}), not both"
            )
        return geofence
    if "policy" not in arguments:
        raise ConfigurationError(f"{adapter}: needs geofence=Geofence(...) or policy=...")
    return Geofence(**arguments)


def hook(adapter: str, name: str, hook: object) -> BlockHook | None:
    """An ``on_deny`` / ``on_challenge`` hook: callable or None."""
    if hook is not None and not callable(hook):
        raise ConfigurationError(f"{adapter}: {name} must be callable, not {type(hook).__name__}")
    return hook


def flag(adapter: str, name: str, value: object) -> bool:
    """A True/False option (no truthy strings: ``"false"`` would read as True)."""
    if not isinstance(value, bool):
        raise ConfigurationError(f"{adapter}: {name} must be True or False, not {value!r}")
    return value


def _path(adapter: str, option: str, path: object) -> str:
    if (
        not isinstance(path, str)
        or not path.startswith("/")
        or not path.isascii()
        or not path.isprintable()
        or " " in path
        or _PATH_FORBIDDEN & set(path)
    ):
        raise ConfigurationError(
            f"{adapter}: {option} takes decoded URL paths such as '/health' (ASCII, no query, "
            f"'%', '#' or spaces), not {path!r}"
        )
    return path


def exempt_paths(adapter: str, paths: object) -> frozenset[str]:
    """The exact decoded paths never blocked."""
    if isinstance(paths, (str, bytes)) or not isinstance(paths, Iterable):
        raise ConfigurationError(
            f"{adapter}: exempt_paths takes a list of paths, such as ['/health'], not {paths!r}"
        )
    return frozenset(_path(adapter, "exempt_paths", p) for p in paths)


def routes(
    adapter: str, geofence: Geofence, routes: object
) -> tuple[tuple[str, str, Geofence], ...]:
    """(prefix, prefix + "/", sibling Geofence) per route, the longest prefix first."""
    if not isinstance(routes, Mapping):
        raise ConfigurationError(
            f"{adapter}: routes maps path prefixes to policies, such as "
            f"{{'/admin': 'admin.yaml'}}, not {routes!r}"
        )
    table: dict[str, Geofence] = {}
    for prefix, policy in routes.items():
        key = _path(adapter, "routes", prefix).rstrip("/")
        if not key:
            raise ConfigurationError(f"{adapter}: routes: '/' is the whole app; use policy=")
        if key in table:
            raise ConfigurationError(f"{adapter}: routes: {prefix!r} is listed twice")
        table[key] = geofence.with_policy(policy)
    ordered = sorted(table.items(), key=lambda item: len(item[0]), reverse=True)
    return tuple((prefix, f"{prefix}/", sibling) for prefix, sibling in ordered)


def blocked_by(adapter: str, url: object) -> str | None:
    """The RFC 7725 ``Link`` header value for an absolute URL, or None."""
    if url is None:
        return None
    scheme, sep, rest = url.partition(":") if isinstance(url, str) else ("", "", "")
    if (
        not isinstance(url, str)
        or not (sep and scheme.isalpha() and rest)
        or not url.isascii()
        or not url.isprintable()
        or set(url) & set(' <>"')
    ):
        raise ConfigurationError(
            f"{adapter}: blocked_by must be an absolute URL such as "
            f"'https://example.org/legal', not {url!r}"
        )
    return f'<{url}>; rel="blocked-by"'


def debug_header(adapter: str, name: object) -> str | None:
    """The debug header name, lower-cased, or None."""
    if name is None:
        return None
    if not isinstance(name, str) or not name or not set(name) <= _TOKEN_CHARS:
        raise ConfigurationError(
            f"{adapter}: debug_header must be a header name such as 'Geofence-Decision', "
            f"not {name!r}"
        )
    return name.lower()
