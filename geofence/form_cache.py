"""A decision for an ASGI scope or WSGI environ from the caches alone, without a ``Request``.

A scope or environ names no account, so a verdict that the cache holds for the address alone
needs only the client: the peer when nobody's headers are believed, else the cached resolution
of (peer, forwarding header lines) through the trusted proxies. Building the ``Request`` (its
header conversion above all) is most of what a cached ``evaluate(scope)`` and the middleware
cost otherwise; anything not cached returns ``None`` and the full path decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from geofence.cache import client_key
from geofence.decision import Decision
from geofence.facts import ROW_SIZE
from geofence.request_forms import raw_header_lines, raw_peer

if TYPE_CHECKING:
    from geofence.pipeline import Generation

__all__ = ["cached_form_decision"]

_NUMBER = ROW_SIZE  # where an entry keeps its verdict number (see pipeline.Entry)


def cached_form_decision(
    gen: Generation, form: Mapping[Any, Any], header: str | None
) -> Decision | None:
    """The decision for ``form`` from ``gen``'s caches, or ``None``; ``header`` is the
    forwarding header read through trusted proxies (``None``: nobody's headers believed)."""
    peer = raw_peer(form)
    if peer is None:
        return None
    client = None
    if header is None:
        entry = gen.cache.get(peer)
    else:
        lines = raw_header_lines(form, header)
        key = None if lines is None else client_key(peer, lines)
        client = None if key is None else gen.clients.get(key)
        address = None if client is None else client.address
        entry = None if address is None else gen.cache.get(address.original)
    if entry is None or entry[_NUMBER] is None:
        return None
    return Decision._make(gen.verdicts[entry[_NUMBER]], entry, client, gen.stamp)
