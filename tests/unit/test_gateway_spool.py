"""The spool: fsynced frames, acks that survive restarts, torn tails, limits, slot locks."""

from __future__ import annotations

from pathlib import Path

import pytest

from scantrace_gateway.spool import Spool, SpoolBusy, SpoolFull, claim_slot, orphan_slots

pytestmark = pytest.mark.unit


def records(n: int, start: int = 0) -> list[tuple[str, bytes, bytes]]:
    return [("scans.v1", f"k{i}".encode(), f"value-{i}".encode()) for i in range(start, start + n)]


def open_spool(path: Path, **kw: int) -> Spool:
    spool = Spool(path, max_bytes=kw.get("max_bytes", 1 << 20), segment_bytes=kw.get("seg", 4096))
    spool.open()
    return spool


def test_append_peek_ack_in_order(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    spool.append(records(3))
    spool.append(records(2, start=3))
    assert spool.items == 5
    frames, got = spool.peek(100)
    assert frames == 2
    assert got == records(5)
    spool.ack(1)
    assert spool.items == 2
    assert spool.peek(100)[1] == records(2, start=3)
    spool.ack(1)
    assert spool.items == 0
    assert spool.oldest_created_ms() is None
    spool.close()


def test_reopen_resends_only_unacknowledged(tmp_path: Path) -> None:
    spool = open_spool(tmp_path, seg=200)  # small segments: several files
    for i in range(10):
        spool.append(records(2, start=2 * i))
    spool.ack(4)
    spool.close()
    again = open_spool(tmp_path, seg=200)
    assert again.items == 12
    assert again.peek(1000)[1] == records(12, start=8)
    again.append(records(1, start=99))
    assert again.peek(1000)[1][-1] == records(1, start=99)[0]
    again.ack(7)
    assert again.items == 0
    again.close()
    assert open_spool(tmp_path).items == 0
    assert len(list(tmp_path.glob("seg-*.log"))) <= 1


def test_torn_tail_is_cut_and_earlier_frames_kept(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    spool.append(records(2))
    spool.append(records(2, start=2))
    spool.close()
    [segment] = tmp_path.glob("seg-*.log")
    data = segment.read_bytes()
    segment.write_bytes(data[:-5])  # a crash in the middle of the second frame
    again = open_spool(tmp_path)
    assert again.peek(100)[1] == records(2)
    again.close()


def test_full_spool_refuses_and_keeps_nothing(tmp_path: Path) -> None:
    spool = open_spool(tmp_path, max_bytes=300)
    spool.append(records(2))
    with pytest.raises(SpoolFull):
        spool.append(records(50))
    assert spool.items == 2
    spool.close()


def test_a_slot_is_held_by_one_process(tmp_path: Path) -> None:
    first = claim_slot(tmp_path, max_bytes=1 << 20, segment_bytes=4096)
    second = claim_slot(tmp_path, max_bytes=1 << 20, segment_bytes=4096)
    assert first.directory != second.directory
    with pytest.raises(SpoolBusy):
        open_spool(first.directory)
    second.append(records(1))
    assert orphan_slots(tmp_path, first.directory) == [second.directory]
    first.close()
    second.close()
    reclaimed = claim_slot(tmp_path, max_bytes=1 << 20, segment_bytes=4096)
    assert reclaimed.directory == first.directory
    reclaimed.close()


def test_an_unpersisted_mark_only_causes_resends(tmp_path: Path) -> None:
    spool = open_spool(tmp_path, seg=200)
    for i in range(6):
        spool.append(records(2, start=2 * i))
    spool.ack(2)  # persisted: frames 0-1 delivered
    spool.ack(3, persist=False)  # delivered, but the mark stays behind
    spool.close()
    again = open_spool(tmp_path, seg=200)
    resent = again.peek(1000)[1]
    # The undelivered last frame comes back, possibly after some delivered ones (resends),
    # in order and with nothing missing between them.
    assert len(resent) >= 2
    assert resent == records(12)[-len(resent) :]
    again.close()
