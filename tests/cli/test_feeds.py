"""``geofence feeds list|update|status`` and ``lookup --feeds`` (offline, embedded snapshots)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from geofence.cli import feeds as feeds_cli
from geofence.cli import main
from geofence.reputation.catalog import FeedSpec
from geofence.reputation.feedset import FeedSet


def test_lookup_shows_tags_and_their_feeds_offline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lookup", "--feeds", "185.241.208.232", "2.26.157.1", "3.4.12.4",
                 "104.28.28.1", "2002:b9f1:d0e8::1"]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    tags = [line.split("tags=")[1].split("\t")[0].split(",") for line in lines]
    assert {"tor", "feed:tor-exits"} <= set(tags[0])
    assert {"vpn", "feed:x4bnet-vpn"} <= set(tags[1])
    assert {"hosting", "feed:aws"} <= set(tags[2])
    assert {"relay", "feed:apple-relay"} <= set(tags[3])
    assert {"tor", "feed:tor-exits"} <= set(tags[4])  # the 6to4 form of the exit


def test_feeds_list_names_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["feeds", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("tor-exits", "x4bnet-vpn", "apple-relay", "aws", "cloudflare", "spamhaus-drop"):
        assert f"\n{name}\t" in "\n" + out


def test_feeds_status_shows_age_source_and_staleness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["feeds", "status", "--cache-dir", str(tmp_path), "tor-exits"]) == 1  # stale
    out = capsys.readouterr().out
    assert "tor-exits\tSTALE\tsource=snapshot\tupdated=2024-03-12\tage=" in out
    assert "entries=1174" in out


def test_feeds_update_downloads_into_the_cache_that_status_reads(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The catalog URLs are the real internet, so the update step runs on a spec of the same
    # name pointing at a local server; status then reads the catalog feed from that cache.
    spec = FeedSpec(name="tor-exits", tag="tor", format="plain", url=server + "/tor")
    feeds = FeedSet([spec], cache_dir=tmp_path)
    assert feeds_cli._update(feeds, sys.stdout) == 0
    assert capsys.readouterr().out == "tor-exits\tupdated\t1174 entries\n"
    assert main(["feeds", "status", "--cache-dir", str(tmp_path), "tor-exits"]) == 0
    assert "tor-exits\tok\tsource=cache" in capsys.readouterr().out
