"""What the ASGI and WSGI middleware share: options, exempt and route matching, block responses.

``Enforcement`` is built once per middleware and validated there (a wrong option is a
``ConfigurationError`` at construction, never at request time). Per request, an adapter turns its
scope or environ into a ``Request`` and calls ``Enforcement.check(request, raw_path)``; the
``Outcome`` says what was decided and, when the request must be stopped, the ``BlockResponse`` to
send. The adapters only translate that to and from their protocol.
"""

from __future__ import annotations

import difflib
import inspect
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, NamedTuple, TypedDict

from geofence.decision import Decision
from geofence.engine import Geofence, GeoSpec, PolicySource
from geofence.errors import ConfigurationError
from geofence.identify import Identifier, IdentifyCallable
from geofence.policy import Action
from geofence.reputation.feedset import FeedsSpec
from geofence.request import Request

__all__ = [
    "BlockHook",
    "BlockResponse",
    "Enforcement",
    "EnforcementOptions",
    "Outcome",
]

log = logging.getLogger("geofence.middleware")

_ALLOW = Action.ALLOW
_DENY = Action.DENY
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


class Outcome(NamedTuple):
    """One request's result: the decision, the response to send instead (or None), exemption."""

    decision: Decision
    block: BlockResponse | None
    exempt: bool


class Enforcement:
    """The policy side of a middleware: which ``Geofence`` decides a path, and what to send."""

    def __init__(
        self,
        adapter: str,
        geofence: Geofence | None,
        options: Mapping[str, Any],
        *,
        asynchronous: bool = False,
    ) -> None:
        _check_names(adapter, options)
        middleware = {k: v for k, v in options.items() if k in _MIDDLEWARE_ARGS}
        self.geofence = _geofence(
            adapter, geofence, {k: v for k, v in options.items() if k in _GEOFENCE_ARGS}
        )
        get = middleware.get
        identify = get("identify")  # see geofence.identify
        self.identifier = None if identify is None else Identifier(adapter, identify, asynchronous)
        self._on_deny = _hook(adapter, "on_deny", get("on_deny"))
        self._on_challenge = _hook(adapter, "on_challenge", get("on_challenge"))
        self.needs_headers: bool = (
            self.geofence.reads_headers
            or self._on_deny is not None
            or self._on_challenge is not None
            or self.identifier is not None
        )
        """Whether the adapters must convert header lines: only the client-address walk
        through trusted proxies, user hooks and identify read them (~2 us per request saved
        otherwise)."""
        self.exempt_paths = _exempt_paths(adapter, get("exempt_paths", ()))
        self._routes = _routes(adapter, self.geofence, get("routes", {}))
        self.report_only = _flag(adapter, "report_only", get("report_only", False))
        self._expose_facts = _flag(adapter, "expose_facts", get("expose_facts", False))
        self._link = _blocked_by(adapter, get("blocked_by"))
        self.debug_header = _debug_header(adapter, get("debug_header"))
        base = get("problem_type_base", "urn:geofence:problem:")
        if not isinstance(base, str) or not base or not base.isprintable() or " " in base:
            raise ConfigurationError(f"{adapter}: problem_type_base must be a URI, not {base!r}")
        self._types = {_DENY: f"{base}blocked", Action.CHALLENGE: f"{base}challenge"}
        if self.exempt_paths:
            log.info(
                "geofence: %s exempts these exact paths from enforcement: %s",
                adapter,
                ", ".join(sorted(self.exempt_paths)),
            )

    # -- per request ---------------------------------------------------------------------------

    def geofence_for(self, path: str) -> Geofence:
        """The ``Geofence`` whose policy applies to ``path`` (the longest route prefix wins)."""
        for prefix, below, sibling in self._routes:
            if path == prefix or path.startswith(below):
                return sibling
        return self.geofence

    def is_exempt(self, path: str, raw_path: object) -> bool:
        """Whether ``path`` is an exempt path that arrived exactly so, with no percent-encoding.

        ``raw_path`` is the request target as received (bytes or str; a query is ignored), or
        ``None`` when the server does not say: then only the decoded path is compared.
        """
        if path not in self.exempt_paths:
            return False
        if raw_path is None:
            return True
        if isinstance(raw_path, (bytes, bytearray)):
            raw_path = bytes(raw_path).decode("latin-1")
        return isinstance(raw_path, str) and raw_path.partition("?")[0] == path

    def check(self, request: Request, raw_path: object = None, native: object = None) -> Outcome:
        """Decide ``request`` (its caller named by ``identify``, which may get the ``native``
        request too); the outcome carries the response to send when it is stopped."""
        gf = self.geofence_for(request.path) if self._routes else self.geofence
        if self.identifier is None:
            return self.respond(gf.evaluate(request), request, raw_path)
        decision, request = self.identifier.decide(gf, request, native)
        return self.respond(decision, request, raw_path)

    async def acheck(self, request: Request, raw_path: object, native: object) -> Outcome:
        """``check``'s async twin: an async ``identify`` is awaited, and ``aevaluate`` decides."""
        gf = self.geofence_for(request.path) if self._routes else self.geofence
        if self.identifier is None:
            return self.respond(await gf.aevaluate(request), request, raw_path)
        decision, request = await self.identifier.adecide(gf, request, native)
        return self.respond(decision, request, raw_path)

    def respond(
        self, decision: Decision, request: Request, raw_path: object = None, exempt: bool = False
    ) -> Outcome:
        """The outcome of a decision already made (by a per-view policy, or ``aevaluate``);
        ``exempt`` marks a view exempted by the framework integration."""
        path = request.path
        if not exempt and self.exempt_paths:
            exempt = self.is_exempt(path, raw_path)
        if decision.action is _ALLOW:
            return Outcome(decision, None, exempt)
        if decision.allowed or exempt or self.report_only:
            why = "exempt path" if exempt else "report mode"
            log.info("geofence: not enforced (%s): %s", why, _describe(decision, path))
            return Outcome(decision, None, exempt)
        log.info("geofence: blocked: %s", _describe(decision, path))
        return Outcome(decision, self._block(decision, request), False)

    def debug_value(self, outcome: Outcome) -> str:
        """The debug header's value: action, rule, mode, decision id, and whether enforced."""
        decision = outcome.decision
        rule = "".join(c for c in decision.rule or "-" if c.isprintable() and c.isascii())
        value = (
            f"{decision.action.value}; rule={rule}; mode={decision.mode.value}; "
            f"id={decision.decision_id}"
        )
        if outcome.exempt:
            return f"{value}; exempt"
        if outcome.block is None and decision.action is not _ALLOW:
            return f"{value}; not-enforced"
        return value

    # -- responses -------------------------------------------------------------------------

    def _block(self, decision: Decision, request: Request) -> BlockResponse:
        deny = decision.action is _DENY
        name, hook = ("on_deny", self._on_deny) if deny else ("on_challenge", self._on_challenge)
        if hook is not None:
            try:
                response: object = hook(decision, request)
            except Exception:  # a broken hook must not open the gate: send the default
                log.exception("geofence: the %s hook failed; sending the default response", name)
            else:
                if isinstance(response, BlockResponse):
                    return response
                log.error(
                    "geofence: the %s hook returned %s, not a BlockResponse; sending the default",
                    name,
                    type(response).__name__,
                )
        return self.problem_response(decision)

    def problem_response(self, decision: Decision) -> BlockResponse:
        """The default response: an RFC 9457 ``application/problem+json`` body.

        It names the rule and a short reason; the client's facts (address, country, ASN, tags)
        and the policy's reasons only with ``expose_facts=True``.
        """
        deny = decision.action is _DENY
        status = decision.status
        problem: dict[str, Any] = {
            "type": self._types[_DENY if deny else Action.CHALLENGE],
            "title": "Blocked by geographic policy" if deny else "Challenge required",
            "status": status,
            "detail": _detail(decision, deny),
            "rule": decision.rule,
            "decision_id": decision.decision_id,
        }
        if self._expose_facts:
            problem["reasons"] = list(decision.reasons)
            problem["client"] = {
                k: decision.to_dict()[k] for k in ("ip", "country", "regions", "asn", "tags")
            }
        body = json.dumps(problem, separators=(",", ":")).encode()
        headers = [
            ("content-type", "application/problem+json"),
            ("cache-control", "no-store"),
            ("content-length", str(len(body))),
        ]
        if deny and self._link is not None:
            headers.append(("link", self._link))
        return BlockResponse(status, tuple(headers), body)


def status_line(status: int) -> str:
    """``"451 Unavailable For Legal Reasons"``: the status with its reason phrase."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Blocked"


def _detail(decision: Decision, deny: bool) -> str:
    if decision.rule is not None:
        why = f"rule '{decision.rule}'"
    elif decision.ip is None:
        why = "the client address could not be determined"
    elif decision.country is None:
        why = "the client's location is unknown"
    else:
        why = "no rule allows the client's location"
    if deny:
        return f"Access from the client's location is blocked: {why}."
    return f"Access needs a challenge to be completed first: {why}."


def _describe(decision: Decision, path: str) -> str:
    return (
        f"{decision.action.value} {path!r} rule={decision.rule} ip={decision.ip} "
        f"country={decision.country} policy={decision.policy_name} "
        f"decision={decision.decision_id}"
    )


# -- option checks (construction time) ---------------------------------------------------------


def _check_names(adapter: str, options: Mapping[str, Any]) -> None:
    known = _GEOFENCE_ARGS | _MIDDLEWARE_ARGS
    for name in options:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigurationError(f"{adapter}: unknown option {name!r}{hint}")


def _geofence(adapter: str, geofence: object, arguments: dict[str, Any]) -> Geofence:
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


def _hook(adapter: str, name: str, hook: object) -> BlockHook | None:
    if hook is not None and not callable(hook):
        raise ConfigurationError(f"{adapter}: {name} must be callable, not {type(hook).__name__}")
    return hook


def _flag(adapter: str, name: str, value: object) -> bool:
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


def _exempt_paths(adapter: str, paths: object) -> frozenset[str]:
    if isinstance(paths, (str, bytes)) or not isinstance(paths, Iterable):
        raise ConfigurationError(
            f"{adapter}: exempt_paths takes a list of paths, such as ['/health'], not {paths!r}"
        )
    return frozenset(_path(adapter, "exempt_paths", p) for p in paths)


def _routes(
    adapter: str, geofence: Geofence, routes: object
) -> tuple[tuple[str, str, Geofence], ...]:
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


def _blocked_by(adapter: str, url: object) -> str | None:
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


def _debug_header(adapter: str, name: object) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str) or not name or not set(name) <= _TOKEN_CHARS:
        raise ConfigurationError(
            f"{adapter}: debug_header must be a header name such as 'Geofence-Decision', "
            f"not {name!r}"
        )
    return name.lower()
