"""SPEC 11 follow-up in the tracer, against the session's real Kafka and Redis.

Three persons meet a case's person, one of them meets a second case too; declarations go
through `declarations.v1` (read back and handed to the ingest as the worker's agent does), before
the cases are opened, and after they are done (late, and a symptom declared after a first "ok"
the same day). `GET /v1/follow-ups` answers by case and by day, and each new record registers a
quarantine on `quarantines.v1` when SCANTRACE_FOLLOW_UP_QUARANTINE is on.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from scantrace_common.events import DeclarationEvent, QuarantineEvent, decode, encode
from scantrace_common.kafka import DurableProducer
from scantrace_common.redis_client import connect
from scantrace_common.timeparse import day_bounds, local_date
from scantrace_common.topics import DECLARATIONS, QUARANTINES, dlq_of, topic_name
from scantrace_tracer.api import create_tracer_app
from scantrace_tracer.ingest import DeadLetter, Ingest, PoisonGuard, Record
from scantrace_tracer.keys import Keys
from scantrace_tracer.rebuild import rebuild
from scantrace_tracer.store import TracerStore, wall_clock_ms
from tests.chaos.kafka_log import read_values
from tests.integration.test_tracer_hardening import (
    DAY_MS,
    HOUR_MS,
    _audit_records,
    _auth,
    _scan,
    _settings,
    topics,  # noqa: F401 - the fixture
)
from tests.support.reporter import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TZ = "Asia/Ho_Chi_Minh"


@contextlib.asynccontextmanager
async def tracer_app(settings: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_tracer_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://tracer") as client:
            yield app, client


def app_ingest(app: FastAPI, namespace: str, dead_letter: DeadLetter) -> Ingest:
    """The worker's ingest over the app's stores (the tests hand it what its agents would)."""
    return Ingest(
        app.state.store,
        namespace=namespace,
        dead_letter=dead_letter,
        guard=PoisonGuard(max_ratio=1, window=10, min_invalid=50),
        group="test",
        follow_ups=app.state.follow_ups,
        clusters=app.state.clusters,
    )


def _noon(day: date) -> int:
    return day_bounds(day, TZ)[0] + 12 * HOUR_MS


def _declaration(person: str, at: int, symptoms: list[str]) -> DeclarationEvent:
    return DeclarationEvent(
        declaration_id=str(uuid.uuid4()),
        person_id=person,
        declared_at=at,
        received_at=at,
        device_id=f"d-{person}",
        symptoms=symptoms,
    )


async def _declare(
    kafka_bootstrap: str, namespace: str, app: FastAPI, items: list[DeclarationEvent | bytes]
) -> None:
    """To declarations.v1, then read back and applied by the ingest (what its agent does)."""
    topic = topic_name(DECLARATIONS, namespace)
    producer = DurableProducer(kafka_bootstrap, client_id="test-declarations")
    await producer.start()
    try:
        sent = [i if isinstance(i, bytes) else encode(i) for i in items]
        # sent first: a fresh topic's metadata may not be known to a reader yet
        await producer.send_batch(topic, [(b"k", v) for v in sent])
        mine = set(sent)
        values = [v for v in await read_values(kafka_bootstrap, topic) if v in mine]
        ingest = app_ingest(app, namespace, lambda t, kv, h: producer.send_batch(t, kv, headers=h))
        records = [Record(topic, 0, n, b"k", v) for n, v in enumerate(values)]
        await ingest.handle_declarations(records)
    finally:
        await producer.stop()


async def _met(
    redis_url: str, namespace: str, case: str, others: list[str], venue: str, at: int
) -> None:
    redis = connect(redis_url)
    try:
        await TracerStore(redis, Keys(namespace)).apply_scans(
            [
                _scan(person, venue, direction, at + offset)
                for person in [case, *others]
                for direction, offset in (("in", 0), ("out", HOUR_MS))
            ]
        )
    finally:
        await redis.aclose()


async def _open_done(client: httpx.AsyncClient, sub: str, person: str, now: int) -> str:
    opened = await client.post(
        "/v1/cases",
        json={"person_id": person, "infectious_from": now - 6 * DAY_MS, "infectious_to": now},
        headers=_auth(sub),
    )
    assert opened.status_code == 202, opened.text
    case_id: str = opened.json()["case_id"]

    async def done() -> bool:
        got = await client.get(f"/v1/cases/{case_id}", headers=_auth(sub))
        return bool(got.json()["status"] == "done")

    await wait_until(done)
    return case_id


def _expected_days(first: date, until: date, seen: dict[date, str], now: int) -> list[Any]:
    out = []
    day = first
    while day <= until:
        if day in seen:
            status = seen[day]
        else:
            status = "missed" if now >= day_bounds(day, TZ)[1] else "pending"
        out.append({"date": day.isoformat(), "status": status})
        day += timedelta(days=1)
    return out


# Ends with a rebuild, which reads each topic up to its end offsets: Tansu advances them by
# fewer than a batch's records, so a rebuild there stops early.
@pytest.mark.kafka_only
async def test_follow_ups_from_cases_and_declarations(
    kafka_bootstrap: str,
    redis_url: str,
    topics: str,  # noqa: F811 - the fixture
) -> None:
    sub = f"epi-{uuid.uuid4().hex[:6]}"
    now = wall_clock_ms()
    met_1, met_lost, met_2 = (
        now - 3 * DAY_MS - HOUR_MS,
        now - 4 * DAY_MS - HOUR_MS,
        now - 2 * DAY_MS,
    )
    await _met(redis_url, topics, "p-case1", ["p-a", "p-b"], "v-1", met_1)
    await _met(redis_url, topics, "p-case1", ["p-c"], "v-3", met_lost)
    await _met(redis_url, topics, "p-case2", ["p-a"], "v-2", met_2)
    e1, e_lost, e2 = (local_date(t + HOUR_MS, TZ) for t in (met_1, met_lost, met_2))
    settings = _settings(
        kafka_bootstrap, redis_url, topics, follow_up_quarantine=True, follow_up_unit="dn"
    )
    async with tracer_app(settings) as (app, client):
        # before any case: p-a declares the exposure day (not followed) and the day after
        await _declare(
            kafka_bootstrap,
            topics,
            app,
            [_declaration("p-a", _noon(e1), []), _declaration("p-a", _noon(e1 + timedelta(1)), [])],
        )
        case1 = await _open_done(client, sub, "p-case1", now)
        case2 = await _open_done(client, sub, "p-case2", now)
        # after: late declarations, a symptom after an "ok" the same day, and a poison event
        await _declare(
            kafka_bootstrap,
            topics,
            app,
            [
                _declaration("p-a", _noon(e1 + timedelta(2)), []),
                b"\x81\xa1v\x01",
                _declaration("p-a", _noon(e1 + timedelta(2)) + HOUR_MS, ["fever"]),
            ],
        )
        by_case = await client.get("/v1/follow-ups", params={"case_id": case1}, headers=_auth(sub))
        today = local_date(now, TZ)
        on_today = await client.get(
            "/v1/follow-ups", params={"date": str(today)}, headers=_auth(sub)
        )
        lost = await client.get(
            "/v1/follow-ups", params={"date": str(today), "status": "lost"}, headers=_auth(sub)
        )
        early = await client.get(
            "/v1/follow-ups", params={"date": str(e_lost + timedelta(1))}, headers=_auth(sub)
        )
        refused = [
            (await client.get("/v1/follow-ups", params=p, headers=_auth(sub))).status_code
            for p in (
                {},
                {"case_id": case1, "date": str(today)},
                {"case_id": case1, "status": "lost"},
                {"date": "0001-01-01"},
                {"date": "9999-12-31"},
            )
        ]
        records = await _audit_records(kafka_bootstrap, topics, sub)
    assert by_case.status_code == 200, by_case.text
    got = by_case.json()["follow_ups"]
    assert [(r["person_id"], r["case_id"], r["status"]) for r in got] == [
        ("p-a", case1, "active"),
        ("p-b", case1, "active"),
        ("p-c", case1, "lost"),
    ]
    a1, b1, c1 = got
    assert a1["until"] == str(e1 + timedelta(14))
    seen_a = {e1 + timedelta(1): "seen_ok", e1 + timedelta(2): "seen_unwell"}
    assert a1["days"] == _expected_days(e1 + timedelta(1), e1 + timedelta(14), seen_a, now)
    assert b1["days"] == _expected_days(e1 + timedelta(1), e1 + timedelta(14), {}, now)
    assert (a1["unseen_days"], c1["unseen_days"]) == (0, 3)
    listed = on_today.json()["follow_ups"]
    assert [(r["person_id"], r["case_id"]) for r in listed] == sorted(
        [("p-a", case1), ("p-a", case2), ("p-b", case1), ("p-c", case1)]
    )
    a2 = next(r for r in listed if r["case_id"] == case2)
    # the contact of two cases: one record per case, the same declarations
    assert a2["days"] == _expected_days(e2 + timedelta(1), e2 + timedelta(14), seen_a, now)
    assert [r["person_id"] for r in lost.json()["follow_ups"]] == ["p-c"]
    assert [r["person_id"] for r in early.json()["follow_ups"]] == ["p-c"]
    assert refused == [422] * 5
    follow_up_audit = [(r.person_id, r.status) for r in records if r.action == "follow_ups"]
    assert follow_up_audit[0] == ("p-case1", 200)
    assert [s for _, s in follow_up_audit] == [200] * 4 + [422] * 5
    quarantines = [
        decode(QuarantineEvent, v)
        for v in await read_values(kafka_bootstrap, topic_name(QUARANTINES, topics))
    ]
    assert sorted((q.person_id, q.unit_id, q.from_date, q.to_date) for q in quarantines) == sorted(
        [
            ("p-a", "dn", str(e1 + timedelta(1)), str(e1 + timedelta(14))),
            ("p-b", "dn", str(e1 + timedelta(1)), str(e1 + timedelta(14))),
            ("p-c", "dn", str(e_lost + timedelta(1)), str(e_lost + timedelta(14))),
            ("p-a", "dn", str(e2 + timedelta(1)), str(e2 + timedelta(14))),
        ]
    )
    dead = await read_values(kafka_bootstrap, dlq_of(topic_name(DECLARATIONS, topics)))
    assert dead == [b"\x81\xa1v\x01"]
    # Redis emptied of them, rebuilt from exposures.v1 and declarations.v1: the same answers
    report = await rebuild(settings)
    assert (report.exposure_events, report.declaration_events) == (4, 5)
    async with tracer_app(settings) as (_, client):
        again = await client.get("/v1/follow-ups", params={"case_id": case1}, headers=_auth(sub))
        again_today = await client.get(
            "/v1/follow-ups", params={"date": str(today)}, headers=_auth(sub)
        )
    assert again.json() == by_case.json()
    assert again_today.json() == on_today.json()
