"""A synthetic province for the tracer benchmark: persons visiting venues of skewed popularity.

Deterministic for a seed. Scans come in time order (with `in`, usually an `out`, sometimes a
double scan); visits can also be generated directly for the query benchmark.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from scantrace_common.events import ScanEvent

MIN = 60_000
DAY = 86_400_000
KINDS = ["office", "shop", "market", "restaurant", "cafe", "transport", "school", "clinic"]


@dataclass(frozen=True, slots=True)
class Province:
    persons: int
    venues: int
    days: int
    visits_per_person_day: float
    start_ms: int
    seed: int = 1

    def venue_id(self, i: int) -> str:
        return f"ven{i:05d}"

    def person_id(self, i: int) -> str:
        return f"per{i:06d}"

    def _venue_weights(self) -> list[float]:
        # Zipf-like popularity: a few busy markets and stations, a long tail of small shops
        return [1.0 / (i + 1) ** 0.8 for i in range(self.venues)]

    def stays(self) -> Iterator[tuple[str, str, int, int]]:
        """(person, venue, arrival ms, stay ms) in no particular order."""
        rng = random.Random(self.seed)
        weights = self._venue_weights()
        venues = list(range(self.venues))
        for p in range(self.persons):
            for day in range(self.days):
                n = int(self.visits_per_person_day + rng.random())
                picks = rng.choices(venues, weights, k=n)
                t = self.start_ms + day * DAY + rng.randrange(6 * 60, 10 * 60) * MIN
                for v in picks:
                    stay = rng.choice([10, 20, 30, 45, 60, 90, 120, 240]) * MIN
                    yield self.person_id(p), self.venue_id(v), t, stay
                    t += stay + rng.randrange(5, 90) * MIN

    def scans(self, received_at: int) -> list[ScanEvent]:
        """Scans of every stay, sorted by time: an `in`, an `out` for 70%, a double scan for 5%."""
        rng = random.Random(self.seed + 1)
        out: list[ScanEvent] = []
        for person, venue, t, stay in self.stays():

            def scan(
                direction: str, at: int, person: str = person, venue: str = venue
            ) -> ScanEvent:
                return ScanEvent(
                    scan_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    person_id=person,
                    venue_id=venue,
                    direction=direction,  # type: ignore[arg-type]
                    scanned_at=at,
                    received_at=received_at,
                    device_id="bench",
                )

            out.append(scan("in", t))
            if rng.random() < 0.05:
                out.append(scan("in", t + 2 * MIN))
            if rng.random() < 0.7:
                out.append(scan("out", t + stay))
        out.sort(key=lambda s: s.scanned_at)
        return out
