"""Geofeed (RFC 8805) rows' country and region as tags: ``geofeed:GB``, ``geofeed:GB-SC``.

Real files only: Apple's egress-ip-ranges.csv sample (ip-fetcher), MaxMind's geofeed verifier
edge cases, the shipped DigitalOcean and Linode snapshots, and a download from a real HTTP server
on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import ipaddress
import logging
import os
import shutil
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest

from geofence import Geofence
from geofence.embedded import data_dir
from geofence.errors import PolicyError
from geofence.facts import GeoRecord
from geofence.reputation.catalog import CATALOG, DAY, FeedSpec
from geofence.reputation.feedset import FeedSet, open_feeds
from geofence.reputation.fetch import refresh
from geofence.reputation.parsers import parse_feed

from ..conftest import ServeLoopback

FEEDS = Path(__file__).resolve().parent.parent / "data" / "feeds"
APPLE = FEEDS / "ip-fetcher" / "icloudpr" / "egress-ip-ranges.csv"  # 9 rows, all GB
VERIFIER = FEEDS / "geofeed-verifier"

LONDON = "172.224.224.1"  # 172.224.224.0/27,GB,GB-EN,London
ABERDEEN = "172.224.224.33"  # 172.224.224.32/31,GB,GB-SC,Aberdeen
BELFAST = "172.224.224.38"  # 172.224.224.38/31,GB,GB-NI,Belfast
OUTSIDE = "172.224.224.48"  # just past the last row (172.224.224.46/31)


def _v4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def _apple(tmp_path: Path | None = None, **fields: Any) -> FeedSpec:
    path = APPLE
    if tmp_path is not None:  # a copy the test may rewrite
        path = tmp_path / "egress-ip-ranges.csv"
        shutil.copyfile(APPLE, path)
    return FeedSpec.model_validate(
        {"name": "icloud", "tag": "relay", "format": "geofeed", "path": str(path), **fields}
    )


def _geofeed_tags(record: GeoRecord) -> set[str]:
    return {t for t in record.tags if t.startswith("geofeed:")}


# -- the parser -------------------------------------------------------------------------------


def test_apple_rows_become_places_beside_unchanged_ranges() -> None:
    parsed = parse_feed("geofeed", APPLE.read_bytes())
    assert parsed.count == 9
    assert len(parsed.places) == 9
    assert parsed.places[0] == (4, _v4("172.224.224.0"), _v4("172.224.224.31"), "GB", "GB-EN")
    assert parsed.places[1] == (4, _v4("172.224.224.32"), _v4("172.224.224.33"), "GB", "GB-SC")
    assert [p[:3] for p in parsed.places] == parsed.ranges
    assert [p[4] for p in parsed.places] == [
        "GB-EN", "GB-SC", "GB-EN", "GB-EN", "GB-NI", "GB-SC", "GB-EN", "GB-EN", "GB-EN",
    ]  # fmt: skip
    assert parsed.meta["countries"] == "GB"


_NET = ipaddress.IPv6Network("2a02:ecc0::/29")
V6 = (6, int(_NET.network_address), int(_NET.broadcast_address))
AT = (4, _v4("202.196.224.5"), _v4("202.196.224.5"))
GB = (4, _v4("2.125.160.216"), _v4("2.125.160.223"))
NJ, AT9, WBK = (*V6, "US", "US-NJ"), (*AT, "AT", "AT-9"), (*GB, "GB", "GB-WBK")


@pytest.mark.parametrize(
    ("name", "places"),
    [
        # spaces around fields, CRLF, a 6th column and a comment line
        ("geofeed-valid.csv", [NJ, AT9, WBK]),
        # " NJ " and "WBK" lack the country part: the region goes, the country stays
        ("geofeed-valid-lax.csv", [(*V6, "US", None), AT9, (*GB, "GB", None)]),
        # an empty country: the range is listed but has no place
        ("geofeed-valid-optional-fields.csv", [AT9, WBK]),
        ("geofeed-valid-utf8-bom.csv", [NJ, AT9, WBK]),
        ("geofeed-invalid-network.csv", [NJ]),  # the bad row has no place
    ],
)  # fmt: skip
def test_verifier_edge_cases_give_the_places_of_valid_rows(
    name: str, places: list[tuple[int, int, int, str, str | None]]
) -> None:
    parsed = parse_feed("geofeed", (VERIFIER / name).read_bytes())
    assert parsed.places == places
    assert parsed.count == (1 if name == "geofeed-invalid-network.csv" else 3)  # as before


def test_regions_must_be_of_the_rows_country_and_codes_are_upper_cased() -> None:
    # Apple's rows rewritten by hand the ways publishers get them wrong.
    lines = APPLE.read_text(encoding="utf-8").splitlines()
    body = "\n".join(
        [
            lines[0].replace("GB,GB-EN", "gb,gb-en"),  # lower case: upper-cased
            lines[1].replace("GB,GB-SC", "GB,US-NJ"),  # another country's region: dropped
            lines[2].replace("GB,GB-EN", "GB,GB-ENGL"),  # 4 characters: dropped
            lines[3].replace("GB,GB-EN", "GB,GB_EN"),  # not <CC>-: dropped
            lines[4].replace("GB,GB-NI", "United Kingdom,GB-NI"),  # not a code: no place
            lines[5].replace("GB,GB-SC", ",GB-SC"),  # no country: no place
            lines[6].replace("GB,GB-EN", "ß,GB-EN"),  # "ß".upper() is "SS": not a code, no place
            lines[7].replace("GB,GB-EN", "GB,GB-7"),  # a digit is fine
        ]
    ).encode()
    parsed = parse_feed("geofeed", body)
    assert parsed.count == 8  # every row still lists its range
    assert [p[3:] for p in parsed.places] == [
        ("GB", "GB-EN"), ("GB", None), ("GB", None), ("GB", None), ("GB", "GB-7"),
    ]  # fmt: skip


def test_select_keeps_only_the_places_of_those_countries() -> None:
    parsed = parse_feed("geofeed", (VERIFIER / "geofeed-valid.csv").read_bytes(), ("AT",))
    assert parsed.places == [(*AT, "AT", "AT-9")]


def test_other_formats_have_no_places() -> None:
    plain = parse_feed("plain", (FEEDS / "tor" / "torbulkexitlist").read_bytes())
    assert plain.count == 1174
    assert plain.places == []


# -- FeedSet ----------------------------------------------------------------------------------


def test_a_geofeed_file_tags_addresses_with_their_country_and_region() -> None:
    feeds = FeedSet([_apple()])
    assert feeds.lookup(ABERDEEN).tags == {"relay", "feed:icloud", "geofeed:GB", "geofeed:GB-SC"}
    assert feeds.lookup(LONDON).tags == {"relay", "feed:icloud", "geofeed:GB", "geofeed:GB-EN"}
    assert feeds.lookup(BELFAST).tags == {"relay", "feed:icloud", "geofeed:GB", "geofeed:GB-NI"}
    assert feeds.lookup("172.224.224.31").tags == feeds.lookup(LONDON).tags  # end of the /27
    assert feeds.lookup(OUTSIDE) == GeoRecord()
    assert feeds.tags_packed(bytes([172, 224, 224, 40])) >= {"geofeed:GB", "geofeed:GB-SC"}
    # Counts are entries (ranges), whatever the places.
    assert feeds.health()[0].entries == 9
    assert feeds.feed_state("icloud")[0] == 9


def test_matches_still_names_only_feeds() -> None:
    feeds = FeedSet([_apple()])
    assert feeds.matches(ABERDEEN) == [("icloud", "relay", "172.224.224.32/31")]
    assert feeds.matches(f"::ffff:{LONDON}") == [("icloud", "relay", "172.224.224.0/27")]


def test_a_row_without_a_region_gives_only_its_country() -> None:
    spec = FeedSpec(
        name="lax", tag="hosting", format="geofeed", path=str(VERIFIER / "geofeed-valid-lax.csv")
    )
    feeds = FeedSet([spec])
    assert feeds.lookup("2a02:ecc0::1").tags == {"hosting", "feed:lax", "geofeed:US"}
    assert feeds.lookup("2.125.160.217").tags == {"hosting", "feed:lax", "geofeed:GB"}
    assert feeds.lookup("202.196.224.5").tags == {
        "hosting", "feed:lax", "geofeed:AT", "geofeed:AT-9",
    }  # fmt: skip


def test_a_row_with_no_country_is_listed_without_a_geofeed_tag() -> None:
    spec = FeedSpec(
        name="opt",
        tag="hosting",
        format="geofeed",
        path=str(VERIFIER / "geofeed-valid-optional-fields.csv"),
    )
    feeds = FeedSet([spec])
    assert feeds.lookup("2a02:ecc0::1").tags == {"hosting", "feed:opt"}


def test_geofeed_tags_join_other_feeds_over_the_same_range(tmp_path: Path) -> None:
    listed = tmp_path / "relays.txt"
    listed.write_text("172.224.224.0/24\n")  # covers every Apple row and more
    other = FeedSpec(name="mine", tag="vpn", format="plain", path=str(listed))
    feeds = FeedSet([other, _apple()])
    assert feeds.lookup(ABERDEEN).tags == {
        "vpn", "feed:mine", "relay", "feed:icloud", "geofeed:GB", "geofeed:GB-SC",
    }  # fmt: skip
    assert feeds.lookup(OUTSIDE).tags == {"vpn", "feed:mine"}  # no Apple row: no place


def test_a_replacement_brings_its_own_places_and_the_cache_keeps_them(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    feeds = FeedSet([_apple()], cache_dir=cache)
    moved = APPLE.read_bytes().replace(b"GB,GB-SC,Aberdeen", b"IE,IE-D,Dublin")
    assert moved != APPLE.read_bytes()
    feeds.replace("icloud", moved)
    assert _geofeed_tags(feeds.lookup(ABERDEEN)) == {"geofeed:IE", "geofeed:IE-D"}
    assert _geofeed_tags(feeds.lookup(LONDON)) == {"geofeed:GB", "geofeed:GB-EN"}
    again = FeedSet([_apple()], cache_dir=cache)  # a restart reads the download back
    assert again.health()[0].source == "cache"
    assert _geofeed_tags(again.lookup(ABERDEEN)) == {"geofeed:IE", "geofeed:IE-D"}


def test_the_shrink_check_counts_ranges_not_places() -> None:
    feeds = FeedSet([_apple()])  # max_shrink 0.5
    no_countries = APPLE.read_bytes().replace(b",GB,GB-", b",,GB-")
    assert no_countries.count(b",,GB-") == 9
    parsed = feeds.replace("icloud", no_countries)  # 9 ranges for 9: accepted
    assert (parsed.count, parsed.places) == (9, [])
    assert feeds.lookup(ABERDEEN).tags == {"relay", "feed:icloud"}
    assert feeds.health()[0].entries == 9


@pytest.mark.parametrize("on_stale", ["open", "closed"])
def test_a_stale_geofeed_fails_open_or_closed_without_inventing_places(
    tmp_path: Path, on_stale: str
) -> None:
    spec = _apple(tmp_path)
    mtime = os.stat(spec.path or "").st_mtime
    feeds = FeedSet([spec], on_stale=on_stale, clock=lambda: mtime + 8 * DAY)  # type: ignore[arg-type]
    assert not feeds.healthy
    if on_stale == "open":
        assert feeds.lookup(ABERDEEN) == GeoRecord()
    else:  # every address gets the feed's tags, but no country it was not listed in
        assert feeds.lookup(OUTSIDE).tags == {"relay", "feed:icloud"}
        assert feeds.lookup(ABERDEEN).tags == {
            "relay", "feed:icloud", "geofeed:GB", "geofeed:GB-SC",
        }  # fmt: skip


# -- the catalog's geofeeds -------------------------------------------------------------------


def test_apple_relay_snapshot_is_plain_so_it_gives_no_geofeed_tags() -> None:
    spec = CATALOG["apple-relay"]
    assert (spec.format, spec.snapshot_format) == ("geofeed", "plain")
    feeds = FeedSet([spec])
    assert feeds.health()[0].source == "snapshot"
    assert feeds.lookup("104.28.28.1").tags == {"relay", "feed:apple-relay"}


def _snapshot_rows(name: str) -> Iterator[tuple[str, str, str]]:
    """``(first address, country, region)`` of each row, read without the parser."""
    text = gzip.decompress((data_dir() / "feeds" / f"{name}.csv.gz").read_bytes()).decode()
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            prefix, country, region = (f.strip() for f in line.split(",")[:3])
            yield str(ipaddress.ip_network(prefix).network_address), country, region


@pytest.mark.parametrize(("name", "rows"), [("digitalocean", 1182), ("linode", 4552)])
def test_digitalocean_and_linode_snapshots_are_geofeeds_and_tag_every_row(
    name: str, rows: int
) -> None:
    spec = CATALOG[name]
    assert (spec.format, spec.snapshot_format) == ("geofeed", None)
    feeds = FeedSet([spec])
    seen = 0
    for address, country, region in _snapshot_rows(name):
        record = feeds.lookup(address)
        assert _geofeed_tags(record) == {f"geofeed:{country}", f"geofeed:{region}"}
        assert {"hosting", f"feed:{name}"} <= record.tags
        seen += 1
    assert seen == rows


@pytest.mark.parametrize(
    ("address", "place"),
    [
        ("5.101.96.1", {"geofeed:NL", "geofeed:NL-NH"}),  # DigitalOcean Amsterdam
        ("46.101.0.1", {"geofeed:GB", "geofeed:GB-SLG"}),  # DigitalOcean London (Slough)
        ("2a01:7e00::1", {"geofeed:GB", "geofeed:GB-ENG"}),  # Linode London
        ("2600:3c00::1", {"geofeed:US", "geofeed:US-TX"}),  # Linode Richardson
    ],
)
def test_embedded_feeds_carry_the_cloud_geofeeds_places(address: str, place: set[str]) -> None:
    feeds = open_feeds("embedded")
    assert feeds is not None
    assert place | {"hosting"} <= feeds.lookup(address).tags


# -- a download from a real server ------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    body: ClassVar[bytes] = APPLE.read_bytes()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


@pytest.fixture(scope="module")
def server(serve_loopback: ServeLoopback) -> Iterator[str]:
    with serve_loopback(_Handler) as url:
        yield url


POLICY: dict[str, Any] = {
    "name": "relay-places",
    "default": "allow",
    "unknown": "allow",
    "rules": [
        {"name": "scotland", "action": "deny", "status": 451, "tags": ["geofeed:GB-SC"]},
        {
            "name": "relay-outside-england",
            "action": "challenge",
            "tags": ["relay"],
            "unless": {"tags": ["geofeed:GB-EN"]},
        },
    ],
}


def test_a_downloaded_apple_feed_gives_the_places_the_snapshot_lacked(
    server: str, tmp_path: Path
) -> None:
    spec = CATALOG["apple-relay"].model_copy(
        update={"url": f"{server}/egress-ip-ranges.csv", "max_shrink": 1.0}
    )
    feeds = FeedSet([spec], cache_dir=tmp_path)
    with Geofence(POLICY, feeds=feeds, reload_interval=None) as fence:
        before = fence.evaluate(ABERDEEN)  # not in the snapshot at all
        assert (before.rule, before.tags) == (None, frozenset())
        (outcome,) = refresh(feeds, retries=1, backoff=0.01, timeout=2.0)
        assert (outcome.status, outcome.entries) == ("updated", 9)
        assert fence.reload()
        after = fence.evaluate(ABERDEEN)
        assert (after.rule, after.allowed, after.status) == ("scotland", False, 451)
        assert {"relay", "feed:apple-relay", "geofeed:GB", "geofeed:GB-SC"} <= after.tags


# -- policies ---------------------------------------------------------------------------------


def test_rules_name_geofeed_tags_and_unless_excepts_by_place() -> None:
    with Geofence(POLICY, feeds=[_apple()], reload_interval=None) as fence:
        aberdeen = fence.evaluate(ABERDEEN)
        assert (aberdeen.rule, aberdeen.allowed, aberdeen.status) == ("scotland", False, 451)
        assert {"geofeed:GB", "geofeed:GB-SC", "relay", "feed:icloud"} <= aberdeen.tags
        london = fence.evaluate(LONDON)  # a relay, but in England: excepted
        assert (london.rule, london.allowed) == (None, True)
        assert "geofeed:GB-EN" in london.tags
        assert fence.evaluate(BELFAST).rule == "relay-outside-england"
        outside = fence.evaluate(OUTSIDE)
        assert (outside.rule, outside.tags) == (None, frozenset())


def test_a_policy_feeds_section_geofeed_serves_its_own_rules() -> None:
    policy = {**POLICY, "feeds": [_apple().model_dump(exclude_defaults=True)]}
    with Geofence(policy, reload_interval=None) as fence:
        assert fence.evaluate(ABERDEEN).rule == "scotland"
        assert fence.evaluate(LONDON).rule is None


@pytest.mark.parametrize(
    ("rule", "feeds"),
    [
        ({"tags": ["geofeed:GB"]}, ["tor-exits"]),
        ({"tags": ["tor"], "unless": {"tags": ["geofeed:GB-EN"]}}, ["tor-exits"]),
        ({"tags": ["geofeed:GB"]}, None),
    ],
)
def test_naming_geofeed_tags_without_a_geofeed_feed_is_a_policy_error(
    rule: dict[str, Any], feeds: list[str] | None
) -> None:
    policy = {"name": "p", "default": "allow", "rules": [{"name": "uk", "action": "deny", **rule}]}
    with pytest.raises(PolicyError, match="no configured feed is a geofeed") as caught:
        Geofence(policy, feeds=feeds, reload_interval=None)
    assert "'uk'" in str(caught.value)


def test_a_geofeed_feed_of_the_catalog_satisfies_the_check(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # apple-relay is a geofeed whose snapshot has no places: accepted, matching nothing yet,
    # and the construction says so.
    policy = {**POLICY, "rules": POLICY["rules"][:1]}
    with caplog.at_level(logging.WARNING, logger="geofence"):
        fence = Geofence(policy, feeds=["apple-relay"], reload_interval=None)
    with fence:
        assert fence.evaluate("104.28.28.1").rule is None
    assert "no geofeed in service has places" in caplog.text


def test_a_geofeed_with_places_raises_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    policy = {**POLICY, "rules": POLICY["rules"][:1]}
    with caplog.at_level(logging.WARNING, logger="geofence"):
        Geofence(policy, feeds=["apple-relay", "digitalocean"], reload_interval=None).close()
    assert "no geofeed in service has places" not in caplog.text


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("geofeed:uk", "did you mean 'geofeed:GB'"),
        ("geofeed:gb-sc", "did you mean 'geofeed:GB-SC'"),
        ("geofeed:GB-ENGL", "geofeed:<CC>-<region>"),
        ("geofeed:ZZ", "ZZ is not an ISO 3166-1 alpha-2 country code"),
    ],
)
def test_a_malformed_geofeed_tag_is_a_policy_error(tag: str, message: str) -> None:
    rule = {"name": "r", "action": "deny", "tags": [tag]}
    policy = {"name": "p", "default": "allow", "rules": [rule]}
    with pytest.raises(PolicyError, match=message):
        Geofence(policy, feeds=[_apple()], reload_interval=None)


def test_a_more_specific_row_wins_over_the_prefix_it_sits_in(tmp_path: Path) -> None:
    # RFC 8805 section 2.1.1: a /24 listed as US inside a /22 listed as GB is US, and the
    # rest of the /22 stays GB; the same for nesting three deep and for IPv6.
    rows = [
        "198.51.100.0/22,GB,GB-EN,London,",
        "198.51.101.0/24,US,US-NJ,Newark,",
        "198.51.101.128/25,FR,FR-IDF,Paris,",
        "2001:db8::/32,DE,,,",
        "2001:db8:1::/48,NL,,,",
        "203.0.113.0/24,JP,,,",
        "203.0.113.0/24,KR,,,",  # the same prefix again: the later row wins
    ]
    feed = tmp_path / "overlaps.csv"
    feed.write_text("\n".join(rows) + "\n")
    feeds = FeedSet([FeedSpec(name="geo", tag="hosting", format="geofeed", path=str(feed))])

    def places(ip: str) -> set[str]:
        return {t for t in feeds.lookup(ip).tags if t.startswith("geofeed:")}

    assert places("198.51.100.7") == {"geofeed:GB", "geofeed:GB-EN"}
    assert places("198.51.101.7") == {"geofeed:US", "geofeed:US-NJ"}
    assert places("198.51.101.200") == {"geofeed:FR", "geofeed:FR-IDF"}
    assert places("198.51.102.7") == {"geofeed:GB", "geofeed:GB-EN"}
    assert places("198.51.103.255") == {"geofeed:GB", "geofeed:GB-EN"}
    assert places("2001:db8::1") == {"geofeed:DE"}
    assert places("2001:db8:1::1") == {"geofeed:NL"}
    assert places("2001:db8:2::1") == {"geofeed:DE"}
    assert places("203.0.113.9") == {"geofeed:KR"}
    assert feeds.lookup("198.51.101.7").tags >= {"hosting", "feed:geo"}
