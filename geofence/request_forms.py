"""The forms a request arrives in (address text, ``Request``, ASGI scope, WSGI environ, a
framework's request object) and the peer of a raw form read without building a ``Request``.

``as_request`` turns any form but address text into a ``Request`` (or ``None``). ``raw_peer``
reads only the peer address of a scope or environ, the same value ``Request.from_asgi`` /
``from_wsgi`` would put in ``Request.ip``: when no proxy is trusted and the policy decides on the
address alone, that is all a cached decision needs, and skipping the ``Request`` (its header
conversion above all) is most of the cost of ``evaluate(scope)``.
"""

from __future__ import annotations

from geofence.request import Request

__all__ = ["as_request", "raw_peer"]


def as_request(request: object) -> Request | None:
    """``request`` as a ``Request``: itself, or built from a scope, environ or framework
    request object; ``None`` when it is none of those."""
    if isinstance(request, Request):
        return request
    if not isinstance(request, dict):
        # Framework request objects carry the raw scope or environ: Starlette/FastAPI
        # ``request.scope``, Werkzeug/Flask ``request.environ``, Django ``request.META``.
        for attribute in ("scope", "environ", "META"):
            inner = getattr(request, attribute, None)
            if isinstance(inner, dict):
                request = inner
                break
        else:
            return None
    assert isinstance(request, dict)
    if request.get("type") in ("http", "websocket"):
        return Request.from_asgi(request)
    if "REMOTE_ADDR" in request or "wsgi.version" in request:
        return Request.from_wsgi(request)
    return None


def raw_peer(form: dict[object, object]) -> str | None:
    """The peer address text of an ASGI scope or WSGI environ (as ``as_request`` would read
    it), or ``None`` when there is none or ``form`` is neither."""
    kind = form.get("type")
    if kind == "http" or kind == "websocket":
        client = form.get("client")
        if isinstance(client, (list, tuple)) and client:
            peer = client[0]
            return peer if type(peer) is str and peer else None
        return None
    peer = form.get("REMOTE_ADDR")
    return peer if type(peer) is str and peer else None
