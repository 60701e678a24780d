"""The memos of the signal keys (digests, derived fingerprints, network texts) answer as the
functions do and stay bounded under a flood of distinct or oversized inputs."""

from __future__ import annotations

from geofence.signals import fingerprint, keys
from geofence.signals.fingerprint import derive_fingerprint
from geofence.signals.keys import digest, network_text


def test_memoised_answers_are_the_computed_ones() -> None:
    headers = (("user-agent", "Anthropic/Python 0.40.0"), ("x-stainless-os", "Linux"))
    first = derive_fingerprint(headers)
    assert derive_fingerprint(headers) == first == fingerprint._derive(headers)
    assert digest("acct-1", "account") == digest("acct-1", "account") != digest("acct-2", "account")
    assert network_text(4, bytes([203, 0, 113, 9])) == "203.0.113.0/24"
    assert network_text(6, bytes.fromhex("20010db80001") + bytes(10)) == "2001:db8:1::/48"


def test_a_flood_of_distinct_inputs_stays_bounded() -> None:
    for i in range(3 * keys._MEMO_KEPT):
        digest(f"account-{i}", "account")
        derive_fingerprint((("user-agent", f"client/{i}.0"),))
        network_text(4, i.to_bytes(3, "big") + b"\x01")
    assert len(keys._digests) <= keys._MEMO_KEPT
    assert len(fingerprint._derived) <= fingerprint._MEMO_KEPT
    assert len(keys._texts) <= keys._MEMO_KEPT


def test_oversized_inputs_are_never_kept() -> None:
    long_id = "x" * 1000
    digest(long_id, "account")
    assert (long_id, "account") not in keys._digests
    headers = tuple((f"x-h{i}", "v" * 500) for i in range(20))
    assert derive_fingerprint(headers) == fingerprint._derive(headers)
    assert headers not in fingerprint._derived
