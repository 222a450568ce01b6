"""Finding 9 against a real broker: the retention of scans and declarations follows
`SCANTRACE_RETENTION_DAYS` (+ 7 late days), for new topics and for topics that exist already."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from scantrace_common.topics import DECLARATIONS, SCANS, all_topic_specs, dlq_of, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.kafka_only]

_DAY_MS = 24 * 3600 * 1000


@pytest.fixture
async def admin(kafka_bootstrap: str, namespace: str) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await client.start()
    try:
        yield client
    finally:
        names = [spec.name for spec in all_topic_specs(namespace, retention_days=1)]
        existing = set(await client.list_topics())
        await client.delete_topics([name for name in names if name in existing])
        await client.close()


async def _config(admin: AIOKafkaAdminClient, topic: str, name: str) -> str:
    [response] = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, {name: ""})]
    )
    [(_, _, _, _, entries)] = response.resources
    # empty for a topic created a moment ago whose configs the broker does not describe yet
    return str({entry[0]: entry[1] for entry in entries}.get(name, ""))


async def _becomes(admin: AIOKafkaAdminClient, topic: str, name: str, value: str) -> None:
    """Waits for a config to read `value`: brokers apply a change a moment after accepting it."""
    async with asyncio.timeout(60):
        while await _config(admin, topic, name) != value:  # noqa: ASYNC110 - polls the broker
            await asyncio.sleep(0.2)


async def test_finding_9_the_retention_of_existing_topics_follows_the_settings(
    kafka_bootstrap: str, namespace: str, admin: AIOKafkaAdminClient
) -> None:
    created = await ensure_topics(kafka_bootstrap, namespace, retention_days=21)
    assert created
    scans = namespace + SCANS
    personal = [scans, namespace + DECLARATIONS, dlq_of(scans)]
    for topic in personal:
        await _becomes(admin, topic, "retention.ms", str(28 * _DAY_MS))
    # An operator's own setting on the topic survives the change of retention.
    await admin.alter_configs(
        [
            ConfigResource(
                ConfigResourceType.TOPIC,
                scans,
                {"retention.ms": str(28 * _DAY_MS), "max.message.bytes": "2000000"},
            )
        ]
    )
    await _becomes(admin, scans, "max.message.bytes", "2000000")

    assert await ensure_topics(kafka_bootstrap, namespace, retention_days=10) == []
    for topic in personal:
        await _becomes(admin, topic, "retention.ms", str(17 * _DAY_MS))
    assert await _config(admin, scans, "max.message.bytes") == "2000000"
    assert await _config(admin, scans, "cleanup.policy") == "delete"
    assert await _config(admin, namespace + "audit.v1", "retention.ms") == str(3 * 365 * _DAY_MS)
