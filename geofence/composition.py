"""Composition: joins a policy's needs to the sources that must meet them.

The policy package knows feeds only as names and tags, and the source packages know nothing of
policies; this module, on the engine side, is where the two meet: the policy's ``feeds:``
section joins ``feeds=``, every ``feed:<name>`` / ``geofeed:<place>`` tag and every fact a
rule reads must be provided by a configured source, or construction fails with the rule named.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from geofence.errors import ConfigurationError, PolicyError, PolicyProblem
from geofence.facts import FactsRow, location_fields
from geofence.geo import GeoSource
from geofence.geo.world import outlines
from geofence.policy import CompiledPolicy, Policy
from geofence.reputation.feedset import FeedSet, FeedsSpec
from geofence.reputation.wiring import feed_sets
from geofence.signals.geometry import centroids
from geofence.signals.settings import DEFAULT_SETTINGS, SignalSettings
from geofence.signals.stage import AccountSignals, StoreErrorMode
from geofence.store import Store, open_store
from geofence.vocab.feeds import FeedSpec
from geofence.vocab.tags import FEED_PREFIX, GEOFEED_PREFIX

__all__ = [
    "account_stage",
    "check_feed_tags",
    "check_needs",
    "check_policy_feeds",
    "check_signal_store",
    "generation_counter",
    "with_policy_feeds",
]

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


def generation_counter(geo: GeoSource) -> Callable[[], int]:
    """A cheap reader of the source's swap counter (0 for sources without one)."""
    sources = [s for s in getattr(geo, "sources", (geo,)) if hasattr(s, "generation")]
    # Unrolled for the usual counts (country + ASN, and feeds): a generator costs ~0.3 us.
    if len(sources) == 1:
        (only,) = sources
        return lambda: only.generation
    if len(sources) == 2:
        first, second = sources
        return lambda: first.generation + second.generation
    if len(sources) == 3:
        one, two, three = sources
        return lambda: one.generation + two.generation + three.generation
    return lambda: sum(s.generation for s in sources)


def check_policy_feeds(policy: Policy, feeds: FeedSet | None) -> None:
    # with_policy() shares the loaded feeds: it cannot add the other policy's feeds: section.
    missing = [f.name for f in policy.feeds if feeds is None or f.name not in feeds.names]
    if missing:
        raise ConfigurationError(
            f"with_policy(): the policy's feeds {', '.join(missing)} are not loaded here; "
            "list them in the first policy or in feeds="
        )


def check_signal_store(policy: Policy, stage: AccountSignals | None) -> None:
    """Signal rules without a store could never hold: say so instead of never matching."""
    if stage is not None:
        return
    problems = [
        PolicyProblem(
            "tests account signals, but store=None turns them off; pass store='memory://' "
            "(one process) or a Redis URL (a fleet)",
            rule=rule.name,
            path="rules",
        )
        for rule in policy.rules
        if rule.signals
    ]
    if problems:
        raise PolicyError(problems)


_HINTS = {
    "tags": "pass feeds='embedded' or ",
    # A City database whose subdivisions have neither iso_code nor names the alias table maps
    # cannot give ISO 3166-2 codes: refused here rather than matching nothing (failing open).
    "regions": "its data gives no ISO 3166-2 subdivision codes; list geofence's region layer "
    "(geofence.default_geo_paths()[2]) among the geo sources or ",
}


def check_needs(compiled: CompiledPolicy, geo: GeoSource, policy: Policy) -> None:
    check_feed_tags(policy, geo)  # feed:<name> tags need that feed configured
    missing = compiled.needs - geo.provides
    if not missing:
        return
    have = ", ".join(sorted(geo.provides)) or "nothing"
    problems = []
    for rule in policy.rules:
        for kind in sorted(compiled.rule_needs(rule.name) & missing):
            problems.append(
                PolicyProblem(
                    f"uses {kind}, but no geo source provides {kind} "
                    f"({geo.version} provides {have}); "
                    + _HINTS.get(kind, "")
                    + "add a database that does",
                    rule=rule.name,
                    path="rules",
                )
            )
    raise PolicyError(problems or [PolicyProblem(f"needs {', '.join(sorted(missing))}")])


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


def account_stage(
    store: str | Store | None,
    settings: SignalSettings | Mapping[str, Any] | None,
    on_store_error: StoreErrorMode,
) -> AccountSignals | None:
    """The account-signal stage for ``Geofence(store=, signals=, on_store_error=)``, or
    ``None`` with ``store=None``; a bad setting raises ``ConfigurationError`` here."""
    if store is None:
        return None
    if on_store_error not in ("facts", "deny"):
        raise ConfigurationError(
            f"on_store_error must be 'facts' or 'deny', not {on_store_error!r}"
        )
    if settings is None:
        chosen = DEFAULT_SETTINGS
    elif isinstance(settings, SignalSettings):
        chosen = settings
    else:
        try:
            chosen = SignalSettings.model_validate(settings)
        except ValueError as exc:
            raise ConfigurationError(f"signals=: {exc}") from None
    opened = open_store(store) if isinstance(store, str) else store
    return AccountSignals(opened, chosen, _locator(), on_store_error=on_store_error)


def _locator() -> Callable[[FactsRow], tuple[float, float] | None]:
    """Coordinates from the facts when the data has them (the region layer, a City
    database), else the country's centroid."""
    table = centroids(outlines())

    def locate(row: FactsRow) -> tuple[float, float] | None:
        lat, lon, _ = location_fields(row)  # a cached row or a Facts, each by its layout
        if lat is not None and lon is not None:
            return float(lat), float(lon)
        country = row[1]
        return None if country is None else table.get(country)

    return locate
