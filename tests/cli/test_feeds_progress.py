"""``geofence feeds update``: concurrent downloads, progress, each failure said once."""

from __future__ import annotations

import io
import logging
import socket
import sys
from pathlib import Path

import pytest

from geofence.cli import feeds as feeds_cli
from geofence.reputation.catalog import FeedSpec
from geofence.reputation.feedset import FeedSet


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed when the probe is: connection refused


def _feeds(server: str, tmp_path: Path) -> FeedSet:
    specs = [
        FeedSpec(name="good", tag="tor", format="plain", url=server + "/tor"),
        FeedSpec(name="broken", tag="vpn", format="plain", url=server + "/broken"),
        FeedSpec(
            name="unreachable",
            tag="hosting",
            format="plain",
            url=f"http://127.0.0.1:{_closed_port()}/",
        ),
    ]
    return FeedSet(specs, cache_dir=tmp_path)


def test_each_feed_is_reported_once_and_failures_once(
    server: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    feeds = _feeds(server, tmp_path)  # no data yet: its stale warning is not under test
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="geofence"):
        assert feeds_cli._update(feeds, sys.stdout) == 1
    captured = capsys.readouterr()
    lines = sorted(captured.out.splitlines())
    assert [line.split("\t")[:2] for line in lines] == [
        ["broken", "failed"],
        ["good", "updated"],
        ["unreachable", "failed"],
    ]
    everything = captured.out + captured.err + caplog.text
    assert everything.count("broken") == 1
    assert everything.count("unreachable") == 1
    assert captured.err == ""  # not a terminal: no bars, results on stdout only


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_rich_draws_a_bar_per_feed(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    out = io.StringIO()
    assert feeds_cli._update(_feeds(server, tmp_path), out) == 1
    drawn = terminal.getvalue()
    assert "\x1b[" in drawn  # rich's live display, not plain lines
    for name in ("good", "broken", "unreachable"):
        assert name in drawn
    assert len(out.getvalue().splitlines()) == 3  # the results still go to stdout, once each
