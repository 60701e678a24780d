"""Store keys from what clients control: bounded, hashed, never the raw text.

Account ids and fingerprints are the application's, but often come from a client (an API key's
account, a header): they are cut to ``MAX_ID`` characters (with the full length mixed in) and
hashed with BLAKE2b before they become a store key or member, so no id can grow a key, inject
a key separator or appear in the store in the clear. Networks are the /24 of an IPv4 address
and the /48 of an IPv6 one, as MaxMind counts users per network.
"""

from __future__ import annotations

import hashlib

__all__ = ["MAX_ID", "digest", "network_key", "network_text"]

MAX_ID = 1024
"""Characters of an id that are hashed (plus its length): longer ids are not stored longer."""


def digest(text: str, salt: str = "") -> str:
    """20 hex digits of BLAKE2b over ``salt``, the length and the first ``MAX_ID`` chars."""
    data = f"{salt}\x00{len(text)}\x00{text[:MAX_ID]}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=10).hexdigest()


def network_key(version: int, packed: bytes) -> str:
    """``n4:cb0071`` for 203.0.113.0/24, ``n6:20010db80001`` for 2001:db8:1::/48."""
    return f"n4:{packed[:3].hex()}" if version == 4 else f"n6:{packed[:6].hex()}"


def network_text(version: int, packed: bytes) -> str:
    """``203.0.113.0/24`` or ``2001:db8:1::/48``, for evidence."""
    import ipaddress

    if version == 4:
        return f"{ipaddress.IPv4Address(packed[:3] + bytes(1))}/24"
    return f"{ipaddress.IPv6Address(packed[:6] + bytes(10))}/48"
