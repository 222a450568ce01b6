"""Replayed real contacts (SocioPatterns hospital) through the real stack give the reference's visits and exposures."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from scantrace_cli.commands.replay import default_data_dir
from scantrace_cli.sim.driver import Endpoints, LiveDriver
from scantrace_cli.sim.prefix import prefixed
from scantrace_cli.sim.replay import load_dataset
from scantrace_common.timeparse import day_bounds
from tests.e2e.test_sim_against_reference import eventually, fixture_or_skip, ms_times, visit_key
from tests.reference.contacts import reference_exposures, reference_person_visits
from tests.reference.dwell import make_dwell
from tests.reference.model import Scan, Venue
from tests.reference.visits import reference_visits

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TZ = "Asia/Ho_Chi_Minh"
DATA = default_data_dir()


@pytest.mark.skipif(not DATA.is_dir(), reason=f"no data sets at {DATA}")
def test_replayed_hospital_matches_reference(request: pytest.FixtureRequest) -> None:
    gateway_url = fixture_or_skip(request, "gateway_url")
    tracer_url = fixture_or_skip(request, "tracer_url")
    reporter_url = fixture_or_skip(request, "reporter_url")
    stack = fixture_or_skip(request, "e2e_stack")
    epidemiologist = stack.token("epidemiologist")

    end = datetime.now(tz=ZoneInfo(TZ)).date() - timedelta(days=1)
    loaded = load_dataset("sociopatterns-hospital", DATA, end_date=end, tz=TZ, limit=4_000)
    workload = prefixed(loaded, f"rp{random.randrange(16**6):06x}-")
    driver = LiveDriver(
        workload,
        Endpoints(gateway_url, reporter_url, tracer_url),
        admin_token=stack.token("admin"),
        concurrency=8,
        progress=False,
    )
    result = asyncio.run(driver.run())
    assert result.stats.scans_rejected == 0, result.stats.reasons
    assert result.stats.scans_failed == 0, result.stats.reasons
    assert len(result.sent_scans) == len(workload.scans)

    venues = [
        Venue(v.venue_id, v.unit_id, v.kind, v.default_dwell_minutes, 0) for v in workload.venues
    ]
    scans = [
        Scan(s.scan_id, s.person_id, s.venue_id, s.direction, s.scanned_at)
        for s in result.sent_scans
    ]
    visits = reference_visits(scans, make_dwell(venues))
    t1 = day_bounds(datetime.fromisoformat(workload.first_date).date(), TZ)[0]
    t2 = day_bounds(end, TZ)[1] - 1

    client = httpx.Client(timeout=30.0, headers={"authorization": f"Bearer {epidemiologist}"})
    request.addfinalizer(client.close)

    def get(url: str, **params: Any) -> Any:
        response = client.get(url, params=params)
        assert response.status_code == 200, response.text
        return ms_times(response.json())

    rng = random.Random(5)
    persons = sorted(visits)
    for person in rng.sample(persons, min(6, len(persons))):
        want = [
            {"venue_id": v.venue_id, "start": v.start, "end": v.end, "closed_by": v.closed_by}
            for v in reference_person_visits(visits, person, t1, t2)
        ]

        def read_visits(person: str = person) -> Any:
            body = get(f"{tracer_url}/v1/persons/{person}/visits", **{"from": t1, "to": t2})
            return sorted(body["visits"], key=visit_key)

        assert eventually(read_visits, want) == want, person
    contacts_seen = 0
    for person in rng.sample(persons, min(3, len(persons))):
        exposures = reference_exposures(visits, person, t1, t2, 15, 2)
        contacts_seen += len(exposures["contacts"])

        def read_exposures(person: str = person) -> Any:
            return get(
                f"{tracer_url}/v1/persons/{person}/exposures",
                **{"from": t1, "to": t2, "min_overlap_minutes": 15, "depth": 2},
            )

        assert eventually(read_exposures, exposures) == exposures, person
    assert contacts_seen > 0, "the replayed ward should show co-presence"
