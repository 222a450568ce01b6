"""Packed members of the Redis sorted sets: fixed-width big-endian times first, then the id."""

from __future__ import annotations

import struct
from typing import Final

from scantrace_tracer.visits import ClosedBy, Direction, Scan, Visit

_TIMES: Final = struct.Struct(">QQ")
#: (start, end) of a visit member, unpacked in C.
TIMES_OF: Final = _TIMES.unpack_from
CLOSED_BY_CODES: Final[dict[str, bytes]] = {
    "next_in": b"n",
    "dwell": b"d",
    "out": b"o",
    "out_only": b"x",
}
CLOSED_BY_NAMES: Final[dict[int, ClosedBy]] = {
    ord("n"): "next_in",
    ord("d"): "dwell",
    ord("o"): "out",
    ord("x"): "out_only",
}
_DIRS: Final[dict[str, bytes]] = {"out": b"\x00", "in": b"\x01"}


def scan_member(scan_id: str, direction: str, venue_id: str) -> bytes:
    """Members with the same score sort `out` first, then by scan_id (as a UUID).

    scan_id is a UUID in its text form (checked when the event was decoded).
    """
    return _DIRS[direction] + bytes.fromhex(scan_id.replace("-", "")) + venue_id.encode()


def decode_scan(member: bytes, scanned_at: int) -> Scan:
    """The scan_id comes back as 32 hex digits: unique, and ordered as the UUID (cheaper)."""
    direction: Direction = "out" if member[0] == 0 else "in"
    return Scan(member[1:17].hex(), member[17:].decode(), direction, scanned_at)


def _suffix(n: int) -> bytes:
    return b"#%d" % n if n else b""


def visit_member(visit: Visit, ident: str, n: int) -> bytes:
    """Member of a person's visits (ident = venue_id) or of a venue bucket (ident = person_id).

    The start is also the score, but must be in the member too: two visits may differ only by it.
    """
    return (
        _TIMES.pack(visit.start, visit.end)
        + CLOSED_BY_CODES[visit.closed_by]
        + ident.encode()
        + _suffix(n)
    )


def split_member(member: bytes) -> tuple[int, int, ClosedBy, str]:
    """(start, end, closed_by, ident) of a visit member; the #n suffix is dropped."""
    start, end = _TIMES.unpack_from(member)
    ident = member[17:].split(b"#", 1)[0].decode()
    return start, end, CLOSED_BY_NAMES[member[16]], ident


def decode_person_visit(member: bytes) -> Visit:
    start, end, closed_by, venue_id = split_member(member)
    return Visit(venue_id, start, end, closed_by)
