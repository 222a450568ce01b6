"""KafkaSpoolPublisher against an in-memory sender: spool on failure, replay in order, no repeats."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

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
