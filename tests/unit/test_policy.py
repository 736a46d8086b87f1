"""SPEC 1: the policy file is validated at start-up, bad keys named."""

import pytest

from worker.domain.policy import PolicyError, load_policy, parse_policy


def test_issue_example_policy_loads(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(
        """
plans:
  premium: {S1: {response: PT20M, update_every: PT30M}, S2: {response: PT90M}, S3: {response: PT6H}, S4: {response: PT24H}}
  standard: {S1: {response: PT60M}, S2: {response: PT180M}, S3: {response: PT12H}, S4: {response: PT48H}}
hours: {S1: always, S2: always, S3: support_hours, S4: support_hours}
regions:
  eu: {timezone: Europe/Berlin, holidays: {country: DE, dates: [2026-12-24], periods: [{from: 2026-12-27, to: 2026-12-31}]}}
default_region: eu
severity_change: recompute_from_open
"""
    )
    policy = load_policy(path)
    assert set(policy.regions) == {"eu"}
    calendar = policy.calendar("S3", "eu")
    from datetime import date
    assert calendar.is_holiday(date(2026, 12, 24)) and calendar.is_holiday(date(2026, 12, 29))
    assert not calendar.is_holiday(date(2026, 12, 23))


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"plans": {"premium": {"S1": {"response": "soon"}}}}, "plans.premium.S1.response"),
        ({"plans": {"premium": {"S1": {"response": "PT0M"}}}}, "plans.premium.S1.response"),
        ({"hours": {"S1": "always", "S2": "always", "S3": "office", "S4": "always"}}, "hours.S3"),
        ({"regions": {"eu": {"timezone": "Europe/Atlantis"}}}, "regions.eu.timezone"),
        ({"regions": {"eu": {"timezone": "UTC", "holidays": {"country": "XX"}}}}, "regions.eu.holidays"),
        ({"regions": {"eu": {"timezone": "UTC", "holidays": {"periods": [{"from": "2026-12-31", "to": "2026-12-01"}]}}}},
         "regions.eu.holidays.periods.0"),
        ({"default_region": "mars"}, "default_region"),
        ({"severity_change": "sometimes"}, "severity_change"),
        ({"plans": {"premium": {}, "standard": {}}}, "plans.standard.S1"),
        ({"calendars": {"support_hours": {"opens": "18:00", "closes": "09:00"}}}, "calendars.support_hours"),
        ({"regoins": {}}, "regoins"),
    ],
)
def test_bad_policy_is_refused_naming_the_key(data, named):
    with pytest.raises(PolicyError) as error:
        parse_policy(data)
    assert named in str(error.value)


def test_unreadable_and_non_yaml_files_are_clear(tmp_path):
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("plans: [unclosed")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(PolicyError, match="top level"):
        load_policy(listy)
