"""Checks of a policy against the data it will run on (``geofence validate --geo/--feeds``).

Building a ``Geofence`` already refuses a policy its data cannot serve at all (a rule needing
regions from a country-only database, ``feed:<name>`` with no such feed). These checks find
what still builds but cannot work as written: a rule's tag that no configured source gives,
so that part of the rule never matches. Each check returns ``PolicyProblem`` findings;
``DATA_CHECKS`` is the list ``validate`` runs, and the place for more (region rules against
the region data are issue 11's check: it appends itself here).
"""

from __future__ import annotations

from collections.abc import Callable

from geofence.engine import Geofence
from geofence.errors import PolicyProblem
from geofence.geo import CompositeGeo
from geofence.reputation.feedset import FeedSet
from geofence.vocab.tags import FEED_PREFIX, GEOFEED_PREFIX

__all__ = ["DATA_CHECKS", "DataCheck", "check_against_data", "tag_rules"]

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


DATA_CHECKS: list[DataCheck] = [tag_rules]
"""The checks ``validate --geo/--feeds`` runs, in order."""


def check_against_data(geofence: Geofence) -> list[PolicyProblem]:
    """Every finding of every check in ``DATA_CHECKS``."""
    return [problem for check in DATA_CHECKS for problem in check(geofence)]
