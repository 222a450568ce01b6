"""The ingest's scan decoder has exactly the outcome of `decode(ScanEvent, ...)`, cold or warm."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scantrace_common.events import InvalidEvent, ScanEvent, decode
from scantrace_tracer.ingest import ScanDecoder

pytestmark = pytest.mark.unit

_IDS = st.sampled_from(["p1", "ven-01", "dev.9", "", "a b", "{p}", "x" * 64, "x" * 65, "é", "ok\n"])
_UUIDS = st.sampled_from(
    [
        "0b6c9a52-5c1e-4c5e-9d0a-1f2e3d4c5b6a",
        "0B6C9A52-5C1E-4C5E-9D0A-1F2E3D4C5B6A",
        "0b6c9a525c1e4c5e9d0a1f2e3d4c5b6a",
        "0b6c9a52-5c1e-4c5e-9d0a-1f2e3d4c5b6",
        "zb6c9a52-5c1e-4c5e-9d0a-1f2e3d4c5b6a",
    ]
)
_FIELDS = st.fixed_dictionaries(
    {
        "v": st.sampled_from([1, 1, 1, 2]),
        "scan_id": _UUIDS,
        "person_id": _IDS,
        "venue_id": _IDS,
        "direction": st.sampled_from(["in", "out", "up"]),
        "scanned_at": st.sampled_from([0, 1_700_000_000_000, -1, 253_402_300_800_000]),
        "received_at": st.just(1_700_000_000_000),
        "device_id": _IDS,
    }
)


def _outcome(fn: Any, value: bytes | None) -> tuple[str, Any]:
    try:
        event = fn(value)
    except InvalidEvent as exc:
        return "invalid", str(exc)
    return "ok", {f: getattr(event, f) for f in ScanEvent.__struct_fields__}


@given(
    st.lists(
        _FIELDS.map(msgspec.msgpack.encode) | st.sampled_from([b"", b"\xc1", b"\x90"]),
        max_size=12,
    )
)
def test_same_outcome_as_the_schema(values: list[bytes]) -> None:
    decoder = ScanDecoder()
    for value in [*values, *values]:  # then again, with the ids remembered
        assert _outcome(decoder.decode, value) == _outcome(lambda v: decode(ScanEvent, v), value)
    assert _outcome(decoder.decode, None) == ("invalid", "empty value (tombstone)")
