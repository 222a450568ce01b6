"""Durability of 202: a private broker is killed mid-stream and restarted, and the gateway process
is SIGKILLed while it holds a spool; every scan answered 2xx ends up in scans.v1 (exactly once
after deduplication by scan_id)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from scantrace_cli.stack import LocalKafka
from scantrace_cli.stack.kafka_dist import missing_prerequisites
from scantrace_common.auth import mint_device_token
from scantrace_common.events import ScanEvent, decode
from scantrace_common.qr import QrSigner
from scantrace_common.settings import DEFAULT_RETENTION_DAYS
from scantrace_common.topics import SCANS, ensure_topics, topic_name

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SECRET = "durability-secret-" + "y" * 24


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A broker of our own: these tests kill it, which the shared one must never see."""
    reason = missing_prerequisites()
    if reason is not None:
        pytest.skip(f"needs a local Apache Kafka to kill and restart: {reason}")
    kafka = LocalKafka(tmp_path_factory.mktemp("gw-durability-kafka"), 0)
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()


@dataclass
class GatewayProcess:
    process: subprocess.Popen[bytes]
    url: str

    def kill(self) -> None:
        """SIGKILL the whole process group (uvicorn's workers too), as a crash would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def spool_items(self) -> float:
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        match = re.search(r"^scantrace_gateway_spool_items(?:\{[^}]*\})? (\S+)$", text, re.M)
        return float(match.group(1)) if match else -1.0


@dataclass
class Setup:
    env: dict[str, str]
    signer: QrSigner
    topic: str
    bootstrap: str
    log: Path

    def start_gateway(self) -> GatewayProcess:
        """A gateway process, once ready: connected, and the venue revocations read (it takes
        no scan before, finding 8); the broker must be up."""
        port = free_port()
        env = {**self.env, "SCANTRACE_GATEWAY_PORT": str(port)}
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "scantrace_gateway"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        gateway = GatewayProcess(process, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{gateway.url}/readyz", timeout=3).status_code == 200:
                    return gateway
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        gateway.kill()
        raise AssertionError("gateway did not start:\n" + self.log.read_text()[-3000:])


@pytest.fixture
def setup(broker: LocalKafka, redis_url: str, namespace: str, tmp_path: Path) -> Setup:
    asyncio.run(ensure_topics(broker.address, namespace, retention_days=DEFAULT_RETENTION_DAYS))
    signer = QrSigner.generate("dur1")
    env = {
        **os.environ,
        "SCANTRACE_KAFKA_BOOTSTRAP": broker.address,
        "SCANTRACE_REDIS_URL": redis_url,
        "SCANTRACE_NAMESPACE": namespace,
        "SCANTRACE_AUTH_SECRET": SECRET,
        "SCANTRACE_QR_VERIFY_KEYS": signer.public_env_value(),
        "SCANTRACE_RATE_LIMITS": "off",
        "SCANTRACE_STATE_DIR": str(tmp_path / "state"),
        "SCANTRACE_GATEWAY_WORKERS": "1",
        "SCANTRACE_GATEWAY_PRODUCE_TIMEOUT_S": "1.0",
        "SCANTRACE_LOG_LEVEL": "INFO",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return Setup(env, signer, topic_name(SCANS, namespace), broker.address, tmp_path / "gw.log")


def post_batch(client: httpx.Client, setup: Setup, size: int = 20) -> tuple[int, list[str]]:
    """POST `size` new scans; returns (status, the ids acknowledged by a 2xx)."""
    token = mint_device_token(SECRET, "dev-d", "p-d")
    scans = [
        {
            "scan_id": str(uuid.uuid4()),
            "person_id": "p-d",
            "qr": setup.signer.sign(f"venue-{i % 7}"),
            "direction": "in" if i % 2 else "out",
            "scanned_at": int(time.time() * 1000),
        }
        for i in range(size)
    ]
    response = client.post(
        "/v1/scans", json=scans, headers={"authorization": f"Bearer {token}"}, timeout=30
    )
    if response.is_success:
        assert response.json()["accepted"] == size
        return response.status_code, [str(s["scan_id"]) for s in scans]
    return response.status_code, []


async def _read_all(bootstrap: str, topic: str) -> list[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            while not consumer.partitions_for_topic(topic):
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.2)
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        ids: list[str] = []
        async with asyncio.timeout(60):
            while await _behind(consumer, ends):
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    ids.extend(decode(ScanEvent, r.value).scan_id for r in records)
        return ids
    finally:
        await consumer.stop()


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


def wait_until_delivered(setup: Setup, acknowledged: list[str]) -> list[str]:
    """Poll the topic until every acknowledged id is there; returns every id read."""
    deadline = time.monotonic() + 180
    while True:
        ids = asyncio.run(_read_all(setup.bootstrap, setup.topic))
        missing = set(acknowledged) - set(ids)
        if not missing or time.monotonic() > deadline:
            assert not missing, f"{len(missing)} acknowledged scans never reached Kafka"
            return ids
        time.sleep(1.0)


def test_broker_killed_mid_stream_then_restarted(setup: Setup, broker: LocalKafka) -> None:
    gateway = setup.start_gateway()
    acknowledged: list[str] = []
    statuses: list[int] = []
    try:
        with httpx.Client(base_url=gateway.url) as client:
            for step in range(30):
                if step == 8:
                    broker.kill()
                if step == 20:
                    broker.start()
                status, ids = post_batch(client, setup)
                statuses.append(status)
                acknowledged.extend(ids)
        assert 202 in statuses
        ids = wait_until_delivered(setup, acknowledged)
        assert set(ids) >= set(acknowledged)
        deadline = time.monotonic() + 60
        while gateway.spool_items() != 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert gateway.spool_items() == 0
    finally:
        gateway.stop()
        if not broker.alive:
            broker.start()
    # Every request was answered 202 (spooled while the broker was away) or 503, never lost.
    assert set(statuses) <= {202, 503}
    assert "spooling" in setup.log.read_text()  # the outage really went through the spool
    assert len(acknowledged) == 20 * statuses.count(202)


def test_gateway_sigkilled_with_a_spool_delivers_after_restart(
    setup: Setup, broker: LocalKafka
) -> None:
    gateway = setup.start_gateway()
    acknowledged: list[str] = []
    try:
        with httpx.Client(base_url=gateway.url) as client:
            acknowledged.extend(post_batch(client, setup)[1])
            broker.kill()
            for _ in range(10):
                status, ids = post_batch(client, setup)
                assert status == 202
                acknowledged.extend(ids)
            assert gateway.spool_items() > 0
        gateway.kill()
    finally:
        gateway.kill()
        broker.start()
    restarted = setup.start_gateway()
    try:
        ids = wait_until_delivered(setup, acknowledged)
        assert set(ids) >= set(acknowledged)
        assert len(acknowledged) == 220
    finally:
        restarted.stop()
