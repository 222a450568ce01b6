"""Issue #14 findings of the reporter, with a real Kafka and a real Redis: far dates refused at the
API and dead-lettered by the consumer (5), the CSV row limit checked before any day is listed
(12), odd batch items judged one by one; nothing is published for a refused request."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from scantrace_common.events import (
    DeclarationEvent,
    QuarantineEvent,
    ScanEvent,
    VenueEvent,
    encode,
)
from scantrace_common.kafka import DurableProducer
from scantrace_common.qr import QrSigner
from scantrace_common.timeparse import local_date
from scantrace_common.topics import (
    DECLARATIONS,
    QUARANTINES,
    SCANS,
    UNITS,
    VENUES,
    dlq_of,
    topic_name,
)
from tests.support.reporter import ADMIN, new_signer, running_reporter, wait_until

pytestmark = pytest.mark.integration
TZ = "Asia/Ho_Chi_Minh"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """ReporterSettings fields a test changes (parametrize this fixture to change them)."""
    return {}


@pytest.fixture
async def client(
    redis_url: str, kafka_bootstrap: str, namespace: str, settings_overrides: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    signer: QrSigner = new_signer()
    async with running_reporter(
        redis_url=redis_url,
        kafka_bootstrap=kafka_bootstrap,
        namespace=namespace,
        signer=signer,
        **settings_overrides,
    ) as test_client:
        assert (
            await test_client.post(
                "/v1/units",
                json={"unit_id": "P", "name": "P", "parent_id": None, "level": "province"},
                headers=ADMIN,
            )
        ).status_code == 201
        yield test_client


def today() -> date:
    return local_date(int(time.time() * 1000), TZ)


async def records_in(kafka_bootstrap: str, topic: str) -> int:
    """How many records the topic holds (sum of its partitions' end offsets)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap)  # fetches its metadata
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        assert partitions, f"no topic {topic}"
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values())
    finally:
        await consumer.stop()


async def read_all(
    kafka_bootstrap: str, topic: str, want: int
) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    got: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + 30
        while len(got) < want and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            got.extend(r for part in batch.values() for r in part)
    finally:
        await consumer.stop()
    return got


FAR = [
    ("9999-12-01", "9999-12-31"),  # the finding: 201, then OverflowError in the consumer
    ("0001-01-01", "0001-01-02"),
    ("2500-01-01", "2500-01-05"),  # computable, but not within a year of today
]


async def test_finding_5_far_dates_are_refused_and_nothing_is_published(
    client: httpx.AsyncClient, kafka_bootstrap: str, namespace: str
) -> None:
    day = today()
    periods = [
        *FAR,
        ((day - timedelta(days=367)).isoformat(), day.isoformat()),
        (day.isoformat(), (day + timedelta(days=367)).isoformat()),
        ("2021-02-30", "2021-03-01"),
    ]
    for first, last in periods:
        body = {"person_id": "p1", "unit_id": "P", "from": first, "to": last}
        answer = await client.post("/v1/quarantines", json=body, headers=ADMIN)
        assert answer.status_code == 422, (first, last, answer.text)
        assert set(answer.json()) == {"error"}
    assert await records_in(kafka_bootstrap, topic_name(QUARANTINES, namespace)) == 0

    for params in (
        {"unit_id": "P", "from": "9999-12-31", "to": "9999-12-31"},  # the finding: 500
        {"unit_id": "P", "from": "0001-01-01", "to": "9998-12-31"},
        {"unit_id": "P", "from": (day - timedelta(days=60)).isoformat(), "to": day.isoformat()},
    ):
        answer = await client.get("/v1/compliance.csv", params=params, headers=ADMIN)
        assert answer.status_code == 422, (params, answer.text)
        assert set(answer.json()) == {"error"}
    for far_day in ("9999-12-31", "0001-01-01", "9999-99-99", "２０２１-05-17"):
        answer = await client.get(
            "/v1/compliance", params={"unit_id": "P", "date": far_day}, headers=ADMIN
        )
        assert answer.status_code == 422, (far_day, answer.text)

    # What stays accepted: a late registration of a quarantine under way, a year ahead.
    for first, last in (
        ((day - timedelta(days=30)).isoformat(), (day + timedelta(days=5)).isoformat()),
        (day.isoformat(), (day + timedelta(days=366)).isoformat()),
    ):
        body = {"person_id": "p2", "unit_id": "P", "from": first, "to": last}
        assert (await client.post("/v1/quarantines", json=body, headers=ADMIN)).status_code == 201
    week = {"unit_id": "P", "from": (day - timedelta(days=7)).isoformat(), "to": day.isoformat()}
    assert (await client.get("/v1/compliance.csv", params=week, headers=ADMIN)).status_code == 200


async def test_finding_5_a_quarantine_event_with_far_dates_is_dead_lettered(
    client: httpx.AsyncClient, kafka_bootstrap: str, namespace: str
) -> None:
    day = today()
    now = int(time.time() * 1000)
    poison = [
        QuarantineEvent(
            person_id=f"bad{i}", unit_id="P", from_date=first, to_date=last, registered_at=now
        )
        for i, (first, last) in enumerate(FAR)
    ]
    good = QuarantineEvent(
        person_id="good",
        unit_id="P",
        from_date=day.isoformat(),
        to_date=day.isoformat(),
        registered_at=now,
    )
    topic = topic_name(QUARANTINES, namespace)
    producer = DurableProducer(kafka_bootstrap, ack_timeout_s=20)
    await producer.start()
    try:
        # published as a careless producer would: straight to the topic, bypassing the API
        await producer.send_batch(topic, [(e.person_id.encode(), encode(e)) for e in poison])
        await producer.send_batch(topic, [(b"good", encode(good))])
    finally:
        await producer.stop()

    async def counted() -> bool:
        answer = await client.get(
            "/v1/compliance", params={"unit_id": "P", "date": day.isoformat()}, headers=ADMIN
        )
        return bool(answer.json()["quarantined"] == 1)

    await wait_until(counted)
    dead = await read_all(kafka_bootstrap, dlq_of(topic), len(poison))
    assert sorted(r.key for r in dead) == sorted(e.person_id.encode() for e in poison)
    for record in dead:
        reason = dict(record.headers)["dlq.reason"].decode()
        assert reason.startswith("DayRefused"), reason
        assert "outside" in reason, reason
    assert (await client.get("/readyz")).status_code == 200  # the consumer kept going


async def test_scans_declarations_and_venues_of_no_countable_day_are_dead_lettered(
    client: httpx.AsyncClient, kafka_bootstrap: str, namespace: str
) -> None:
    last_ms = 253_402_300_799_999  # the largest time an event may carry: year 10000 in +07:00
    now = int(time.time() * 1000)
    assert (
        await client.post(
            "/v1/venues",
            json={"venue_id": "v1", "name": "V", "kind": "shop", "unit_id": "P"},
            headers=ADMIN,
        )
    ).status_code == 201

    def scan(at: int) -> ScanEvent:
        return ScanEvent(
            scan_id=str(uuid.uuid4()),
            person_id="p1",
            venue_id="v1",
            direction="in",
            scanned_at=at,
            received_at=at,
            device_id="d1",
        )

    def declaration(at: int) -> DeclarationEvent:
        return DeclarationEvent(
            declaration_id=str(uuid.uuid4()),
            person_id="q1",
            declared_at=at,
            received_at=at,
            device_id="d1",
        )

    far_venue = VenueEvent(
        venue_id="vfar", name="far", kind="shop", unit_id="P", registered_at=last_ms
    )
    quarantine = QuarantineEvent(
        person_id="q1",
        unit_id="P",
        from_date=today().isoformat(),
        to_date=today().isoformat(),
        registered_at=now,
    )
    scans_topic, declarations_topic = (
        topic_name(SCANS, namespace),
        topic_name(DECLARATIONS, namespace),
    )
    venues_topic = topic_name(VENUES, namespace)
    producer = DurableProducer(kafka_bootstrap, ack_timeout_s=20)
    await producer.start()
    try:
        await producer.send_batch(venues_topic, [(b"vfar", encode(far_venue))])
        await producer.send_batch(topic_name(QUARANTINES, namespace), [(b"q1", encode(quarantine))])
        for at in (last_ms, now):  # the poison first, then a good one behind it
            await producer.send_batch(scans_topic, [(b"v1", encode(scan(at)))])
            await producer.send_batch(declarations_topic, [(b"q1", encode(declaration(at)))])
    finally:
        await producer.stop()

    async def counted() -> bool:
        answer = await client.get(
            "/v1/compliance", params={"unit_id": "P", "date": today().isoformat()}, headers=ADMIN
        )
        body = answer.json()
        return bool(body["scans"] == 1 and body["declarations_done"] == 1)

    await wait_until(counted)
    for topic in (scans_topic, declarations_topic, venues_topic):
        (dead,) = await read_all(kafka_bootstrap, dlq_of(topic), 1)
        assert dict(dead.headers)["dlq.reason"].decode(), topic
    assert (await client.get("/v1/venues/vfar", headers=ADMIN)).status_code == 404
    assert (await client.get("/readyz")).status_code == 200


@pytest.mark.parametrize("settings_overrides", [{"csv_max_rows": 10}])
async def test_finding_12_the_csv_row_limit_is_checked_before_any_day_is_listed(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scantrace_reporter.routes import compliance

    def never(*_: object) -> object:
        raise AssertionError("the days were listed before the row limit was checked")

    monkeypatch.setattr(compliance, "days_between", never)
    day = today()
    params = {"unit_id": "P", "from": (day - timedelta(days=10)).isoformat(), "to": day.isoformat()}
    answer = await client.get("/v1/compliance.csv", params=params, headers=ADMIN)
    assert answer.status_code == 422, answer.text
    assert "more than 10 rows" in answer.json()["error"]


async def test_odd_batch_items_are_judged_one_by_one_and_only_the_created_are_published(
    client: httpx.AsyncClient, kafka_bootstrap: str, namespace: str
) -> None:
    odd_units: list[Any] = [
        {"unit_id": "alice\n", "name": "x", "level": "commune", "parent_id": "P"},
        {"unit_id": "S", "name": "self", "level": "commune", "parent_id": "S"},
        {"unit_id": "x" * 65, "name": "x", "level": "commune"},
        {"unit_id": "N", "name": "x\ud800", "level": "commune"},
        {"unit_id": "L", "name": "x", "level": ["commune"]},
        {"unit_id": "E", "name": "x", "level": "commune", "parent_id": "P", "extra": {"a": [1]}},
        {"unit_id": "C", "name": "child", "level": "commune", "parent_id": "P"},
        {"unit_id": "C", "name": "again", "level": "commune", "parent_id": "P"},
        {},
    ]
    answer = await client.post(
        "/v1/units/batch",
        content=json.dumps(odd_units),  # ASCII-escaped: the lone surrogate reaches the server
        headers={**ADMIN, "content-type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [c["index"] for c in body["created"]] == [6]
    assert [(r["index"], r["status"]) for r in body["rejected"]] == [
        (0, 422),
        (1, 422),
        (2, 422),
        (3, 422),
        (4, 422),
        (5, 422),
        (7, 409),
        (8, 422),
    ]
    odd_venues: list[Any] = [
        {"name": "v", "kind": "shop", "unit_id": "P", "default_dwell_minutes": 10**30},
        {"name": "v", "kind": "shop", "unit_id": "P", "default_dwell_minutes": True},
        {"name": "v", "kind": "shop", "unit_id": "P", "default_dwell_minutes": 1.5},
        {"name": "v", "kind": "shop", "unit_id": "P", "venue_id": ""},
        {"name": "v", "kind": "SHOP", "unit_id": "P"},
        {"name": "\u200b", "kind": "shop", "unit_id": "P"},
        {"name": "Quán ☕ 🍜", "kind": "cafe", "unit_id": "C", "venue_id": "-v_1"},
    ]
    answer = await client.post("/v1/venues/batch", json=odd_venues, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    rejected = [r["index"] for r in body["rejected"]]
    assert rejected == [0, 2, 3, 4], body
    assert all(r["status"] == 422 for r in body["rejected"])
    assert await records_in(kafka_bootstrap, topic_name(UNITS, namespace)) == 2  # P and C
    assert await records_in(kafka_bootstrap, topic_name(VENUES, namespace)) == len(body["created"])
    for not_a_list in ({"unit_id": "x"}, "x", None, [1, "x", None]):
        answer = await client.post("/v1/units/batch", json=not_a_list, headers=ADMIN)
        assert answer.status_code == 422, (not_a_list, answer.text)


async def test_odd_names_and_ids_print_and_export(client: httpx.AsyncClient) -> None:
    venues = [
        {"venue_id": "._.", "name": "\u0301" * 200, "kind": "shop", "unit_id": "P"},
        {"venue_id": "-x", "name": "W" * 200, "kind": "other", "unit_id": "P"},
        {
            "venue_id": "rtl",
            "name": "\u202e\u0645\u0637\u0639\u0645 <b>&amp;",
            "kind": "cafe",
            "unit_id": "P",
        },
        {"venue_id": "ctl", "name": "a\x00b\x07c\x7f", "kind": "market", "unit_id": "P"},
    ]
    answer = await client.post("/v1/venues/batch", json=venues, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    created = [c["venue_id"] for c in answer.json()["created"]]
    for venue_id in created:
        for kind in ("qr.svg", "qr.png"):
            poster = await client.get(f"/v1/venues/{venue_id}/{kind}", headers=ADMIN)
            assert poster.status_code == 200, (venue_id, kind, poster.text[:200])
    archive = await client.get("/v1/units/P/posters.zip", params={"format": "png"}, headers=ADMIN)
    assert archive.status_code == 200
    day = today().isoformat()
    exported = await client.get(
        "/v1/compliance.csv", params={"unit_id": "P", "from": day, "to": day}, headers=ADMIN
    )
    assert exported.status_code == 200
    assert len(created) == len(venues)
    for path in ("/v1/venues/a%0A", "/v1/units/a%0A/posters.zip", "/v1/venues/" + "x" * 65):
        assert (await client.get(path, headers=ADMIN)).status_code == 422, path
