"""The activity_hours signal on memory://, a real Redis and a real 3-node cluster, and the
score's rule that one weak signal alone never reaches a challenge."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from geofence import Geofence, Request, example_policy_path
from geofence.signals.settings import DEFAULT_SETTINGS
from geofence.vocab.signals import SIGNAL_NAMES

T0 = datetime(2026, 6, 1, tzinfo=timezone.utc)
POLICY = {
    "name": "hours",
    "default": "allow",
    "rules": [{"name": "shift", "action": "deny", "signals": {"activity_hours": ">= 8"}}],
}


def _hours(gf: Geofence, account: str, offsets_h: list[float]) -> list[float]:
    values = []
    for h in offsets_h:
        request = Request(ip="81.2.69.10", account=account, time=T0 + timedelta(hours=h))
        values.append(gf.evaluate(request).signals["activity_hours"].value)
    return values


def test_distinct_hours_of_the_day_are_counted_per_account(store_url: str) -> None:
    gf = Geofence(POLICY, store=store_url)
    try:
        # Three requests in one hour, then one an hour later, then back in the first hour.
        person = _hours(gf, "person", [0.1, 0.5, 0.9, 1.2, 1.3])
        # A scheduler's account: one request every hour of a 12-hour shift.
        farm = _hours(gf, "farm", [h + 0.25 for h in range(12)])
        last = gf.evaluate(Request(ip="81.2.69.10", account="farm", time=T0 + timedelta(hours=12)))
    finally:
        gf.close()
    assert person == [1, 1, 1, 2, 2]
    assert farm == list(range(1, 13))
    assert last.rule == "shift"
    signal = last.signals["activity_hours"]
    assert signal.threshold == DEFAULT_SETTINGS.of("activity_hours").threshold
    assert signal.window_s == DEFAULT_SETTINGS.window_s
    assert signal.evidence == ("active in 13 of 24 hours of the day (UTC)",)
    assert last.to_dict()["signals"]["activity_hours"]["value"] == 13


def test_hours_leave_the_window(store_url: str) -> None:
    gf = Geofence(POLICY, store=store_url)
    try:
        _hours(gf, "a", [h + 0.5 for h in range(6)])
        later = _hours(gf, "a", [50.5])  # two days on: the old hours are out of the window
    finally:
        gf.close()
    assert later == [1]


def test_the_hour_counter_is_bounded_by_the_day() -> None:
    gf = Geofence(POLICY)
    try:
        values = _hours(gf, "a", [h * 0.5 for h in range(96)])  # two days, every half hour
    finally:
        gf.close()
    assert max(values) == 24


def test_activity_hours_is_a_public_signal_name() -> None:
    assert "activity_hours" in SIGNAL_NAMES


def test_no_weak_signal_reaches_the_challenge_alone() -> None:
    # The shipped ladder challenges at 0.5: every signal but the application's own
    # fingerprint and new accounts per network (published anchors) weighs less than that,
    # and so does a fingerprint geofence derived from headers.
    strong = {"fingerprint_accounts", "network_new_accounts"}
    for name in SIGNAL_NAMES:
        if name not in strong:
            assert DEFAULT_SETTINGS.of(name).weight < 0.5, name
    assert DEFAULT_SETTINGS.derived_fingerprint_weight < 0.5


def test_a_cloud_hosted_customer_is_served_by_the_shipped_policy() -> None:
    # 3.5.140.2 is in an embedded AWS range (hosting): an API's developers call from there.
    gf = Geofence(example_policy_path("accounts"))
    try:
        d = gf.evaluate(Request(ip="3.5.140.2", account="dev", declared_country="KR", time=T0))
    finally:
        gf.close()
    assert "hosting" in d.tags
    assert d.allowed, d.reasons
    assert d.signals["anonymizer_share"].value == 0.0
