"""Checks of a policy against the data it will run on (``geofence validate --geo/--feeds``).

Building a ``Geofence`` already refuses a policy its data cannot serve at all (a rule needing
regions from a country-only database, ``feed:<name>`` with no such feed). These checks find
what still builds but cannot work as written: a rule's tag that no configured source gives,
or a region code the region data never gives (a country the embedded layer does not carry, a
code below the first level where the data has only first-level codes), so that part of the
rule never matches. Each check returns ``PolicyProblem`` findings; ``DATA_CHECKS`` is the
list ``validate`` runs, and the place for more.
"""

from __future__ import annotations

from collections.abc import Callable

from geofence.engine import Geofence
from geofence.errors import PolicyProblem
from geofence.geo import CompositeGeo, MMDBSource
from geofence.geo.places import NAMES_NOTE
from geofence.geo.schemas import REGION_LAYER
from geofence.geo.subdivisions import first_level
from geofence.reputation.feedset import FeedSet
from geofence.vocab.tags import FEED_PREFIX, GEOFEED_PREFIX

__all__ = ["DATA_CHECKS", "DataCheck", "check_against_data", "region_rules", "tag_rules"]

DataCheck = Callable[[Geofence], list[PolicyProblem]]
"""A check of ``geofence.policy`` against ``geofence``'s data; returns its findings."""


def tag_rules(geofence: Geofence) -> list[PolicyProblem]:
    """Each rule tag (``tor``, ``public_proxy``...) that no configured feed gives, when feeds
    are the only source of tags (an Anonymous-IP database could give any of them)."""
    geo = geofence.geo
    sources = geo.sources if isinstance(geo, CompositeGeo) else (geo,)
    feed_sets = [s for s in sources if isinstance(s, FeedSet)]
    if any("tags" in s.provides for s in sources if not isinstance(s, FeedSet)):
        return []
    given = {fs.spec(name).tag for fs in feed_sets for name in fs.names}
    findings = []
    for rule in geofence.policy.rules:
        unless = rule.unless.tags if rule.unless is not None else ()
        for where, tags in (("tags", rule.tags), ("unless.tags", unless)):
            for tag in tags:
                if tag.startswith((FEED_PREFIX, GEOFEED_PREFIX)) or tag in given:
                    continue  # feed:/geofeed: tags are checked when the Geofence is built
                shown = ", ".join(sorted(given)) or "none: pass --feeds or --feed NAME"
                findings.append(
                    PolicyProblem(
                        f"no configured feed or database gives the tag {tag!r}, so this part "
                        f"of the rule never matches (tags given: {shown})",
                        rule=rule.name,
                        path=f"rules ({rule.name}).{where}",
                        value=tag,
                    )
                )
    return findings


def region_rules(geofence: Geofence) -> list[PolicyProblem]:
    """Each rule region code the configured region data cannot give: any code outside the
    embedded layer's countries or below the first level, where every region source is the
    embedded layer or maps names (both give first-level codes only)."""
    geo = geofence.geo
    sources = geo.sources if isinstance(geo, CompositeGeo) else (geo,)
    regional = [s for s in sources if "regions" in s.provides]
    limited = [s for s in regional if isinstance(s, MMDBSource) and _first_level_only(s)]
    if not regional or len(limited) < len(regional):
        return []  # none: construction refused the policy; a City database gives any level
    given: set[str] = set()
    for source in limited:
        if source.schema is REGION_LAYER:
            given |= _layer_codes(source)
    findings = []
    for rule in geofence.policy.rules:
        unless = rule.unless.regions if rule.unless is not None else ()
        for where, codes in (("regions", rule.regions), ("unless.regions", unless)):
            for code in codes:
                why = _undecidable(code, given, limited)
                if why:
                    path = f"rules ({rule.name}).{where}"
                    findings.append(PolicyProblem(why, rule=rule.name, path=path, value=code))
    return findings


def _first_level_only(source: MMDBSource) -> bool:
    return source.schema is REGION_LAYER or source.schema.note == NAMES_NOTE


def _layer_codes(source: MMDBSource) -> set[str]:
    # validate is offline: one pass over the layer (a few hundred thousand records) is fine.
    return {rec["subdivision_code"] for _, rec in source.reader if rec.get("subdivision_code")}


def _undecidable(code: str, given: set[str], sources: list[MMDBSource]) -> str | None:
    names = ", ".join(s.version for s in sources)
    top = first_level(code)
    if top is not None and top != code:
        return (
            f"{names} gives first-level ISO 3166-2 codes only, so {code!r} never matches; "
            f"its first-level region is {top!r}"
        )
    if given and code not in given:
        countries = sorted({c[:2] for c in given})
        why = f"no network in {names} carries {code!r}, so this part of the rule never matches"
        if code[:2] in countries:
            return why
        shown = " ".join(countries)
        return f"{why} (its countries: {shown}; add {code[:2]} as tools/README.md shows)"
    return None


DATA_CHECKS: list[DataCheck] = [tag_rules, region_rules]
"""The checks ``validate --geo/--feeds`` runs, in order."""


def check_against_data(geofence: Geofence) -> list[PolicyProblem]:
    """Every finding of every check in ``DATA_CHECKS``."""
    return [problem for check in DATA_CHECKS for problem in check(geofence)]
