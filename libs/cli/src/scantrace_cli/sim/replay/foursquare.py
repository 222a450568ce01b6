"""Foursquare TSMC2014 check-ins as scans: each check-in is an `in` at its venue, nothing else.

A check-in says someone arrived; it never says when they left. So there are no `out` scans and
every visit closes by dwell (its kind's default) or by that person's next check-in (SPEC rule 1).
Venue kinds come from the Foursquare category; the venues' names are their categories.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final

from scantrace_cli.sim.model import SimScan, Workload
from scantrace_cli.sim.replay.anchor import Anchor
from scantrace_cli.sim.replay.sessions import UPLOAD_DELAY_MS, RegistryBuilder, scan_id

NAME: Final = "foursquare-tsmc2014-tky-head"
FILE: Final = "dataset_TSMC2014_TKY.csv"

#: (substring of the category, kind), first match wins; everything else is `other`.
KIND_RULES: Final = (
    ("train", "transport"), ("subway", "transport"), ("bus", "transport"), ("rail", "transport"),
    ("airport", "transport"), ("ferry", "transport"), ("taxi", "transport"),
    ("café", "cafe"), ("cafe", "cafe"), ("coffee", "cafe"), ("tea room", "cafe"),
    ("restaurant", "restaurant"), ("noodle", "restaurant"), ("diner", "restaurant"),
    ("food", "restaurant"), ("bar", "restaurant"), ("bakery", "restaurant"), ("pub", "restaurant"),
    ("hospital", "hospital"), ("medical", "clinic"), ("doctor", "clinic"), ("dentist", "clinic"),
    ("school", "school"), ("university", "school"), ("college", "school"), ("library", "school"),
    ("office", "office"), ("government", "public_service"), ("post office", "public_service"),
    ("city hall", "public_service"), ("factory", "factory"), ("market", "market"),
    ("store", "shop"), ("shop", "shop"), ("mall", "shop"), ("pharmacy", "shop"),
)  # fmt: skip


def kind_of(category: str) -> str:
    lowered = category.lower()
    if "post office" in lowered:
        return "public_service"
    return next((kind for needle, kind in KIND_RULES if needle in lowered), "other")


def load(data_dir: Path, *, end_date: date, tz: str, limit: int = 0) -> Workload:
    rows: list[tuple[str, str, str, datetime]] = []
    with (data_dir / NAME / FILE).open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for row in reader:
            if len(row) != 8:
                continue  # the file was cut at 1 MiB: its last line is partial
            utc = datetime.strptime(row[7], "%a %b %d %H:%M:%S %z %Y")
            local = utc.replace(tzinfo=None) + timedelta(minutes=int(row[6]))
            rows.append((row[0], row[1], row[3], local))
    if limit:
        rows = rows[:limit]
    if not rows:
        raise ValueError(f"{NAME}: no check-ins read")
    anchor = Anchor.ending_on(max(r[3] for r in rows).date(), end_date, tz)
    registry = RegistryBuilder(name=NAME, short="fsq", tz=tz)
    scans: list[SimScan] = []
    roles: dict[str, str] = {}
    for row_number, (user, venue, category, local) in enumerate(rows):
        venue_id = registry.venue(venue, f"{category} ({venue[-6:]})", kind_of(category))
        person_id = f"fsq-{user}"
        roles.setdefault(person_id, "foursquare user")
        at = anchor.ms(local)
        scans.append(
            SimScan(
                scan_id=scan_id(NAME, person_id, venue_id, f"in#{row_number}", at),
                person_id=person_id,
                venue_id=venue_id,
                direction="in",
                scanned_at=at,
                uploaded_at=at + UPLOAD_DELAY_MS,
            )
        )
    return registry.workload(
        scans=scans,
        roles=roles,
        first_date=anchor.day(min(r[3] for r in rows)),
        last_date=anchor.day(max(r[3] for r in rows)),
    )
