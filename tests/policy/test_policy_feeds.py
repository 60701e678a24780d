"""A policy's own ``feeds:`` section: validated at load, loaded by Geofence, named by rules."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from geofence import Geofence, load_policy
from geofence.errors import ConfigurationError, PolicyError
from geofence.reputation.feedset import FeedSet, open_feeds

FEEDS = Path(__file__).parent.parent / "data" / "feeds"
TOR_LIST = FEEDS / "tor" / "torbulkexitlist"
TOR_EXIT = "185.241.208.232"


def _policy(tmp_path: Path, **feed: Any) -> dict[str, Any]:
    path = tmp_path / "exits.txt"
    shutil.copyfile(TOR_LIST, path)
    spec = {"name": "my-exits", "path": str(path), "format": "plain", "tag": "tor", **feed}
    return {
        "name": "own-feed",
        "default": "allow",
        "rules": [{"name": "mine", "action": "deny", "tags": ["feed:my-exits"]}],
        "feeds": [spec],
    }


def test_a_policy_feed_is_loaded_and_named_by_a_rule(tmp_path: Path) -> None:
    with Geofence(_policy(tmp_path), reload_interval=None) as gf:
        assert gf.feeds is not None
        assert gf.feeds.names == ("my-exits",)
        decision = gf.evaluate(f"::ffff:{TOR_EXIT}")
        assert (decision.rule, decision.allowed) == ("mine", False)
        assert {"tor", "feed:my-exits"} <= decision.tags
        assert gf.evaluate("81.2.69.142").allowed


def test_policy_feeds_join_the_feeds_argument(tmp_path: Path) -> None:
    with Geofence(_policy(tmp_path), feeds=["tor-exits"], reload_interval=None) as gf:
        assert gf.feeds is not None
        assert gf.feeds.names == ("tor-exits", "my-exits")
        assert {"feed:tor-exits", "feed:my-exits"} <= gf.evaluate(TOR_EXIT).tags
    with Geofence(_policy(tmp_path), feeds="embedded", reload_interval=None) as gf:
        assert gf.feeds is not None
        assert {"my-exits", "aws"} <= set(gf.feeds.names)


def test_a_ready_feedset_must_hold_the_policy_feeds(tmp_path: Path) -> None:
    with FeedSet([]) as feeds, pytest.raises(ConfigurationError, match="lists my-exits"):
        Geofence(_policy(tmp_path), feeds=feeds, reload_interval=None)
    # The documented path for a cache directory and on_stale with a policy's own feeds.
    policy = load_policy(_policy(tmp_path))
    cache = tmp_path / "cache"
    feeds = open_feeds(["tor-exits", *policy.feeds], cache_dir=cache, on_stale="open")
    with Geofence(policy, feeds=feeds, reload_interval=None) as gf:
        assert gf.feeds is feeds
        tags = gf.evaluate(TOR_EXIT).tags
        # The shipped Tor snapshot (2024) is past its one-day max_age: on_stale="open" drops it;
        # the policy's feed (a file written just now) still matches.
        assert "feed:tor-exits" not in tags
        assert "feed:my-exits" in tags


def test_a_policy_feed_named_like_a_configured_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="configured twice"):
        Geofence(_policy(tmp_path, name="tor-exits"), feeds=["tor-exits"], reload_interval=None)


def test_with_policy_cannot_add_feeds(tmp_path: Path) -> None:
    plain = {"name": "plain", "rules": [{"name": "all", "action": "allow", "networks": ["::/0"]}]}
    with Geofence(plain, reload_interval=None) as gf, pytest.raises(ConfigurationError):
        gf.with_policy(_policy(tmp_path))


@pytest.mark.parametrize(
    ("feed", "path", "says"),
    [
        ({"tag": "vpnn"}, "feeds[0].tag", "'vpnn' is not a known tag"),
        ({"format": "csv"}, "feeds[0].format", "unknown format 'csv'"),
        ({"name": "My List"}, "feeds[0].name", "should match pattern"),
        ({"path": None}, "feeds[0]", "needs a url, a path or a snapshot"),
        ({"formt": "plain"}, "feeds[0].formt", "did you mean 'format'?"),
        ({"max_age": 0}, "feeds[0].max_age", "greater than 0"),
    ],
)
def test_a_bad_feed_is_a_policy_error_naming_file_and_value(
    tmp_path: Path, feed: dict[str, Any], path: str, says: str
) -> None:
    import yaml

    file = tmp_path / "policy.yaml"
    file.write_text(yaml.safe_dump(_policy(tmp_path, **feed)))
    with pytest.raises(PolicyError) as info:
        load_policy(file)
    problems = [p for p in info.value.problems if p.path == path]
    assert problems, info.value
    assert says in problems[0].message
    assert str(file) in str(info.value)


def test_a_feed_name_used_twice_is_a_policy_error(tmp_path: Path) -> None:
    data = _policy(tmp_path)
    data["feeds"] = data["feeds"] * 2
    with pytest.raises(PolicyError, match="'my-exits' is used more than once"):
        load_policy(data)


def test_a_policy_without_feeds_is_unchanged() -> None:
    policy = load_policy(
        {"name": "p", "rules": [{"name": "r", "action": "allow", "countries": ["GB"]}]}
    )
    assert policy.feeds == ()
