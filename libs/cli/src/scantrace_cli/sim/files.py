"""A workload on disk (`--dry-run OUT_DIR`), so benchmarks and tests load the same data fast.

Layout: `units.csv` and `venues.csv` (the registry, UTF-8, one header line), `persons.msgpack`,
`scans.msgpack`, `declarations.msgpack`, `quarantines.msgpack` (each one msgpack array of maps
with the field names of `scantrace_cli.sim.model`), and `meta.json` (name, tz, dates, seed, counts).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Final, TypeVar

import msgspec

from scantrace_cli.sim.model import (
    SimDeclaration,
    SimPerson,
    SimQuarantine,
    SimScan,
    SimUnit,
    SimVenue,
    Workload,
)

UNIT_COLUMNS: Final = ("unit_id", "name", "parent_id", "level")
VENUE_COLUMNS: Final = (
    "venue_id", "name", "kind", "unit_id", "default_dwell_minutes", "lat", "lon"
)  # fmt: skip
T = TypeVar("T")


def write_workload(workload: Workload, out_dir: Path) -> dict[str, Path]:
    """Write every file of the layout; returns them by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in _FILES}
    with paths["units.csv"].open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(UNIT_COLUMNS)
        for u in workload.units:
            writer.writerow((u.unit_id, u.name, u.parent_id or "", u.level))
    with paths["venues.csv"].open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(VENUE_COLUMNS)
        for v in workload.venues:
            dwell = "" if v.default_dwell_minutes is None else str(v.default_dwell_minutes)
            lat = "" if v.lat is None else repr(v.lat)
            lon = "" if v.lon is None else repr(v.lon)
            writer.writerow((v.venue_id, v.name, v.kind, v.unit_id, dwell, lat, lon))
    encoder = msgspec.msgpack.Encoder()
    paths["persons.msgpack"].write_bytes(encoder.encode(workload.persons))
    paths["scans.msgpack"].write_bytes(encoder.encode(workload.scans))
    paths["declarations.msgpack"].write_bytes(encoder.encode(workload.declarations))
    paths["quarantines.msgpack"].write_bytes(encoder.encode(workload.quarantines))
    meta = {
        "name": workload.name,
        "tz": workload.tz,
        "first_date": workload.first_date,
        "last_date": workload.last_date,
        "seed": workload.seed,
        "counts": {
            "units": len(workload.units),
            "venues": len(workload.venues),
            "persons": len(workload.persons),
            "scans": len(workload.scans),
            "declarations": len(workload.declarations),
            "quarantines": len(workload.quarantines),
        },
    }
    paths["meta.json"].write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return paths


def read_workload(out_dir: Path) -> Workload:
    """Load a workload written by `write_workload`."""
    meta: dict[str, Any] = json.loads((out_dir / "meta.json").read_text())
    with (out_dir / "units.csv").open(newline="", encoding="utf-8") as fh:
        units = [
            SimUnit(
                unit_id=row["unit_id"],
                name=row["name"],
                parent_id=row["parent_id"] or None,
                level=row["level"],  # type: ignore[arg-type]  # checked by the reporter
            )
            for row in csv.DictReader(fh)
        ]
    with (out_dir / "venues.csv").open(newline="", encoding="utf-8") as fh:
        venues = [
            SimVenue(
                venue_id=row["venue_id"],
                name=row["name"],
                kind=row["kind"],
                unit_id=row["unit_id"],
                default_dwell_minutes=int(row["default_dwell_minutes"])
                if row["default_dwell_minutes"]
                else None,
                lat=float(row["lat"]) if row.get("lat") else None,
                lon=float(row["lon"]) if row.get("lon") else None,
            )
            for row in csv.DictReader(fh)
        ]
    return Workload(
        name=meta["name"],
        tz=meta["tz"],
        first_date=meta["first_date"],
        last_date=meta["last_date"],
        seed=meta.get("seed"),
        units=units,
        venues=venues,
        persons=_load(out_dir / "persons.msgpack", list[SimPerson]),
        scans=_load(out_dir / "scans.msgpack", list[SimScan]),
        declarations=_load(out_dir / "declarations.msgpack", list[SimDeclaration]),
        quarantines=_load(out_dir / "quarantines.msgpack", list[SimQuarantine]),
    )


def _load(path: Path, kind: type[T]) -> T:
    return msgspec.msgpack.decode(path.read_bytes(), type=kind)


_FILES: Final = (
    "units.csv",
    "venues.csv",
    "persons.msgpack",
    "scans.msgpack",
    "declarations.msgpack",
    "quarantines.msgpack",
    "meta.json",
)
