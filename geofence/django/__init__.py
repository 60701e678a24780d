"""Django integration: ``geofence.django.GeofenceMiddleware`` for ``MIDDLEWARE``.

    INSTALLED_APPS = [..., "geofence.django"]          # adds the `manage.py check` checks
    MIDDLEWARE = ["geofence.django.GeofenceMiddleware", ...]
    GEOFENCE = {
        "policy": BASE_DIR / "policy.yaml",
        "trusted_proxies": ["private"],
        "feeds": "embedded",
        "identify": "myapp.accounts.identify",       # dotted path or callable, see below
        "exempt_paths": ["/health"],
    }

``settings.GEOFENCE`` holds the ``Geofence`` arguments (``policy``, ``geo``, ``trusted_proxies``,
``feeds``, ``store``, ...) and the middleware options (``exempt_paths``, ``on_deny``, ...).
Each request is decided before the view; the decision is ``request.geofence``. A stopped request
gets the 451 (or 403) problem response. ``identify`` (see ``geofence.identify``) gets the
``Request``; a two-argument one also gets Django's ``HttpRequest`` (``request.user``, so put
``GeofenceMiddleware`` after ``AuthenticationMiddleware``). Needs the ``django`` extra.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from geofence.enforcement import Enforcement
from geofence.errors import ConfigurationError
from geofence.frameworks import require
from geofence.request import Request

require("django", "django")

from django.conf import settings  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

__all__ = ["GeofenceMiddleware", "options_from_settings"]

_ADAPTER = "geofence.django.GeofenceMiddleware"


def options_from_settings() -> dict[str, Any]:
    """``settings.GEOFENCE`` as Geofence/middleware options, ``identify`` imported."""
    raw: object = getattr(settings, "GEOFENCE", None)
    if raw is None:
        raise ConfigurationError(
            f"{_ADAPTER}: settings.GEOFENCE is not set; give it at least a policy, e.g. "
            "GEOFENCE = {'policy': BASE_DIR / 'policy.yaml'}"
        )
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"settings.GEOFENCE must be a dict, not {type(raw).__name__}")
    options = dict(raw)
    identify: object = options.get("identify")
    if isinstance(identify, str):
        try:
            options["identify"] = import_string(identify)
        except ImportError as exc:
            raise ConfigurationError(f"settings.GEOFENCE['identify']: {exc}") from None
    return options


def build_enforcement() -> Enforcement:
    """The ``Enforcement`` settings.GEOFENCE describes (a ``ConfigurationError`` if wrong)."""
    options = options_from_settings()
    geofence = options.pop("geofence", None)
    return Enforcement(_ADAPTER, geofence, options)


class GeofenceMiddleware:
    """Decide each request before its view; ``request.geofence`` is the ``Decision``."""

    sync_capable = True
    async_capable = False  # Django adapts; the decision is one in-memory lookup

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.enforcement = build_enforcement()
        self.geofence = self.enforcement.geofence
        self._headers = self.enforcement.needs_headers

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        req = Request.from_wsgi(meta, headers=self._headers)
        raw_path = meta.get("RAW_URI") or meta.get("REQUEST_URI")
        outcome = self.enforcement.check(req, raw_path, request)
        request.geofence = outcome.decision
        meta["geofence.decision"] = outcome.decision
        block = outcome.block
        if block is None:
            return self.get_response(request)
        response = HttpResponse(block.body, status=block.status)
        for name, value in block.headers:
            response.headers[name] = value
        return response
