"""Flask behind a local reverse proxy: serve ``app`` with any WSGI server (gunicorn, waitress)."""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from geofence.embedded import example_policy_path
from geofence.wsgi import GeofenceWSGIMiddleware

app = Flask(__name__)
app.wsgi_app = GeofenceWSGIMiddleware(  # type: ignore[method-assign]
    app.wsgi_app,
    policy=example_policy_path(),
    trusted_proxies=["loopback"],
    exempt_paths=["/health"],
)


@app.get("/")
def home() -> dict[str, Any]:
    decision = request.environ["geofence.decision"]
    return {"country": decision.country, "rule": decision.rule}


@app.get("/health")
def health() -> str:
    return "ok"
