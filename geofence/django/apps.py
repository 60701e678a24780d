"""The Django app for ``INSTALLED_APPS``: it registers geofence's ``manage.py check``."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["GeofenceConfig"]


class GeofenceConfig(AppConfig):  # type: ignore[misc]  # Django is untyped
    """``geofence.django`` in INSTALLED_APPS."""

    name = "geofence.django"
    label = "geofence"
    verbose_name = "geofence"

    def ready(self) -> None:
        from geofence.django import checks  # noqa: F401  (registers the check)
