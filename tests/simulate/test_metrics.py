"""The simulation's figures: the ROC AUC and the per-account counts."""

from __future__ import annotations

import pytest

from geofence.simulate.metrics import auc, report
from geofence.simulate.model import Account
from geofence.simulate.runner import Outcome


def test_auc_of_separated_reversed_and_tied_scores() -> None:
    assert auc([0.9, 0.8], [0.1, 0.2, 0.3]) == 1.0
    assert auc([0.1], [0.5, 0.6]) == 0.0
    assert auc([0.5, 0.5], [0.5]) == 0.5
    assert auc([0.9, 0.4], [0.5, 0.1]) == pytest.approx(0.75)


def _account(i: int, farm: bool, kind: str = "household") -> Account:
    return Account(f"a{i}", farm, "farm-residential" if farm else kind, "US", 0.0, 0)


def test_report_counts_flags_early_detection_and_false_positives() -> None:
    accounts = [_account(0, True), _account(1, True), _account(2, False), _account(3, False)]
    outcomes = [
        Outcome(requests=80, first_flag=10, first_flag_t=3600.0, first_t=0.0, early_score=0.9,
                rule="score-challenge"),
        Outcome(requests=80, first_flag=60, first_flag_t=7200.0, first_t=0.0, early_score=0.3,
                rule="farm-network"),
        Outcome(requests=20, first_flag=5, first_flag_t=10.0, first_t=0.0, early_score=0.6,
                rule="score-challenge"),
        Outcome(requests=20, early_score=0.1),
    ]  # fmt: skip
    r = report(accounts, outcomes)
    assert r.recall == 1.0
    assert r.recall_early == 0.5
    assert r.precision == pytest.approx(2 / 3)
    assert r.benign_flagged == 1
    assert r.benign_flagged_share == 0.5
    assert r.detect_median == 35
    assert r.auc == pytest.approx(0.75)
    assert r.farm_rules == {"score-challenge": 1, "farm-network": 1}
    assert r.benign_kinds == {"household": 1}
