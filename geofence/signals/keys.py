"""Store keys from what clients control: bounded, hashed, never the raw text.

Account ids and fingerprints are the application's, but often come from a client (an API key's
account, a header): they are cut to ``MAX_ID`` characters (with the full length mixed in) and
hashed with BLAKE2b before they become a store key or member, so no id can grow a key, inject
a key separator or appear in the store in the clear. Networks are the /24 of an IPv4 address
and the /48 of an IPv6 one, as MaxMind counts users per network.
"""

from __future__ import annotations

import hashlib
import ipaddress

__all__ = ["MAX_ID", "digest", "network_key", "network_text"]

_MEMO_KEPT = 8192  # entries per memo below; a flood of new ids clears one, never grows it
_digests: dict[tuple[str, str], str] = {}
_texts: dict[bytes, str] = {}

MAX_ID = 1024
"""Characters of an id that are hashed (plus its length): longer ids are not stored longer."""


def digest(text: str, salt: str = "") -> str:
    """20 hex digits of BLAKE2b over ``salt``, the length and the first ``MAX_ID`` chars
    (memoised: the same few accounts and fingerprints come back request after request)."""
    held = _digests.get((text, salt))
    if held is not None:
        return held
    data = f"{salt}\x00{len(text)}\x00{text[:MAX_ID]}".encode("utf-8", "surrogatepass")
    made = hashlib.blake2b(data, digest_size=10).hexdigest()
    if len(_digests) >= _MEMO_KEPT:
        _digests.clear()
    if len(text) <= 256:  # the memo's memory stays bounded: long ids are hashed afresh
        _digests[(text, salt)] = made
    return made


def network_key(version: int, packed: bytes) -> str:
    """``n4:cb0071`` for 203.0.113.0/24, ``n6:20010db80001`` for 2001:db8:1::/48."""
    return f"n4:{packed[:3].hex()}" if version == 4 else f"n6:{packed[:6].hex()}"


def network_text(version: int, packed: bytes) -> str:
    """``203.0.113.0/24`` or ``2001:db8:1::/48``, for evidence (memoised per network)."""
    prefix = packed[:3] if version == 4 else packed[:6]
    held = _texts.get(prefix)
    if held is None:
        if version == 4:
            held = f"{ipaddress.IPv4Address(prefix + bytes(1))}/24"
        else:
            held = f"{ipaddress.IPv6Address(prefix + bytes(10))}/48"
        if len(_texts) >= _MEMO_KEPT:
            _texts.clear()
        _texts[prefix] = held
    return held
