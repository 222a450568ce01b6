"""SocioPatterns face-to-face contacts (20-second resolution) as venue sessions and in/out scans.

A record `t i j` means i and j faced each other during [t-20 s, t]. Each record is placed at a
venue (a ward room, a classroom, a department's office, or a common area when the two belong to
different groups). Per person, consecutive records at the same venue with gaps of at most
`gap_minutes` form one session: an `in` scan at its first record's start and an `out` scan at
its last record's end. So two people in contact are both present at that venue at that moment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Final

from scantrace_cli.sim.model import Workload
from scantrace_cli.sim.replay.anchor import Anchor
from scantrace_cli.sim.replay.sessions import Record, RegistryBuilder, sessions_to_scans

STEP_S: Final = 20


@dataclass(frozen=True)
class Contact:
    t: int  # seconds, end of the 20-s window, on the data set's own clock
    i: str
    j: str
    gi: str  # group (status, class or department) of i
    gj: str


@dataclass(frozen=True)
class Spec:
    name: str
    folder: str
    file: str
    #: Naive local time of t = 0 (or of the Unix epoch's local reading, for absolute sets).
    origin: datetime
    venue_kind: str
    read: Callable[[Path], Iterator[Contact]]
    place: Callable[[Contact], tuple[str, str]]  # -> (venue key, venue display name)


def _read_5(path: Path, sep: str | None) -> Iterator[Contact]:
    with path.open(encoding="utf-8", newline="") as fh:
        for line in fh:
            parts = line.split(sep) if sep else line.split()
            if len(parts) >= 5:
                yield Contact(int(parts[0]), parts[1], parts[2], parts[3].strip(), parts[4].strip())


def _read_workplace(path: Path) -> Iterator[Contact]:
    meta_path = path.parent / "workplace_InVS_metadata.txt"
    departments: dict[str, str] = {}
    for line in re.split(r"\r\n|\r|\n", meta_path.read_text(encoding="utf-8")):
        parts = line.split()
        if len(parts) == 2:
            departments[parts[0]] = parts[1]
    with path.open(encoding="utf-8", newline="") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3:
                i, j = parts[1], parts[2]
                yield Contact(int(parts[0]), i, j, departments.get(i, "?"), departments.get(j, "?"))


def _hospital_place(c: Contact) -> tuple[str, str]:
    # Patients stay in two-bed rooms (by id order); staff meet staff at the nurses' station.
    patients = sorted(x for x, g in ((c.i, c.gi), (c.j, c.gj)) if g == "PAT")
    if patients:
        room = int(patients[0]) % 15 + 1
        return f"room-{room:02d}", f"Phòng bệnh {room:02d} (khoa lão)"
    return "station", "Phòng trực điều dưỡng"


def _school_place(c: Contact) -> tuple[str, str]:
    groups = {c.gi, c.gj}
    if groups == {"Teachers"}:
        return "staff-room", "Phòng giáo viên"
    classes = sorted(groups - {"Teachers"})
    if len(classes) == 1:
        key = re.sub(r"[^A-Za-z0-9]", "s", classes[0]).lower()
        return f"class-{key}", f"Lớp {classes[0]}"
    return "common", "Sân trường và căng tin"


def _workplace_place(c: Contact) -> tuple[str, str]:
    if c.gi == c.gj:
        return f"dept-{c.gi.lower()}", f"Văn phòng phòng {c.gi}"
    return "common", "Căng tin và hành lang"


SPECS: Final[dict[str, Spec]] = {
    "sociopatterns-hospital": Spec(
        "sociopatterns-hospital", "sociopatterns-hospital", "detailed_list_of_contacts_Hospital.dat",
        datetime(2010, 12, 6, 13, 0), "hospital", lambda p: _read_5(p, "\t"), _hospital_place,
    ),
    "sociopatterns-primaryschool": Spec(
        "sociopatterns-primaryschool", "sociopatterns-primaryschool", "primaryschool.csv",
        datetime(2009, 10, 1), "school", lambda p: _read_5(p, "\t"), _school_place,
    ),
    "sociopatterns-highschool-2013": Spec(
        # Absolute Unix seconds; Marseilles is UTC+1 in December.
        "sociopatterns-highschool-2013", "sociopatterns-highschool-2013", "High-School_data_2013.csv",
        datetime(1970, 1, 1, 1, 0), "school", lambda p: _read_5(p, None), _school_place,
    ),
    "sociopatterns-workplace-2013": Spec(
        "sociopatterns-workplace-2013", "sociopatterns-workplace-2013", "tij_InVS.dat",
        datetime(2013, 6, 24), "office", _read_workplace, _workplace_place,
    ),
}  # fmt: skip

SHORT: Final = {
    "sociopatterns-hospital": "hosp",
    "sociopatterns-primaryschool": "prim",
    "sociopatterns-highschool-2013": "high",
    "sociopatterns-workplace-2013": "work",
}


def load(
    name: str, data_dir: Path, *, end_date: date, tz: str, gap_minutes: int = 10, limit: int = 0
) -> Workload:
    """The workload of one SocioPatterns set, its last day moved to `end_date` (in `tz`)."""
    spec = SPECS[name]
    lines = spec.read(data_dir / spec.folder / spec.file)
    contacts = list(islice(lines, limit) if limit else lines)
    if not contacts:
        raise ValueError(f"{name}: no contacts read")
    short = SHORT[name]
    last_local = spec.origin + timedelta(seconds=max(c.t for c in contacts))
    anchor = Anchor.ending_on(last_local.date(), end_date, tz)
    registry = RegistryBuilder(name=name, short=short, tz=tz)
    records: list[Record] = []
    groups: dict[str, str] = {}
    for c in contacts:
        key, display = spec.place(c)
        venue_id = registry.venue(key, display, spec.venue_kind)
        end = anchor.ms(spec.origin + timedelta(seconds=c.t))
        start = end - STEP_S * 1000
        for person, group in ((c.i, c.gi), (c.j, c.gj)):
            person_id = f"{short}-{person}"
            groups.setdefault(person_id, group)
            records.append(Record(person_id, venue_id, start, end))
    first_day = anchor.day(spec.origin + timedelta(seconds=min(c.t for c in contacts)))
    return registry.workload(
        scans=sessions_to_scans(records, gap_ms=gap_minutes * 60_000, namespace=name),
        roles=groups,
        first_date=first_day,
        last_date=anchor.day(last_local),
    )
