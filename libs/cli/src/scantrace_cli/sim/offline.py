"""The summary of a workload that was written to disk instead of sent (`--dry-run`)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from scantrace_cli.sim.model import Workload
from scantrace_cli.sim.tables import render_table

HOUR_MS = 3_600_000


def workload_summary(workload: Workload, out_dir: Path | None = None) -> str:
    scans = workload.scans
    unique = {s.scan_id for s in scans}
    late = sum(1 for s in scans if s.uploaded_at - s.scanned_at >= HOUR_MS)
    rows: list[tuple[str, object]] = [
        ("units", len(workload.units)),
        ("venues", len(workload.venues)),
        ("persons", len(workload.persons)),
        ("  without the app", sum(1 for p in workload.persons if not p.scans)),
        ("scans", len(scans)),
        (
            "  in / out",
            f"{sum(s.direction == 'in' for s in scans):,} / {sum(s.direction == 'out' for s in scans):,}",
        ),
        ("  retried (same scan_id)", len(scans) - len(unique)),
        ("  uploaded >= 1 h late (offline)", late),
        ("quarantines", len(workload.quarantines)),
        ("declarations", len(workload.declarations)),
    ]
    title = (
        f"Workload {workload.name!r}: {workload.first_date} .. {workload.last_date} ({workload.tz})"
    )
    parts = [render_table(("", "count"), rows, title=title)]
    kinds = Counter(v.kind for v in workload.venues)
    parts.append(render_table(("kind", "venues"), kinds.most_common(), title="Venues by kind"))
    parts.append(_by_top_unit(workload))
    if out_dir is not None:
        parts.append(f"Written to {out_dir}/ (units.csv, venues.csv, *.msgpack, meta.json)")
    return "\n\n".join(parts)


def _by_top_unit(workload: Workload) -> str:
    """Scans and persons per child of the root unit (district, city or agency), from the data."""
    parent = {u.unit_id: u.parent_id for u in workload.units}
    root = next((u.unit_id for u in workload.units if u.parent_id is None), None)

    def top(unit_id: str) -> str:
        current = unit_id
        while parent.get(current) not in (root, None):
            current = parent[current] or current
        return current

    venue_top = {v.venue_id: top(v.unit_id) for v in workload.venues}
    names = {u.unit_id: u.name for u in workload.units}
    venues = Counter(venue_top.values())
    scans: Counter[str] = Counter()
    persons: dict[str, set[str]] = {}
    seen: set[str] = set()
    for s in workload.scans:
        if s.scan_id in seen:
            continue
        seen.add(s.scan_id)
        unit = venue_top.get(s.venue_id, "?")
        scans[unit] += 1
        persons.setdefault(unit, set()).add(s.person_id)
    rows = [
        (unit, names.get(unit, ""), venues[unit], scans[unit], len(persons.get(unit, ())))
        for unit in sorted(venues)
    ]
    return render_table(
        ("unit", "name", "venues", "scans", "persons"),
        rows,
        title="By district / agency (all days)",
    )
