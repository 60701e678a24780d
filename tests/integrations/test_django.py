"""geofence.django with Django's test client and ``manage.py check`` (call_command).

Django's settings are process-wide: this module configures them once (test_examples serves the
Django example in a process of its own), and each test overrides ``GEOFENCE``; a new test
``Client`` builds the middleware afresh.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import django
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.http import HttpRequest, JsonResponse
from django.test import Client, override_settings
from django.urls import path

from geofence import Decision
from geofence.enforcement import BlockResponse
from geofence.errors import ConfigurationError
from geofence.request import Request
from geofence.wsgi import GeofenceWSGIMiddleware

US, CN = "8.8.8.8", "1.0.1.1"
POLICY = {
    "name": "site",
    "default": "deny",
    "rules": [{"name": "supported", "action": "allow", "countries": ["US"]}],
}
SEEN: list[Request] = []


def _home(request: HttpRequest) -> JsonResponse:
    decision = request.geofence  # type: ignore[attr-defined]
    return JsonResponse({"country": decision.country, "rule": decision.rule})


def account_of(request: Request, native: HttpRequest) -> dict[str, str] | None:
    """The ``identify`` named by dotted path in the settings below: its two-argument form
    gets Django's own request too."""
    account = native.headers.get("X-Account")
    return None if account is None else {"account": account, "declared_country": "US"}


def remember(decision: Decision, request: Request) -> BlockResponse:
    SEEN.append(request)
    return BlockResponse(451, (), b"remembered")


_URLS = types.ModuleType("geofence_test_django_urls")
_URLS.urlpatterns = [path("", _home)]  # type: ignore[attr-defined]
sys.modules[_URLS.__name__] = _URLS
_HERE = types.ModuleType("geofence_test_django_identity")
_HERE.account_of = account_of  # type: ignore[attr-defined]
sys.modules[_HERE.__name__] = _HERE

if not settings.configured:
    settings.configure(
        ROOT_URLCONF=_URLS.__name__,
        ALLOWED_HOSTS=["testserver"],
        SECRET_KEY="tests-only",
        INSTALLED_APPS=["geofence.django"],
        MIDDLEWARE=["geofence.django.GeofenceMiddleware"],
        GEOFENCE={"policy": POLICY},
    )
    django.setup()


def _get(client: str, **headers: Any) -> Any:
    return Client(REMOTE_ADDR=client).get("/", headers=headers)


def test_middleware_from_settings_decides_and_sets_request_geofence() -> None:
    assert _get(US).json() == {"country": "US", "rule": "supported"}
    denied = _get(CN)
    assert denied.status_code == 451
    assert denied["Content-Type"] == "application/problem+json"
    assert denied["Cache-Control"] == "no-store"
    assert denied.json()["status"] == 451


def test_identify_as_a_dotted_path_names_the_account() -> None:
    SEEN.clear()
    options = {
        "policy": POLICY,
        "identify": "geofence_test_django_identity.account_of",
        "on_deny": remember,
    }
    with override_settings(GEOFENCE=options):
        response = _get(CN, x_account="acct-3")
    assert response.content == b"remembered"
    assert [(r.account, r.declared_country) for r in SEEN] == [("acct-3", "US")]


def test_an_identify_returning_an_unknown_key_gets_the_unknown_action() -> None:
    decisions: list[Decision] = []
    options = {
        "policy": POLICY,
        "identify": lambda request: {"user": "acct-4"},
        "on_decision": decisions.append,
    }
    with override_settings(GEOFENCE=options):
        assert _get(US).status_code == 451  # US alone is allowed: never an allow by accident
    assert "unknown key(s) 'user'" in decisions[-1].reasons[-1]


def test_trusted_proxies_from_settings() -> None:
    with override_settings(GEOFENCE={"policy": POLICY, "trusted_proxies": ["private"]}):
        assert _get("10.0.0.5", x_forwarded_for=US).json()["country"] == "US"


def test_system_check_reports_a_bad_policy_and_missing_data() -> None:
    call_command("check")  # the configured settings pass
    bad = {"policy": {"name": "x", "rules": [{"name": "a", "action": "alow"}]}}
    with override_settings(GEOFENCE=bad), pytest.raises(SystemCheckError, match=r"geofence\.E001"):
        call_command("check")
    missing = {"policy": POLICY, "geo": "/nonexistent/city.mmdb"}
    with override_settings(GEOFENCE=missing), pytest.raises(SystemCheckError, match=r"city\.mmdb"):
        call_command("check")
    unimportable = {"policy": POLICY, "identify": "no_such_module.account"}
    with (
        override_settings(GEOFENCE=unimportable),
        pytest.raises(SystemCheckError, match="identify"),
    ):
        call_command("check")


def test_the_wsgi_middleware_in_middleware_gets_a_clear_message() -> None:
    with override_settings(MIDDLEWARE=["geofence.wsgi.GeofenceWSGIMiddleware"]):
        with pytest.raises(SystemCheckError, match=r"geofence\.django\.GeofenceMiddleware"):
            call_command("check")
        with pytest.raises(ConfigurationError, match=r"geofence\.django\.GeofenceMiddleware"):
            _get(US)


def test_missing_settings_is_a_configuration_error() -> None:
    with override_settings(GEOFENCE=None), pytest.raises(ConfigurationError, match="GEOFENCE"):
        _get(US)
    assert GeofenceWSGIMiddleware(lambda e, s: [], policy=POLICY).geofence.policy.name == "site"
