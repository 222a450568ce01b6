"""The topic registry of SPEC section 7: names, keys, partitions, configs and dead-letter twins."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

SCANS: Final = "scans.v1"
DECLARATIONS: Final = "declarations.v1"
UNITS: Final = "units.v1"
VENUES: Final = "venues.v1"
QUARANTINES: Final = "quarantines.v1"
CASES: Final = "cases.v1"
EXPOSURES: Final = "exposures.v1"
AUDIT: Final = "audit.v1"
STAFF: Final = "staff.v1"

DLQ_SUFFIX: Final = ".dlq"
_DAY_MS: Final = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic: its key field, partition count and broker configs."""

    name: str
    key: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)
    description: str = ""

    @property
    def dlq(self) -> str:
        return dlq_of(self.name)


def _retained(days: int) -> dict[str, str]:
    return {"cleanup.policy": "delete", "retention.ms": str(days * _DAY_MS)}


_COMPACTED: Final = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}

#: Scans are kept 28 days: the 21-day retention plus the 7 days an offline phone may be late,
#: so a Redis rebuild from Kafka sees every scan the services still hold.
TOPICS: Final[dict[str, TopicSpec]] = {
    spec.name: spec
    for spec in (
        TopicSpec(SCANS, "venue_id", 12, _retained(28), "accepted scans"),
        TopicSpec(DECLARATIONS, "person_id", 6, _retained(28), "accepted health declarations"),
        TopicSpec(UNITS, "unit_id", 1, dict(_COMPACTED), "unit registry (compacted)"),
        TopicSpec(VENUES, "venue_id", 3, dict(_COMPACTED), "venue registry (compacted)"),
        TopicSpec(QUARANTINES, "person_id", 3, _retained(365), "quarantine registrations"),
        TopicSpec(CASES, "person_id", 3, _retained(365), "cases opened"),
        TopicSpec(EXPOSURES, "person_id", 6, _retained(365), "exposure notices"),
        TopicSpec(AUDIT, "staff_id", 3, _retained(3 * 365), "who asked what"),
        TopicSpec(STAFF, "staff_id", 1, dict(_COMPACTED), "staff accounts (compacted)"),
    )
}


def dlq_of(name: str) -> str:
    return name + DLQ_SUFFIX


def topic_name(base: str, namespace: str = "") -> str:
    """The real topic name of `base` in a namespace ("" in production)."""
    return namespace + base


def all_topic_specs(namespace: str = "") -> list[TopicSpec]:
    """Every topic and its dead-letter twin (same partitions, 28-day retention), namespaced."""
    specs: list[TopicSpec] = []
    for spec in TOPICS.values():
        name = topic_name(spec.name, namespace)
        specs.append(
            TopicSpec(name, spec.key, spec.partitions, dict(spec.configs), spec.description)
        )
        specs.append(
            TopicSpec(
                dlq_of(name), spec.key, spec.partitions, _retained(28), f"dead letters of {name}"
            )
        )
    return specs


async def ensure_topics(
    bootstrap: str,
    namespace: str = "",
    *,
    replication_factor: int = 1,
    partitions_override: int | None = None,
) -> list[str]:
    """Create every missing topic; returns the names created. Existing topics are left as they are."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [spec for spec in all_topic_specs(namespace) if spec.name not in existing]
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
