"""The catalog of known feeds (``CATALOG``) and ``FeedSpec``, the configuration of one feed.

A feed is read from, in order: the last good download in the cache directory, a local ``path``,
or the snapshot shipped in ``data/feeds/`` (only the openly licensed lists; see
``data/feeds/PROVENANCE.md``). ``refresh()`` downloads ``url``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from geofence.vocab.tags import KNOWN_TAGS

__all__ = ["CATALOG", "DAY", "EMBEDDED", "FORMATS", "FeedSpec", "named_feeds", "unknown_feed"]

DAY = 86400.0

FORMATS: frozenset[str] = frozenset(
    {"plain", "tordnsel", "spamhaus-ndjson", "aws", "google", "azure", "oracle", "fastly",
     "github", "geofeed"}
)  # fmt: skip
"""The feed formats: ``geofence.reputation.parsers`` has one parser per name (checked there)."""


class FeedSpec(BaseModel):
    """One feed: where it comes from, how to read it and the tag its addresses get.

    >>> FeedSpec(name="my-vpns", path="vpns.txt", format="plain", tag="vpn").name
    'my-vpns'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    """Short name; addresses it lists get the tag ``feed:<name>``."""
    tag: str
    """The category tag its addresses get (``tor``, ``vpn``, ``hosting``...)."""
    format: str
    """A name from ``FORMATS`` (each has a parser in ``geofence.reputation.parsers``)."""
    url: str | None = None
    """Where ``refresh()`` downloads it from."""
    path: str | None = None
    """A local file to read instead of (or before the first) download."""
    select: tuple[str, ...] = ()
    """Format-specific narrowing: GitHub keys, AWS services, Azure tags, geofeed countries."""
    licence: str = ""
    """The data's licence or terms, as published."""
    group: str | None = None
    """A trusted-proxy group name this feed contributes to (``cloudflare``)."""
    snapshot: str | None = None
    """File name of the shipped snapshot in ``data/feeds/``."""
    snapshot_format: str | None = None
    """The snapshot's format when it differs from the feed's."""
    snapshot_date: date | None = None
    """When the shipped snapshot was published."""
    refresh_interval: float = Field(default=DAY, gt=0)
    """Seconds between downloads."""
    max_age: float = Field(default=7 * DAY, gt=0)
    """Seconds after which the data in service counts as stale."""
    max_shrink: float = Field(default=0.5, ge=0, le=1)
    """A download with fewer than ``(1 - max_shrink)`` times the entries in service is refused."""

    @field_validator("tag")
    @classmethod
    def _known_tag(cls, tag: str) -> str:
        if tag not in KNOWN_TAGS:
            raise ValueError(f"{tag!r} is not a known tag ({', '.join(sorted(KNOWN_TAGS))})")
        return tag

    @field_validator("format", "snapshot_format")
    @classmethod
    def _known_format(cls, fmt: str | None) -> str | None:
        if fmt is not None and fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r} (known: {', '.join(sorted(FORMATS))})")
        return fmt

    @model_validator(mode="after")
    def _has_a_source(self) -> FeedSpec:
        if not (self.url or self.path or self.snapshot):
            raise ValueError(f"feed {self.name!r} needs a url, a path or a snapshot")
        return self


_GH = "https://raw.githubusercontent.com"
_X4B = f"{_GH}/X4BNet/lists_vpn/main/output"
_MIT_X4B = "MIT, X4B (Mathew Heard): https://github.com/X4BNet/lists_vpn"
_CC0_LA = "CC0-1.0, lord-alfred/ipranges (derived from Apple's egress-ip-ranges.csv)"


def _spec(**fields: object) -> FeedSpec:
    return FeedSpec.model_validate(fields)


_SPECS = [
    _spec(
        name="tor-exits",
        tag="tor",
        format="plain",
        url="https://check.torproject.org/torbulkexitlist",
        refresh_interval=3600.0,
        max_age=DAY,
        licence="Tor Project data, public (metrics.torproject.org)",
        snapshot="tor-exits.txt.gz",
        snapshot_date=date(2024, 3, 12),
    ),
    _spec(
        name="tor-exits-dnsel",
        tag="tor",
        format="tordnsel",
        url="https://check.torproject.org/exit-addresses",
        refresh_interval=3600.0,
        max_age=DAY,
        licence="Tor Project data, public (metrics.torproject.org)",
    ),
    _spec(
        name="x4bnet-vpn",
        tag="vpn",
        format="plain",
        url=f"{_X4B}/vpn/ipv4.txt",
        licence=_MIT_X4B,
        snapshot="x4bnet-vpn.txt.gz",
        snapshot_date=date(2026, 8, 22),
    ),
    _spec(
        name="x4bnet-vpn-ipv6",
        tag="vpn",
        format="plain",
        url=f"{_X4B}/vpn/ipv6.txt",
        licence=_MIT_X4B,
        snapshot="x4bnet-vpn-ipv6.txt.gz",
        snapshot_date=date(2026, 8, 22),
    ),
    _spec(
        name="x4bnet-datacenter",
        tag="hosting",
        format="plain",
        url=f"{_X4B}/datacenter/ipv4.txt",
        licence=_MIT_X4B,
        snapshot="x4bnet-datacenter.txt.gz",
        snapshot_date=date(2026, 8, 22),
    ),
    _spec(
        name="x4bnet-datacenter-ipv6",
        tag="hosting",
        format="plain",
        url=f"{_X4B}/datacenter/ipv6.txt",
        licence=_MIT_X4B,
        snapshot="x4bnet-datacenter-ipv6.txt.gz",
        snapshot_date=date(2026, 8, 22),
    ),
    _spec(
        name="protonvpn",
        tag="vpn",
        format="plain",
        url=f"{_GH}/lord-alfred/ipranges/main/protonvpn/ipv4.txt",
        licence="CC0-1.0, lord-alfred/ipranges",
        snapshot="protonvpn.txt.gz",
        snapshot_date=date(2025, 4, 10),
    ),
    _spec(
        name="apple-relay",
        tag="relay",
        format="geofeed",
        url="https://mask-api.icloud.com/egress-ip-ranges.csv",
        licence="Apple; snapshot " + _CC0_LA,
        snapshot="apple-relay.txt.gz",
        snapshot_format="plain",
        snapshot_date=date(2026, 8, 17),
    ),
    _spec(
        name="apple-relay-ipv6",
        tag="relay",
        format="plain",
        url=f"{_GH}/lord-alfred/ipranges/main/apple-proxy/ipv6_merged.txt",
        licence=_CC0_LA,
        snapshot="apple-relay-ipv6.txt.gz",
        snapshot_date=date(2026, 8, 17),
    ),
    _spec(
        name="aws",
        tag="hosting",
        format="aws",
        url="https://ip-ranges.amazonaws.com/ip-ranges.json",
        licence="AWS public ip-ranges.json",
        snapshot="aws.json.gz",
        snapshot_date=date(2025, 7, 25),
    ),
    _spec(
        name="gcp",
        tag="hosting",
        format="google",
        url="https://www.gstatic.com/ipranges/cloud.json",
        licence="Google public cloud.json",
        snapshot="gcp.json.gz",
        snapshot_date=date(2025, 7, 25),
    ),
    _spec(
        name="azure",
        tag="hosting",
        format="azure",
        licence="Microsoft Service Tags (the URL changes weekly: set url or path yourself)",
        path="ServiceTags_Public.json",
    ),
    _spec(
        name="oracle",
        tag="hosting",
        format="oracle",
        url="https://docs.oracle.com/iaas/tools/public_ip_ranges.json",
        licence="Oracle public_ip_ranges.json",
        snapshot="oracle.json.gz",
        snapshot_date=date(2025, 7, 21),
    ),
    _spec(
        name="digitalocean",
        tag="hosting",
        format="geofeed",
        url="https://digitalocean.com/geo/google.csv",
        licence="DigitalOcean geofeed",
        snapshot="digitalocean.csv.gz",
        snapshot_date=date(2025, 7, 22),
    ),
    _spec(
        name="linode",
        tag="hosting",
        format="geofeed",
        url="https://geoip.linode.com/",
        licence="Linode geofeed",
        snapshot="linode.csv.gz",
        snapshot_date=date(2025, 7, 24),
    ),
    _spec(
        name="cloudflare",
        tag="hosting",
        format="plain",
        url="https://www.cloudflare.com/ips-v4",
        group="cloudflare",
        licence="Cloudflare public IP list",
        snapshot="cloudflare.txt.gz",
        snapshot_date=date(2024, 10, 29),
        max_age=30 * DAY,
    ),
    _spec(
        name="cloudflare-ipv6",
        tag="hosting",
        format="plain",
        url="https://www.cloudflare.com/ips-v6",
        group="cloudflare",
        licence="Cloudflare public IP list",
        snapshot="cloudflare-ipv6.txt.gz",
        snapshot_date=date(2023, 10, 11),
        max_age=30 * DAY,
    ),
    _spec(
        name="fastly",
        tag="hosting",
        format="fastly",
        url="https://api.fastly.com/public-ip-list",
        group="fastly",
        licence="Fastly public IP list",
        snapshot="fastly.json.gz",
        snapshot_date=date(2024, 10, 8),
        max_age=30 * DAY,
    ),
    _spec(
        name="github-actions",
        tag="hosting",
        format="github",
        select=("actions",),
        url="https://api.github.com/meta",
        licence="GitHub /meta API",
        snapshot="github.json.gz",
        snapshot_date=date(2025, 7, 25),
    ),
    _spec(
        name="spamhaus-drop",
        tag="abuse",
        format="spamhaus-ndjson",
        url="https://www.spamhaus.org/drop/drop_v4.json",
        licence="(c) The Spamhaus Project SLU, https://www.spamhaus.org/drop/terms/",
    ),
    _spec(
        name="firehol-level1",
        tag="abuse",
        format="plain",
        url=f"{_GH}/firehol/blocklist-ipsets/master/firehol_level1.netset",
        licence="FireHOL; the terms of each aggregated list apply",
    ),
]

CATALOG: Mapping[str, FeedSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})
"""Every known feed by name."""

EMBEDDED: tuple[str, ...] = tuple(s.name for s in _SPECS if s.snapshot is not None)
"""The feeds with a snapshot shipped in ``data/feeds/`` (what ``feeds="embedded"`` loads)."""


def unknown_feed(item: object) -> str:
    """The error for a feed name not in the catalog, with the closest name when there is one."""
    names = [*CATALOG, "embedded"]
    close = difflib.get_close_matches(str(item), names, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"catalog: {', '.join(names)}"
    return f"unknown feed {item!r} ({hint}; or a mapping with name, url/path, format, tag)"


def named_feeds(items: object) -> object:
    """``[embedded, aws, {...}]`` as feed specs: catalog names and ``embedded`` are expanded,
    anything else is left for ``FeedSpec`` to validate (a policy's ``feeds:`` key)."""
    if isinstance(items, str):
        items = [items]
    if not isinstance(items, (list, tuple)):
        return items
    out: dict[object, object] = {}  # by name: "embedded" and "tor-exits" name one feed once
    for index, item in enumerate(items):
        if item == "embedded":
            out.update((name, CATALOG[name]) for name in EMBEDDED)
        elif isinstance(item, str):
            if item not in CATALOG:
                raise ValueError(unknown_feed(item))
            out[item] = CATALOG[item]
        else:
            out[index] = item  # a mapping: FeedSpec validates it and the unique-name check
    return list(out.values())
