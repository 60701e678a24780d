"""The figures of a simulation run: detection, false positives, time to detect, ROC AUC.

An account is *flagged* when any of its requests was denied or challenged. Recall is over farm
accounts (overall, and within their first ``EARLY`` requests: the target's figure); precision
is over flagged accounts; the benign rate is flagged honest accounts over honest accounts.
The ROC AUC ranks accounts by their highest score within their first ``EARLY`` requests (the
Mann-Whitney statistic, ties counted half), so it judges the score alone, not the rules.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from geofence.simulate.model import Account
from geofence.simulate.runner import EARLY, Outcome

__all__ = ["Report", "auc", "report"]


@dataclass(frozen=True)
class Report:
    """A run's figures (see the module docstring); ``to_dict()`` for JSON."""

    farm_accounts: int
    benign_accounts: int
    requests: int
    precision: float
    recall: float
    recall_early: float
    benign_flagged: int
    benign_flagged_share: float
    detect_median: float | None  # requests per farm account to the first flag
    detect_p90: float | None
    detect_hours_median: float | None
    auc: float
    farm_rules: dict[str, int]  # the rule of each farm account's first flag
    benign_rules: dict[str, int]
    benign_kinds: dict[str, int]  # flagged honest accounts per population
    benign_kind_rules: dict[str, int]  # flagged honest accounts per "population: rule"
    farm_signals: dict[str, int]  # signals over threshold at each farm account's first flag
    benign_signals: dict[str, int]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """P(a random positive scores above a random negative), ties half: the ROC AUC."""
    if not positives or not negatives:
        return float("nan")
    ranked = sorted([(s, 1) for s in positives] + [(s, 0) for s in negatives])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mean_rank = (i + j + 1) / 2  # ranks i+1..j share their mean
        rank_sum += mean_rank * sum(label for _, label in ranked[i:j])
        i = j
    p, n = len(positives), len(negatives)
    return (rank_sum - p * (p + 1) / 2) / (p * n)


def _p90(values: list[int]) -> float | None:
    if not values:
        return None
    return float(statistics.quantiles(values, n=10)[-1]) if len(values) > 1 else float(values[0])


def _signals(outcomes: Sequence[Outcome]) -> dict[str, int]:
    return dict(Counter(name for o in outcomes for name in o.why).most_common())


def report(accounts: Sequence[Account], outcomes: Sequence[Outcome]) -> Report:
    """The figures of one run."""
    pairs = [(a, o) for a, o in zip(accounts, outcomes, strict=True) if o.requests]
    farm = [o for a, o in pairs if a.farm]
    benign = [(a, o) for a, o in pairs if not a.farm]
    caught = [o for o in farm if o.first_flag is not None]
    early = [o for o in caught if o.first_flag is not None and o.first_flag <= EARLY]
    wrong = [(a, o) for a, o in benign if o.first_flag is not None]
    flagged = len(caught) + len(wrong)
    steps = sorted(o.first_flag for o in caught if o.first_flag is not None)
    hours = [(o.first_flag_t - o.first_t) / 3600 for o in caught
             if o.first_flag_t is not None and o.first_t is not None]  # fmt: skip
    return Report(
        farm_accounts=len(farm),
        benign_accounts=len(benign),
        requests=sum(o.requests for _, o in pairs),
        precision=len(caught) / flagged if flagged else 1.0,
        recall=len(caught) / len(farm) if farm else float("nan"),
        recall_early=len(early) / len(farm) if farm else float("nan"),
        benign_flagged=len(wrong),
        benign_flagged_share=len(wrong) / len(benign) if benign else 0.0,
        detect_median=float(statistics.median(steps)) if steps else None,
        detect_p90=_p90(steps),
        detect_hours_median=statistics.median(hours) if hours else None,
        auc=auc([o.early_score for o in farm], [o.early_score for _, o in benign]),
        farm_rules=dict(Counter(o.rule or "default" for o in caught).most_common()),
        benign_rules=dict(Counter(o.rule or "default" for _, o in wrong).most_common()),
        benign_kinds=dict(Counter(a.kind for a, _ in wrong).most_common()),
        benign_kind_rules=dict(
            Counter(f"{a.kind}: {o.rule or 'default'}" for a, o in wrong).most_common()
        ),
        farm_signals=_signals(caught),
        benign_signals=_signals([o for _, o in wrong]),
    )
