"""The pytest plugin, run in temporary projects with pytester (a real inner pytest run)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

POLICY = """\
name: p
default: deny
rules:
  - name: embargoed
    action: deny
    countries: [CU]
  - name: supported
    action: allow
    countries: [US]
"""


def test_case_file_items_pass_and_fail_naming_the_rule(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", policy=POLICY)
    pytester.makefile(
        ".geofence.yaml",
        policy="policy: policy.yaml\ncases:\n"
        "  - {name: cuba, facts: {country: CU}, expect: {action: deny, rule: embargoed}}\n"
        "  - {name: us, facts: {country: US}, expect: {action: allow}}\n"
        "  - {name: wrong, facts: {country: CU}, expect: {action: allow}}\n",
    )
    result = pytester.runpytest_inprocess("-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*policy.geofence.yaml::cuba PASSED*",
            "*policy.geofence.yaml::us PASSED*",
            "*policy.geofence.yaml::wrong FAILED*",
            "*case 'wrong': expected action 'allow'; got deny by rule 'embargoed'*",
            "*why: country CU is in rule 'embargoed' countries*",
        ]
    )


def test_toml_case_files_are_collected(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", policy=POLICY)
    pytester.makefile(
        ".geofence.toml",
        cases='policy = "policy.yaml"\n[[cases]]\nname = "us"\n'
        'facts = {country = "US"}\nexpect = {action = "allow", rule = "supported"}\n',
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


def test_an_invalid_case_file_is_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", policy=POLICY)
    pytester.makefile(
        ".geofence.yaml",
        bad="policy: policy.yaml\ncases:\n"
        "  - {name: uk, facts: {country: UK}, expect: {action: deny}}\n",
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*invalid geofence case file*", "*cases[[]0[]] ('uk')*'GB'*"])


def test_fixtures_static_geo_and_geofence(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", policy=POLICY)
    pytester.makepyfile(
        test_policy="""
        from geofence.testing import assert_allowed, assert_denied

        def test_static(geofence, static_geo):
            static_geo.add("152.206.0.0/16", country="CU").add("8.8.8.0/24", country="US")
            gf = geofence("policy.yaml")
            assert_denied(gf.evaluate("152.206.1.1"), rule="embargoed")
            assert_allowed(gf.evaluate("8.8.8.8"), rule="supported")
            static_geo.add("8.8.8.0/24", country="CU")
            assert_denied(gf.evaluate("8.8.8.8"), rule="embargoed")

        def test_failure_message(geofence, static_geo):
            static_geo.add("152.206.0.0/16", country="CU")
            assert_allowed(geofence("policy.yaml").evaluate("152.206.1.1"))
        """
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: expected action 'allow'; got deny by rule*"])


def test_other_yaml_files_are_left_alone(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", policy=POLICY, geofence="not: a case file")
    result = pytester.runpytest_inprocess()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
