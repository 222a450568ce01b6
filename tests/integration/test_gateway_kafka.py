"""The gateway in process against the real broker and Redis: events on the topics, duplicates
across requests, declarations, venue revocations followed from venues.v1 (final, and waited for
after a start), readiness."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import SecretStr

from scantrace_common.auth import mint_device_token
from scantrace_common.events import DeclarationEvent, ScanEvent, decode
from scantrace_common.qr import QrSigner
from scantrace_common.redis_client import connect
from scantrace_common.topics import DECLARATIONS, SCANS, VENUES, all_topic_specs, topic_name
from scantrace_gateway.app import create_gateway_app
from scantrace_gateway.dedup import RedisDeduper
from scantrace_gateway.settings import GatewaySettings
from tests.support.venues import venue_event

pytestmark = pytest.mark.integration

SECRET = "integration-secret-" + "x" * 20


@dataclass
class Live:
    client: httpx.AsyncClient
    signer: QrSigner
    namespace: str
    bootstrap: str

    def headers(self, person: str) -> dict[str, str]:
        return {"authorization": f"Bearer {mint_device_token(SECRET, 'dev-9', person)}"}


@contextlib.asynccontextmanager
async def running_gateway(
    bootstrap: str, redis_url: str, namespace: str, state_dir: Path, signer: QrSigner
) -> AsyncIterator[Live]:
    """A gateway (lifespan run: Kafka, spool, Redis, revocation follower) and a client on it."""
    settings = GatewaySettings(
        kafka_bootstrap=bootstrap,
        redis_url=redis_url,
        namespace=namespace,
        auth_secret=SecretStr(SECRET),
        qr_verify_keys=signer.public_env_value(),
        rate_limits="off",
        state_dir=state_dir,
        gateway_produce_timeout_s=10.0,
    )
    app = create_gateway_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gw") as client,
    ):
        yield Live(client, signer, namespace, bootstrap)


@pytest.fixture
async def live(
    kafka_bootstrap: str, redis_url: str, kafka_topics: str, tmp_path: Path
) -> AsyncIterator[Live]:
    signer = QrSigner.generate("it1")
    async with running_gateway(kafka_bootstrap, redis_url, kafka_topics, tmp_path, signer) as gw:
        await poll_ready(gw)
        yield gw


@contextlib.asynccontextmanager
async def assigned_consumer(bootstrap: str, topic: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer without a group assigned every partition of `topic` (once it exists)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while not consumer.partitions_for_topic(topic):
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.1)
        parts = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in parts])
        yield consumer
    finally:
        await consumer.stop()


async def read_topic(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of `topic` from the beginning, once `expected` records arrived."""
    async with assigned_consumer(bootstrap, topic) as consumer:
        await consumer.seek_to_beginning()
        found: list[tuple[bytes, bytes]] = []
        async with asyncio.timeout(60):
            while len(found) < expected:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    found.extend((r.key, r.value) for r in records)
        return found


def scan(live: Live, venue: str, scan_id: str | None = None) -> dict[str, object]:
    return {
        "scan_id": scan_id or str(uuid.uuid4()),
        "person_id": "p-7",
        "qr": live.signer.sign(venue),
        "direction": "in",
        "scanned_at": int(time.time() * 1000) - 5000,
    }


async def test_scans_reach_the_topic_once_keyed_by_venue(live: Live) -> None:
    items = [scan(live, f"venue-{i % 3}") for i in range(30)]
    response = await live.client.post("/v1/scans", json=items, headers=live.headers("p-7"))
    assert response.json() == {"accepted": 30, "duplicates": 0, "rejected": []}
    again = await live.client.post("/v1/scans", json=items[:5], headers=live.headers("p-7"))
    assert again.json() == {"accepted": 0, "duplicates": 5, "rejected": []}
    records = await read_topic(live.bootstrap, topic_name(SCANS, live.namespace), 30)
    events = [(key, decode(ScanEvent, value)) for key, value in records]
    assert sorted(e.scan_id for _, e in events) == sorted(str(i["scan_id"]) for i in items)
    assert all(key == e.venue_id.encode() for key, e in events)
    assert all(e.device_id == "dev-9" and e.person_id == "p-7" for _, e in events)


async def test_declarations_reach_their_topic(live: Live) -> None:
    body: dict[str, object] = {
        "declaration_id": str(uuid.uuid4()),
        "person_id": "p-7",
        "declared_at": int(time.time() * 1000),
        "symptoms": [],
    }
    response = await live.client.post("/v1/declarations", json=body, headers=live.headers("p-7"))
    assert response.status_code == 202
    [(key, value)] = await read_topic(live.bootstrap, topic_name(DECLARATIONS, live.namespace), 1)
    assert key == b"p-7"
    assert decode(DeclarationEvent, value).declaration_id == body["declaration_id"]


async def poll(condition: Callable[[], object]) -> None:
    async with asyncio.timeout(30):
        while not await condition():  # type: ignore[misc]  # noqa: ASYNC110 - polls over HTTP
            await asyncio.sleep(0.1)


async def poll_ready(live: Live) -> None:
    async def ready() -> bool:
        return (await live.client.get("/readyz")).status_code == 200

    await poll(ready)


async def test_revocation_from_venues_topic_takes_effect_and_is_final(live: Live) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=live.bootstrap)
    await producer.start()
    topic = topic_name(VENUES, live.namespace)
    try:
        ok = await live.client.post(
            "/v1/scans", json=scan(live, "bar-1"), headers=live.headers("p-7")
        )
        assert ok.status_code == 202
        now = int(time.time() * 1000)
        await producer.send_and_wait(topic, venue_event("bar-1", now), key=b"bar-1")

        async def refused(venue: str) -> bool:
            response = await live.client.post(
                "/v1/scans", json=scan(live, venue), headers=live.headers("p-7")
            )
            return response.status_code == 422 and "revoked" in response.json()["error"]

        await poll(lambda: refused("bar-1"))
        # A later event without revoked_at (the registration again) lifts nothing (finding 8),
        # as in the reporter. The revocation of a marker venue, sent after it with the same key
        # (so on the same partition, read after it), shows when the gateway has read it.
        await producer.send_and_wait(topic, venue_event("bar-1"), key=b"bar-1")
        await producer.send_and_wait(topic, venue_event("marker-1", now), key=b"bar-1")
        await poll(lambda: refused("marker-1"))
        assert await refused("bar-1")
    finally:
        await producer.stop()


async def _topics_without_venues(bootstrap: str, namespace: str) -> list[str]:
    """Every topic of the namespace except venues.v1 (a registry not created yet)."""
    specs = [
        spec
        for spec in all_topic_specs(namespace, retention_days=21)
        if spec.name != topic_name(VENUES, namespace)
    ]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(s.name, 1, 1, topic_configs=s.configs) for s in specs])
    finally:
        await admin.close()
    return [spec.name for spec in specs]


async def _end_offset(bootstrap: str, topic: str) -> int:
    """How many records `topic` holds (all partitions)."""
    async with assigned_consumer(bootstrap, topic) as consumer:
        return sum((await consumer.end_offsets(list(consumer.assignment()))).values())


async def test_finding_8_scans_wait_until_the_revocations_are_read_after_a_start(
    kafka_bootstrap: str, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    created = await _topics_without_venues(kafka_bootstrap, namespace)
    signer = QrSigner.generate("it8")
    venues = topic_name(VENUES, namespace)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        async with running_gateway(kafka_bootstrap, redis_url, namespace, tmp_path, signer) as gw:
            # venues.v1 cannot be read yet: not ready, and scans are refused, not judged.
            readiness = await gw.client.get("/readyz")
            assert readiness.status_code == 503
            assert "revocations" in readiness.json()["checks"]["revocations"]
            early = await gw.client.post(
                "/v1/scans", json=scan(gw, "bar-1"), headers=gw.headers("p-7")
            )
            assert early.status_code == 503, early.text
            assert int(early.headers["retry-after"]) >= 1
            # Declarations judge nothing of venues: they do not wait.
            declaration: dict[str, object] = {
                "declaration_id": str(uuid.uuid4()),
                "person_id": "p-7",
                "declared_at": int(time.time() * 1000),
            }
            accepted = await gw.client.post(
                "/v1/declarations", json=declaration, headers=gw.headers("p-7")
            )
            assert accepted.status_code == 202
            assert await _end_offset(kafka_bootstrap, topic_name(SCANS, namespace)) == 0

            # The registry appears holding bar-1's revocation: once read, bar-1 is refused.
            await admin.create_topics([NewTopic(venues, 1, 1)])
            created.append(venues)
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
            await producer.start()
            try:
                now = int(time.time() * 1000)
                await producer.send_and_wait(venues, venue_event("bar-1", now), key=b"bar-1")
            finally:
                await producer.stop()
            await poll_ready(gw)
            refused = await gw.client.post(
                "/v1/scans", json=scan(gw, "bar-1"), headers=gw.headers("p-7")
            )
            assert refused.status_code == 422, refused.text
            assert "revoked" in refused.json()["error"]
            open_venue = await gw.client.post(
                "/v1/scans", json=scan(gw, "cafe-2"), headers=gw.headers("p-7")
            )
            assert open_venue.status_code == 202

        # A restarted gateway refuses the revoked venue from its first scan on.
        async with running_gateway(
            kafka_bootstrap, redis_url, namespace, tmp_path, signer
        ) as restarted:
            await poll_ready(restarted)
            first = await restarted.client.post(
                "/v1/scans", json=scan(restarted, "bar-1"), headers=restarted.headers("p-7")
            )
            assert first.status_code == 422, first.text
        assert await _end_offset(kafka_bootstrap, topic_name(SCANS, namespace)) == 1
    finally:
        await admin.delete_topics(created)
        await admin.close()


async def test_ready_when_broker_and_redis_answer(live: Live) -> None:
    async def ready() -> bool:
        return (await live.client.get("/readyz")).status_code == 200

    await poll(ready)
    metrics = (await live.client.get("/metrics")).text
    assert "scantrace_gateway_spool_items" in metrics


async def test_redis_deduper_marks_only_when_told(redis_url: str, namespace: str) -> None:
    redis = connect(redis_url)
    prefix = f"{namespace}gateway:scan:"
    deduper = RedisDeduper(redis, prefix=prefix, ttl_s=600, timeout_s=5.0)
    try:
        ids = [str(uuid.uuid4()) for _ in range(3)]
        assert await deduper.seen(ids) == [False, False, False]
        assert [key async for key in redis.scan_iter(prefix + "*")] == []  # looking claims nothing
        await deduper.mark(ids[:2])
        assert await deduper.seen(ids) == [True, True, False]
        keys = [key async for key in redis.scan_iter(prefix + "*")]
        assert keys
        for key in keys:  # remembered for the TTL, at most one bucket (here: the TTL) longer
            assert 0 < await redis.ttl(key) <= 2 * 600
    finally:
        await deduper.close()
        await redis.aclose()
