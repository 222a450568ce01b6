"""Issue #14, the tracer's findings that need no server: the audit batching, events checked
against their schema before they are published, the OpenAPI document's refusals.
(The rest, against real Kafka and Redis: tests/integration/test_tracer_hardening.py.)"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from scantrace_common.errors import ERROR_REF
from scantrace_common.events import AuditEvent, CaseEvent, InvalidEvent, decode, encode_valid
from scantrace_common.http import create_app
from scantrace_common.kafka import Item
from scantrace_common.settings import CommonSettings
from scantrace_tracer.audit import AUDIT_UNAVAILABLE, AuditMiddleware, AuditTrail, AuditUnavailable
from scantrace_tracer.gcpause import GcPause
from tests.e2e.test_security_roles import openapi_documents

pytestmark = pytest.mark.unit


class _Broker:
    """Stands in for the producer: holds each batch until told to acknowledge (or fail) it."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.release = asyncio.Event()
        self.failure: Exception | None = None

    async def send_batch(self, topic: str, items: Sequence[Item], **_: object) -> None:
        self.batches.append(len(items))
        await self.release.wait()
        if self.failure is not None:
            raise self.failure


def _event(n: int) -> AuditEvent:
    return AuditEvent(
        staff_id=f"epi-{n}",
        role="epidemiologist",
        action="exposures",
        method="GET",
        path="/v1/persons/p/exposures",
        person_id="p",
        status=200,
        at=1,
    )


async def test_finding_1_concurrent_calls_share_one_produce_batch() -> None:
    """50 calls arriving while a batch is in flight wait for one next batch, not 50 sends."""
    broker = _Broker()
    trail = AuditTrail(broker, "")  # type: ignore[arg-type]
    first = asyncio.create_task(trail.record(_event(0)))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(trail.record(_event(n))) for n in range(1, 51)]
    await asyncio.sleep(0)
    broker.release.set()
    await asyncio.gather(first, *rest)
    assert broker.batches == [1, 50]


async def test_finding_1_a_batch_not_acknowledged_refuses_every_call_in_it() -> None:
    broker = _Broker()
    broker.failure = ConnectionError("broker down")
    broker.release.set()
    trail = AuditTrail(broker, "")  # type: ignore[arg-type]
    results = await asyncio.gather(
        *(trail.record(_event(n)) for n in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, AuditUnavailable) for r in results), results


def test_finding_4_an_event_outside_its_schema_is_never_encoded_for_publishing() -> None:
    """msgspec builds the struct without checking it; `encode_valid` refuses it."""
    case = CaseEvent(
        case_id=str(uuid.uuid4()),
        person_id="not an id",
        infectious_from=0,
        infectious_to=1,
        opened_by="epi",
        at=1,
    )
    with pytest.raises(InvalidEvent):
        encode_valid(case)


def test_finding_4_cases_carry_the_staff_sub_as_audit_records_do() -> None:
    sub = "Trần Thị B@cdc.example"
    case = CaseEvent(
        case_id=str(uuid.uuid4()),
        person_id="p1",
        infectious_from=0,
        infectious_to=1,
        opened_by=sub,
        at=1,
    )
    assert decode(CaseEvent, encode_valid(case)).opened_by == sub


def test_every_v1_operation_documents_its_refusals_with_the_error_schema() -> None:
    paths = openapi_documents()["tracer"]["paths"]
    v1 = {(m, p): op for p, ops in paths.items() if p.startswith("/v1/") for m, op in ops.items()}
    assert len(v1) == 8
    for key, operation in v1.items():
        responses = operation["responses"]
        for status in ("401", "403", "404", "422", "503"):
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": ERROR_REF}, (key, status)
        assert "Retry-After" in responses["503"]["headers"], key


class _Trail:
    """Stands in for `AuditTrail`: keeps the records, or refuses them when `down`."""

    def __init__(self) -> None:
        self.records: list[AuditEvent] = []
        self.down = False

    async def record(self, event: AuditEvent) -> None:
        if self.down:
            raise AuditUnavailable("broker down")
        self.records.append(event)


def _refused_calls() -> float:
    return REGISTRY.get_sample_value("scantrace_tracer_audit_refused_calls_total") or 0.0


def _audited_app(trail: _Trail) -> FastAPI:
    app = create_app(
        title="t", settings=CommonSettings(environment="development"), readiness_checks={}
    )

    @app.get("/v1/persons/{person_id}/secret")
    async def secret(person_id: str) -> dict[str, str]:
        if person_id == "bug":
            raise RuntimeError("a bug")
        return {"secret": "contacts of " + person_id}

    app.state.audit, app.state.gc_pause = trail, GcPause()
    app.add_middleware(AuditMiddleware)
    return app


async def test_finding_2_an_unexpected_error_is_answered_and_audited_as_a_500() -> None:
    trail = _Trail()
    transport = httpx.ASGITransport(app=_audited_app(trail), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/v1/persons/bug/secret")
    assert (answer.status_code, set(answer.json())) == (500, {"error"})
    assert [(r.staff_id, r.person_id, r.status) for r in trail.records] == [
        ("anonymous", "bug", 500)
    ]


async def test_finding_1_an_answer_whose_record_is_refused_is_not_disclosed() -> None:
    trail = _Trail()
    trail.down = True
    refused_before = _refused_calls()
    transport = httpx.ASGITransport(app=_audited_app(trail), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/v1/persons/p1/secret")
    assert (answer.status_code, answer.json()) == (503, {"error": AUDIT_UNAVAILABLE})
    assert answer.headers["retry-after"] == "5"
    assert _refused_calls() == refused_before + 1
