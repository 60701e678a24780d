"""The reputation tag vocabulary that policies may name, and the ``feed:<name>`` and
``geofeed:<place>`` forms."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from types import MappingProxyType

from geofence.vocab.codes import country_codes, suggest_country

__all__ = [
    "FEED_PREFIX",
    "GEOFEED_PREFIX",
    "KNOWN_TAGS",
    "TAG_MEANINGS",
    "check_tag",
    "is_known_tag",
]

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
"""The tags a policy may name (besides ``feed:<name>`` and ``geofeed:<place>``)."""

FEED_PREFIX = "feed:"
"""A tag ``feed:<name>`` is set on addresses listed by the configured feed ``<name>``."""

GEOFEED_PREFIX = "geofeed:"
"""A tag ``geofeed:GB`` (and ``geofeed:GB-EN``) is set on addresses that a feed of format
``geofeed`` (RFC 8805) places in that country (and region, as the feed spells it)."""

_FEED_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")
# geofeed:<CC> or geofeed:<CC>-<1 to 3 letters or digits>: the region as published (Apple
# writes GB-EN, not ISO 3166-2's GB-ENG), so only its shape and country are checked.
_GEOFEED_PLACE = re.compile(r"([A-Z]{2})(?:-[A-Z0-9]{1,3})?")
_GEOFEED_LOOSE = re.compile(r"([A-Z]{2,3}|[A-Z ]{4,})(?:[-_ ]?([A-Z0-9]{1,3}))?")
_GEOFEED_FORM = (
    "write geofeed:<CC> with an upper-case ISO 3166-1 alpha-2 country code, or "
    "geofeed:<CC>-<region> with the region as the feed publishes it (1 to 3 letters or digits), "
    "e.g. geofeed:GB-EN"
)

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
    """True for a tag in ``KNOWN_TAGS``, a well-formed ``feed:<name>`` or ``geofeed:<place>``
    (``geofeed:GB``, ``geofeed:GB-EN``)."""
    if tag.startswith(FEED_PREFIX):
        return _FEED_NAME.fullmatch(tag[len(FEED_PREFIX) :]) is not None
    if tag.startswith(GEOFEED_PREFIX):
        place = _GEOFEED_PLACE.fullmatch(tag[len(GEOFEED_PREFIX) :])
        return place is not None and place[1] in _country_codes()
    return tag in KNOWN_TAGS


def _country_codes() -> frozenset[str]:
    return country_codes()


def _geofeed_error(tag: str) -> ValueError:
    """Why ``tag`` (``geofeed:...``) is refused, with the tag it most likely means."""
    rest = tag[len(GEOFEED_PREFIX) :].strip().upper()
    loose = _GEOFEED_LOOSE.fullmatch(rest)
    guess = None
    if loose is not None:
        whole = rest if rest in _country_codes() else suggest_country(rest)
        country = loose[1] if loose[1] in _country_codes() else suggest_country(loose[1])
        if whole is not None:
            guess = GEOFEED_PREFIX + whole
        elif country is not None:
            guess = GEOFEED_PREFIX + country + (f"-{loose[2]}" if loose[2] else "")
    if guess is not None and guess != tag:
        hint = f"; did you mean {guess!r}?"
    elif (place := _GEOFEED_PLACE.fullmatch(rest)) is not None:
        hint = f"; {place[1]} is not an ISO 3166-1 alpha-2 country code"
    else:
        hint = ""
    return ValueError(f"{tag!r} is not a geofeed tag{hint} ({_GEOFEED_FORM})")


def check_tag(tag: str) -> str:
    """Return ``tag`` if it is known; raise ``ValueError`` with a suggestion otherwise."""
    if is_known_tag(tag):
        return tag
    if tag.startswith(FEED_PREFIX):
        raise ValueError(
            f"{tag!r}: a feed name must match [a-z0-9][a-z0-9_.-]* (lower case, no spaces)"
        )
    if tag.startswith(GEOFEED_PREFIX):
        raise _geofeed_error(tag)
    key = tag.strip().lower().replace("-", "_").replace(" ", "_")
    guess = key if key in KNOWN_TAGS else _ALIASES.get(key)
    if guess is None:
        close = difflib.get_close_matches(key, sorted(KNOWN_TAGS), n=1, cutoff=0.7)
        guess = close[0] if close else None
    hint = f"; did you mean {guess!r}?" if guess else ""
    known = ", ".join(sorted(KNOWN_TAGS))
    raise ValueError(
        f"{tag!r} is not a known tag{hint} (known: {known}, or feed:<name>, geofeed:<CC>, "
        "geofeed:<CC>-<region>)"
    )
