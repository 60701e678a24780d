"""Signal settings: each signal's default threshold and weight, the windows, the tolerances.

The defaults start from the published anchors collected in ``research/accounts.md`` (Okta's
805 km/h and Elastic's 800 km/h with >= 500 km for travel; AWS ACFP's 20 sign-ups per address
per 10 minutes and Auth0's 50 a day for new accounts per network; MaxMind's user counts per
/24 and /48 over 24 h) and were tuned on ``geofence simulate``. A policy's ``signals:`` rules
carry their own thresholds; these say when a signal counts towards the combined score and what
``Signal.threshold`` reports.

The score is the noisy-OR ``1 - prod(1 - w_i * s_i)``: ``s_i`` is 0 up to half the threshold,
rises linearly to 1 at the threshold and stays there, so a signal far below its threshold adds
nothing and none alone can reach 1 unless its weight is 1.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from geofence.vocab.signals import SIGNAL_NAMES
from geofence.vocab.tags import check_tag

__all__ = ["DEFAULT_SETTINGS", "SignalSettings", "Threshold"]

DAY = 86400.0


class Threshold(BaseModel):
    """One signal's default threshold and weight in the score."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(gt=0)
    weight: float = Field(ge=0, le=1)


# Why each default (research/accounts.md; tuned against ``geofence simulate``, see the README):
# - network_accounts and asn_accounts are weak alone: CGNAT carriers and corporate egress put
#   hundreds of honest accounts behind one /24 (Casado & Freedman), so they only add weight;
# - network_new_accounts counts accounts new to the fleet (or created) within the day: AWS
#   ACFP flags > 20 sign-ups per address per 10 minutes and Auth0 throttles 50 a day, so 30 a
#   day per /24 (a team onboarding on one office network stays under it);
# - asn_accounts: a large ISP carries thousands of honest accounts a day, so only a small AS
#   with thousands says anything (5,000, and a small weight);
# - declared_mismatch, travel_kmh and account_countries are what an honest traveller shows (a
#   flight, a second country, a day away from the declared one), so even together they stay
#   below a challenge (0.25 + 0.3, and 4 countries a day); travel follows Okta's 805 and
#   Elastic's 800 km/h, judged on coarse centroids without City data;
# - fingerprint_accounts: 25 accounts on one application-given fingerprint (a device id, an
#   edge JA4) is a farm (Castle multiple_accounts_per_device, Turnstile > 3 per id an hour);
#   a fingerprint derived from SDK headers is shared by every honest user of one build, so its
#   threshold is ``derived_fingerprint_tolerance`` times higher, and its weight (0.45) keeps
#   it below a challenge alone: it needs a second signal to corroborate it;
# - activity_hours: a person works an API in a few sessions a day, a farm's scheduler spreads
#   each account over its operator's working day (8 hours of a day or more: a shift); weak
#   alone (a backend on a server calls all day), so it only corroborates (0.35);
# - no weak signal reaches the challenge (0.5) alone: only the application's own fingerprint
#   and new accounts per network (the AWS and Auth0 anchors) weigh 0.6.
_DEFAULTS: dict[str, Threshold] = {
    "account_countries": Threshold(threshold=4, weight=0.35),
    "account_networks": Threshold(threshold=8, weight=0.25),
    "account_asns": Threshold(threshold=5, weight=0.3),
    "network_accounts": Threshold(threshold=50, weight=0.2),
    "asn_accounts": Threshold(threshold=5000, weight=0.05),
    "network_new_accounts": Threshold(threshold=30, weight=0.6),
    "declared_mismatch": Threshold(threshold=0.5, weight=0.25),
    "travel_kmh": Threshold(threshold=800, weight=0.3),
    "fingerprint_accounts": Threshold(threshold=25, weight=0.6),
    "anonymizer_share": Threshold(threshold=0.5, weight=0.35),
    "activity_hours": Threshold(threshold=8, weight=0.35),
}


class SignalSettings(BaseModel):
    """How signals are measured and scored: ``Geofence(signals=SignalSettings(...))`` or a
    mapping of the same keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_s: float = Field(default=DAY, ge=60)
    """The sliding window of every count (seconds of request time)."""
    travel_window_s: float = Field(default=7 * DAY, ge=60)
    """How long an account's last location is remembered for the travel signal."""
    thresholds: dict[str, Threshold] = Field(default_factory=lambda: dict(_DEFAULTS))
    """Per signal: default threshold and weight; missing names keep their defaults."""
    travel_min_km: float = Field(default=500, ge=0)
    """Two locations closer than this never make a travel speed (GeoIP error, commuting)."""
    min_requests: int = Field(default=5, ge=1)
    """Share signals (declared_mismatch, anonymizer_share) score only past this many requests."""
    derived_fingerprint_weight: float = Field(default=0.45, ge=0, le=1)
    """The fingerprint weight when geofence derived it from headers instead of the
    application's (judged against the tolerated threshold below)."""
    derived_fingerprint_tolerance: float = Field(default=40, ge=1)
    """The factor on the fingerprint threshold when geofence derived the fingerprint from
    headers (weak: every honest user of one popular SDK build on one platform shares it). The
    default, 1,000 accounts a day, sits about 7x above the most common honest build among
    20,000 simulated accounts; raise it with traffic (about 1% of daily active accounts)."""
    tolerated_tags: Annotated[tuple[str, ...], Field()] = ("relay",)
    """Addresses with these tags (Apple Private Relay, shared by many honest users) get the
    network and ASN thresholds multiplied by ``tolerance``, and no travel or mismatch."""
    tolerated_asns: tuple[int, ...] = ()
    """ASNs of CGNAT mobile carriers or corporate egress seen as shared by honest accounts."""
    tolerance: float = Field(default=10, ge=1)
    """The factor on network and ASN thresholds for tolerated addresses."""
    anonymizer_tags: tuple[str, ...] = (
        "anonymous", "vpn", "tor", "public_proxy", "residential_proxy",
    )  # fmt: skip
    """The tags that make a request count towards ``anonymizer_share``. Not ``hosting``: an
    API's developers call it from their cloud servers, so a cloud address hides nobody's
    location from an API that serves it (add it for a consumer service)."""

    @field_validator("thresholds")
    @classmethod
    def _known_signals(cls, given: dict[str, Threshold]) -> dict[str, Threshold]:
        unknown = sorted(set(given) - set(SIGNAL_NAMES))
        if unknown:
            raise ValueError(
                f"unknown signal(s) {', '.join(unknown)} (known: {', '.join(SIGNAL_NAMES)})"
            )
        return {**_DEFAULTS, **given}

    @field_validator("tolerated_tags", "anonymizer_tags")
    @classmethod
    def _known_tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_tag(tag) for tag in tags)

    def of(self, name: str) -> Threshold:
        """The threshold and weight of signal ``name``."""
        return self.thresholds[name]


DEFAULT_SETTINGS = SignalSettings()
"""The settings used when ``Geofence(signals=...)`` is not given."""
