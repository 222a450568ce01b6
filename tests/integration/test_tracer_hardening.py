"""Issue #14, the tracer's findings, against the session's real Kafka and Redis.

The tracer's app runs in this process (its lifespan: producer, Redis clients, pending cases
resumed; no stream worker), called through httpx's ASGI transport. Audit records are read back
from `audit.v1` right after each answer: a call is answered only once its record is
acknowledged, so the record is already in the log (no waiting).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import SecretStr

from scantrace_cli.stack import LocalRedis
from scantrace_common.auth import mint_staff_token
from scantrace_common.events import AuditEvent, CaseEvent, ScanEvent, decode
from scantrace_common.redis_client import connect
from scantrace_common.settings import DEFAULT_RETENTION_DAYS
from scantrace_common.topics import AUDIT, CASES, all_topic_specs, dlq_of, ensure_topics, topic_name
from scantrace_tracer.api import create_tracer_app
from scantrace_tracer.audit import AUDIT_UNAVAILABLE
from scantrace_tracer.keys import BUCKET_MS, Keys, bucket_of
from scantrace_tracer.settings import TracerSettings
from scantrace_tracer.store import TracerStore
from tests.chaos.kafka_log import read_values

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SECRET = "tracer-hardening-" + "s" * 32
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def _settings(kafka_bootstrap: str, redis_url: str, namespace: str, **extra: Any) -> TracerSettings:
    return TracerSettings(
        kafka_bootstrap=kafka_bootstrap,
        redis_url=redis_url,
        namespace=namespace,
        auth_secret=SecretStr(SECRET),
        tracer_worker=False,
        tracer_redis_readers=1,
        tracer_redis_lanes=1,
        **extra,
    )


@contextlib.asynccontextmanager
async def running_tracer(settings: TracerSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The tracer's app with its lifespan run, and a client calling it."""
    app = create_tracer_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://tracer") as client:
            yield client


def _auth(sub: str, role: str = "epidemiologist") -> dict[str, str]:
    return {"authorization": f"Bearer {mint_staff_token(SECRET, sub, role)}"}


async def _audit_records(kafka_bootstrap: str, namespace: str, sub: str) -> list[AuditEvent]:
    values = await read_values(kafka_bootstrap, topic_name(AUDIT, namespace))
    return [e for e in (decode(AuditEvent, v) for v in values) if e.staff_id == sub]


async def _topics_without(kafka_bootstrap: str, namespace: str, base: str) -> None:
    """Every topic of the namespace except `base` (and its dead-letter twin)."""
    gone = {topic_name(base, namespace), dlq_of(topic_name(base, namespace))}
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(s.name, s.partitions, 1, topic_configs=s.configs)
                for s in all_topic_specs(namespace, retention_days=DEFAULT_RETENTION_DAYS)
                if s.name not in gone
            ]
        )
    finally:
        await admin.close()


async def _delete_namespace(kafka_bootstrap: str, namespace: str, redis_url: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        mine = [
            s.name
            for s in all_topic_specs(namespace, retention_days=DEFAULT_RETENTION_DAYS)
            if s.name in existing
        ]
        await admin.delete_topics(mine)
    except Exception as exc:  # cleanup only: a broker that cannot delete keeps them
        logging.getLogger(__name__).warning("could not delete test topics: %r", exc)
    finally:
        await admin.close()
    redis = connect(redis_url)
    try:
        async for key in redis.scan_iter(match=f"{namespace}*"):
            await redis.unlink(key)
    finally:
        await redis.aclose()


@pytest.fixture
async def topics(kafka_bootstrap: str, redis_url: str, namespace: str) -> AsyncIterator[str]:
    """Every topic of a fresh namespace; topics and Redis keys removed afterwards."""
    await ensure_topics(kafka_bootstrap, namespace, retention_days=DEFAULT_RETENTION_DAYS)
    yield namespace
    await _delete_namespace(kafka_bootstrap, namespace, redis_url)


def _scan(person: str, venue: str, direction: str, at: int) -> ScanEvent:
    return msgspec.convert(
        {
            "scan_id": str(uuid.uuid4()),
            "person_id": person,
            "venue_id": venue,
            "direction": direction,
            "scanned_at": at,
            "received_at": at,
            "device_id": f"d-{person}",
        },
        ScanEvent,
    )


async def _two_persons_met(redis_url: str, namespace: str, now: int) -> None:
    """p-case and p-contact at one venue for an hour, two hours ago."""
    redis = connect(redis_url)
    try:
        store = TracerStore(redis, Keys(namespace))
        start = now - 2 * HOUR_MS
        await store.apply_scans(
            [
                _scan(person, "v-met", direction, start + offset)
                for person in ("p-case", "p-contact")
                for direction, offset in (("in", 0), ("out", HOUR_MS))
            ]
        )
    finally:
        await redis.aclose()


async def _open_case(client: httpx.AsyncClient, sub: str, person: str) -> httpx.Response:
    """POST /v1/cases for `person`, infectious over the last day."""
    now = int(time.time() * 1000)
    return await client.post(
        "/v1/cases",
        json={"person_id": person, "infectious_from": now - DAY_MS, "infectious_to": now},
        headers=_auth(sub),
    )


# -- finding 1 ---------------------------------------------------------------------------------


async def test_finding_1_an_exposure_query_is_answered_only_once_its_audit_record_is_acked(
    kafka_bootstrap: str, redis_url: str, namespace: str
) -> None:
    """audit.v1 missing (the broker cannot take the record): 503 and nothing of the answer;
    once it exists, the answer, and its record is already in the log when it arrives."""
    await _topics_without(kafka_bootstrap, namespace, AUDIT)
    try:
        now = int(time.time() * 1000)
        await _two_persons_met(redis_url, namespace, now)
        sub = f"epi-{uuid.uuid4().hex[:6]}"
        query = {"from": now - DAY_MS, "to": now}
        async with running_tracer(_settings(kafka_bootstrap, redis_url, namespace)) as client:
            # refused once the producer gives up on the batch (its ack timeout): the record was
            # never handed to the broker, so it cannot arrive later
            refused = await client.get(
                "/v1/persons/p-case/exposures", params=query, headers=_auth(sub)
            )
            assert refused.status_code == 503, refused.text
            assert refused.json() == {"error": AUDIT_UNAVAILABLE}
            assert "p-contact" not in refused.text
            assert int(refused.headers["retry-after"]) >= 1

            await ensure_topics(
                kafka_bootstrap, namespace, retention_days=DEFAULT_RETENTION_DAYS
            )  # creates audit.v1
            answered = await client.get(
                "/v1/persons/p-case/exposures", params=query, headers=_auth(sub)
            )
            records = await _audit_records(kafka_bootstrap, namespace, sub)
        assert answered.status_code == 200, answered.text
        assert [c["person_id"] for c in answered.json()["contacts"]] == ["p-contact"]
        assert [(r.action, r.person_id, r.status) for r in records] == [
            ("exposures", "p-case", 200)
        ]
    finally:
        await _delete_namespace(kafka_bootstrap, namespace, redis_url)


# -- finding 2 ---------------------------------------------------------------------------------


async def test_finding_2_calls_refused_by_validation_are_audited(
    kafka_bootstrap: str, redis_url: str, topics: str
) -> None:
    sub = f"epi-{uuid.uuid4().hex[:6]}"
    now = int(time.time() * 1000)
    window: dict[str, int | str] = {"from": now - HOUR_MS, "to": now}
    calls: list[tuple[str, dict[str, int | str] | None, str | None, str | None]] = [
        ("/v1/persons/p1/exposures", {**window, "depth": 3}, "p1", None),
        ("/v1/persons/a%20b/visits", window, None, None),
        ("/v1/persons/p1/visits", {"to": now}, "p1", None),
        ("/v1/venues/v1/visits", {"from": "yesterday", "to": now}, None, "v1"),
        ("/v1/venues/v%0A/occupancy", None, None, None),
    ]
    async with running_tracer(_settings(kafka_bootstrap, redis_url, topics)) as client:
        statuses = [
            (await client.get(path, params=params, headers=_auth(sub))).status_code
            for path, params, _, _ in calls
        ]
        records = await _audit_records(kafka_bootstrap, topics, sub)
    assert statuses == [422] * len(calls)
    assert [(r.path, r.person_id, r.venue_id, r.status) for r in records] == [
        (httpx.URL(path).path, person, venue, 422) for path, _, person, venue in calls
    ]
    assert all(r.role == "epidemiologist" for r in records)


async def test_finding_2_a_case_lookup_records_the_cases_person(
    kafka_bootstrap: str, redis_url: str, topics: str
) -> None:
    sub = f"epi-{uuid.uuid4().hex[:6]}"
    async with running_tracer(_settings(kafka_bootstrap, redis_url, topics)) as client:
        opened = await _open_case(client, sub, "p-sick")
        assert opened.status_code == 202, opened.text
        case_id = opened.json()["case_id"]
        found = await client.get(f"/v1/cases/{case_id}", headers=_auth(sub))
        missing = await client.get(f"/v1/cases/{uuid.uuid4()}", headers=_auth(sub))
        records = await _audit_records(kafka_bootstrap, topics, sub)
    assert (found.status_code, missing.status_code) == (200, 404)
    assert set(found.json()) == {"case_id", "status", "contacts"}
    assert [(r.action, r.person_id, r.status) for r in records] == [
        ("open_case", "p-sick", 202),
        ("get_case", "p-sick", 200),
        ("get_case", None, 404),
    ]


async def test_finding_2_a_redis_failure_is_audited_with_the_503_the_caller_gets(
    kafka_bootstrap: str, topics: str, tmp_path: Path
) -> None:
    """A Redis of this test's own, stopped while the tracer runs."""
    redis = LocalRedis(tmp_path, 0, persist=False)
    redis.start()
    sub = f"epi-{uuid.uuid4().hex[:6]}"
    now = int(time.time() * 1000)
    try:
        async with running_tracer(_settings(kafka_bootstrap, redis.address, topics)) as client:
            redis.stop()
            answer = await client.get(
                "/v1/persons/p1/visits",
                params={"from": now - HOUR_MS, "to": now},
                headers=_auth(sub),
            )
            records = await _audit_records(kafka_bootstrap, topics, sub)
    finally:
        redis.stop()
    assert answer.status_code == 503, answer.text
    assert "Redis" in answer.json()["error"]
    assert answer.headers["retry-after"] == "5"
    assert [(r.action, r.status) for r in records] == [("person_visits", 503)]


# -- finding 3 ---------------------------------------------------------------------------------


async def test_finding_3_windows_are_at_most_31_days(
    kafka_bootstrap: str, redis_url: str, topics: str
) -> None:
    sub = f"epi-{uuid.uuid4().hex[:6]}"
    now = int(time.time() * 1000)
    longest = {"from": now - 31 * DAY_MS, "to": now}
    too_long = {"from": now - 31 * DAY_MS - 1, "to": now}
    paths = ["/v1/persons/p1/visits", "/v1/persons/p1/exposures", "/v1/venues/v1/visits"]
    async with running_tracer(_settings(kafka_bootstrap, redis_url, topics)) as client:
        for path in paths:
            assert (await client.get(path, params=longest, headers=_auth(sub))).status_code == 200
            refused = await client.get(path, params=too_long, headers=_auth(sub))
            assert refused.status_code == 422, (path, refused.text)
            assert "31 days" in refused.json()["error"]
        years = await client.get(
            "/v1/venues/v1/visits",
            params={"from": "1970-01-01T00:00:00Z", "to": "9999-12-31T00:00:00Z"},
            headers=_auth(sub),
        )
        case = await client.post(
            "/v1/cases",
            json={"person_id": "p1", "infectious_from": too_long["from"], "infectious_to": now},
            headers=_auth(sub),
        )
    assert years.status_code == 422
    assert case.status_code == 422, case.text
    assert "31 days" in case.json()["error"]
    assert await read_values(kafka_bootstrap, topic_name(CASES, topics)) == []


# -- finding 4 ---------------------------------------------------------------------------------


async def test_finding_4_a_case_opened_by_any_staff_sub_publishes_an_event_in_the_schema(
    kafka_bootstrap: str, redis_url: str, topics: str
) -> None:
    sub = "Nguyễn Văn An@sở y tế"
    async with running_tracer(_settings(kafka_bootstrap, redis_url, topics)) as client:
        opened = await _open_case(client, sub, "p-sick")
    assert opened.status_code == 202, opened.text
    (value,) = await read_values(kafka_bootstrap, topic_name(CASES, topics))
    event = decode(CaseEvent, value)  # raises for an event outside the schema
    assert (event.case_id, event.opened_by) == (opened.json()["case_id"], sub)
    # a second start resumes whatever is still pending without failing
    async with running_tracer(_settings(kafka_bootstrap, redis_url, topics)):
        pass


async def test_finding_4_the_tracer_starts_past_an_undecodable_pending_case(
    kafka_bootstrap: str, redis_url: str, topics: str
) -> None:
    """What the landed code left behind (an `opened_by` outside the schema) and plain garbage:
    dead-lettered with the reason and dropped, and the tracer starts."""
    keys = Keys(topics)
    pending = f"{keys.prefix}cases:pending"
    outside = msgspec.msgpack.encode(
        {
            "v": 1,
            "case_id": str(uuid.uuid4()),
            "person_id": "bad id",
            "infectious_from": 0,
            "infectious_to": 1,
            "min_overlap_minutes": 15,
            "opened_by": "x",
            "at": int(time.time() * 1000),
        }
    )
    redis = connect(redis_url)
    try:
        await redis.hset(pending, mapping={"outside": outside, "garbage": b"\xc1\xff"})
        async with running_tracer(_settings(kafka_bootstrap, redis_url, topics)) as client:
            assert (await client.get("/healthz")).status_code == 200
        assert await redis.hlen(pending) == 0
    finally:
        await redis.aclose()
    dead = await read_values(kafka_bootstrap, dlq_of(topic_name(CASES, topics)))
    assert sorted(dead) == sorted([outside, b"\xc1\xff"])


# -- finding 9 ---------------------------------------------------------------------------------


async def test_finding_9_cases_are_kept_for_the_retention(
    kafka_bootstrap: str, redis_url: str, topics: str
) -> None:
    """The case's record and the pending hash expire within SCANTRACE_RETENTION_DAYS; the
    pending entry goes when the case is done; one older than the retention is dropped at the
    next start."""
    retention_s = 3 * 86_400
    keys = Keys(topics)
    pending = f"{keys.prefix}cases:pending"
    now = int(time.time() * 1000)
    stale = CaseEvent(
        case_id=str(uuid.uuid4()),
        person_id="p-old",
        infectious_from=now - 5 * DAY_MS,
        infectious_to=now - 4 * DAY_MS,
        opened_by="epi",
        at=now - 4 * DAY_MS,
    )
    settings = _settings(kafka_bootstrap, redis_url, topics, retention_days=3)
    redis = connect(redis_url)
    try:
        async with running_tracer(settings) as client:
            # left behind by a trace that failed four days ago (written after this start)
            await redis.hset(pending, stale.case_id, msgspec.msgpack.encode(stale))
            opened = await _open_case(client, "epi", "p1")
            assert opened.status_code == 202, opened.text
            case_id = opened.json()["case_id"]
            deadline = time.monotonic() + 60
            while (await client.get(f"/v1/cases/{case_id}", headers=_auth("epi"))).json()[
                "status"
            ] != "done":
                assert time.monotonic() < deadline, "the case was never traced"
                await asyncio.sleep(0.1)
            assert 0 < await redis.ttl(keys.case(case_id)) <= retention_s
            assert not await redis.hexists(pending, case_id)
            assert 0 < await redis.ttl(pending) <= retention_s
        async with running_tracer(settings):
            assert not await redis.hexists(pending, stale.case_id)
    finally:
        await redis.aclose()


async def test_finding_9_venue_buckets_expire_at_bucket_end_plus_the_retention(
    redis_url: str, namespace: str
) -> None:
    redis = connect(redis_url)
    keys = Keys(namespace)
    try:
        store = TracerStore(redis, keys, retention_days=21)
        now = int(time.time() * 1000)
        starts = [now - 20 * DAY_MS, now - 3 * HOUR_MS]
        await store.apply_scans(
            [_scan("p-b", "v-b", "in", at) for at in starts]
            + [_scan("p-b", "v-b", "out", at + HOUR_MS) for at in starts]
        )
        for at in starts:
            bucket = bucket_of(at)
            expires = await redis.expiretime(keys.venue_bucket("v-b", bucket))
            assert expires == (bucket + 1) * BUCKET_MS // 1000 + 21 * 86_400
    finally:
        async for key in redis.scan_iter(match=f"{namespace}*"):
            await redis.unlink(key)
        await redis.aclose()
