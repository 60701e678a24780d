"""``manage.py check`` for geofence: settings.GEOFENCE builds a working Geofence.

A bad policy, a missing database or feed, a wrong option or an ``identify`` path that does
not import is reported as ``geofence.E001`` with geofence's own message, before deployment
rather than at the first request. Registered when ``geofence.django`` is in INSTALLED_APPS.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from geofence.errors import GeofenceError

__all__ = ["check_geofence_settings"]

_MIDDLEWARE = "geofence.django.GeofenceMiddleware"
_WSGI = "geofence.wsgi.GeofenceWSGIMiddleware"


def check_geofence_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Build the middleware's Geofence from settings.GEOFENCE; report what stops it."""
    from geofence.django import build_enforcement

    middleware = list(getattr(settings, "MIDDLEWARE", None) or ())
    messages: list[CheckMessage] = []
    if _WSGI in middleware:
        messages.append(
            Error(
                f"{_WSGI} wraps a WSGI application; it is not Django middleware",
                hint=f"use {_MIDDLEWARE!r} in MIDDLEWARE, configured by settings.GEOFENCE",
                id="geofence.E002",
            )
        )
    if _MIDDLEWARE not in middleware:
        messages.append(
            Warning(
                f"{_MIDDLEWARE} is not in MIDDLEWARE: no request is decided",
                hint=f"add {_MIDDLEWARE!r} near the top of MIDDLEWARE",
                id="geofence.W001",
            )
        )
    try:
        enforcement = build_enforcement()
    except GeofenceError as exc:
        messages.append(Error(f"settings.GEOFENCE: {exc}", id="geofence.E001"))
    else:
        enforcement.geofence.close()
    return messages


register(check_geofence_settings, "geofence")
