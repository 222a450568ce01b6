"""The topic registry of SPEC section 7: names, keys, partitions, configs and dead-letter twins."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Final

log = logging.getLogger(__name__)

SCANS: Final = "scans.v1"
DECLARATIONS: Final = "declarations.v1"
UNITS: Final = "units.v1"
VENUES: Final = "venues.v1"
QUARANTINES: Final = "quarantines.v1"
CASES: Final = "cases.v1"
EXPOSURES: Final = "exposures.v1"
AUDIT: Final = "audit.v1"
STAFF: Final = "staff.v1"
CRITERIA: Final = "criteria.v1"
ASSESSMENTS: Final = "assessments.v1"
INSPECTIONS: Final = "inspections.v1"
VENUE_REPORTS: Final = "venue-reports.v1"
CLUSTERS: Final = "clusters.v1"

DLQ_SUFFIX: Final = ".dlq"
_DAY_MS: Final = 24 * 3600 * 1000
#: How late a phone may upload its offline scans (SPEC section 6).
LATE_UPLOAD_DAYS: Final = 7
#: Dead letters of the topics whose retention is fixed are kept this long, for operators to look.
_DLQ_DAYS: Final = 28


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic: its key field, partition count and broker configs.

    `follows_retention`: kept `SCANTRACE_RETENTION_DAYS` + `LATE_UPLOAD_DAYS` (see
    `retention_configs`), not a fixed time.
    """

    name: str
    key: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)
    description: str = ""
    follows_retention: bool = False

    @property
    def dlq(self) -> str:
        return dlq_of(self.name)


def _retained(days: int) -> dict[str, str]:
    return {"cleanup.policy": "delete", "retention.ms": str(days * _DAY_MS)}


_COMPACTED: Final = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}


def retention_configs(retention_days: int) -> dict[str, str]:
    """Scans and declarations are kept the retention plus the days an offline phone may be late,
    so a Redis rebuild from Kafka sees every one the services still hold, and no longer."""
    return _retained(retention_days + LATE_UPLOAD_DAYS)


TOPICS: Final[dict[str, TopicSpec]] = {
    spec.name: spec
    for spec in (
        TopicSpec(SCANS, "venue_id", 12, {}, "accepted scans", follows_retention=True),
        TopicSpec(
            DECLARATIONS, "person_id", 6, {}, "accepted health declarations", follows_retention=True
        ),
        TopicSpec(UNITS, "unit_id", 1, dict(_COMPACTED), "unit registry (compacted)"),
        TopicSpec(VENUES, "venue_id", 3, dict(_COMPACTED), "venue registry (compacted)"),
        TopicSpec(QUARANTINES, "person_id", 3, _retained(365), "quarantine registrations"),
        TopicSpec(CASES, "person_id", 3, _retained(365), "cases opened"),
        TopicSpec(EXPOSURES, "person_id", 6, _retained(365), "exposure notices"),
        TopicSpec(AUDIT, "staff_id", 3, _retained(3 * 365), "who asked what"),
        TopicSpec(STAFF, "staff_id", 1, dict(_COMPACTED), "staff accounts (compacted)"),
        TopicSpec(CRITERIA, "set_id", 1, dict(_COMPACTED), "criteria set versions (compacted)"),
        TopicSpec(ASSESSMENTS, "venue_id", 3, _retained(3 * 365), "venue self-assessments"),
        TopicSpec(INSPECTIONS, "venue_id", 3, _retained(3 * 365), "inspections and suspensions"),
        TopicSpec(VENUE_REPORTS, "venue_id", 3, _retained(365), "residents' reports of venues"),
        TopicSpec(
            CLUSTERS, "venue_id", 3, dict(_COMPACTED), "venues' current clusters (compacted)"
        ),
    )
}


def dlq_of(name: str) -> str:
    return name + DLQ_SUFFIX


def topic_name(base: str, namespace: str = "") -> str:
    """The real topic name of `base` in a namespace ("" in production)."""
    return namespace + base


def all_topic_specs(namespace: str = "", *, retention_days: int) -> list[TopicSpec]:
    """Every topic and its dead-letter twin (same partitions), namespaced, with their configs.

    A twin keeps its dead letters as long as its source when the source follows the retention
    (they are the same personal data), else 28 days.
    """
    specs: list[TopicSpec] = []
    for spec in TOPICS.values():
        name = topic_name(spec.name, namespace)
        configs = dict(spec.configs)
        if spec.follows_retention:
            configs.update(retention_configs(retention_days))
        specs.append(replace(spec, name=name, configs=configs))
        specs.append(
            replace(
                spec,
                name=dlq_of(name),
                configs=dict(configs) if spec.follows_retention else _retained(_DLQ_DAYS),
                description=f"dead letters of {name}",
            )
        )
    return specs


async def ensure_topics(
    bootstrap: str,
    namespace: str = "",
    *,
    retention_days: int,
    replication_factor: int = 1,
    partitions_override: int | None = None,
) -> list[str]:
    """Create every missing topic; returns the names created.

    Existing topics keep their partitions and configs, except that the `retention.ms` of those
    that follow the retention is set to what `retention_days` gives (a changed
    `SCANTRACE_RETENTION_DAYS` applies to the data already held, not only to new topics).
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        specs = all_topic_specs(namespace, retention_days=retention_days)
        await _align_retention(
            admin, [s for s in specs if s.follows_retention and s.name in existing]
        )
        wanted = [spec for spec in specs if spec.name not in existing]
        if not wanted:
            return []
        new = [
            NewTopic(
                name=spec.name,
                # The override only lowers counts: single-partition topics keep their order.
                num_partitions=min(spec.partitions, partitions_override or spec.partitions),
                replication_factor=replication_factor,
                topic_configs=spec.configs,
            )
            for spec in wanted
        ]
        await admin.create_topics(new, validate_only=False)
        return [spec.name for spec in wanted]
    finally:
        await admin.close()


_DYNAMIC_TOPIC_CONFIG: Final = 1  # DescribeConfigs v1+ `config_source`


async def _align_retention(admin: Any, specs: list[TopicSpec]) -> None:
    """Set `retention.ms` of existing topics to their spec's, keeping their other settings.

    AlterConfigs replaces every dynamic config of a topic, so the topic's current ones are read
    first and sent back with the new retention.
    """
    if not specs:
        return
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    wanted = {spec.name: spec.configs["retention.ms"] for spec in specs}
    described = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in wanted]
    )
    changes = []
    for response in described:
        for error_code, message, _, name, entries in response.resources:
            if error_code:
                raise RuntimeError(f"cannot read the configs of topic {name}: {message}")
            # v0 entries: (name, value, read_only, is_default, sensitive); v1+: source instead.
            dynamic = {
                entry[0]: entry[1]
                for entry in entries
                if (entry[3] == _DYNAMIC_TOPIC_CONFIG if response.API_VERSION else not entry[3])
            }
            if dynamic.get("retention.ms") != wanted[name]:
                log.info(
                    "topic %s: retention.ms %s -> %s",
                    name,
                    dynamic.get("retention.ms"),
                    wanted[name],
                )
                changes.append(
                    ConfigResource(
                        ConfigResourceType.TOPIC, name, {**dynamic, "retention.ms": wanted[name]}
                    )
                )
    if changes:
        from aiokafka.errors import IncompatibleBrokerVersion

        try:
            answers = await admin.alter_configs(changes)
        except IncompatibleBrokerVersion as exc:
            # The embedded Tansu broker has no AlterConfigs; it keeps nothing past a restart, so
            # its topics were created with the settings' retention anyway.
            log.warning("the broker cannot alter topic configs (%s): retention left as it is", exc)
            return
        for response in answers:
            for error_code, message, _, name in response.resources:
                if error_code:
                    raise RuntimeError(f"cannot set the retention of topic {name}: {message}")
