"""What the ASGI and WSGI middleware share: options, exempt and route matching, block responses.

``Enforcement`` is built once per middleware and validated there (a wrong option is a
``ConfigurationError`` at construction, never at request time). Per request, an adapter turns its
scope or environ into a ``Request`` and calls ``Enforcement.check(request, raw_path)``; the
``Outcome`` says what was decided and, when the request must be stopped, the ``BlockResponse`` to
send. The adapters only translate that to and from their protocol.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, NamedTuple

from geofence import enforcement_options as check
from geofence.decision import Decision
from geofence.enforcement_options import BlockHook, BlockResponse, EnforcementOptions
from geofence.engine import Geofence
from geofence.identify import Identifier
from geofence.policy import Action
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
        middleware, arguments = check.check_names(adapter, options)
        self.geofence = check.build_geofence(adapter, geofence, arguments)
        get = middleware.get
        identify = get("identify")  # see geofence.identify
        self.identifier = None if identify is None else Identifier(adapter, identify, asynchronous)
        self._on_deny = check.hook(adapter, "on_deny", get("on_deny"))
        self._on_challenge = check.hook(adapter, "on_challenge", get("on_challenge"))
        # User code (hooks, identify) may read any header; the engine reads only its own.
        reads_any = (
            self._on_deny is not None
            or self._on_challenge is not None
            or self.identifier is not None
        )
        self.needs_headers: bool | frozenset[str] = reads_any or (
            self.geofence.header_names or False
        )
        """Which header lines the adapters must convert (``Request.from_asgi(headers=...)``):
        all for user hooks and identify, only the forwarding header for the client-address
        walk through trusted proxies, else none (converting each line costs ~1 us a request)."""
        self.exempt_paths = check.exempt_paths(adapter, get("exempt_paths", ()))
        self._routes = check.routes(adapter, self.geofence, get("routes", {}))
        # Nothing but the client decides a request (no identify, one policy for every path, no
        # exempt path to compare): a decision cached for it needs no Request (check_form).
        self._by_form = self.identifier is None and not self._routes and not self.exempt_paths
        self.report_only = check.flag(adapter, "report_only", get("report_only", False))
        self._expose_facts = check.flag(adapter, "expose_facts", get("expose_facts", False))
        self._link = check.blocked_by(adapter, get("blocked_by"))
        self.debug_header = check.debug_header(adapter, get("debug_header"))
        base = check.problem_type_base(adapter, get("problem_type_base", "urn:geofence:problem:"))
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

    def check_form(
        self,
        form: Mapping[Any, Any],
        build: Callable[..., Request],
        raw_path: object = None,
    ) -> Outcome | None:
        """The outcome for a scope or environ whose decision is cached for its client (see
        ``Geofence.evaluate_cached``), or ``None``: then ``check`` the ``Request``. ``build``
        (``Request.from_asgi`` or ``from_wsgi``) makes that ``Request`` from ``form`` here only
        for a block response."""
        if not self._by_form:
            return None
        decision = self.geofence.evaluate_cached(form)
        if decision is None:
            return None
        if decision.action is _ALLOW:
            return Outcome(decision, None, False)
        return self.respond(decision, build(form, headers=self.needs_headers), raw_path)

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
