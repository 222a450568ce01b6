"""The local spool: append-only, fsynced segment files holding items Kafka could not take yet.

Layout of one spool slot (one per worker process, held with an exclusive `flock`):

    slot-NN/lock                   the flock target
    slot-NN/seg-<20 digits>.log    frames: header (len, crc32, items, created_ms) + msgpack payload
    slot-NN/ack                    (segment, offset): everything before it was delivered

A frame is acknowledged to the client only after its fsync. The ack file is replaced atomically
(write, fsync, rename, fsync dir) after successful sends, at most every 0.2 s, so a restart
resends only what was not marked: at worst the sends of the last 0.2 s before a crash
(downstream dedups by id). A delivered segment may be deleted before the mark moves past it:
a stale mark can only cause resends, never a loss.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import msgspec

log = logging.getLogger(__name__)

#: payload length, crc32 of payload, number of items, creation time in epoch ms.
_HEADER = struct.Struct(">IIIq")
_ACK = struct.Struct(">QQ")
_SEGMENT_FMT = "seg-{:020d}.log"

#: topic (full name), key, value
Record = tuple[str, bytes, bytes]

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[tuple[str, bytes, bytes]])


class SpoolError(Exception):
    """The spool cannot take these items (full or unwritable): the request gets a 503."""


class SpoolFull(SpoolError):
    pass


class SpoolBusy(SpoolError):
    """Another live process holds this slot."""


@dataclass(frozen=True, slots=True)
class _Frame:
    segment: int
    start: int
    end: int
    items: int
    created_ms: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """One slot of the spool. Thread-safe: appends run in a worker thread while the event loop reads."""

    def __init__(self, directory: Path, *, max_bytes: int, segment_bytes: int = 16 * 1024**2):
        self.directory = directory
        self._max_bytes = max_bytes
        self._segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._frames: deque[_Frame] = deque()
        self._bytes = 0
        self._items = 0
        self._lock_fd: int | None = None
        self._write_fd: int | None = None
        self._write_segment = 0
        self._write_size = 0
        self._next_segment = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> None:
        """Take the slot's lock and load what is still undelivered; raises SpoolBusy if held."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolBusy(str(self.directory)) from None
        self._lock_fd = fd
        self._load()

    def close(self) -> None:
        with self._lock:
            if self._write_fd is not None:
                os.close(self._write_fd)
                self._write_fd = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = None

    def _segment_path(self, segment: int) -> Path:
        return self.directory / _SEGMENT_FMT.format(segment)

    def _read_ack(self) -> tuple[int, int]:
        try:
            data = (self.directory / "ack").read_bytes()
        except FileNotFoundError:
            return 0, 0
        if len(data) != _ACK.size:
            log.error("spool ack file %s is damaged; resending the whole slot", self.directory)
            return 0, 0
        segment, offset = _ACK.unpack(data)
        return int(segment), int(offset)

    def _load(self) -> None:
        ack_segment, ack_offset = self._read_ack()
        segments = sorted(
            int(path.name[4:-4])
            for path in self.directory.glob("seg-*.log")
            if path.name[4:-4].isdigit()
        )
        last = ack_segment
        for segment in segments:
            path = self._segment_path(segment)
            if segment < ack_segment:
                path.unlink(missing_ok=True)  # delivered; the delete was interrupted
                continue
            last = max(last, segment)
            start = ack_offset if segment == ack_segment else 0
            self._scan_segment(segment, path, start)
        self._next_segment = last + 1
        if segments and segments[-1] >= ack_segment:
            # Keep appending to the last segment so a restart does not multiply small files.
            self._write_segment = segments[-1]
            path = self._segment_path(self._write_segment)
            self._write_fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            self._write_size = path.stat().st_size
            self._next_segment = self._write_segment + 1
        log.info(
            "spool %s opened with %d undelivered items in %d frames",
            self.directory,
            self._items,
            len(self._frames),
        )

    def _scan_segment(self, segment: int, path: Path, start: int) -> None:
        data = path.read_bytes()
        pos = start
        while pos + _HEADER.size <= len(data):
            length, crc, items, created_ms = _HEADER.unpack_from(data, pos)
            end = pos + _HEADER.size + length
            if end > len(data) or zlib.crc32(data[pos + _HEADER.size : end]) != crc:
                break
            self._frames.append(_Frame(segment, pos, end, items, created_ms))
            self._bytes += end - pos
            self._items += items
            pos = end
        if pos != len(data):
            # A torn frame from a crash mid-write: it was never acknowledged, so cut it off.
            log.warning("spool %s: truncating torn tail at %d of %d", path, pos, len(data))
            with open(path, "r+b") as handle:
                handle.truncate(pos)
                os.fsync(handle.fileno())

    # -- state -------------------------------------------------------------------------------
    @property
    def items(self) -> int:
        return self._items

    @property
    def bytes(self) -> int:
        return self._bytes

    def oldest_created_ms(self) -> int | None:
        frames = self._frames
        return frames[0].created_ms if frames else None

    # -- writing -----------------------------------------------------------------------------
    def append(self, records: list[Record]) -> None:
        """Write one frame and fsync it; raises SpoolFull or SpoolError (nothing was kept)."""
        payload = _encoder.encode(records)
        created_ms = time.time_ns() // 1_000_000
        frame = _HEADER.pack(len(payload), zlib.crc32(payload), len(records), created_ms) + payload
        with self._lock:
            if self._lock_fd is None:
                raise SpoolError("spool is closed")
            if self._bytes + len(frame) > self._max_bytes:
                raise SpoolFull(f"spool holds {self._bytes} bytes, limit {self._max_bytes}")
            try:
                if self._write_fd is None or self._write_size >= self._segment_bytes:
                    self._rotate()
                assert self._write_fd is not None
                start = self._write_size
                written = os.write(self._write_fd, frame)
                if written != len(frame):
                    raise OSError("short write to spool")
                os.fsync(self._write_fd)
            except OSError as exc:
                self._undo_write()
                raise SpoolError(f"spool write failed: {exc}") from exc
            self._write_size = start + len(frame)
            self._frames.append(
                _Frame(self._write_segment, start, self._write_size, len(records), created_ms)
            )
            self._bytes += len(frame)
            self._items += len(records)

    def _rotate(self) -> None:
        if self._write_fd is not None:
            os.close(self._write_fd)
            self._write_fd = None
        segment = self._next_segment
        path = self._segment_path(segment)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._write_fd, self._write_segment, self._write_size = fd, segment, 0
        self._next_segment = segment + 1
        _fsync_dir(self.directory)

    def _undo_write(self) -> None:
        if self._write_fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._write_fd, self._write_size)

    # -- delivering --------------------------------------------------------------------------
    def peek(self, max_items: int) -> tuple[int, list[Record]]:
        """The oldest undelivered frames (at least one, up to `max_items` items): (frames, records)."""
        with self._lock:
            frames = list(self._frames)
        records: list[Record] = []
        taken = 0
        for frame in frames:
            if taken and len(records) + frame.items > max_items:
                break
            with open(self._segment_path(frame.segment), "rb") as handle:
                handle.seek(frame.start + _HEADER.size)
                payload = handle.read(frame.end - frame.start - _HEADER.size)
            records.extend(_decoder.decode(payload))
            taken += 1
        return taken, records

    def ack(self, frames: int, *, persist: bool = True) -> None:
        """Mark the oldest `frames` frames delivered and drop files no longer needed.

        With `persist=False` the mark is only advanced in memory (the caller throttles the
        fsyncs); a crash before the next persisted mark resends those frames, never loses one.
        Files are written outside the lock so appends do not wait for these fsyncs.
        """
        with self._lock:
            last: _Frame | None = None
            for _ in range(frames):
                last = self._frames.popleft()
                self._bytes -= last.end - last.start
                self._items -= last.items
            if last is None:
                return
            emptied = not self._frames and self._write_segment == last.segment
            if emptied and self._write_fd is not None:
                # Everything delivered: the next append starts a fresh segment.
                os.close(self._write_fd)
                self._write_fd = None
                self._write_size = 0
        if persist:
            self._write_ack(last.segment, last.end)
        for path in self.directory.glob("seg-*.log"):
            number = path.name[4:-4]
            if number.isdigit() and int(number) < last.segment:
                path.unlink(missing_ok=True)
        if emptied:
            self._segment_path(last.segment).unlink(missing_ok=True)

    def _write_ack(self, segment: int, offset: int) -> None:
        tmp = self.directory / "ack.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, _ACK.pack(segment, offset))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.directory / "ack")
        _fsync_dir(self.directory)


def claim_slot(root: Path, *, max_bytes: int, segment_bytes: int, slots: int = 256) -> Spool:
    """Open the first spool slot under `root` that no live process holds."""
    for number in range(slots):
        spool = Spool(root / f"slot-{number:02d}", max_bytes=max_bytes, segment_bytes=segment_bytes)
        try:
            spool.open()
        except SpoolBusy:
            continue
        return spool
    raise SpoolError(f"no free spool slot under {root}")


def orphan_slots(root: Path, held: Path) -> list[Path]:
    """Slots under `root` other than `held` that hold segment files (candidates for adoption)."""
    if not root.is_dir():
        return []
    return sorted(
        path
        for path in root.glob("slot-*")
        if path != held and path.is_dir() and any(path.glob("seg-*.log"))
    )
