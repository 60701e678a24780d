"""How ``Geofence`` uses feeds: composed after the geo databases, and as trusted-proxy groups."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from geofence.errors import ConfigurationError, PolicyError, PolicyProblem
from geofence.geo import CompositeGeo, GeoSource
from geofence.reputation.catalog import CATALOG, FeedSpec
from geofence.reputation.feedset import FeedSet, FeedsSpec
from geofence.tags import FEED_PREFIX, GEOFEED_PREFIX

if TYPE_CHECKING:
    from geofence.policy import Policy

__all__ = ["check_feed_tags", "feed_sets", "proxy_groups", "with_feeds", "with_policy_feeds"]

log = logging.getLogger("geofence")


def with_policy_feeds(spec: FeedsSpec, policy_feeds: tuple[FeedSpec, ...]) -> FeedsSpec:
    """``feeds=`` joined by the policy's own ``feeds:`` section (the spec as is without one)."""
    if not policy_feeds:
        return spec
    if isinstance(spec, FeedSet):
        # A ready FeedSet (built for its cache_dir/on_stale) must already hold them.
        missing = [f.name for f in policy_feeds if f.name not in spec.names]
        if missing:
            raise ConfigurationError(
                f"the policy's feeds: section lists {', '.join(missing)}, which the FeedSet "
                "passed as feeds= lacks: build it with open_feeds([..., *policy.feeds], ...) "
                "or pass feeds= as None, 'embedded', names or specs"
            )
        return spec
    if spec is None or spec is False:
        items: list[str | FeedSpec | Mapping[str, object]] = []
    elif spec is True or isinstance(spec, str):
        items = ["embedded" if spec is True else spec]
    else:
        items = list(spec)
    return [*items, *policy_feeds]


def with_feeds(geo: GeoSource, feeds: FeedSet | None) -> GeoSource:
    """``geo`` with ``feeds`` composed after it (tags are unioned), or ``geo`` alone."""
    if feeds is None:
        return geo
    sources = geo.sources if isinstance(geo, CompositeGeo) else (geo,)
    return CompositeGeo([*sources, feeds])


def feed_sets(geo: GeoSource) -> tuple[FeedSet, ...]:
    """The ``FeedSet`` sources inside ``geo``."""
    sources = geo.sources if isinstance(geo, CompositeGeo) else (geo,)
    return tuple(s for s in sources if isinstance(s, FeedSet))


def proxy_groups(
    specs: Iterable[object], feeds: FeedSet | None
) -> dict[str, Callable[[bytes], bool]]:
    """Trusted-proxy groups for the feed or group names among ``specs`` (``"cloudflare"``).

    From the configured ``feeds`` when they hold the name (so a refresh updates the group),
    else from the catalog's shipped snapshot of it.
    """
    groups: dict[str, Callable[[bytes], bool]] = {}
    for spec in specs:
        if not isinstance(spec, str):
            continue
        name = spec.lower()
        check = None if feeds is None else feeds.group(name)
        if check is None:
            members = [s for s in CATALOG.values() if name in (s.name, s.group) and s.snapshot]
            if not members:
                continue
            check = FeedSet(members).group(name)
        if check is not None:
            groups[name] = check
    return groups


def check_feed_tags(policy: Policy, geo: GeoSource) -> None:
    """Raise ``PolicyError`` when a rule names ``feed:<name>`` and no such feed is configured,
    or ``geofeed:<place>`` and no configured feed is a geofeed."""
    names = {n for fs in feed_sets(geo) for n in fs.names}
    geofeed = any(fs.spec(n).format == "geofeed" for fs in feed_sets(geo) for n in fs.names)
    problems = []
    for item in policy.rules:
        rule = item.name
        for tag in (*item.tags, *(item.unless.tags if item.unless is not None else ())):
            if tag.startswith(FEED_PREFIX) and tag[len(FEED_PREFIX) :] not in names:
                configured = ", ".join(sorted(names)) or "none (pass feeds=)"
                problems.append(
                    PolicyProblem(
                        f"uses {tag}, but no feed {tag[len(FEED_PREFIX) :]!r} is configured "
                        f"(configured: {configured})",
                        rule=rule,
                        path=f"rules ({rule})",
                    )
                )
            elif tag.startswith(GEOFEED_PREFIX) and not geofeed:
                configured = ", ".join(sorted(names)) or "none (pass feeds=)"
                problems.append(
                    PolicyProblem(
                        f"uses {tag}, but no configured feed is a geofeed (format: geofeed), "
                        f"so no address gets geofeed: tags (configured: {configured}); add one, "
                        "e.g. feeds=['apple-relay'] or a FeedSpec(format='geofeed', path=...)",
                        rule=rule,
                        path=f"rules ({rule})",
                    )
                )
    if problems:
        raise PolicyError(problems)
    places = sum(fs.places(n) for fs in feed_sets(geo) for n in fs.names)
    if places == 0 and any(t.startswith(GEOFEED_PREFIX) for t in _policy_tags(policy)):
        # E.g. apple-relay before its first download: its shipped snapshot has no countries.
        log.warning(
            "geofence: the policy names geofeed: tags, but no geofeed in service has places "
            "yet (a shipped snapshot without countries?): those rules match nothing until "
            "a download brings them"
        )


def _policy_tags(policy: Policy) -> Iterator[str]:
    for rule in policy.rules:
        yield from rule.tags
        if rule.unless is not None:
            yield from rule.unless.tags
