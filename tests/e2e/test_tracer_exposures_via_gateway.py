"""Scans posted to the real gateway reach the real tracer through Kafka; exposures and visits
read back through the tracer's API equal tests/reference."""

from __future__ import annotations

import time
import uuid
from typing import Literal

import httpx
import pytest

from scantrace_common.timeparse import format_time
from tests.e2e.conftest import E2EStack
from tests.reference.contacts import reference_exposures
from tests.reference.model import Scan as RefScan
from tests.reference.visits import reference_visits

pytestmark = pytest.mark.e2e

MIN = 60_000


def _formatted(expected: dict[str, object]) -> dict[str, object]:
    """The reference's epoch-ms times as the API writes them (RFC 3339 UTC)."""
    out = dict(expected)
    out["from"] = format_time(int(expected["from"]))  # type: ignore[call-overload]
    out["to"] = format_time(int(expected["to"]))  # type: ignore[call-overload]
    contacts = []
    for c in expected["contacts"]:  # type: ignore[attr-defined]
        c = dict(c)
        c["encounters"] = [
            {**e, "start": format_time(e["start"]), "end": format_time(e["end"])}
            for e in c["encounters"]
        ]
        contacts.append(c)
    out["contacts"] = contacts
    return out


def test_scans_through_gateway_give_reference_exposures(
    e2e_stack: E2EStack, gateway_url: str, tracer_url: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    venue = f"ven-{tag}"
    qr = e2e_stack.signer.sign(venue)
    base = (time.time_ns() // 1_000_000 // MIN - 180) * MIN
    plan = {f"a-{tag}": (0, 40), f"b-{tag}": (10, 50), f"c-{tag}": (30, None)}
    scans: list[RefScan] = []
    with httpx.Client(base_url=gateway_url, timeout=30) as gw:
        for person, (t_in, t_out) in plan.items():
            enrol = gw.post("/v1/devices", json={"person_id": person})
            assert enrol.status_code == 201, enrol.text
            token = enrol.json()["token"]
            body = []
            moves: tuple[tuple[Literal["in", "out"], int | None], ...] = (
                ("in", t_in),
                ("out", t_out),
            )
            for direction, minute in moves:
                if minute is None:
                    continue
                scan = RefScan(str(uuid.uuid4()), person, venue, direction, base + minute * MIN)
                scans.append(scan)
                body.append(
                    {
                        "scan_id": scan.scan_id,
                        "person_id": person,
                        "qr": qr,
                        "direction": direction,
                        "scanned_at": scan.scanned_at,
                    }
                )
            posted = gw.post("/v1/scans", json=body, headers={"Authorization": f"Bearer {token}"})
            assert posted.status_code == 202, posted.text
            assert posted.json()["accepted"] == len(body)

    ref = reference_visits(scans, lambda _: 60)  # the venue is not registered: 60 minutes
    person = f"a-{tag}"
    t1, t2 = base - 60 * MIN, base + 240 * MIN
    expected = _formatted(reference_exposures(ref, person, t1, t2, 15, 2))
    auth = {"Authorization": f"Bearer {e2e_stack.token('epidemiologist')}"}
    got: dict[str, object] = {}
    with httpx.Client(base_url=tracer_url, timeout=30, headers=auth) as tracer:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            response = tracer.get(
                f"/v1/persons/{person}/exposures",
                params={"from": t1, "to": t2, "min_overlap_minutes": 15, "depth": 2},
            )
            assert response.status_code == 200, response.text
            got = response.json()
            if got == expected:
                break
            time.sleep(0.5)
        assert got == expected
        visits = tracer.get(f"/v1/venues/{venue}/visits", params={"from": t1, "to": t2}).json()
        assert [(v["person_id"], v["closed_by"]) for v in visits["visits"]] == [
            (v.person_id, v.closed_by)
            for v in sorted(
                (v for vs in ref.values() for v in vs), key=lambda v: (v.start, v.person_id)
            )
        ]
