"""Decoding and judging request bodies: JSON or msgpack, one item or an array, item by item.

The fast path decodes the whole body straight into typed structs; only when that fails are
the items decoded one by one, so each invalid item gets its own error. A body refused as a
whole is an `ApiError` (400, 413, 415); an item refused is an `Invalid` (422).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Literal

import msgspec

from scantrace_common.errors import ApiError
from scantrace_common.events import DeclarationEvent, ScanEvent, encode
from scantrace_common.ids import UUID_FORM, Id, Uuid, is_valid_id, is_valid_uuid
from scantrace_common.qr import QrError
from scantrace_common.timeparse import parse_time
from scantrace_gateway.settings import MAX_ITEMS
from scantrace_gateway.spool import Record

# Scans skip msgspec's per-field regexes (the dearest part of decoding): scan ids are checked
# with one regex over the whole batch, and a person_id must equal the token's anyway (whose
# person is a checked id, see state.TokenCache).
_UUID_LINES = re.compile(f"(?:{UUID_FORM}\n)*")
ScanId = Annotated[str, msgspec.Meta(min_length=36, max_length=36)]
PersonId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
TimeIn = Annotated[int, msgspec.Meta(ge=0)] | Annotated[str, msgspec.Meta(max_length=40)]

JSON: Final = "application/json"
MSGPACK: Final = "application/msgpack"
_MSGPACK_ALIASES: Final = (
    "application/msgpack",
    "application/x-msgpack",
    "application/vnd.msgpack",
)


class ScanIn(msgspec.Struct, frozen=True, gc=False):  # str/int fields only: no cycles
    scan_id: ScanId
    person_id: PersonId
    qr: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    direction: Literal["in", "out"]
    scanned_at: TimeIn


class DeclarationIn(msgspec.Struct, frozen=True):
    declaration_id: Uuid
    person_id: Id
    declared_at: TimeIn
    symptoms: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=64)]],
        msgspec.Meta(max_length=32),
    ] = []
    note: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class DeviceIn(msgspec.Struct, frozen=True):
    person_id: Id


Format = Literal["json", "msgpack"]


def body_format(content_type: str | None) -> Format:
    """json or msgpack from the Content-Type; 415 for anything else."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == JSON or (media.startswith("application/") and media.endswith("+json")):
        return "json"
    if media in _MSGPACK_ALIASES:
        return "msgpack"
    raise ApiError(415, "Content-Type must be application/json or application/msgpack")


def _decoder(fmt: Format, type_: Any) -> Callable[[bytes | memoryview], Any]:
    if fmt == "json":
        return msgspec.json.Decoder(type_).decode
    return msgspec.msgpack.Decoder(type_).decode


_BATCH = ScanIn | Annotated[list[ScanIn], msgspec.Meta(max_length=MAX_ITEMS)]
_FAST = {fmt: _decoder(fmt, _BATCH) for fmt in ("json", "msgpack")}
_RAW_LIST = {fmt: _decoder(fmt, list[msgspec.Raw]) for fmt in ("json", "msgpack")}
_ANY = {fmt: _decoder(fmt, Any) for fmt in ("json", "msgpack")}
_SCAN = {fmt: _decoder(fmt, ScanIn) for fmt in ("json", "msgpack")}
_DECLARATION = {fmt: _decoder(fmt, DeclarationIn) for fmt in ("json", "msgpack")}
_DEVICE = {fmt: _decoder(fmt, DeviceIn) for fmt in ("json", "msgpack")}

#: The `reason` label of scantrace_gateway_scans_rejected_total.
Reason = Literal[
    "malformed", "qr_invalid", "venue_revoked", "person_mismatch", "too_new", "too_old"
]


class Invalid(ApiError):
    """An item refused (422); `reason` labels the rejection metrics."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(422, message)
        self.reason = reason


#: What refuses a body as unparseable. msgspec skips unknown fields, and decodes untyped parts,
#: recursively: a body nested about a thousand levels deep raises RecursionError, before anything
#: of it was judged (finding 6). A JSON text that is not UTF-8 raises UnicodeDecodeError, not
#: DecodeError.
_UNPARSEABLE = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)


def _unparseable(fmt: Format, exc: Exception) -> ApiError:
    if isinstance(exc, RecursionError):
        return ApiError(400, f"unparseable {fmt} body: nested too deeply")
    if isinstance(exc, UnicodeDecodeError):
        return ApiError(
            400, f"unparseable {fmt} body: not UTF-8 ({exc.reason} at byte {exc.start})"
        )
    return ApiError(400, f"unparseable {fmt} body: {exc}")


@dataclass(slots=True)
class Context:
    """What judging needs besides the item: the caller, the clock and the registry state."""

    person_id: str
    device_id: str
    received_at: int
    min_time: int  # oldest acceptable scanned_at/declared_at (retention)
    max_time: int  # newest acceptable (clock tolerance)
    verify_qr: Callable[[str], str]
    revoked: Container[str]


@dataclass(slots=True)
class Rejection:
    index: int
    id: str | None
    reason: Reason
    error: str


@dataclass(slots=True)
class Judged:
    """Valid items as parallel lists (ids, records, scanned_at: what the route needs whole,
    without a loop per scan to take tuples apart) and rejections; `single` for a non-array body."""

    single: bool
    ids: list[str] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def accept(self, id_: str, record: Record, scanned_at: int) -> None:
        self.ids.append(id_)
        self.records.append(record)
        self.times.append(scanned_at)


def _time(value: int | str, name: str, ctx: Context) -> int:
    if type(value) is int:
        ms = value
    else:
        try:
            ms = parse_time(value)
        except ValueError as exc:
            raise Invalid("malformed", f"{name}: {exc}") from None
    if ms > ctx.max_time:
        raise Invalid("too_new", f"{name} is more than 5 minutes in the future")
    if ms < ctx.min_time:
        raise Invalid("too_old", f"{name} is older than the retention period")
    return ms


def _check_person(person_id: str, ctx: Context) -> None:
    if person_id != ctx.person_id:
        if not is_valid_id(person_id):
            raise Invalid("malformed", "person_id: expected 1 to 64 of [A-Za-z0-9_.-]")
        raise Invalid("person_mismatch", "person_id is not the device token's person")


def judge_scan(
    scan: ScanIn, ctx: Context, topic: str, *, id_checked: bool = False
) -> tuple[Record, int]:
    """The record to publish for a valid scan and its scanned_at; raises Invalid."""
    if not id_checked and not is_valid_uuid(scan.scan_id):
        raise Invalid("malformed", "scan_id: expected a UUID")
    _check_person(scan.person_id, ctx)
    scanned_at = _time(scan.scanned_at, "scanned_at", ctx)
    try:
        venue_id = ctx.verify_qr(scan.qr)
    except QrError as exc:
        raise Invalid("qr_invalid", f"qr: {exc}") from None
    if venue_id in ctx.revoked:
        raise Invalid("venue_revoked", f"venue {venue_id!r} is revoked")
    event = ScanEvent(
        scan_id=scan.scan_id,
        person_id=scan.person_id,
        venue_id=venue_id,
        direction=scan.direction,
        scanned_at=scanned_at,
        received_at=ctx.received_at,
        device_id=ctx.device_id,
    )
    return (topic, venue_id.encode(), encode(event)), scanned_at


def _validation_message(exc: msgspec.ValidationError) -> str:
    return str(exc).replace("`$`", "the item").replace("$.", "")


def _item_id(raw: Any, name: str) -> str | None:
    value = raw.get(name) if isinstance(raw, dict) else None
    return value if isinstance(value, str) and len(value) <= 64 else None


_mp = msgspec.msgpack.encode


class _ScanTemplate:
    """The msgpack of a ScanEvent in pieces: what one request shares is encoded once, so a scan
    costs one join instead of building and encoding a Struct (the dearest step per scan). The
    bytes equal `encode(ScanEvent(...))` (checked at import): map of the fields in order."""

    __slots__ = ("middle", "tail")

    head: Final = b"\x88" + _mp("v") + _mp(1) + _mp("scan_id") + b"\xd9\x24"  # + 36 chars
    directions: Final = {d: _mp("direction") + _mp(d) + _mp("scanned_at") for d in ("in", "out")}
    _person: Final = _mp("person_id")
    _venue: Final = _mp("venue_id")
    _received: Final = _mp("received_at")
    _device: Final = _mp("device_id")

    def __init__(self, person_id: str, received_at: int, device_id: str) -> None:
        self.middle = self._person + _mp(person_id) + self._venue
        self.tail = self._received + _mp(received_at) + self._device + _mp(device_id)


_TEMPLATE_MIN_ITEMS = 4


def _scan_value(
    template: _ScanTemplate, scan_id: str, venue_id: str, direction: str, ts: int
) -> bytes:
    return b"".join(
        (
            template.head,
            scan_id.encode(),
            template.middle,
            _mp(venue_id),
            template.directions[direction],
            _mp(ts),
            template.tail,
        )
    )


def _check_template() -> None:
    """Fail at import, not silently on the wire, if ScanEvent's fields ever change."""
    event = ScanEvent(
        scan_id="0" * 36,
        person_id="p-1",
        venue_id="v-1",
        direction="out",
        scanned_at=1_700_000_000_000,
        received_at=1_700_000_000_123,
        device_id="d-1",
    )
    built = _scan_value(
        _ScanTemplate("p-1", 1_700_000_000_123, "d-1"), "0" * 36, "v-1", "out", 1_700_000_000_000
    )
    if built != encode(event):
        raise RuntimeError("intake._ScanTemplate no longer matches ScanEvent's encoding")


_check_template()


def decode_scans(body: bytes, fmt: Format, ctx: Context, topic: str) -> Judged:
    """Judge a scan body; raises ApiError (400/413) for the body as a whole."""
    try:
        decoded: ScanIn | list[ScanIn] = _FAST[fmt](body)
    except msgspec.ValidationError:
        # msgspec stops at the first type error, so the rest may still be unparseable.
        try:
            return _decode_scans_slowly(body, fmt, ctx, topic)
        except _UNPARSEABLE as exc:
            raise _unparseable(fmt, exc) from None
    except _UNPARSEABLE as exc:
        raise _unparseable(fmt, exc) from None
    single = isinstance(decoded, ScanIn)
    items = [decoded] if isinstance(decoded, ScanIn) else decoded
    judged = Judged(single)
    ids_checked = bool(items) and (
        _UUID_LINES.fullmatch("\n".join([scan.scan_id for scan in items]) + "\n") is not None
    )
    ids, records, times = judged.ids, judged.records, judged.times
    # The common case inline (no call per scan); anything unusual goes through judge_scan,
    # which also words the error.
    person, lo, hi = ctx.person_id, ctx.min_time, ctx.max_time
    revoked = ctx.revoked

    def judge_one(index: int, scan: ScanIn) -> None:
        try:
            record, scanned_at = judge_scan(scan, ctx, topic, id_checked=ids_checked)
        except Invalid as exc:
            judged.rejected.append(Rejection(index, scan.scan_id, exc.reason, str(exc)))
            return
        judged.accept(scan.scan_id, record, scanned_at)

    if len(items) < _TEMPLATE_MIN_ITEMS:
        # Building the template costs more than it saves for a scan or two.
        for index, scan in enumerate(items):
            judge_one(index, scan)
        return judged
    template = _ScanTemplate(person, ctx.received_at, ctx.device_id)
    head, middle, tails, tail, mp = (
        template.head,
        template.middle,
        template.directions,
        template.tail,
        _mp,
    )
    # qr -> (key, msgpack of the venue id) when it verifies and is not revoked, else (): both
    # judged once per payload per request (nothing here awaits, so neither can change meanwhile).
    venues: dict[str, tuple[bytes, bytes] | tuple[()]] = {}
    for index, scan in enumerate(items):
        ts = scan.scanned_at
        if ids_checked and scan.person_id == person and type(ts) is int and lo <= ts <= hi:
            venue = venues.get(scan.qr)
            if venue is None:
                try:
                    venue_id = ctx.verify_qr(scan.qr)
                except QrError:
                    venue_id = ""
                good = venue_id and venue_id not in revoked
                venue = venues[scan.qr] = (venue_id.encode(), mp(venue_id)) if good else ()
            if venue:
                scan_id = scan.scan_id  # a checked UUID: 36 ASCII characters
                value = b"".join(
                    (head, scan_id.encode(), middle, venue[1], tails[scan.direction], mp(ts), tail)
                )
                ids.append(scan_id)
                records.append((topic, venue[0], value))
                times.append(ts)
                continue
        judge_one(index, scan)
    return judged


def _decode_scans_slowly(body: bytes, fmt: Format, ctx: Context, topic: str) -> Judged:
    try:
        raws = _RAW_LIST[fmt](body)
    except msgspec.ValidationError:
        # Not an array: a single scan with a problem (or not an object at all).
        judged = Judged(True)
        try:
            scan = _SCAN[fmt](body)
        except msgspec.ValidationError as exc:
            judged.rejected.append(Rejection(0, None, "malformed", _validation_message(exc)))
            return judged
        try:
            record, scanned_at = judge_scan(scan, ctx, topic)
        except Invalid as exc:
            judged.rejected.append(Rejection(0, scan.scan_id, exc.reason, str(exc)))
            return judged
        judged.accept(scan.scan_id, record, scanned_at)
        return judged
    if len(raws) > MAX_ITEMS:
        raise ApiError(413, f"at most {MAX_ITEMS} scans per request, got {len(raws)}")
    judged = Judged(False)
    decode_one = _SCAN[fmt]
    for index, raw in enumerate(raws):
        try:
            scan = decode_one(raw)
        except msgspec.ValidationError as exc:
            scan_id = _item_id(_ANY[fmt](raw), "scan_id")
            judged.rejected.append(Rejection(index, scan_id, "malformed", _validation_message(exc)))
            continue
        try:
            record, scanned_at = judge_scan(scan, ctx, topic)
        except Invalid as exc:
            judged.rejected.append(Rejection(index, scan.scan_id, exc.reason, str(exc)))
            continue
        judged.accept(scan.scan_id, record, scanned_at)
    return judged


def decode_declaration(body: bytes, fmt: Format, ctx: Context, topic: str) -> tuple[str, Record]:
    """The record of a valid declaration; raises ApiError (400) or Invalid (422)."""
    try:
        item = _DECLARATION[fmt](body)
    except msgspec.ValidationError as exc:
        raise Invalid("malformed", _validation_message(exc)) from None
    except _UNPARSEABLE as exc:
        raise _unparseable(fmt, exc) from None
    _check_person(item.person_id, ctx)
    declared_at = _time(item.declared_at, "declared_at", ctx)
    event = DeclarationEvent(
        declaration_id=item.declaration_id,
        person_id=item.person_id,
        declared_at=declared_at,
        received_at=ctx.received_at,
        device_id=ctx.device_id,
        symptoms=list(item.symptoms),
        note=item.note,
    )
    return item.declaration_id, (topic, item.person_id.encode(), encode(event))


def decode_device(body: bytes, fmt: Format) -> str:
    """The person_id of an enrolment body; raises ApiError (400) or Invalid (422)."""
    try:
        return str(_DEVICE[fmt](body).person_id)
    except msgspec.ValidationError as exc:
        raise Invalid("malformed", _validation_message(exc)) from None
    except _UNPARSEABLE as exc:
        raise _unparseable(fmt, exc) from None
