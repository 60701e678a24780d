"""FeedSet: the embedded snapshots, files, the cache, replacements, staleness and proxy groups."""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from geofence.client_ip import ClientIPResolver, TrustedProxies
from geofence.embedded import data_dir
from geofence.errors import ConfigurationError, DataError
from geofence.facts import GeoRecord
from geofence.reputation.catalog import CATALOG, DAY, EMBEDDED, FeedSpec
from geofence.reputation.feedset import FeedSet, open_feeds
from geofence.reputation.stale_warning import forget_stale_warnings
from geofence.reputation.wiring import proxy_groups
from geofence.request import Request

FEEDS = Path(__file__).resolve().parent.parent / "data" / "feeds"
TOR_EXIT = "185.241.208.232"  # first line of the shipped torbulkexitlist snapshot


@pytest.fixture(scope="module")
def embedded() -> FeedSet:
    feeds = open_feeds("embedded")
    assert feeds is not None
    return feeds


@pytest.mark.parametrize(
    ("address", "tags"),
    [
        (TOR_EXIT, {"tor", "feed:tor-exits"}),
        ("2.26.157.1", {"vpn", "feed:x4bnet-vpn"}),  # X4BNet VPN range
        ("3.4.12.4", {"hosting", "feed:aws"}),  # AWS ip_prefix 3.4.12.4/32
        ("104.28.28.1", {"relay", "feed:apple-relay"}),  # Apple Private Relay
        ("104.16.0.1", {"hosting", "feed:cloudflare"}),
        ("2400:cb00::1", {"hosting", "feed:cloudflare-ipv6"}),
    ],
)
def test_embedded_snapshots_tag_listed_addresses(
    embedded: FeedSet, address: str, tags: set[str]
) -> None:
    assert tags <= embedded.lookup(address).tags


def test_unlisted_and_invalid_addresses_miss(embedded: FeedSet) -> None:
    assert embedded.lookup("192.0.2.1") == GeoRecord()  # TEST-NET-1: in no feed
    assert embedded.lookup("not an address") == GeoRecord()


def test_snapshot_ages_and_sources_are_visible(embedded: FeedSet) -> None:
    assert embedded.names == EMBEDDED
    assert re.search(r"tor-exits 2024-03-12 \(\d+d\)", embedded.version)
    health = {s.name: s for s in embedded.health()}
    assert health["tor-exits"].source == "snapshot"
    assert health["tor-exits"].entries == 1174
    assert health["tor-exits"].stale  # a 2024 snapshot is older than a day
    assert not embedded.healthy


def test_matches_names_each_feed_with_its_tag(embedded: FeedSet) -> None:
    assert ("tor-exits", "tor", f"{TOR_EXIT}/32") in embedded.matches(f"::ffff:{TOR_EXIT}")


def test_snapshot_checksums_match_the_provenance_table() -> None:
    text = (data_dir() / "feeds" / "PROVENANCE.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)` \|.*\| (\d+) \| ([0-9a-f]{64}) \|$", text, re.MULTILINE)
    shipped = {s.snapshot for s in CATALOG.values() if s.snapshot}
    assert {name for name, _, _ in rows} == shipped
    for name, size, digest in rows:
        data = (data_dir() / "feeds" / name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (int(size), digest)
        gzip.decompress(data)  # each is a whole gzip stream


def test_a_local_file_feed_and_feed_tags(tmp_path: Path) -> None:
    spec = FeedSpec(
        name="my-tor", tag="tor", format="tordnsel", path=str(FEEDS / "tor" / "exit-addresses")
    )
    feeds = FeedSet([spec])
    assert feeds.lookup("185.241.208.232").tags == {"tor", "feed:my-tor"}
    assert feeds.health()[0].source == "file"
    assert feeds.health()[0].entries == 500


def test_a_missing_file_with_nothing_to_fall_back_on_fails_at_construction(tmp_path: Path) -> None:
    spec = FeedSpec(name="gone", tag="vpn", format="plain", path=str(tmp_path / "none.txt"))
    with pytest.raises(DataError, match="gone"):
        FeedSet([spec])


def test_a_url_only_feed_starts_empty_and_reports_it() -> None:
    feeds = FeedSet([CATALOG["spamhaus-drop"]])
    status = feeds.health()[0]
    assert (status.entries, status.source, status.stale) == (0, "none", True)
    assert status.error == "not downloaded yet"
    assert feeds.lookup("1.10.16.1") == GeoRecord()


def test_replace_swaps_caches_and_refuses_shrink_and_garbage(tmp_path: Path) -> None:
    feeds = FeedSet([CATALOG["tor-exits"]], cache_dir=tmp_path)
    assert not feeds.check_reload()
    bulk = (FEEDS / "tor" / "torbulkexitlist").read_bytes()
    # A smaller but real list: the DNSEL blocks' exits as a plain list.
    feeds.replace("tor-exits", bulk, etag='"v2"')
    assert feeds.check_reload()
    assert not feeds.check_reload()  # once per swap
    assert (tmp_path / "tor-exits.body").read_bytes() == bulk
    assert feeds.health()[0].source == "download"
    shrunk = b"\n".join(bulk.splitlines()[:100])
    with pytest.raises(DataError, match="shrank"):
        feeds.replace("tor-exits", shrunk)
    with pytest.raises(DataError, match="no entries"):
        feeds.replace("tor-exits", b"<html>maintenance</html>")
    assert feeds.health()[0].entries == 1174  # the last good copy stays
    assert "no entries" in (feeds.health()[0].error or "")
    assert not feeds.check_reload()
    # A restart reads the last good download from the cache, with its etag.
    again = FeedSet([CATALOG["tor-exits"]], cache_dir=tmp_path)
    assert again.health()[0].source == "cache"
    assert again.feed_state("tor-exits") == (1174, '"v2"', None)


def test_a_corrupt_cache_falls_back_to_the_snapshot(tmp_path: Path) -> None:
    (tmp_path / "tor-exits.body").write_bytes(b"garbage")
    (tmp_path / "tor-exits.json").write_text("{")
    feeds = FeedSet([CATALOG["tor-exits"]], cache_dir=tmp_path)
    assert feeds.health()[0].source == "snapshot"


@pytest.mark.parametrize(("on_stale", "listed", "unlisted"), [
    ("keep", {"tor", "feed:tor-exits"}, set()),
    ("open", set(), set()),
    ("closed", {"tor", "feed:tor-exits"}, {"tor", "feed:tor-exits"}),
])  # fmt: skip
def test_stale_feeds_keep_fail_open_or_fail_closed(
    on_stale: str, listed: set[str], unlisted: set[str]
) -> None:
    now = [1_710_201_600.0 + 3600]  # 2024-03-12T01:00Z: an hour after the snapshot's date
    feeds = FeedSet([CATALOG["tor-exits"]], on_stale=on_stale, clock=lambda: now[0])  # type: ignore[arg-type]
    assert feeds.healthy
    assert not feeds.check_reload()
    assert feeds.lookup(TOR_EXIT).tags == {"tor", "feed:tor-exits"}
    now[0] += 2 * DAY
    assert not feeds.healthy
    assert feeds.check_reload() is (on_stale != "keep")
    assert set(feeds.lookup(TOR_EXIT).tags) == listed
    assert set(feeds.lookup("192.0.2.1").tags) == unlisted


def test_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="unknown feed"):
        open_feeds(["no-such-feed"])
    with pytest.raises(ConfigurationError, match="twice"):
        FeedSet([CATALOG["aws"], CATALOG["aws"]])
    with pytest.raises(ConfigurationError, match="not a known tag"):
        open_feeds([{"name": "x", "tag": "vpns", "format": "plain", "path": "x"}])
    with pytest.raises(ConfigurationError, match="needs a url"):
        open_feeds([{"name": "x", "tag": "vpn", "format": "plain"}])
    assert open_feeds(None) is None
    assert open_feeds(False) is None


def test_cloudflare_proxy_group_believes_headers_only_from_cloudflare() -> None:
    groups = proxy_groups(["cloudflare", "10.0.0.0/8"], None)
    assert set(groups) == {"cloudflare"}
    resolver = ClientIPResolver(
        TrustedProxies(["cloudflare"], groups=groups), header="cf-connecting-ip"
    )
    headers = {"cf-connecting-ip": "81.2.69.142"}
    via_cf = resolver.resolve(Request(ip="173.245.48.1", headers=headers))
    assert via_cf.address is not None
    assert via_cf.address.text == "81.2.69.142"
    via_cf6 = resolver.resolve(Request(ip="2400:cb00::7", headers=headers))
    assert via_cf6.address is not None
    assert via_cf6.address.text == "81.2.69.142"
    forged = resolver.resolve(Request(ip="198.51.100.7", headers=headers))
    assert forged.address is not None
    assert forged.address.text == "198.51.100.7"  # not Cloudflare: the header is ignored
    assert "fastly" in proxy_groups(["fastly"], None)


def test_proxy_group_follows_a_refresh(tmp_path: Path) -> None:
    shutil.copy(FEEDS / "cloud" / "cloudflare-v4-ip-ranges.txt", tmp_path / "cf.txt")
    feeds = FeedSet([CATALOG["cloudflare"]])
    check = feeds.group("cloudflare")
    assert check is not None
    assert check(bytes([173, 245, 48, 1]))
    assert not check(bytes([192, 0, 2, 1]))
    feeds.replace("cloudflare", (tmp_path / "cf.txt").read_bytes() + b"\n192.0.2.0/24\n")
    assert check(bytes([192, 0, 2, 1]))


def test_feeds_stale_at_start_are_said_once(caplog: pytest.LogCaptureFixture) -> None:
    forget_stale_warnings()  # other tests in this process have opened stale feeds
    fresh = 1_710_201_600.0 + 3600  # an hour after the tor snapshot's date
    with caplog.at_level(logging.WARNING, logger="geofence"):
        FeedSet([CATALOG["tor-exits"]], clock=lambda: fresh)
    assert "stale at start" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="geofence"):
        FeedSet([CATALOG["tor-exits"]], on_stale="open", clock=lambda: fresh + 30 * DAY)
    assert (
        "feeds stale at start (older than their max_age): tor-exits (30 days old); on_stale=open"
    ) in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="geofence"):
        open_feeds("embedded")  # the shipped snapshots are old by design
    assert re.search(r"stale at start .*: [a-z0-9, ()-]+ and \d+ more; on_stale=keep", caplog.text)


def test_old_temporary_files_of_killed_writers_are_removed(tmp_path: Path) -> None:
    old = tmp_path / ".tor-exits.body.123.456.tmp"  # what a writer killed mid-write leaves
    young = tmp_path / ".tor-exits.json.789.1.tmp"  # another process may be writing it now
    for path in (old, young):
        path.write_bytes(b"partial")
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    FeedSet([CATALOG["tor-exits"]], cache_dir=tmp_path)
    assert not old.exists()
    assert young.exists()


def test_stale_warning_is_said_once_per_process_with_age_and_the_fix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    forget_stale_warnings()
    late = 1_710_201_600.0 + 995 * DAY  # the shipped tor snapshot, 995 days on
    with caplog.at_level(logging.WARNING, logger="geofence"):
        FeedSet([CATALOG["tor-exits"]], clock=lambda: late)
    (record,) = [r for r in caplog.records if "stale" in r.getMessage()]
    message = record.getMessage()
    assert "tor-exits (995 days old)" in message
    assert "`geofence feeds update`" in message
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="geofence"):
        for _ in range(3):  # more Geofence()s, workers, CLI commands in one process
            FeedSet([CATALOG["tor-exits"]], clock=lambda: late)
    assert "stale" not in caplog.text
