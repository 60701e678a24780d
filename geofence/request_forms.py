"""The forms a request arrives in (address text, ``Request``, ASGI scope, WSGI environ, a
framework's request object) and the peer of a raw form read without building a ``Request``.

``as_request`` turns any form but address text into a ``Request`` (or ``None``). ``raw_peer``
reads only the peer address of a scope or environ, the same value ``Request.from_asgi`` /
``from_wsgi`` would put in ``Request.ip``: when no proxy is trusted and the policy decides on the
address alone, that is all a cached decision needs, and skipping the ``Request`` (its header
conversion above all) is most of the cost of ``evaluate(scope)``. ``raw_header_lines`` reads
one header's lines the same way, for the cached resolution through trusted proxies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from geofence.request import Request

__all__ = ["as_request", "raw_header_lines", "raw_peer"]


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


def raw_peer(form: Mapping[Any, Any]) -> str | None:
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


def raw_header_lines(form: Mapping[Any, Any], name: str) -> tuple[str, ...] | None:
    """Every line of header ``name`` (lower case) in an ASGI scope, as ``header_values`` of
    the ``Request`` built from it would give them; ``None`` when ``form`` is not a scope or
    its headers are not all in the shape ``Request.from_asgi`` accepts."""
    kind = form.get("type")
    if kind == "http" or kind == "websocket":
        raw = form.get("headers")
        if type(raw) is not list and type(raw) is not tuple:
            return None
        wanted = name.encode("latin-1")
        try:  # the lines from_asgi keeps: bytes name and value; other shapes it skips too
            return tuple(
                [
                    value.decode("latin-1")
                    for key, value in raw
                    if key.lower() == wanted and type(key) is bytes and type(value) is bytes
                ]
            )
        except (TypeError, ValueError, AttributeError):  # an item that is not a pair of texts
            return None
    # An environ is not read here: a WSGI server may pass a header under several keys
    # (``HTTP_X_FORWARDED_FOR`` and ``HTTP_X-FORWARDED_FOR`` both name it), and finding them
    # all is the walk over the environ that building the ``Request`` does anyway.
    return None
