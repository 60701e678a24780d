"""The account-signal vocabulary: the names a policy may test and the ``Signal`` a decision holds.

A signal is one number computed over a sliding window of request time from what the fleet has
seen (through the state store), with the default threshold it is judged against, the window,
and the data behind it, so a decision says not only "score 0.91" but which pattern and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

__all__ = ["NO_SIGNALS", "SCORE", "SIGNAL_MEANINGS", "SIGNAL_NAMES", "Assessment", "Signal"]

SIGNAL_MEANINGS: Mapping[str, str] = MappingProxyType(
    {
        "account_countries": "distinct countries the account came from",
        "account_networks": "distinct networks (/24 IPv4, /48 IPv6) the account came from",
        "account_asns": "distinct autonomous systems the account came from",
        "network_accounts": "distinct accounts seen from the request's network",
        "asn_accounts": "distinct accounts seen from the request's autonomous system",
        "network_new_accounts": "new accounts (first seen, or created, in the window) seen "
        "from the request's network",
        "declared_mismatch": "share of the account's requests from outside its declared country",
        "travel_kmh": "speed between the account's previous location and this one (km/h)",
        "fingerprint_accounts": "distinct accounts sharing the request's client fingerprint",
        "anonymizer_share": "share of the account's requests from anonymizer-tagged addresses",
        "activity_hours": "distinct hours of the day (UTC) the account was active in",
    }
)
"""Every signal with a one-line meaning."""

SIGNAL_NAMES: tuple[str, ...] = tuple(SIGNAL_MEANINGS)
"""The signal names, in the order decisions list them."""

SCORE = "score"
"""The name a policy uses for the combined score, 1 - prod(1 - w_i * s_i), in [0, 1]."""


@dataclass(frozen=True, slots=True)
class Signal:
    """One signal's value, its default threshold, its window and the data behind it."""

    value: float
    """The measured value (a count, a share in [0, 1], or km/h)."""
    threshold: float | None
    """The default threshold it is judged against (``None``: reported only)."""
    window_s: float
    """The sliding window (seconds of request time) it was measured over."""
    evidence: tuple[str, ...] = ()
    """Short sentences naming the data: which network, how many requests, which tolerance."""

    def to_dict(self) -> dict[str, object]:
        """``{value, threshold, window_s, evidence}`` (evidence as a list)."""
        return {
            "value": self.value,
            "threshold": self.threshold,
            "window_s": self.window_s,
            "evidence": list(self.evidence),
        }


NO_SIGNALS: Mapping[str, Signal] = MappingProxyType({})
"""The signals of a request without an account."""


class Assessment(NamedTuple):
    """What the stateful stage found for one request: its signals, score and flags."""

    signals: Mapping[str, Signal]
    """Signal name -> ``Signal`` (read-only)."""
    score: float
    """The combined score in [0, 1]."""
    flags: tuple[str, ...] = ()
    """Conditions of the stage itself, e.g. ``store_unavailable``."""
