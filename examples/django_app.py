"""A one-file Django project behind a local reverse proxy, enforced by
``geofence.django.GeofenceMiddleware`` (configured by ``settings.GEOFENCE``).

    python examples/django_app.py check            # geofence's system check included
    python examples/django_app.py runserver        # or: gunicorn examples.django_app

The decision is ``request.geofence``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

settings.configure(
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    SECRET_KEY="example-only-not-secret",  # noqa: S106
    INSTALLED_APPS=["geofence.django"],
    MIDDLEWARE=["geofence.django.GeofenceMiddleware"],
    GEOFENCE={
        "policy": Path(__file__).with_name("policy.yaml"),
        "trusted_proxies": ["loopback"],
        "exempt_paths": ["/health"],
    },
)


def home(request: HttpRequest) -> JsonResponse:
    decision = request.geofence  # type: ignore[attr-defined]
    return JsonResponse({"country": decision.country, "rule": decision.rule})


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("", home), path("health", health)]

application = get_wsgi_application()

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
