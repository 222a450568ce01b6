"""A small province for the fault tests: units and venues registered through the reporter, the
reference's view of them, and what the views answer (compliance, visits) for the checker."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from scantrace_common.events import ScanEvent
from scantrace_common.timeparse import day_bounds, local_date, parse_time
from tests.reference.model import Unit, Venue

TZ = "Asia/Ho_Chi_Minh"
KINDS = ("office", "shop", "market", "restaurant", "cafe", "school", "clinic", "transport")


@dataclass(frozen=True)
class World:
    prefix: str
    units: list[Unit]
    venues: list[Venue]

    @property
    def root(self) -> str:
        return self.units[0].unit_id

    @property
    def venue_ids(self) -> list[str]:
        return [v.venue_id for v in self.venues]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def register_world(reporter_url: str, admin: str, prefix: str, venues: int, seed: int) -> World:
    """A province with two districts and `venues` venues, registered through the reporter API."""
    rng = random.Random(seed)
    units = [
        Unit(f"{prefix}prov", None, "province", "Province"),
        Unit(f"{prefix}d1", f"{prefix}prov", "district", "District 1"),
        Unit(f"{prefix}d2", f"{prefix}prov", "district", "District 2"),
    ]
    with httpx.Client(base_url=reporter_url, headers=bearer(admin), timeout=30) as client:
        response = client.post(
            "/v1/units/batch",
            json=[
                {"unit_id": u.unit_id, "name": u.name, "parent_id": u.parent_id, "level": u.level}
                for u in units
            ],
        )
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == [], response.text
        wanted = [
            {
                "venue_id": f"{prefix}v{i:03d}",
                "name": f"Venue {i}",
                "kind": rng.choice(KINDS),
                "unit_id": units[1 + i % 2].unit_id,
            }
            for i in range(venues)
        ]
        response = client.post("/v1/venues/batch", json=wanted)
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == [], response.text
        registered = []
        for item in wanted:
            body = client.get(f"/v1/venues/{item['venue_id']}").json()
            registered.append(
                Venue(
                    item["venue_id"],
                    item["unit_id"],
                    item["kind"],
                    None,
                    parse_time(body["registered_at"]),
                )
            )
    return World(prefix, units, registered)


def scan_window_today(hours: float = 4.0) -> tuple[int, int]:
    """[start, end) in epoch ms: the last `hours` of today (local), ending a minute ago.

    Venues are registered now, so only scans of today count for compliance on both sides.
    """
    now = int(time.time() * 1000)
    today = datetime.now(tz=ZoneInfo(TZ)).date()
    midnight, _ = day_bounds(today, TZ)
    end = now - 60_000
    start = max(midnight, end - int(hours * 3_600_000))
    return start, max(end, start + 1)


def scans_per_day(scans: Iterable[ScanEvent], venue_ids: set[str]) -> Counter[date]:
    """Distinct scans per local day at the world's venues: what compliance must count."""
    seen: set[str] = set()
    days: Counter[date] = Counter()
    for scan in scans:
        if scan.scan_id in seen or scan.venue_id not in venue_ids:
            continue
        seen.add(scan.scan_id)
        days[local_date(scan.scanned_at, TZ)] += 1
    return days


def compliance(reporter_url: str, token: str, unit_id: str, day: date) -> dict[str, Any]:
    response = httpx.get(
        f"{reporter_url}/v1/compliance",
        params={"unit_id": unit_id, "date": day.isoformat()},
        headers=bearer(token),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def settle(read: Any, expected: Any, timeout_s: float = 90.0) -> Any:
    """Poll `read()` until it equals `expected` (consumers are asynchronous); the last reading."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = read()
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(1.0)
