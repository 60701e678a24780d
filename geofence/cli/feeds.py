"""``geofence feeds list|update|status``: the reputation feed catalog, downloads and health."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from geofence.cli import COMMANDS, EXIT_NOT_ALLOWED, EXIT_OK, Command, unknown_choice
from geofence.errors import ConfigurationError
from geofence.reputation.feedset import FeedSet, open_feeds
from geofence.reputation.fetch import FetchOutcome
from geofence.vocab.feeds import CATALOG, EMBEDDED

__all__ = ["add_feeds_option", "default_cache_dir"]


def default_cache_dir() -> Path:
    """``$GEOFENCE_FEEDS_DIR``, else ``$XDG_CACHE_HOME/geofence/feeds`` (``~/.cache/...``)."""
    explicit = os.environ.get("GEOFENCE_FEEDS_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "geofence" / "feeds"


class _FeedName(argparse.Action):
    """``--feed NAME`` (repeatable): adds a catalog feed to ``args.feeds``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        current = getattr(namespace, self.dest, None)
        names = list(current) if isinstance(current, list) else []
        if current == "embedded":
            names.append("embedded")
        names.append(str(values))
        setattr(namespace, self.dest, names)


def add_feeds_option(parser: argparse.ArgumentParser) -> None:
    """``--feeds`` (the embedded snapshots) and ``--feed NAME`` for address-lookup commands."""
    parser.add_argument(
        "--feeds",
        action="store_const",
        const="embedded",
        default=None,
        help="tag addresses with the embedded reputation feeds (Tor, VPN, hosting, relay)",
    )
    parser.add_argument(
        "--feed",
        action=_FeedName,
        dest="feeds",
        metavar="NAME",
        help="use this catalog feed (repeatable; see 'geofence feeds list')",
    )


def _add(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    listing = sub.add_parser(
        "list", help="the feed catalog", epilog=_EXAMPLES["list"], formatter_class=_RAW
    )
    listing.add_argument("--json", action="store_true", help="print one JSON object per feed")
    for name, text in (("update", "download feeds now"), ("status", "age, entries, errors")):
        action = sub.add_parser(name, help=text, epilog=_EXAMPLES[name], formatter_class=_RAW)
        action.add_argument("names", nargs="*", metavar="NAME", help="default: the embedded set")
        action.add_argument("--cache-dir", type=Path, default=None, help="download cache")
        if name == "status":
            action.add_argument("--json", action="store_true", help="one JSON object per feed")


_RAW = argparse.RawDescriptionHelpFormatter
_EXAMPLES = {
    "list": "example:\n  geofence feeds list --json",
    "update": "example:\n  geofence feeds update            # run at deployment and daily (cron)",
    "status": "example:\n  geofence feeds status --json tor",
}


def _run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout  # looked up per call, so redirected output is honoured
    if args.feeds_command == "list":
        return _list(out, as_json=args.json)
    for name in args.names:
        if name not in CATALOG and name != "embedded":
            raise ConfigurationError(unknown_choice("feed", name, [*CATALOG, "embedded"]))
    feeds = open_feeds(
        list(args.names) or list(EMBEDDED), cache_dir=args.cache_dir or default_cache_dir()
    )
    assert feeds is not None
    if args.feeds_command == "update":
        return _update(feeds, out)
    return _status(feeds, out, as_json=args.json)


def _list(out: TextIO, *, as_json: bool) -> int:
    for spec in CATALOG.values():
        if as_json:
            record = spec.model_dump(mode="json", include=_LISTED)
            out.write(json.dumps({**record, "embedded": spec.name in EMBEDDED}) + "\n")
            continue
        snapshot = f"snapshot {spec.snapshot_date}" if spec.snapshot_date else "no snapshot"
        out.write(
            f"{spec.name}\ttag={spec.tag}\tformat={spec.format}\t{snapshot}\t"
            f"url={spec.url or '-'}\tlicence={spec.licence}\n"
        )
    return EXIT_OK


def _update(feeds: FeedSet, out: TextIO) -> int:
    from geofence.cli.progress import FeedProgress, QuietFeedFailures

    names = list(feeds.names)
    worst = EXIT_OK
    live = sys.stderr.isatty()
    with QuietFeedFailures(), FeedProgress(sys.stderr, names, live=live) as bars:
        for outcome in refresh_concurrently(feeds, names, bars.downloading):
            detail = f"\t{outcome.error}" if outcome.error else ""
            line = f"{outcome.name}\t{outcome.status}\t{outcome.entries} entries{detail}"
            if live:
                bars.finished(outcome.name, outcome.status, line)
            out.write(line + "\n")
            if outcome.status == "failed":
                worst = EXIT_NOT_ALLOWED
    return worst


def refresh_concurrently(
    feeds: FeedSet, names: list[str], progress: Callable[[str, int, int | None], None]
) -> Iterator[FetchOutcome]:
    """Each feed's outcome as it finishes, the downloads running side by side: offline, every
    feed fails at once instead of one after another through its retries."""
    from geofence.reputation.fetch import iter_refresh

    return iter_refresh(feeds, names, workers=_DOWNLOADS, progress=progress)


_DOWNLOADS = 8  # at once: enough to hide latency, few enough for one host's rate limits


_LISTED = {"name", "tag", "format", "url", "licence", "group", "snapshot_date"}


def _status(feeds: FeedSet, out: TextIO, *, as_json: bool) -> int:
    now = time.time()
    worst = EXIT_OK
    for s in feeds.health():
        if s.stale:
            worst = EXIT_NOT_ALLOWED
        if as_json:
            days = None if s.updated is None else round((now - s.updated) / 86400, 1)
            out.write(json.dumps({**s._asdict(), "age_days": days}) + "\n")
            continue
        when = "-" if s.updated is None else _day(s.updated)
        age = "-" if s.updated is None else f"{(now - s.updated) / 86400:.1f}d"
        flag = "STALE" if s.stale else "ok"
        error = f"\terror={s.error}" if s.error else ""
        out.write(
            f"{s.name}\t{flag}\tsource={s.source}\tupdated={when}\tage={age}\t"
            f"entries={s.entries}\tbad={s.bad}{error}\n"
        )
    return worst


def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d")


COMMANDS.append(
    Command(
        "feeds",
        "reputation feeds: list, update, status",
        _add,
        _run,
        "geofence feeds update && geofence feeds status",
    )
)
