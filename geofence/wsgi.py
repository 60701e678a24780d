"""GeofenceWSGIMiddleware: enforcement for any WSGI application (Flask, Django, ...).

    from geofence.wsgi import GeofenceWSGIMiddleware

    app.wsgi_app = GeofenceWSGIMiddleware(app.wsgi_app, policy="policy.yaml")   # Flask
    application = GeofenceWSGIMiddleware(get_wsgi_application(), policy=...)     # Django

Behaves as ``geofence.asgi.GeofenceMiddleware`` does for HTTP: every request is decided before
the application runs, a stopped one gets the decision's status (451 by default) and an RFC 9457
problem body, and the decision is published as ``environ["geofence.decision"]``. WSGI has no
lifespan: start a Geofence's background work yourself (in each worker process, after a fork).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from geofence.enforcement import Enforcement, EnforcementOptions, Outcome, status_line
from geofence.engine import Geofence
from geofence.errors import ConfigurationError
from geofence.request import Request

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["GeofenceWSGIMiddleware"]

Environ = dict[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]


class StartResponse(Protocol):
    """PEP 3333 ``start_response``."""

    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = ..., /
    ) -> Callable[[bytes], object]: ...


WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_from_wsgi = Request.from_wsgi


class GeofenceWSGIMiddleware:
    """Decide every request before the WSGI application sees it.

    Takes the options of ``geofence.asgi.GeofenceMiddleware`` (``geofence=`` or the Geofence
    arguments, ``on_deny``, ``on_challenge``, ``exempt_paths``, ``routes``, ``report_only``,
    ``blocked_by``, ``expose_facts``, ``debug_header``, ``identify``: see ``geofence.identify``;
    its two-argument form gets the environ too). An exempt path is recognised only when
    the server passes the raw request target (``REQUEST_URI`` or ``RAW_URI``) unencoded, or
    passes none at all.
    """

    def __init__(
        self,
        app: WSGIApp,
        geofence: Geofence | None = None,
        **options: Unpack[EnforcementOptions],
    ) -> None:
        self.app = app
        if _is_django_handler(app):
            raise ConfigurationError(
                "GeofenceWSGIMiddleware wraps a WSGI application and is not Django middleware: "
                "in MIDDLEWARE use 'geofence.django.GeofenceMiddleware', configured by "
                "settings.GEOFENCE (or wrap get_wsgi_application() in wsgi.py)"
            )
        self.enforcement = Enforcement("GeofenceWSGIMiddleware", geofence, options)
        self.geofence = self.enforcement.geofence
        self._debug = self.enforcement.debug_header
        self._headers = self.enforcement.needs_headers

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
        outcome = self.enforcement.check_form(environ, _from_wsgi, raw)
        if outcome is None:  # not decided from the caches alone
            outcome = self.enforcement.check(
                _from_wsgi(environ, headers=self._headers), raw, environ
            )
        environ["geofence.decision"] = outcome.decision
        if outcome.exempt:
            environ["geofence.exempt"] = True
        if self._debug is not None:
            start_response = self._with_debug_header(start_response, outcome)
        block = outcome.block
        if block is None:
            return self.app(environ, start_response)
        start_response(status_line(block.status), list(block.headers))
        return [block.body]

    def _with_debug_header(self, start_response: StartResponse, outcome: Outcome) -> StartResponse:
        assert self._debug is not None
        header = (self._debug, self.enforcement.debug_value(outcome))

        def start_with_header(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            return start_response(status, [*headers, header], exc_info)

        return start_with_header


def _is_django_handler(app: object) -> bool:
    # Django builds MIDDLEWARE entries as cls(get_response); get_response is a function of
    # django.core.handlers, where a WSGI app would be the project's application object.
    module = getattr(app, "__module__", None) or ""
    return isinstance(module, str) and module.startswith("django.core.handlers")
