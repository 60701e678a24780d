"""State stores for the signals: windowed distinct counts, sums and values, chosen by URL.

>>> store = open_store("memory://")
>>> store.apply([Op("distinct", "a:1", "countries", "DE"), Op("count", "a:1", "requests")], 0.0)
[1, 1]
>>> store.apply([Op("distinct", "a:1", "countries", "FR"), Op("swap", "a:1", "last", "FR")], 60.0)
[2, None]

``memory://`` (the default) lives in one process; ``redis://``, ``rediss://``,
``redis+sentinel://`` and ``redis+cluster://`` (the ``redis`` extra) are shared by a fleet.
"""

from __future__ import annotations

from typing import Any

from geofence.errors import ConfigurationError, StoreUnavailable
from geofence.store.memory import MAX_MEMBERS, MAX_SIZE, MemoryStore
from geofence.store.protocol import Op, Result, Store, StoreHealth
from geofence.store.uri import SCHEMES, parse_store_url

__all__ = ["SCHEMES", "Op", "Result", "Store", "StoreHealth", "StoreUnavailable", "open_store"]

_PREFIX_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_-.")


def open_store(
    url: str = "memory://", *, prefix: str = "geofence", timeout: float = 0.05, **options: Any
) -> Store:
    """The store ``url`` names; options come from keywords and the URL's query string (which
    wins), e.g. ``open_store("redis://cache:6379/0?timeout=0.1", prefix="api-eu")``.

    ``timeout`` (seconds) bounds connecting and every round trip of a network store.
    A bad URL, option or prefix, or redis-py missing for a redis URL, raises
    ``ConfigurationError`` here, never later.
    """
    if not prefix or len(prefix) > 32 or not set(prefix) <= _PREFIX_CHARS:
        raise ConfigurationError(f"store prefix must be 1-32 of [A-Za-z0-9:_.-], not {prefix!r}")
    parsed = parse_store_url(url, {"timeout": timeout, **options})
    if parsed.scheme == "memory":
        opts = parsed.options
        return MemoryStore(
            parsed.redacted,
            max_size=int(opts.get("max_size", MAX_SIZE)),  # type: ignore[call-overload]
            max_members=int(opts.get("max_members", MAX_MEMBERS)),  # type: ignore[call-overload]
        )
    from geofence.store.clients import require_redis

    require_redis(parsed.redacted)
    from geofence.store.redis_store import RedisStore

    return RedisStore(parsed, prefix=prefix)
