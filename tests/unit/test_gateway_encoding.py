"""The gateway's hand-built wire bytes equal what the libraries would produce.

Two hot-path shortcuts build bytes without the library that normally does it: scan events
from per-request pieces (`intake._ScanTemplate`) and Redis commands (`dedup._command`).
"""

from __future__ import annotations

import time
import uuid

import msgspec
import pytest

from scantrace_common.events import ScanEvent, decode, encode
from scantrace_common.qr import QrSigner, QrVerifier
from scantrace_gateway.dedup import _command
from scantrace_gateway.intake import Context, decode_scans

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("copies", [1, 3])
def test_fast_path_events_are_the_struct_encoding(copies: int) -> None:
    signer = QrSigner.generate("k1")
    verifier = QrVerifier.from_env_value(signer.public_env_value())
    now = int(time.time() * 1000)
    ctx = Context(
        person_id="p-1",
        device_id="d" + "x" * 40,
        received_at=now,
        min_time=0,
        max_time=now + 300_000,
        verify_qr=verifier.verify,
        revoked=frozenset(),
    )
    items = [
        {
            "scan_id": str(uuid.uuid4()),
            "person_id": "p-1",
            "qr": signer.sign(venue),
            "direction": direction,
            "scanned_at": scanned_at,
        }
        for venue, direction, scanned_at in [
            ("v-1", "in", now - 1000),
            ("v-" + "9" * 60, "out", now),
            ("v-1", "out", 5),  # a small integer has a shorter msgpack form
        ]
        * copies  # 3 scans take the Struct path, 9 the template
    ]
    judged = decode_scans(msgspec.msgpack.encode(items), "msgpack", ctx, "scans")
    assert not judged.rejected
    accepted = list(zip(judged.ids, judged.records, judged.times, strict=True))
    assert len(accepted) == len(items)
    for item, (scan_id, (topic, key, value), scanned_at) in zip(items, accepted, strict=True):
        venue_id = verifier.verify(str(item["qr"]))
        expected = ScanEvent(
            scan_id=str(item["scan_id"]),
            person_id="p-1",
            venue_id=venue_id,
            direction=item["direction"],  # type: ignore[arg-type]
            scanned_at=int(item["scanned_at"]),  # type: ignore[call-overload]
            received_at=now,
            device_id=ctx.device_id,
        )
        assert value == encode(expected)
        assert decode(ScanEvent, value) == expected
        assert (scan_id, topic, key, scanned_at) == (
            item["scan_id"],
            "scans",
            venue_id.encode(),
            item["scanned_at"],
        )


@pytest.mark.parametrize(
    ("head", "members"),
    [
        ((b"SMISMEMBER", b"ns.gateway:scan:seen:1:a"), [str(uuid.uuid4()) for _ in range(3)]),
        ((b"SADD", b"k"), ["ab", "cde", "f"]),  # lengths differ
        ((b"SADD", b"k"), ["é1", "ab"]),  # one length in characters, not in bytes
        ((b"EXPIREAT", b"k", b"1700000000"), []),
    ],
)
def test_redis_commands_are_resp(head: tuple[bytes, ...], members: list[str]) -> None:
    args = [*head, *(member.encode() for member in members)]
    expected = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)
    assert _command(*head, members=members) == expected
