"""SPEC 11 end to end: scans and a declaration posted to the real gateway, three cases opened on
the real tracer; its worker consumes declarations.v1 (the Faust agent), so the contact's
follow-up shows the declared day, and the venue shows a cluster of the three cases."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest

from scantrace_common.timeparse import day_bounds, format_time, local_date
from tests.e2e.conftest import E2EStack

pytestmark = pytest.mark.e2e

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
TZ = "Asia/Ho_Chi_Minh"


def _enrol(gw: httpx.Client, person: str) -> dict[str, str]:
    enrol = gw.post("/v1/devices", json={"person_id": person})
    assert enrol.status_code == 201, enrol.text
    return {"Authorization": f"Bearer {enrol.json()['token']}"}


def _until(check: Callable[[], bool], what: str) -> None:
    """Eventual consistency through Kafka: poll, bounded."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"not reached: {what}")


def test_follow_up_statuses_and_a_cluster_from_the_gateway(
    e2e_stack: E2EStack, gateway_url: str, tracer_url: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    venue = f"ven-{tag}"
    qr = e2e_stack.signer.sign(venue)
    base = (time.time_ns() // 1_000_000 // MIN) * MIN - 3 * DAY
    cases_of = [f"k1-{tag}", f"k2-{tag}", f"k3-{tag}"]
    contact = f"f-{tag}"
    exposure_day = local_date(base + HOUR, TZ)
    declared_day = exposure_day + timedelta(days=1)
    with httpx.Client(base_url=gateway_url, timeout=30) as gw:
        for person in [*cases_of, contact]:
            auth = _enrol(gw, person)
            body = [
                {
                    "scan_id": str(uuid.uuid4()),
                    "person_id": person,
                    "qr": qr,
                    "direction": direction,
                    "scanned_at": at,
                }
                for direction, at in (("in", base), ("out", base + HOUR))
            ]
            posted = gw.post("/v1/scans", json=body, headers=auth)
            assert posted.status_code == 202, posted.text
            if person == contact:
                declared = gw.post(
                    "/v1/declarations",
                    json={
                        "declaration_id": str(uuid.uuid4()),
                        "person_id": person,
                        "declared_at": day_bounds(declared_day, TZ)[0] + 12 * HOUR,
                        "symptoms": ["cough"],
                    },
                    headers=auth,
                )
                assert declared.status_code in (200, 201, 202), declared.text
    auth = {"Authorization": f"Bearer {e2e_stack.token('epidemiologist')}"}
    now = time.time_ns() // 1_000_000
    with httpx.Client(base_url=tracer_url, timeout=30, headers=auth) as tracer:
        window = {"from": base - HOUR, "to": base + 2 * HOUR}

        def all_visits() -> bool:
            got = tracer.get(f"/v1/venues/{venue}/visits", params=window).json()
            return len(got["visits"]) == 4

        _until(all_visits, "the four visits")
        case_ids = []
        for person in cases_of:
            opened = tracer.post(
                "/v1/cases",
                json={"person_id": person, "infectious_from": base - DAY, "infectious_to": now},
            )
            assert opened.status_code == 202, opened.text
            case_id: str = opened.json()["case_id"]

            def done(case_id: str = case_id) -> bool:
                return bool(tracer.get(f"/v1/cases/{case_id}").json()["status"] == "done")

            _until(done, f"case {case_id} done")
            case_ids.append(case_id)
        follow: dict[str, object] = {}

        def declared_is_seen() -> bool:
            nonlocal follow
            got = tracer.get("/v1/follow-ups", params={"case_id": case_ids[0]}).json()
            follow = next(r for r in got["follow_ups"] if r["person_id"] == contact)
            days: list[dict[str, str]] = follow["days"]  # type: ignore[assignment]
            return {"date": str(declared_day), "status": "seen_unwell"} in days

        _until(declared_is_seen, "the contact's declaration in its follow-up")
        assert follow["until"] == str(exposure_day + timedelta(days=14))
        assert follow["status"] == "active"
        listed = tracer.get("/v1/follow-ups", params={"case_id": case_ids[0]}).json()
        assert sorted(r["person_id"] for r in listed["follow_ups"]) == sorted(
            [*cases_of[1:], contact]
        )
        clusters = tracer.get(
            "/v1/clusters", params={"from": format_time(base - DAY), "to": format_time(now)}
        ).json()["clusters"]
    mine = [c for c in clusters if c["venue_id"] == venue]
    start = base // HOUR * HOUR
    end = -(-(base + HOUR) // HOUR) * HOUR
    assert [(c["start"], c["end"], c["cases"], c["status"]) for c in mine] == [
        (format_time(start), format_time(end), sorted(case_ids), "open")
    ]
