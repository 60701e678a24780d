"""The reputation tag vocabulary that policies may name, and the ``feed:<name>`` form."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["FEED_PREFIX", "KNOWN_TAGS", "TAG_MEANINGS", "check_tag", "is_known_tag"]

TAG_MEANINGS: Mapping[str, str] = MappingProxyType(
    {
        "anonymous": "any anonymising service, as flagged by an anonymizer database",
        "vpn": "a commercial or self-hosted VPN endpoint",
        "tor": "a Tor exit node",
        "public_proxy": "an open or public proxy",
        "residential_proxy": "a proxy that routes traffic through residential connections",
        "hosting": "a hosting, cloud or data-centre network rather than end users",
        "relay": "a privacy relay that hides the client (e.g. iCloud Private Relay)",
        "abuse": "a network on an abuse blocklist (Spamhaus DROP, FireHOL level 1)",
    }
)
"""Every known tag with a one-line meaning."""

KNOWN_TAGS: frozenset[str] = frozenset(TAG_MEANINGS)
"""The tags a policy may name (besides ``feed:<name>``)."""

FEED_PREFIX = "feed:"
"""A tag ``feed:<name>`` is set on addresses listed by the configured feed ``<name>``."""

_FEED_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")

# Words people reach for that the vocabulary spells differently.
_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "proxy": "public_proxy",
        "open_proxy": "public_proxy",
        "cloud": "hosting",
        "datacenter": "hosting",
        "datacentre": "hosting",
        "data_center": "hosting",
        "private_relay": "relay",
        "icloud": "relay",
        "anonymizer": "anonymous",
        "blocklist": "abuse",
        "spamhaus": "abuse",
        "tor_exit": "tor",
    }
)


def is_known_tag(tag: str) -> bool:
    """True for a tag in ``KNOWN_TAGS`` or a well-formed ``feed:<name>``."""
    if tag.startswith(FEED_PREFIX):
        return _FEED_NAME.fullmatch(tag[len(FEED_PREFIX) :]) is not None
    return tag in KNOWN_TAGS


def check_tag(tag: str) -> str:
    """Return ``tag`` if it is known; raise ``ValueError`` with a suggestion otherwise."""
    if is_known_tag(tag):
        return tag
    if tag.startswith(FEED_PREFIX):
        raise ValueError(
            f"{tag!r}: a feed name must match [a-z0-9][a-z0-9_.-]* (lower case, no spaces)"
        )
    key = tag.strip().lower().replace("-", "_").replace(" ", "_")
    guess = key if key in KNOWN_TAGS else _ALIASES.get(key)
    if guess is None:
        close = difflib.get_close_matches(key, sorted(KNOWN_TAGS), n=1, cutoff=0.7)
        guess = close[0] if close else None
    hint = f"; did you mean {guess!r}?" if guess else ""
    known = ", ".join(sorted(KNOWN_TAGS))
    raise ValueError(f"{tag!r} is not a known tag{hint} (known: {known}, or feed:<name>)")
