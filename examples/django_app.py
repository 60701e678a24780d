"""A one-file Django project behind a local reverse proxy: serve ``application`` with any WSGI
server, e.g. ``gunicorn examples.django_app``. The decision is in ``request.META``."""

from __future__ import annotations

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from geofence.embedded import example_policy_path
from geofence.wsgi import GeofenceWSGIMiddleware

settings.configure(
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    SECRET_KEY="example-only-not-secret",  # noqa: S106
)


def home(request: HttpRequest) -> JsonResponse:
    decision = request.META["geofence.decision"]
    return JsonResponse({"country": decision.country, "rule": decision.rule})


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("", home), path("health", health)]

application = GeofenceWSGIMiddleware(
    get_wsgi_application(),
    policy=example_policy_path(),
    trusted_proxies=["loopback"],
    exempt_paths=["/health"],
)
