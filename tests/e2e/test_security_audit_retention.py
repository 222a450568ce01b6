"""The audit log and the retention period.

Audit: every epidemiologist call to the tracer leaves exactly one `audit.v1` record saying who
(staff id, role), what (action, method, path, person or venue) and when.
Retention: scans older than the retention period never reach Redis, the keys that hold
personal data expire within the retention (plus a day), and the sweep removes what aged past it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Literal

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from scantrace_common.events import AuditEvent, ScanEvent, decode, encode
from scantrace_common.redis_client import connect
from scantrace_common.topics import AUDIT, SCANS, topic_name
from scantrace_tracer.keys import Keys
from scantrace_tracer.store import TracerStore
from tests.chaos.kafka_log import read_values
from tests.chaos.stack import save_result

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

DAY_MS = 86_400_000


def audit_records(bootstrap: str, namespace: str, staff_id: str) -> list[AuditEvent]:
    values = asyncio.run(read_values(bootstrap, topic_name(AUDIT, namespace)))
    events = [decode(AuditEvent, value) for value in values]
    return [e for e in events if e.staff_id == staff_id]


def test_one_audit_record_per_epidemiologist_call(
    request: pytest.FixtureRequest, tracer_url: str, kafka_bootstrap: str
) -> None:
    stack = request.getfixturevalue("e2e_stack")
    sub = f"epi-audit-{uuid.uuid4().hex[:8]}"
    token = stack.token("epidemiologist", sub=sub)
    now = int(time.time() * 1000)
    window = {"from": now - 3_600_000, "to": now}
    calls: list[tuple[str, str, dict[str, Any] | None, str | None, str | None]] = [
        ("GET", "/v1/persons/audit-p1/visits", window, "audit-p1", None),
        ("GET", "/v1/persons/audit-p2/exposures", window, "audit-p2", None),
        ("GET", "/v1/venues/audit-v1/visits", window, None, "audit-v1"),
        ("GET", "/v1/venues/audit-v2/occupancy", None, None, "audit-v2"),
        ("GET", "/v1/persons/audit-p1/visits", {"from": "not-a-time", "to": 1}, "audit-p1", None),
    ]
    started = int(time.time() * 1000)
    statuses = []
    with httpx.Client(base_url=tracer_url, timeout=30) as client:
        for method, path, params, _, _ in calls:
            response = client.request(
                method, path, params=params, headers={"authorization": f"Bearer {token}"}
            )
            statuses.append(response.status_code)
        # Denied calls (wrong role) are counted as a figure: SPEC asks for "every call".
        official = stack.token("official", sub=f"{sub}-official")
        denied = client.get(
            "/v1/persons/audit-p1/visits",
            params=window,
            headers={"authorization": f"Bearer {official}"},
        )
    finished = int(time.time() * 1000)
    assert statuses == [200, 200, 200, 200, 422]
    assert denied.status_code == 403

    deadline = time.monotonic() + 60
    records = audit_records(kafka_bootstrap, stack.namespace, sub)
    while len(records) < len(calls) and time.monotonic() < deadline:
        time.sleep(1.0)
        records = audit_records(kafka_bootstrap, stack.namespace, sub)
    time.sleep(2.0)  # a straggler would show up as an extra record
    records = audit_records(kafka_bootstrap, stack.namespace, sub)
    denied_records = audit_records(kafka_bootstrap, stack.namespace, f"{sub}-official")
    save_result(
        "audit",
        {
            "epidemiologist_calls": len(calls),
            "audit_records": len(records),
            "denied_calls": 1,
            "denied_call_records": len(denied_records),
        },
    )
    assert len(records) == len(calls), records
    assert len(denied_records) == 1, denied_records
    assert denied_records[0].action == "refused"
    assert denied_records[0].status == 403
    by_path = sorted(records, key=lambda e: e.at)
    for event, (method, path, _, person, venue), status in zip(
        by_path, calls, statuses, strict=True
    ):
        assert event.role == "epidemiologist"
        assert event.method == method
        assert event.path == path
        assert event.action
        assert event.person_id == person
        assert event.venue_id == venue
        assert event.status == status
        assert started - 1000 <= event.at <= finished + 1000


async def _produce(bootstrap: str, topic: str, scans: list[ScanEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for scan in scans:
            await producer.send_and_wait(topic, encode(scan), key=scan.venue_id.encode())
    finally:
        await producer.stop()


async def _person_keys(redis_url: str, pattern: str) -> dict[str, int]:
    redis = connect(redis_url)
    try:
        return {key.decode(): await redis.ttl(key) async for key in redis.scan_iter(match=pattern)}
    finally:
        await redis.aclose()


def test_scans_past_the_retention_never_reach_redis_and_the_rest_expires(
    request: pytest.FixtureRequest, tracer_url: str, kafka_bootstrap: str, redis_url: str
) -> None:
    """Written straight to scans.v1 (the gateway would refuse them): a late upload cannot
    bring data older than the retention into Redis."""
    stack = request.getfixturevalue("e2e_stack")
    retention_days = 21
    h = uuid.uuid4().hex[:8]
    old, recent = f"ret{h}-old", f"ret{h}-recent"
    now = int(time.time() * 1000)
    venue = f"ret{h}-v"

    def scan(person: str, at: int, direction: Literal["in", "out"] = "in") -> ScanEvent:
        return ScanEvent(
            scan_id=str(uuid.uuid4()),
            person_id=person,
            venue_id=venue,
            direction=direction,
            scanned_at=at,
            received_at=now,
            device_id=f"dev-{person}",
        )

    past = now - (retention_days + 4) * DAY_MS
    scans = [scan(old, past), scan(old, past + 3_600_000, "out"), scan(recent, now - 600_000)]
    asyncio.run(_produce(kafka_bootstrap, topic_name(SCANS, stack.namespace), scans))

    epi = stack.token("epidemiologist")
    window = {"from": now - 30 * DAY_MS, "to": now}
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=tracer_url, timeout=30) as client:

        def visits(person: str) -> list[Any]:
            response = client.get(
                f"/v1/persons/{person}/visits",
                params=window,
                headers={"authorization": f"Bearer {epi}"},
            )
            assert response.status_code == 200, response.text
            result: list[Any] = response.json()["visits"]
            return result

        while not visits(recent):  # the marker, after the old scans in the same partition
            assert time.monotonic() < deadline, "the tracer never applied the recent scan"
            time.sleep(1.0)
        old_visits = visits(old)

    prefix = Keys(stack.namespace).prefix
    old_keys = asyncio.run(_person_keys(redis_url, f"{prefix}p:{{{old}}}:*"))
    recent_keys = asyncio.run(_person_keys(redis_url, f"{prefix}p:{{{recent}}}:*"))
    bound_s = (retention_days + 1) * 86_400
    save_result(
        "retention",
        {
            "retention_days": retention_days,
            "old_person_visits": len(old_visits),
            "old_person_keys": old_keys,
            "recent_person_key_ttls_s": recent_keys,
            "ttl_bound_s": bound_s,
        },
    )
    assert old_visits == []
    assert old_keys == {}
    assert recent_keys, "the recent person's keys are missing"
    assert all(0 < ttl <= bound_s for ttl in recent_keys.values()), recent_keys


async def test_the_sweep_removes_what_aged_past_the_retention(redis_url: str) -> None:
    """The store with a clock moved 22 days ahead: the sweep trims every aged scan and visit."""
    namespace = f"ret{uuid.uuid4().hex[:8]}."
    clock = {"now": int(time.time() * 1000)}
    redis = connect(redis_url)
    try:
        store = TracerStore(redis, Keys(namespace), retention_days=21, clock=lambda: clock["now"])
        base = clock["now"] - 3_600_000
        moves: list[tuple[Literal["in", "out"], int]] = [("in", 0), ("out", 60_000)]
        await store.apply_scans(
            [
                ScanEvent(
                    scan_id=str(uuid.uuid4()),
                    person_id="sweep-p",
                    venue_id="sweep-v",
                    direction=direction,
                    scanned_at=base + offset,
                    received_at=base,
                    device_id="d",
                )
                for direction, offset in moves
            ]
        )
        keys = Keys(namespace)
        assert await redis.zcard(keys.scan_log("sweep-p")) == 2
        assert await redis.zcard(keys.person_visits("sweep-p")) == 1
        clock["now"] += 22 * DAY_MS
        await store.sweep()
        assert await redis.zcard(keys.scan_log("sweep-p")) == 0
        assert await redis.zcard(keys.person_visits("sweep-p")) == 0
    finally:
        async for key in redis.scan_iter(match=f"{namespace}*"):
            await redis.unlink(key)
        await redis.aclose()
