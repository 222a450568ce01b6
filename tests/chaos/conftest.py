"""Fixtures of the fault tests: a private Apache Kafka (behind the delay proxy) and Redis for the
whole chaos session, and per test a namespace, its topics and a `ChaosStack` for its services.

These servers are killed on purpose, so they are never the session's shared ones.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterator

import pytest

from scantrace_cli.stack import LocalRedis
from scantrace_cli.stack.kafka_dist import missing_prerequisites
from scantrace_common.qr import QrSigner
from scantrace_common.settings import DEFAULT_RETENTION_DAYS
from scantrace_common.topics import ensure_topics
from tests.chaos.stack import ChaosStack, ProxiedKafka


@pytest.fixture(scope="session")
def chaos_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxiedKafka]:
    reason = missing_prerequisites()
    if reason is not None:
        pytest.skip(f"the fault tests kill a real Apache Kafka, which needs: {reason}")
    kafka = ProxiedKafka(tmp_path_factory.mktemp("chaos-kafka"))
    kafka.proxy.start()
    try:
        kafka.start()
        yield kafka
    finally:
        kafka.stop()
        kafka.proxy.stop()


@pytest.fixture(scope="session")
def chaos_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    redis = LocalRedis(tmp_path_factory.mktemp("chaos-redis"), 0, persist=False)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
def chaos_stack(
    chaos_kafka: ProxiedKafka, chaos_redis: LocalRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChaosStack]:
    namespace = f"c{uuid.uuid4().hex[:8]}."
    # A test that failed mid-fault may have left the broker down or slow: heal it first.
    chaos_kafka.proxy.set_delay(0.0)
    if not chaos_kafka.alive:
        chaos_kafka.start()
    if not chaos_redis.alive:
        chaos_redis.start()
    asyncio.run(
        ensure_topics(
            chaos_kafka.address,
            namespace,
            partitions_override=2,
            retention_days=DEFAULT_RETENTION_DAYS,
        )
    )
    stack = ChaosStack(
        kafka=chaos_kafka,
        redis_url=chaos_redis.address,
        namespace=namespace,
        state_dir=tmp_path_factory.mktemp("chaos-state"),
        auth_secret=secrets.token_urlsafe(32),
        signer=QrSigner.generate("ch1"),
    )
    try:
        yield stack
    finally:
        stack.stop_all()
        chaos_kafka.proxy.set_delay(0.0)
        if not chaos_kafka.alive:
            chaos_kafka.start()
