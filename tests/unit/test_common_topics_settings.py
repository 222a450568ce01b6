"""Topic registry and settings."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from scantrace_common.settings import CommonSettings
from scantrace_common.topics import SCANS, TOPICS, all_topic_specs, dlq_of, topic_name
from scantrace_common.venue_kinds import VENUE_KINDS, dwell_minutes

pytestmark = pytest.mark.unit


def test_registry_matches_spec_keys() -> None:
    keys = {name: spec.key for name, spec in TOPICS.items()}
    assert keys == {
        "scans.v1": "venue_id",
        "declarations.v1": "person_id",
        "units.v1": "unit_id",
        "venues.v1": "venue_id",
        "quarantines.v1": "person_id",
        "cases.v1": "person_id",
        "exposures.v1": "person_id",
        "audit.v1": "staff_id",
        "staff.v1": "staff_id",
        "criteria.v1": "set_id",
        "assessments.v1": "venue_id",
        "inspections.v1": "venue_id",
        "venue-reports.v1": "venue_id",
        "clusters.v1": "venue_id",
    }
    assert TOPICS["criteria.v1"].configs["cleanup.policy"] == "compact"
    assert TOPICS["staff.v1"].configs["cleanup.policy"] == "compact"
    assert TOPICS["venues.v1"].configs["cleanup.policy"] == "compact"
    assert TOPICS["units.v1"].configs["cleanup.policy"] == "compact"
    assert TOPICS["clusters.v1"].configs["cleanup.policy"] == "compact"


def test_every_topic_has_a_namespaced_dlq_twin() -> None:
    names = {spec.name for spec in all_topic_specs("t1.", retention_days=21)}
    assert dlq_of(topic_name(SCANS, "t1.")) == "t1.scans.v1.dlq"
    assert names == {f"t1.{n}" for n in TOPICS} | {f"t1.{n}.dlq" for n in TOPICS}


@pytest.mark.parametrize("retention_days", [3, 21, 60])
def test_finding_9_scans_and_declarations_are_kept_the_retention_plus_the_late_days(
    retention_days: int,
) -> None:
    specs = {spec.name: spec for spec in all_topic_specs("t1.", retention_days=retention_days)}
    kept_ms = str((retention_days + 7) * 24 * 3600 * 1000)
    for base in ("scans.v1", "declarations.v1"):
        for name in (f"t1.{base}", f"t1.{base}.dlq"):  # dead letters are the same data
            assert specs[name].configs == {"cleanup.policy": "delete", "retention.ms": kept_ms}
    assert specs["t1.audit.v1.dlq"].configs["retention.ms"] == str(28 * 24 * 3600 * 1000)


def test_settings_are_frozen_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCANTRACE_RETENTION_DAYS", "14")
    settings = CommonSettings()
    assert settings.retention_days == 14
    with pytest.raises(ValidationError):
        settings.retention_days = 3
    with pytest.raises(ValidationError):
        CommonSettings(tz="Mars/Olympus")
    with pytest.raises(ValidationError):
        CommonSettings(namespace="bad namespace")


def test_production_refuses_the_placeholder_secret() -> None:
    with pytest.raises(ValueError, match="SCANTRACE_AUTH_SECRET"):
        CommonSettings(environment="production").require_real_secret()
    CommonSettings(environment="production", auth_secret=SecretStr("s" * 40)).require_real_secret()


def test_dwell_defaults() -> None:
    assert len(VENUE_KINDS) == 13
    assert dwell_minutes("cafe", None) == 60
    assert dwell_minutes("office", 30) == 30
    assert dwell_minutes(None, None) == 60
    assert dwell_minutes("spaceship", None) == 60
