"""Flask integration: ``FlaskGeofence(app)`` or ``init_app(app)``, per-view policies and exemptions.

    from geofence.flask import FlaskGeofence

    geofence = FlaskGeofence(policy="policy.yaml", trusted_proxies=["private"])
    geofence.init_app(app)          # or FlaskGeofence(app, policy=...)

    @app.post("/v1/admin")
    @geofence.policy("admin.yaml")  # this view decided by another policy (same data)
    def admin(): ...

    @app.get("/health")
    @geofence.exempt                # decided and reported, never blocked
    def health(): ...

Options are the ``Geofence`` arguments (``policy``, ``geo``, ``trusted_proxies``, ``feeds``,
``store``, ...), the middleware options (``exempt_paths``, ``on_deny``, ...) and ``identify``
(see ``geofence.identify``: the ``Request``, or with a second argument ``flask.request`` too,
to the caller's fields; a callable or a dotted path); ``app.config["GEOFENCE"]`` supplies any
not given. Decorated views use the same ``identify``.
The decision is ``flask.g.geofence`` (and ``request.environ["geofence.decision"]``). Needs the
``flask`` extra.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from geofence.enforcement import Enforcement
from geofence.engine import Geofence
from geofence.errors import ConfigurationError
from geofence.frameworks import require
from geofence.policy import Policy, PolicySource, load_policy
from geofence.request import Request

require("flask", "flask")

import flask  # noqa: E402

__all__ = ["FlaskGeofence"]

View = TypeVar("View", bound=Callable[..., Any])
_ADAPTER = "FlaskGeofence"
_POLICY_ATTR = "_geofence_policy"
_EXEMPT_ATTR = "_geofence_exempt"


class FlaskGeofence:
    """Decide each request before its view (a ``before_request`` hook)."""

    def __init__(self, app: flask.Flask | None = None, **options: Any) -> None:
        self._options = options
        self.enforcement: Enforcement | None = None
        self._siblings: dict[int, Geofence] = {}
        self._lock = threading.Lock()
        if app is not None:
            self.init_app(app)

    @property
    def geofence(self) -> Geofence:
        """The application-wide ``Geofence`` (after ``init_app``)."""
        return self._enforcement().geofence

    def init_app(self, app: flask.Flask) -> None:
        """Build the Geofence from the options and ``app.config["GEOFENCE"]``; hook ``app``."""
        configured = app.config.get("GEOFENCE") or {}
        if not isinstance(configured, dict):
            raise ConfigurationError(f"app.config['GEOFENCE'] must be a dict, not {configured!r}")
        options = {**configured, **self._options}
        if isinstance(options.get("identify"), str):  # a dotted path, as in a config file
            options["identify"] = _import(options["identify"])
        self.enforcement = Enforcement(_ADAPTER, options.pop("geofence", None), options)
        app.extensions["geofence"] = self
        app.before_request(self._before_request)

    def policy(self, source: PolicySource) -> Callable[[View], View]:
        """Decorate a view to be decided by ``source`` (validated now) instead of the app's."""
        loaded = load_policy(source)

        def mark(view: View) -> View:
            setattr(view, _POLICY_ATTR, loaded)
            return view

        return mark

    def exempt(self, view: View) -> View:
        """Decorate a view never to be blocked (still decided; ``g.geofence`` is set)."""
        setattr(view, _EXEMPT_ATTR, True)
        return view

    def _enforcement(self) -> Enforcement:
        if self.enforcement is None:
            raise ConfigurationError("FlaskGeofence: call init_app(app) first")
        return self.enforcement

    def _before_request(self) -> flask.Response | None:
        enforcement = self._enforcement()
        environ = flask.request.environ
        view = flask.current_app.view_functions.get(flask.request.endpoint or "")
        policy: Policy | None = getattr(view, _POLICY_ATTR, None)
        request = Request.from_wsgi(environ, headers=enforcement.needs_headers)
        if policy is None:
            gf = enforcement.geofence_for(request.path)
        else:
            gf = self._sibling(enforcement.geofence, policy)
        identifier = enforcement.identifier
        if identifier is None:
            decision = gf.evaluate(request)
        else:
            decision, request = identifier.decide(gf, request, flask.request)
        raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
        exempt = bool(getattr(view, _EXEMPT_ATTR, False))
        outcome = enforcement.respond(decision, request, raw, exempt)
        flask.g.geofence = outcome.decision
        environ["geofence.decision"] = outcome.decision
        block = outcome.block
        if block is None:
            return None
        return flask.Response(block.body, status=block.status, headers=list(block.headers))

    def _sibling(self, base: Geofence, policy: Policy) -> Geofence:
        # One sibling per decorated policy, built on its first request (the app's Geofence
        # exists only after init_app), sharing the app's data.
        key = id(policy)
        sibling = self._siblings.get(key)
        if sibling is None:
            with self._lock:
                sibling = self._siblings.get(key)
                if sibling is None:
                    sibling = self._siblings[key] = base.with_policy(policy)
        return sibling


def _import(path: str) -> object:
    from werkzeug.utils import ImportStringError, import_string

    try:
        return import_string(path)
    except ImportStringError as exc:
        raise ConfigurationError(
            f"{_ADAPTER}: identify must be a callable or the dotted path of one; "
            f"{path!r} does not import ({exc.exception})"
        ) from None
