"""What the tracer and reporter answer, against what `tests/reference` computes from the log.

Both sides are put in one normalised shape (times as epoch ms, visits sorted), so a whole set
of answers compares with `==` and the differing entries can be counted for the figures.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from scantrace_common.auth import mint_device_token
from scantrace_common.events import ScanEvent
from scantrace_common.timeparse import day_bounds, parse_time
from tests.chaos.world import TZ, World, bearer
from tests.reference.compliance import reference_compliance
from tests.reference.contacts import reference_exposures, reference_person_visits
from tests.reference.dwell import make_dwell
from tests.reference.model import Declaration, Quarantine, Scan
from tests.reference.visits import reference_visits

Answers = dict[str, Any]


@dataclass(frozen=True)
class Health:
    """Quarantines registered and declarations sent, for the compliance reference."""

    quarantines: list[Quarantine]
    declarations: list[Declaration]


def register_health(
    reporter_url: str,
    gateway_url: str,
    admin: str,
    secret: str,
    world: World,
    persons: list[str],
    today: date,
) -> Health:
    """Quarantine `persons` on `today` (the scans' day); two thirds of them declare on it."""
    quarantines, declarations = [], []
    midnight, next_midnight = day_bounds(today, TZ)
    # within the day even when the clock has passed midnight since the scans were planned
    declared_at = max(midnight, min(int(time.time() * 1000) - 60_000, next_midnight - 1))
    for i, person in enumerate(persons):
        unit = world.units[1 + i % 2].unit_id
        body = {"person_id": person, "unit_id": unit, "from": str(today), "to": str(today)}
        response = httpx.post(
            f"{reporter_url}/v1/quarantines", json=body, headers=bearer(admin), timeout=30
        )
        assert response.status_code == 201, response.text
        quarantines.append(Quarantine(person, unit, today, today))
        if i % 3 == 2:
            continue
        declaration = Declaration(str(uuid.uuid4()), person, declared_at)
        token = mint_device_token(secret, f"dev-{person}", person)
        response = httpx.post(
            f"{gateway_url}/v1/declarations",
            json={
                "declaration_id": declaration.declaration_id,
                "person_id": person,
                "declared_at": declaration.declared_at,
                "symptoms": [],
                "note": "",
            },
            headers=bearer(token),
            timeout=30,
        )
        assert response.status_code == 202, response.text
        declarations.append(declaration)
    return Health(quarantines, declarations)


def ms_times(value: Any) -> Any:
    if isinstance(value, list):
        return [ms_times(v) for v in value]
    if isinstance(value, dict):
        return {
            k: parse_time(v)
            if k in ("start", "end", "from", "to") and isinstance(v, str)
            else ms_times(v)
            for k, v in value.items()
        }
    return value


def _visit_rows(visits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # the full order of docs/rules.md: scans of one millisecond make visits equal but for closed_by
    return sorted(visits, key=lambda v: (v["start"], v["venue_id"], v["end"], v["closed_by"]))


def _strip_persons(figures: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """Compliance without `persons` (an estimate, SPEC: within 2 %), and the persons figures."""
    body = {k: v for k, v in figures.items() if k not in ("persons", "children")}
    persons = [figures["persons"]]
    children = []
    for child in figures.get("children", []):
        stripped, more = _strip_persons(child)
        children.append(stripped)
        persons += more
    body["children"] = children
    return body, persons


@dataclass(frozen=True)
class Probe:
    """Which questions to ask: every person's visits, some persons' exposures, the root's compliance."""

    persons: list[str]
    exposure_persons: list[str]
    day: date

    @classmethod
    def of(cls, persons: list[str], seed: int, day: date) -> Probe:
        """Ask about `day`, the scans' day: the clock may pass midnight while the test runs."""
        return cls(sorted(persons), random.Random(seed).sample(sorted(persons), 4), day)

    @property
    def window(self) -> tuple[int, int]:
        t1, t2 = day_bounds(self.day, TZ)
        return t1, t2 - 1


def expected_answers(world: World, scans: list[ScanEvent], health: Health, probe: Probe) -> Answers:
    ref_scans = [Scan(s.scan_id, s.person_id, s.venue_id, s.direction, s.scanned_at) for s in scans]
    visits = reference_visits(ref_scans, make_dwell(world.venues))
    t1, t2 = probe.window
    answers: Answers = {"visits": {}, "exposures": {}}
    for person in probe.persons:
        answers["visits"][person] = [
            {"venue_id": v.venue_id, "start": v.start, "end": v.end, "closed_by": v.closed_by}
            for v in reference_person_visits(visits, person, t1, t2)
        ]
    for person in probe.exposure_persons:
        for depth in (1, 2):
            answers["exposures"][f"{person}/{depth}"] = reference_exposures(
                visits, person, t1, t2, 15, depth
            )
    figures = reference_compliance(
        world.units,
        world.venues,
        ref_scans,
        health.quarantines,
        health.declarations,
        world.root,
        probe.day,
        TZ,
    )
    answers["compliance"], answers["persons"] = _strip_persons(figures)
    return answers


def read_answers(
    tracer_url: str, reporter_url: str, epi: str, admin: str, world: World, probe: Probe
) -> Answers:
    t1, t2 = probe.window
    answers: Answers = {"visits": {}, "exposures": {}}
    with httpx.Client(timeout=30) as client:

        def get(url: str, token: str, **params: Any) -> Any:
            response = client.get(url, params=params, headers=bearer(token))
            assert response.status_code == 200, (url, response.status_code, response.text)
            return response.json()

        for person in probe.persons:
            body = get(f"{tracer_url}/v1/persons/{person}/visits", epi, **{"from": t1, "to": t2})
            answers["visits"][person] = _visit_rows(ms_times(body["visits"]))
        for person in probe.exposure_persons:
            for depth in (1, 2):
                answers["exposures"][f"{person}/{depth}"] = ms_times(
                    get(
                        f"{tracer_url}/v1/persons/{person}/exposures",
                        epi,
                        **{"from": t1, "to": t2, "min_overlap_minutes": 15, "depth": depth},
                    )
                )
        figures = get(
            f"{reporter_url}/v1/compliance", admin, unit_id=world.root, date=str(probe.day)
        )
    answers["compliance"], answers["persons"] = _strip_persons(figures)
    return answers


def differences(got: Answers, want: Answers) -> dict[str, int]:
    """How many visit lists, exposure answers and compliance objects differ; persons within 2 %."""
    # A view still catching up may list fewer units: that is a difference, not an error.
    persons_off = abs(len(got["persons"]) - len(want["persons"])) + sum(
        1
        for g, w in zip(got["persons"], want["persons"], strict=False)
        if abs(g - w) > max(1, 0.02 * w)
    )
    return {
        "visits": sum(got["visits"].get(p) != v for p, v in want["visits"].items()),
        "exposures": sum(got["exposures"].get(k) != v for k, v in want["exposures"].items()),
        "compliance": int(got["compliance"] != want["compliance"]) + persons_off,
    }


def settle_answers(read: Any, want: Answers, timeout_s: float = 120.0) -> tuple[Answers, float]:
    """Poll until nothing differs (the consumers catch up); the last answers and the wait."""
    started = time.monotonic()
    while True:
        try:
            got = read()
        except (httpx.HTTPError, AssertionError) as exc:  # a service restarting, or down for good
            if time.monotonic() - started > timeout_s:
                raise AssertionError(f"no answers after {timeout_s:.0f} s: {exc!r}") from exc
            time.sleep(2.0)
            continue
        if not any(differences(got, want).values()) or time.monotonic() - started > timeout_s:
            return got, time.monotonic() - started
        time.sleep(2.0)
