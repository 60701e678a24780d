"""Flask behind a local reverse proxy, enforced by ``geofence.flask.FlaskGeofence``.

    flask --app examples/flask_app.py run          # or: gunicorn 'examples.flask_app:app'

``/admin`` is decided by a stricter policy of its own, ``/health`` is exempt; the decision is
``flask.g.geofence``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, g

from geofence.flask import FlaskGeofence

ADMIN_POLICY = {  # only the office network, whatever the country
    "name": "admin",
    "default": "deny",
    "rules": [{"name": "office", "action": "allow", "networks": ["203.0.113.0/24"]}],
}

app = Flask(__name__)
geofence = FlaskGeofence(
    policy=Path(__file__).with_name("policy.yaml"), trusted_proxies=["loopback"]
)
geofence.init_app(app)


@app.get("/")
def home() -> dict[str, Any]:
    return {"country": g.geofence.country, "rule": g.geofence.rule}


@app.get("/admin")
@geofence.policy(ADMIN_POLICY)
def admin() -> dict[str, Any]:
    return {"rule": g.geofence.rule}


@app.get("/health")
@geofence.exempt
def health() -> str:
    return "ok"
