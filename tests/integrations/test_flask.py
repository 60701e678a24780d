"""geofence.flask with Flask's own test client (the served example: tests/test_examples.py)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, g

from geofence import Decision
from geofence.enforcement import BlockResponse
from geofence.errors import ConfigurationError, PolicyError
from geofence.flask import FlaskGeofence
from geofence.request import Request

US, CN = "8.8.8.8", "1.0.1.1"
POLICY = {
    "name": "app",
    "default": "deny",
    "rules": [{"name": "supported", "action": "allow", "countries": ["US"]}],
}
STRICT = {"name": "strict", "default": "deny", "rules": []}


def _app(geofence: FlaskGeofence) -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def home() -> dict[str, Any]:
        return {"country": g.geofence.country, "rule": g.geofence.rule}

    @app.get("/strict")
    @geofence.policy(STRICT)
    def strict() -> str:
        return "never"

    @app.get("/health")
    @geofence.exempt
    def health() -> str:
        return f"ok {g.geofence.action.value}"

    geofence.init_app(app)
    return app


def _get(app: Flask, path: str, client: str) -> Any:
    return app.test_client().get(path, environ_base={"REMOTE_ADDR": client})


def test_decides_each_request_and_puts_the_decision_on_g() -> None:
    app = _app(FlaskGeofence(policy=POLICY))
    assert _get(app, "/", US).json == {"country": "US", "rule": "supported"}
    denied = _get(app, "/", CN)
    assert denied.status_code == 451
    assert denied.content_type == "application/problem+json"
    assert denied.json["status"] == 451
    assert app.extensions["geofence"].geofence.policy.name == "app"


def test_per_view_policy_and_exemption() -> None:
    app = _app(FlaskGeofence(policy=POLICY))
    assert _get(app, "/strict", US).status_code == 451  # allowed by the app, not by the view
    assert _get(app, "/health", CN).get_data(as_text=True) == "ok deny"  # decided, not blocked


def test_constructor_form_and_config_from_app_config() -> None:
    app = Flask(__name__)
    app.config["GEOFENCE"] = {"policy": POLICY, "trusted_proxies": ["loopback"]}
    FlaskGeofence(app)

    @app.get("/")
    def home() -> str:
        return str(g.geofence.country)

    client = app.test_client()
    response = client.get("/", headers={"X-Forwarded-For": US})  # peer 127.0.0.1 is trusted
    assert response.get_data(as_text=True) == "US"


def test_identify_names_the_account() -> None:
    seen: list[Request] = []

    def on_deny(decision: Decision, req: Request) -> BlockResponse:
        seen.append(req)
        return BlockResponse(403, (), b"no")

    geofence = FlaskGeofence(
        policy=POLICY, identify=lambda r: dict(r.headers).get("x-account"), on_deny=on_deny
    )
    app = _app(geofence)
    response = app.test_client().get(
        "/", headers={"X-Account": "acct-7"}, environ_base={"REMOTE_ADDR": CN}
    )
    assert response.status_code == 403
    assert [r.account for r in seen] == ["acct-7"]


def test_a_failing_identify_gets_the_unknown_action(caplog: pytest.LogCaptureFixture) -> None:
    def broken(r: object) -> str:
        raise RuntimeError("database down")

    decisions: list[Decision] = []
    app = _app(FlaskGeofence(policy=POLICY, identify=broken, on_decision=decisions.append))
    assert _get(app, "/", CN).status_code == 451
    # Never an allow by accident: the account checks cannot be switched off by a broken login.
    assert _get(app, "/", US).status_code == 451
    assert decisions[-1].reasons[-1] == "identify() raised RuntimeError"
    assert "identify() raised" in caplog.text
    assert "database down" in caplog.text


def caller_of(request: Request) -> dict[str, str] | None:
    """Named by dotted path in app.config below."""
    account = dict(request.headers).get("x-account")
    return None if account is None else {"account": account, "fingerprint": "fp-1"}


def test_identify_as_a_dotted_path_in_app_config_also_decides_decorated_views() -> None:
    seen: list[Request] = []

    def on_deny(decision: Decision, req: Request) -> BlockResponse:
        seen.append(req)
        return BlockResponse(403, (), b"no")

    app = Flask(__name__)
    app.config["GEOFENCE"] = {"identify": f"{__name__}:caller_of", "on_deny": on_deny}
    geofence = FlaskGeofence(policy=POLICY)

    @app.get("/strict")
    @geofence.policy(STRICT)
    def strict() -> str:
        return "never"

    geofence.init_app(app)
    client = app.test_client()
    client.get("/strict", headers={"X-Account": "acct-8"}, environ_base={"REMOTE_ADDR": US})
    assert [(r.account, r.fingerprint) for r in seen] == [("acct-8", "fp-1")]


def test_bad_configuration_fails_at_set_up() -> None:
    with pytest.raises(PolicyError):
        FlaskGeofence(policy={"name": "x", "rules": [{"name": "a", "action": "alow"}]}).init_app(
            Flask(__name__)
        )
    with pytest.raises(ConfigurationError, match="identify must be a callable"):
        FlaskGeofence(Flask(__name__), policy=POLICY, identify="not callable")
    geofence = FlaskGeofence(policy=POLICY)
    with pytest.raises(PolicyError):
        geofence.policy({"name": "bad"})  # a view policy is validated when decorated
    with pytest.raises(ConfigurationError, match="init_app"):
        _ = geofence.geofence
