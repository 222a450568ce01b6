"""A deterministic province: the same `SimConfig` (seed included) always yields the same workload.

Each person has a role that shapes their days (school, factory, office, market stall, ...). A day
is a list of stays (venue, arrival, departure); scans are derived from stays through the person's
habits: no app, forgotten check-outs, double scans, offline uploads and retried uploads.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from scantrace_cli.sim.config import SimConfig
from scantrace_cli.sim.model import (
    SimDeclaration,
    SimPerson,
    SimQuarantine,
    SimScan,
    Workload,
)
from scantrace_cli.sim.province import Commune, build_units
from scantrace_cli.sim.venues import VenueIndex, build_venues
from scantrace_common.timeparse import day_bounds

MINUTE: Final = 60_000
HOUR: Final = 60 * MINUTE
DAY: Final = 24 * HOUR
#: SPEC: a phone may upload offline scans up to 7 days late.
MAX_UPLOAD_DELAY: Final = 7 * DAY

#: (role, share, workplace kinds); retired and home people have no workplace.
ROLES: Final[tuple[tuple[str, float, tuple[str, ...]], ...]] = (
    ("student", 0.20, ("school",)),
    ("teacher", 0.02, ("school",)),
    ("worker", 0.22, ("factory",)),
    ("office", 0.10, ("office",)),
    ("trader", 0.06, ("market", "shop")),
    ("service", 0.07, ("cafe", "restaurant", "shop")),
    ("health", 0.02, ("hospital", "clinic")),
    ("civil", 0.03, ("public_service",)),
    ("driver", 0.01, ("transport",)),
    ("retired", 0.17, ()),
    ("home", 0.10, ()),
)


@dataclass(frozen=True)
class Stay:
    venue_id: str
    start: int
    end: int


@dataclass
class Resident:
    """A person and the fixed parts of their life the routine draws on."""

    person: SimPerson
    district: str
    workplace: str | None
    bus: str | None
    forgets_out: bool
    double_scans: bool
    often_offline: bool
    #: (first day, last day, facility venue or None for home quarantine)
    quarantine: tuple[date, date, str | None] | None


class Generator:
    """Builds the workload of one `SimConfig`; all randomness comes from one seeded `random.Random`."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.units, self.communes = build_units()
        self.index: VenueIndex = build_venues(self.rng, self.communes, config.venue_count)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def days(self) -> list[date]:
        return [self.config.start_date + timedelta(days=i) for i in range(self.config.days)]

    # People -----------------------------------------------------------------------------------

    def residents(self) -> list[Resident]:
        cfg, rng = self.config, self.rng
        weights = [c.weight for c in self.communes]
        role_weights = [share for _, share, _ in ROLES]
        first = cfg.start_date
        found: list[Resident] = []
        for i in range(cfg.people):
            home: Commune = rng.choices(self.communes, weights=weights)[0]
            role, _, kinds = rng.choices(ROLES, weights=role_weights)[0]
            district = home.district.code
            workplace = self.index.pick(rng, kinds, district) if kinds else None
            quarantined = rng.random() < cfg.quarantine_share
            has_app = quarantined or rng.random() >= cfg.never_scan_share
            quarantine = None
            if quarantined:
                # A 14-day period that overlaps the simulated days.
                q_from = first - timedelta(days=rng.randint(0, 10))
                q_to = max(q_from + timedelta(days=13), first)
                facility = None
                if rng.random() < 0.3:
                    place = self.index.pick(rng, ("quarantine_facility",), district, near=1.0)
                    facility = place.venue_id if place else None
                quarantine = (q_from, q_to, facility)
            bus = None
            if workplace is not None and rng.random() < 0.12:
                ride = self.index.pick(rng, ("transport",), district)
                bus = ride.venue_id if ride else None
            found.append(
                Resident(
                    person=SimPerson(
                        person_id=f"dn-p{i:07d}",
                        home_unit_id=home.unit.unit_id,
                        role=role,
                        scans=has_app,
                    ),
                    district=district,
                    workplace=workplace.venue_id if workplace else None,
                    bus=bus,
                    forgets_out=rng.random() < cfg.forget_out_share,
                    double_scans=rng.random() < cfg.double_scan_share,
                    often_offline=rng.random() < cfg.offline_share,
                    quarantine=quarantine,
                )
            )
        return found

    # Routines ---------------------------------------------------------------------------------

    def _clock(self, midnight: int, hour: float, jitter_minutes: float = 0) -> int:
        """A time on the day: `hour` (fractional) plus up to +-jitter minutes, at whole seconds."""
        offset = hour * HOUR + self.rng.uniform(-jitter_minutes, jitter_minutes) * MINUTE
        return midnight + int(offset) // 1000 * 1000

    def _errand(
        self,
        r: Resident,
        kinds: tuple[str, ...],
        midnight: int,
        hour: float,
        minutes: tuple[int, int],
    ) -> Stay | None:
        venue = self.index.pick(self.rng, kinds, r.district)
        if venue is None:
            return None
        start = self._clock(midnight, hour, 30)
        return Stay(venue.venue_id, start, start + self.rng.randint(*minutes) * MINUTE)

    def stays(self, r: Resident, day: date, midnight: int) -> list[Stay]:
        """Where this person goes on `day`, in time order, not overlapping."""
        rng, role = self.rng, r.person.role
        weekday = day.weekday()  # 0 Monday .. 6 Sunday
        if r.quarantine is not None and r.quarantine[0] <= day <= r.quarantine[1]:
            facility = r.quarantine[2]
            if facility is None:
                return []  # home quarantine: no scans, only declarations
            # The facility's morning roll-call: everyone scans in again.
            start = self._clock(midnight, 7.5, 20)
            return [Stay(facility, start, midnight + DAY - MINUTE)]
        works_today = r.workplace is not None and (
            weekday < 5
            or (weekday == 5 and role in ("worker", "trader", "service", "health"))
            or (weekday == 6 and role in ("trader", "service"))
        )
        plan: list[Stay | None] = []
        if works_today and r.workplace is not None:
            hours = {
                "student": (7.0, 11.3), "teacher": (6.8, 16.5), "worker": (7.0, 17.0),
                "office": (7.5, 17.0), "trader": (5.5, 17.5), "service": (6.5, 14.0),
                "health": (7.0, 16.5), "civil": (7.5, 16.5), "driver": (5.5, 13.5),
            }[role]  # fmt: skip
            if role == "service" and rng.random() < 0.5:
                hours = (14.0, 22.0)
            if role == "driver" and rng.random() < 0.5:
                hours = (13.5, 21.5)
            begin = self._clock(midnight, hours[0], 15)
            finish = self._clock(midnight, hours[1], 20)
            if r.bus is not None:
                plan.append(Stay(r.bus, begin - rng.randint(25, 50) * MINUTE, begin - 5 * MINUTE))
            if role in ("office", "teacher", "civil") and rng.random() < 0.5:
                # Lunch out: the restaurant's scan-in closes the office visit (rule 1: next_in).
                lunch = self._errand(r, ("restaurant", "cafe"), midnight, 11.75, (35, 70))
                if lunch is not None and begin < lunch.start and lunch.end < finish:
                    plan.append(Stay(r.workplace, begin, lunch.start - 5 * MINUTE))
                    plan.append(lunch)
                    begin = lunch.end + 5 * MINUTE
            plan.append(Stay(r.workplace, begin, finish))
            if role == "student" and rng.random() < 0.3:
                plan.append(Stay(r.workplace, self._clock(midnight, 13.5, 10),
                                 self._clock(midnight, 16.75, 10)))  # fmt: skip
            if r.bus is not None:
                back = finish + rng.randint(5, 20) * MINUTE
                plan.append(Stay(r.bus, back, back + rng.randint(25, 50) * MINUTE))
            roll = rng.random()
            if roll < 0.25:
                plan.append(self._errand(r, ("market", "shop"), midnight, 17.8, (10, 40)))
            elif roll < 0.40:
                plan.append(self._errand(r, ("restaurant",), midnight, 18.8, (40, 90)))
            elif roll < 0.55:
                plan.append(self._errand(r, ("cafe",), midnight, 20.0, (45, 120)))
        else:
            if rng.random() < (0.6 if role in ("retired", "home") else 0.35):
                plan.append(self._errand(r, ("market",), midnight, 6.5, (20, 60)))
            if rng.random() < 0.4:
                plan.append(self._errand(r, ("cafe",), midnight, 8.0, (30, 120)))
            roll = rng.random()
            if roll < 0.04:
                plan.append(self._errand(r, ("clinic",), midnight, 9.5, (20, 90)))
            elif roll < 0.06:
                plan.append(self._errand(r, ("hospital",), midnight, 9.0, (60, 240)))
            elif roll < 0.10 and weekday < 5:
                plan.append(self._errand(r, ("public_service",), midnight, 9.0, (15, 75)))
            if rng.random() < 0.3:
                plan.append(self._errand(r, ("shop",), midnight, 15.5, (10, 45)))
            if rng.random() < 0.2:
                plan.append(self._errand(r, ("restaurant",), midnight, 18.5, (40, 90)))
            if rng.random() < 0.1:
                plan.append(self._errand(r, ("other",), midnight, 19.0, (45, 90)))
        return _without_overlaps([s for s in plan if s is not None])

    # Phones ----------------------------------------------------------------------------------

    def scans_of_day(self, r: Resident, stays: list[Stay], offline: bool) -> Iterator[SimScan]:
        rng = self.rng
        pid = r.person.person_id
        late = 0
        if offline and stays:
            # Uploaded when the phone is back online: hours to days after the last scan.
            late = rng.randint(1 * HOUR, MAX_UPLOAD_DELAY - DAY) // 1000 * 1000
        for stay in stays:
            out_chance = 0.05 if r.forgets_out else 0.9
            events = [("in", stay.start)]
            if r.double_scans and rng.random() < 0.5:
                events.append(("in", stay.start + rng.randint(5, 90) * 1000))
            if rng.random() < out_chance:
                events.append(("out", stay.end))
            for direction, at in events:
                upload = (stays[-1].end + late) if offline else at + rng.randint(1, 20) * 1000
                upload = min(upload, at + MAX_UPLOAD_DELAY)
                scan = SimScan(
                    scan_id=self.uuid(),
                    person_id=pid,
                    venue_id=stay.venue_id,
                    direction="in" if direction == "in" else "out",
                    scanned_at=at,
                    uploaded_at=upload,
                )
                yield scan
                if rng.random() < self.config.retry_share:
                    # The app did not see the 202 and sends the very same scan again.
                    yield SimScan(
                        scan_id=scan.scan_id,
                        person_id=pid,
                        venue_id=scan.venue_id,
                        direction=scan.direction,
                        scanned_at=scan.scanned_at,
                        uploaded_at=upload + rng.randint(2, 30) * 1000,
                    )

    def declarations_of_day(
        self, r: Resident, day: date, midnight: int
    ) -> Iterator[SimDeclaration]:
        q = r.quarantine
        if q is None or not q[0] <= day <= q[1] or self.rng.random() >= self.config.declare_share:
            return
        at = self._clock(midnight, 8.5, 90)
        roll = self.rng.random()
        symptoms = ["fever"] if roll < 0.04 else ["cough"] if roll < 0.08 else []
        yield SimDeclaration(
            declaration_id=self.uuid(),
            person_id=r.person.person_id,
            declared_at=at,
            uploaded_at=at + self.rng.randint(1, 20) * 1000,
            symptoms=symptoms,
            note="",
        )

    # The whole --------------------------------------------------------------------------------

    def generate(self) -> Workload:
        cfg = self.config
        residents = self.residents()
        scans: list[SimScan] = []
        declarations: list[SimDeclaration] = []
        days = self.days()
        for day in days:
            midnight, _ = day_bounds(day, cfg.tz)
            for r in residents:
                stays = self.stays(r, day, midnight)
                offline = r.often_offline and self.rng.random() < 0.5
                if r.person.scans:
                    scans.extend(self.scans_of_day(r, stays, offline))
                    declarations.extend(self.declarations_of_day(r, day, midnight))
        quarantines = [
            SimQuarantine(
                person_id=r.person.person_id,
                unit_id=r.person.home_unit_id,
                from_date=r.quarantine[0].isoformat(),
                to_date=r.quarantine[1].isoformat(),
            )
            for r in residents
            if r.quarantine is not None
        ]
        return Workload(
            name="province",
            tz=cfg.tz,
            first_date=days[0].isoformat(),
            last_date=days[-1].isoformat(),
            seed=cfg.seed,
            units=self.units,
            venues=self.index.venues,
            persons=[r.person for r in residents],
            scans=scans,
            declarations=declarations,
            quarantines=quarantines,
        )


def _without_overlaps(stays: list[Stay]) -> list[Stay]:
    """Sort by arrival and drop stays that begin before the previous one ends."""
    kept: list[Stay] = []
    for stay in sorted(stays, key=lambda s: s.start):
        if stay.end <= stay.start:
            continue
        if kept and stay.start < kept[-1].end:
            continue
        kept.append(stay)
    return kept


def generate(config: SimConfig) -> Workload:
    """The workload of `config`: identical for identical configs."""
    return Generator(config).generate()
