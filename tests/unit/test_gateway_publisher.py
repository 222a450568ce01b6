"""KafkaSpoolPublisher against an in-memory sender: spool on failure, replay in order, no repeats."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from scantrace_common.events import DeclarationEvent, ScanEvent, encode
from scantrace_gateway.publisher import KafkaSpoolPublisher, Unavailable
from scantrace_gateway.spool import Spool

pytestmark = pytest.mark.unit


class FlakySender:
    """Acknowledges sends while `up`; otherwise fails (or hangs when `hang`)."""

    def __init__(self) -> None:
        self.up = True
        self.hang = False
        self.sent: list[tuple[str, bytes | None, bytes]] = []

    async def send_batch(
        self, topic: str, records: Sequence[tuple[str, bytes | None, bytes]]
    ) -> None:
        if not self.up:
            if self.hang:
                await asyncio.sleep(3600)
            raise ConnectionError("broker down")
        assert all(record[0] == topic for record in records)
        self.sent.extend(records)

    async def ping(self) -> None:
        if not self.up:
            raise ConnectionError("broker down")


def rec(i: int) -> tuple[str, bytes, bytes]:
    return ("scans.v1", b"k", str(i).encode())


async def wait_until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 - polls state that has no event to wait on
            await asyncio.sleep(0.01)


def spool_at(path: Path, max_bytes: int = 1 << 20) -> Spool:
    spool = Spool(path, max_bytes=max_bytes)
    spool.open()
    return spool


async def test_direct_sends_when_kafka_answers(tmp_path: Path) -> None:
    sender = FlakySender()
    publisher = KafkaSpoolPublisher(sender, spool_at(tmp_path), produce_timeout_s=1.0)
    publisher.start()
    sinks = await asyncio.gather(*(publisher.publish([rec(i)]) for i in range(20)))
    assert set(sinks) == {"kafka"}
    assert sorted(v for _, _, v in sender.sent) == sorted(str(i).encode() for i in range(20))
    await publisher.stop()


@pytest.mark.parametrize("hang", [False, True])
async def test_outage_spools_then_replays_in_order_once(tmp_path: Path, hang: bool) -> None:
    sender = FlakySender()
    publisher = KafkaSpoolPublisher(sender, spool_at(tmp_path), produce_timeout_s=0.2)
    publisher.start()
    assert await publisher.publish([rec(0)]) == "kafka"
    sender.up, sender.hang = False, hang
    for i in range(1, 6):
        assert await publisher.publish([rec(i)]) == "spool"
    assert publisher.degraded
    sender.up = True
    await wait_until(lambda: not publisher.degraded)
    assert await publisher.publish([rec(6)]) == "kafka"
    assert [v for _, _, v in sender.sent] == [str(i).encode() for i in range(7)]
    await publisher.stop()


async def test_restart_delivers_what_the_spool_holds(tmp_path: Path) -> None:
    sender = FlakySender()
    sender.up = False
    first = KafkaSpoolPublisher(sender, spool_at(tmp_path), produce_timeout_s=0.2)
    first.start()
    for i in range(3):
        await first.publish([rec(i)])
    await first.stop()
    sender.up = True
    second = KafkaSpoolPublisher(sender, spool_at(tmp_path), produce_timeout_s=0.2)
    assert second.degraded  # leftovers go first
    second.start()
    await wait_until(lambda: not second.degraded)
    assert [v for _, _, v in sender.sent] == [b"0", b"1", b"2"]
    await second.stop()


async def test_neither_kafka_nor_spool_is_unavailable(tmp_path: Path) -> None:
    sender = FlakySender()
    sender.up = False
    publisher = KafkaSpoolPublisher(
        sender, spool_at(tmp_path, max_bytes=200), produce_timeout_s=0.1
    )
    publisher.start()
    with pytest.raises(Unavailable):
        await publisher.publish([("scans.v1", b"k", b"x" * 500)])
    await publisher.stop()


async def test_orphan_slots_are_adopted(tmp_path: Path) -> None:
    orphan = spool_at(tmp_path / "slot-07")
    orphan.append([rec(1), rec(2)])
    orphan.close()
    sender = FlakySender()
    publisher = KafkaSpoolPublisher(sender, spool_at(tmp_path / "slot-00"), produce_timeout_s=0.5)
    publisher.start()
    await wait_until(lambda: len(sender.sent) == 2)
    assert [v for _, _, v in sender.sent] == [b"1", b"2"]
    await publisher.stop()


async def test_spool_first_answers_after_fsync_and_ships_in_order(tmp_path: Path) -> None:
    sender = FlakySender()
    spool = spool_at(tmp_path)
    publisher = KafkaSpoolPublisher(sender, spool, produce_timeout_s=0.5, spool_first=True)
    publisher.start()
    for i in range(5):
        assert await publisher.publish([rec(i)]) == "spool"
    await wait_until(lambda: len(sender.sent) == 5 and spool.items == 0)
    assert [v for _, _, v in sender.sent] == [str(i).encode() for i in range(5)]
    await publisher.stop()


def _event(kind: str, at_ms: int) -> tuple[str, bytes, bytes]:
    scan_id = str(uuid.uuid4())
    event: ScanEvent | DeclarationEvent
    if kind == "scan":
        event = ScanEvent(
            scan_id=scan_id,
            person_id="p-1",
            venue_id="v-1",
            direction="in",
            scanned_at=at_ms,
            received_at=at_ms,
            device_id="d-1",
        )
    else:
        event = DeclarationEvent(
            declaration_id=scan_id,
            person_id="p-1",
            declared_at=at_ms,
            received_at=at_ms,
            device_id="d-1",
        )
    return (f"{kind}s.v1", b"k", encode(event))


def _expired_total() -> float:
    return REGISTRY.get_sample_value("scantrace_gateway_spool_expired_total") or 0.0


async def test_finding_9_spooled_items_older_than_the_retention_are_dropped_at_delivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    day_ms = 86_400_000
    now_ms = time.time_ns() // 1_000_000
    old = [_event("scan", now_ms - 25 * day_ms), _event("declaration", now_ms - 22 * day_ms)]
    fresh = [_event("scan", now_ms - 20 * day_ms), _event("declaration", now_ms - day_ms)]
    spool = spool_at(tmp_path)
    # Spooled two days ago (Kafka away since): the spool stamps each frame with the clock.
    two_days_ago_ns = (now_ms - 2 * day_ms) * 1_000_000
    monkeypatch.setattr(time, "time_ns", lambda: two_days_ago_ns)
    spool.append([old[0], fresh[0]])
    spool.append([old[1], fresh[1]])
    monkeypatch.undo()
    expired_before = _expired_total()

    sender = FlakySender()
    publisher = KafkaSpoolPublisher(sender, spool, produce_timeout_s=0.5, retention_ms=21 * day_ms)
    publisher.start()
    await wait_until(lambda: spool.items == 0)
    await publisher.stop()
    assert sender.sent == fresh
    assert _expired_total() - expired_before == 2
