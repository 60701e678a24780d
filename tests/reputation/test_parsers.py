"""Every parser on the real feed files in tests/data/feeds (counts taken from the files by
grep/jq-style counting, written in tests/data/feeds/PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from geofence.net import normalize
from geofence.reputation.parsers import FORMATS, FeedFormatError, parse_feed
from geofence.reputation.range_builder import RangeSetBuilder

FEEDS = Path(__file__).resolve().parent.parent / "data" / "feeds"


@pytest.mark.parametrize(
    ("fmt", "path", "count", "v6"),
    [
        ("plain", "tor/tor-exit-nodes.lst", 1746, 619),  # exploded IPv6 included
        ("plain", "tor/torbulkexitlist", 1174, 0),
        ("tordnsel", "tor/exit-addresses", 500, 0),
        ("plain", "x4bnet/vpn-ipv4.txt", 10862, 0),
        ("plain", "x4bnet/vpn-ipv6.txt", 498, 498),
        ("plain", "x4bnet/datacenter-ipv4-head2000.txt", 2000, 0),
        ("plain", "firehol/firehol_level1.netset", 2892, 0),  # '#' header skipped
        ("plain", "spamhaus/secops_drop.txt", 989, 0),  # trailing spaces
        ("plain", "cloud/akamai-v4-ip-ranges.txt", 19, 0),  # trailing tabs
        ("plain", "cloud/cloudflare-v4-ip-ranges.txt", 15, 0),  # no final newline
        ("plain", "cloud/cloudflare-v6-ip-ranges.txt", 7, 7),
        ("plain", "lord-alfred/protonvpn-ipv4.txt", 860, 0),  # bare addresses
        ("plain", "lord-alfred/apple-proxy-ipv4_merged.txt", 3290, 0),
        ("plain", "lord-alfred/apple-proxy-ipv6_merged-head1000.txt", 1000, 1000),
        ("spamhaus-ndjson", "spamhaus/drop_v4.json", 1406, 0),
        ("aws", "ip-fetcher/aws/ip-ranges.json", 30, 2),
        ("google", "cloud/google-cloud-ip-ranges.json", 782, 46),
        ("google", "ip-fetcher/gcp/cloud.json", 10, None),
        ("google", "ip-fetcher/google/goog.json", 11, None),
        ("google", "ip-fetcher/googlebot/googlebot.json", 7, None),
        ("azure", "ip-fetcher/azure/ServiceTags_Public_20221212-excerpt.json", 1055, None),
        ("oracle", "cloud/oracle-cloud-ip-ranges.json", 896, 0),
        ("oracle", "ip-fetcher/oci/public_ip_ranges.json", 71, None),
        ("fastly", "cloud/fastly-ip-ranges.json", 21, 2),
        ("fastly", "ip-fetcher/fastly/fastly.json", 21, 2),
        ("github", "cloud/github-ip-ranges.json", 5959, None),
        ("github", "ip-fetcher/github/meta.json", 6, None),
        ("geofeed", "cloud/digitalocean.csv", 1182, None),
        ("geofeed", "cloud/linode.txt", 4552, None),  # 3 '#' header lines
        ("geofeed", "ip-fetcher/linode/prefixes.csv", 14, None),
        ("geofeed", "ip-fetcher/icloudpr/egress-ip-ranges.csv", 9, 0),
    ],
)
def test_real_files_parse_to_their_entry_counts(
    fmt: str, path: str, count: int, v6: int | None
) -> None:
    parsed = parse_feed(fmt, (FEEDS / path).read_bytes())
    assert (parsed.count, parsed.bad) == (count, 0)
    if v6 is not None:
        assert sum(1 for version, _, _ in parsed.ranges if version == 6) == v6


def test_metadata_is_kept() -> None:
    drop = parse_feed("spamhaus-ndjson", (FEEDS / "spamhaus/drop_v4.json").read_bytes())
    assert drop.meta["records"] == "1406" == str(drop.count)  # the feed's own count agrees
    assert drop.meta["timestamp"] == "1744682874"
    aws = parse_feed("aws", (FEEDS / "ip-fetcher/aws/ip-ranges.json").read_bytes())
    assert aws.meta == {"syncToken": "1657291988", "createDate": "2022-07-08-14-53-08"}
    tor = parse_feed("tordnsel", (FEEDS / "tor/exit-addresses").read_bytes())
    assert tor.meta["relays"] == "500"
    icloud = parse_feed(
        "geofeed", (FEEDS / "ip-fetcher/icloudpr/egress-ip-ranges.csv").read_bytes()
    )
    assert icloud.meta["countries"] == "GB"


def test_select_narrows_json_feeds() -> None:
    body = (FEEDS / "cloud/github-ip-ranges.json").read_bytes()
    assert parse_feed("github", body, ["actions"]).count == 5314
    azure = (FEEDS / "ip-fetcher/azure/ServiceTags_Public_20221212-excerpt.json").read_bytes()
    assert parse_feed("azure", azure, ["ActionGroup"]).count == 309


def test_exploded_ipv6_tor_exit_matches_its_compressed_form() -> None:
    parsed = parse_feed("plain", (FEEDS / "tor/tor-exit-nodes.lst").read_bytes())
    builder = RangeSetBuilder()
    for version, first, last in parsed.ranges:
        builder.add(version, first, last, frozenset({"tor"}))
    rs = builder.build()
    assert rs.match(normalize("2001:470:1:908::9001")) == (
        "2001:470:1:908::9001/128",
        frozenset({"tor"}),
    )


@pytest.mark.parametrize(
    ("name", "valid", "bad"),
    [
        ("geofeed-valid.csv", 3, 0),  # CRLF, spaces around fields, a 6th column, a comment
        ("geofeed-valid-lax.csv", 3, 0),  # region codes are not checked here
        ("geofeed-valid-optional-fields.csv", 3, 0),
        ("geofeed-valid-utf8-bom.csv", 3, 0),
        ("geofeed-invalid-empty-network.csv", 1, 1),
        ("geofeed-invalid-network.csv", 1, 1),
    ],
)
def test_geofeed_verifier_edge_cases(name: str, valid: int, bad: int) -> None:
    parsed = parse_feed("geofeed", (FEEDS / "geofeed-verifier" / name).read_bytes())
    assert (parsed.count, parsed.bad) == (valid, bad)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.csv", "no entries"),
        ("geofeed-invalid-missing-fields.csv", "2 bad entries"),  # 4 fields: both rows bad
        ("geofeed-valid-utf16le.csv", "not UTF-8"),
        ("geofeed-valid-shiftjis.csv", "not UTF-8"),
    ],
)
def test_geofeed_rejections(name: str, message: str) -> None:
    with pytest.raises(FeedFormatError, match=message):
        parse_feed("geofeed", (FEEDS / "geofeed-verifier" / name).read_bytes())


def test_bad_lines_are_counted_not_fatal() -> None:
    body = (FEEDS / "tor/torbulkexitlist").read_bytes()
    damaged = body + b"\n999.1.1.1\nnot-an-ip\n\n# comment\n10.0.0.0/33\n"
    parsed = parse_feed("plain", damaged)
    assert (parsed.count, parsed.bad) == (1174, 3)
    assert parsed.bad_samples[0] == "line 1176: '999.1.1.1'"
    asn_list = (FEEDS / "x4bnet/vpn-ASN.txt").read_bytes()  # ASNs, not addresses
    with pytest.raises(FeedFormatError, match="15 bad entries"):
        parse_feed("plain", asn_list)


def test_ndjson_bad_lines_are_counted() -> None:
    body = (FEEDS / "spamhaus/drop_v4.json").read_bytes()
    parsed = parse_feed("spamhaus-ndjson", b'{"cidr": "1.2.3.0/33"}\n{oops\n[1]\n' + body)
    assert (parsed.count, parsed.bad) == (1406, 3)


@pytest.mark.parametrize("fmt", sorted(set(FORMATS) - {"plain", "tordnsel", "geofeed"}))
def test_garbage_is_a_format_error(fmt: str) -> None:
    with pytest.raises(FeedFormatError):
        parse_feed(fmt, b"<html><body>503 Service Unavailable</body></html>")


def test_json_of_the_wrong_shape_is_a_format_error() -> None:
    body = (FEEDS / "cloud/fastly-ip-ranges.json").read_bytes()
    with pytest.raises(FeedFormatError, match="prefixes"):
        parse_feed("aws", body)
    with pytest.raises(FeedFormatError, match="unknown feed format"):
        parse_feed("csv", body)


def test_truncated_json_is_a_format_error() -> None:
    body = (FEEDS / "cloud/oracle-cloud-ip-ranges.json").read_bytes()
    with pytest.raises(FeedFormatError, match="not JSON"):
        parse_feed("oracle", body[: len(body) // 2])
