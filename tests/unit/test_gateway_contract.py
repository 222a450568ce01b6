"""Contract of SPEC section 3 for every status code and rejection reason, in JSON and msgpack.

The publisher is an in-memory fake (unit tests only); everything else is the real code.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from scantrace_common.auth import mint_staff_token, verify_token
from scantrace_common.events import ScanEvent, decode
from scantrace_gateway.settings import MAX_BODY_BYTES
from scantrace_gateway.testing import Harness, harness, new_scan_id

pytestmark = pytest.mark.unit

FORMATS = ["json", "msgpack"]
MEDIA = {"json": "application/json", "msgpack": "application/msgpack"}


def encode(fmt: str, value: Any) -> bytes:
    return msgspec.json.encode(value) if fmt == "json" else msgspec.msgpack.encode(value)


@pytest.fixture
async def gw() -> AsyncIterator[Harness]:
    async with harness() as h:
        yield h


def now_ms() -> int:
    return int(time.time() * 1000)


def scan(h: Harness, person: str = "p-1", venue: str = "v-1", **over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "scan_id": new_scan_id(),
        "person_id": person,
        "qr": h.qr(venue),
        "direction": "in",
        "scanned_at": now_ms() - 1000,
    }
    item.update(over)
    return item


async def post(
    h: Harness,
    path: str,
    body: Any,
    fmt: str = "json",
    bearer: str | None = "device",
    person: str = "p-1",
    content_type: str | None = None,
    raw: bytes | None = None,
) -> Any:
    headers = {"content-type": content_type or MEDIA[fmt]}
    if bearer == "device":
        headers["authorization"] = f"Bearer {h.device_token(person)}"
    elif bearer is not None:
        headers["authorization"] = f"Bearer {bearer}"
    content = raw if raw is not None else encode(fmt, body)
    return await h.client.post(path, content=content, headers=headers)


# -- /v1/devices ------------------------------------------------------------------------------


async def test_enrol_device_returns_a_token_bound_to_the_person(gw: Harness) -> None:
    response = await gw.client.post("/v1/devices", json={"person_id": "p-42"})
    assert response.status_code == 201
    body = response.json()
    principal = verify_token(gw.secret, body["token"])
    assert principal.role == "device"
    assert principal.person_id == "p-42"
    assert principal.sub == body["device_id"]


@pytest.mark.parametrize("person_id", ["", "has space", "x" * 65, 5])
async def test_enrol_device_refuses_bad_person_ids(gw: Harness, person_id: Any) -> None:
    response = await gw.client.post("/v1/devices", json={"person_id": person_id})
    assert response.status_code == 422
    assert "error" in response.json()


async def test_enrol_device_refuses_unparseable_and_other_media(gw: Harness) -> None:
    bad = await gw.client.post(
        "/v1/devices", content=b"{", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400
    other = await gw.client.post(
        "/v1/devices", content=b"person_id=p", headers={"content-type": "text/plain"}
    )
    assert other.status_code == 415


async def test_enrolment_is_rate_limited_per_address() -> None:
    async with harness(rate_limits="enrol=1:2") as h:
        statuses = [
            (await h.client.post("/v1/devices", json={"person_id": "p"})).status_code
            for _ in range(3)
        ]
        assert statuses == [201, 201, 429]
        limited = await h.client.post("/v1/devices", json={"person_id": "p"})
        assert int(limited.headers["retry-after"]) >= 1


# -- /v1/scans: single ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
async def test_single_scan_is_accepted_and_published(gw: Harness, fmt: str) -> None:
    item = scan(gw, venue="cafe-7", scanned_at="2099-01-01T00:00:00Z")
    item["scanned_at"] = now_ms() - 60_000
    response = await post(gw, "/v1/scans", item, fmt)
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    [(topic, key, value)] = gw.publisher.records
    assert topic == "scans.v1"
    assert key == b"cafe-7"
    event = decode(ScanEvent, value)
    assert event.scan_id == item["scan_id"]
    assert event.venue_id == "cafe-7"
    assert event.person_id == "p-1"
    assert event.device_id == "dev-1"
    assert event.scanned_at == item["scanned_at"]
    assert event.received_at >= event.scanned_at


async def test_rfc3339_times_and_old_keys_are_accepted(gw: Harness) -> None:
    scanned = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 120))
    item = scan(gw, scanned_at=scanned, qr=gw.old_signer.sign("v-old"))
    response = await post(gw, "/v1/scans", item)
    assert response.status_code == 202
    assert decode(ScanEvent, gw.publisher.records[0][2]).venue_id == "v-old"


@pytest.mark.parametrize("fmt", FORMATS)
async def test_same_scan_id_again_is_a_duplicate(gw: Harness, fmt: str) -> None:
    item = scan(gw)
    assert (await post(gw, "/v1/scans", item, fmt)).status_code == 202
    again = await post(gw, "/v1/scans", item, fmt)
    assert again.status_code == 202
    assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert len(gw.publisher.records) == 1


def _invalid_cases(h: Harness) -> list[tuple[str, dict[str, Any], str]]:
    wrong_key = h.signer.sign("v-1").rsplit(".", 1)[0] + "." + "A" * 86
    return [
        ("missing field", {"scan_id": new_scan_id(), "person_id": "p-1"}, "qr"),
        ("bad uuid", scan(h, scan_id="not-a-uuid"), "scan_id"),
        ("bad direction", scan(h, direction="sideways"), "direction"),
        ("bad time text", scan(h, scanned_at="yesterday"), "scanned_at"),
        ("float time", scan(h, scanned_at=1.5), "scanned_at"),
        ("future", scan(h, scanned_at=now_ms() + 6 * 60_000), "future"),
        ("too old", scan(h, scanned_at=now_ms() - 22 * 86_400_000), "retention"),
        ("person mismatch", scan(h, person="p-2"), "person"),
        ("bad signature", scan(h, qr=wrong_key), "signature"),
        ("unknown key", scan(h, qr="ST1.v-1.k9." + "A" * 86), "key id"),
        ("not a QR", scan(h, qr="hello"), "malformed"),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_single_invalid_scans_get_422_with_the_reason(gw: Harness, fmt: str) -> None:
    for name, item, words in _invalid_cases(gw):
        response = await post(gw, "/v1/scans", item, fmt)
        assert response.status_code == 422, name
        assert words in response.json()["error"], (name, response.json())
    assert gw.publisher.records == []


@pytest.mark.parametrize("fmt", FORMATS)
async def test_revoked_venue_is_refused(gw: Harness, fmt: str) -> None:
    gw.revoked.add("closed-bar")
    response = await post(gw, "/v1/scans", scan(gw, venue="closed-bar"), fmt)
    assert response.status_code == 422
    assert "revoked" in response.json()["error"]


# -- /v1/scans: arrays ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
async def test_array_items_are_judged_one_by_one(gw: Harness, fmt: str) -> None:
    gw.revoked.add("closed")
    good = [scan(gw, venue=f"v-{i}") for i in range(3)]
    bad = {"scan_id": "nope", "person_id": "p-1"}
    items = [
        good[0],
        bad,
        good[1],
        scan(gw, person="p-9"),
        good[0],
        scan(gw, venue="closed"),
        good[2],
    ]
    response = await post(gw, "/v1/scans", items, fmt)
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 3
    assert body["duplicates"] == 1
    assert [r["index"] for r in body["rejected"]] == [1, 3, 5]
    assert body["rejected"][0]["scan_id"] == "nope"  # echoed as sent, to help the phone
    assert body["rejected"][1]["scan_id"] == items[3]["scan_id"]
    assert all(r["error"] for r in body["rejected"])
    assert len(gw.publisher.records) == 3


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_well_formed_array_refuses_every_scan_of_a_revoked_venue(
    gw: Harness, fmt: str
) -> None:
    """The fast path judges each QR payload once per request: every scan of it is refused."""
    gw.revoked.add("closed")
    items = [scan(gw, venue=venue) for venue in ("v-1", "closed", "v-2", "closed", "v-1")]
    items.append(scan(gw, qr=items[0]["qr"][:-4] + "AAAA"))  # a signature that does not verify
    response = await post(gw, "/v1/scans", items, fmt)
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 3
    assert [(r["index"], r["scan_id"]) for r in body["rejected"]] == [
        (i, items[i]["scan_id"]) for i in (1, 3, 5)
    ]
    assert ["revoked" in r["error"] for r in body["rejected"]] == [True, True, False]
    assert len(gw.publisher.records) == 3


@pytest.mark.parametrize("fmt", FORMATS)
async def test_all_valid_array_and_empty_array(gw: Harness, fmt: str) -> None:
    items = [scan(gw) for _ in range(50)]
    response = await post(gw, "/v1/scans", items, fmt)
    assert response.json() == {"accepted": 50, "duplicates": 0, "rejected": []}
    empty = await post(gw, "/v1/scans", [], fmt)
    assert empty.status_code == 202
    assert empty.json() == {"accepted": 0, "duplicates": 0, "rejected": []}


@pytest.mark.parametrize("fmt", FORMATS)
async def test_more_than_1000_scans_is_413(gw: Harness, fmt: str) -> None:
    item = scan(gw)
    response = await post(gw, "/v1/scans", [item] * 1001, fmt)
    assert response.status_code == 413
    ok = await post(gw, "/v1/scans", [item] * 1000, fmt)
    assert ok.status_code == 202
    assert ok.json()["duplicates"] == 999


@pytest.mark.parametrize("fmt", FORMATS)
async def test_body_over_one_mebibyte_is_413(gw: Harness, fmt: str) -> None:
    item = scan(gw, qr="x" * 500)
    count = MAX_BODY_BYTES // 600 + 10
    raw = encode(fmt, [item] * count)
    assert len(raw) > MAX_BODY_BYTES
    response = await post(gw, "/v1/scans", None, fmt, raw=raw)
    assert response.status_code == 413


async def test_body_limit_holds_without_content_length(gw: Harness) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 65536  # JSON whitespace: parseable, but too much of it

    response = await gw.client.post(
        "/v1/scans",
        content=chunks(),
        headers={
            "content-type": "application/json",
            "authorization": f"Bearer {gw.device_token('p-1')}",
        },
    )
    assert response.status_code == 413


@pytest.mark.parametrize("fmt", FORMATS)
async def test_unparseable_body_is_400(gw: Harness, fmt: str) -> None:
    raw = b'[{"scan_id": ' if fmt == "json" else b"\xc1\xc1"
    response = await post(gw, "/v1/scans", None, fmt, raw=raw)
    assert response.status_code == 400
    assert "error" in response.json()


async def test_other_content_types_are_415(gw: Harness) -> None:
    for media in ("text/plain", "application/xml", "multipart/form-data"):
        response = await post(gw, "/v1/scans", scan(gw), content_type=media)
        assert response.status_code == 415


# -- auth, limits, availability ---------------------------------------------------------------


async def test_missing_or_invalid_token_is_401(gw: Harness) -> None:
    assert (await post(gw, "/v1/scans", scan(gw), bearer=None)).status_code == 401
    assert (await post(gw, "/v1/scans", scan(gw), bearer="garbage")).status_code == 401
    other = mint_staff_token("another-secret-of-enough-length-000000", "x", "admin")
    assert (await post(gw, "/v1/scans", scan(gw), bearer=other)).status_code == 401


async def test_staff_token_is_403(gw: Harness) -> None:
    staff = mint_staff_token(gw.secret, "alice", "epidemiologist")
    assert (await post(gw, "/v1/scans", scan(gw), bearer=staff)).status_code == 403
    decl = await post(gw, "/v1/declarations", {}, bearer=staff)
    assert decl.status_code == 403


async def test_device_rate_limit_is_429_with_retry_after() -> None:
    async with harness(rate_limits="device=1:3") as h:
        statuses = [(await post(h, "/v1/scans", scan(h))).status_code for _ in range(4)]
        assert statuses == [202, 202, 202, 429]
        limited = await post(h, "/v1/scans", scan(h))
        assert int(limited.headers["retry-after"]) >= 1
        # Another device is not affected.
        other_token = h.device_token("p-2", device_id="dev-2")
        other = await post(h, "/v1/scans", scan(h, person="p-2"), bearer=other_token)
        assert other.status_code == 202


async def test_unavailable_storage_is_503_and_nothing_counts(gw: Harness) -> None:
    item = scan(gw)
    gw.publisher.available = False
    response = await post(gw, "/v1/scans", [item, scan(gw)])
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    gw.publisher.available = True
    retried = await post(gw, "/v1/scans", item)
    assert retried.json() == {"accepted": 1, "duplicates": 0, "rejected": []}


# -- /v1/declarations -------------------------------------------------------------------------


def declaration(**over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "declaration_id": new_scan_id(),
        "person_id": "p-1",
        "declared_at": now_ms(),
        "symptoms": ["fever", "cough"],
        "note": "tired",
    }
    item.update(over)
    return item


@pytest.mark.parametrize("fmt", FORMATS)
async def test_declaration_accepted_once(gw: Harness, fmt: str) -> None:
    item = declaration()
    response = await post(gw, "/v1/declarations", item, fmt)
    assert response.status_code == 202
    assert response.json()["accepted"] == 1
    again = await post(gw, "/v1/declarations", item, fmt)
    assert again.json()["duplicates"] == 1
    [(topic, key, _)] = gw.publisher.records
    assert (topic, key) == ("declarations.v1", b"p-1")


@pytest.mark.parametrize("fmt", FORMATS)
async def test_declaration_rejections(gw: Harness, fmt: str) -> None:
    cases = [
        declaration(person_id="p-2"),
        declaration(declaration_id="x"),
        declaration(declared_at=now_ms() + 3_600_000),
        declaration(symptoms="fever"),
    ]
    for item in cases:
        assert (await post(gw, "/v1/declarations", item, fmt)).status_code == 422
    assert (await post(gw, "/v1/declarations", None, fmt, raw=b"\xc1[")).status_code == 400
    assert (await post(gw, "/v1/declarations", item, bearer=None)).status_code == 401
    plain = await post(gw, "/v1/declarations", item, content_type="text/csv")
    assert plain.status_code == 415


async def test_declaration_503_when_storage_unavailable(gw: Harness) -> None:
    gw.publisher.available = False
    response = await post(gw, "/v1/declarations", declaration())
    assert response.status_code == 503
    assert "retry-after" in response.headers


# -- operations -------------------------------------------------------------------------------


async def test_metrics_and_openapi(gw: Harness) -> None:
    await post(gw, "/v1/scans", scan(gw))
    await post(gw, "/v1/scans", scan(gw, person="p-3"))
    text = (await gw.client.get("/metrics")).text
    for name in (
        "scantrace_gateway_requests_total",
        "scantrace_gateway_request_duration_seconds_bucket",
        "scantrace_gateway_scans_total",
        "scantrace_gateway_scans_rejected_total",
        "scantrace_gateway_scan_clock_skew_seconds_bucket",
    ):
        assert name in text
    assert 'scantrace_gateway_requests_total{route="/v1/scans",status="202"}' in text
    assert 'scantrace_gateway_scans_rejected_total{reason="person_mismatch"}' in text
    spec = (await gw.client.get("/openapi.json")).json()
    assert {"/v1/scans", "/v1/declarations", "/v1/devices"} <= set(spec["paths"])
    assert (await gw.client.get("/healthz")).status_code == 200
    assert (await gw.client.get("/readyz")).status_code == 200
