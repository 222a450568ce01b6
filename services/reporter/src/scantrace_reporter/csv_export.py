"""CSV export of compliance figures, safe to open in a spreadsheet (no formula injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Final

from scantrace_common.events import UnitEvent
from scantrace_reporter.figures import Figures

COLUMNS: Final = (
    "date",
    "unit_id",
    "unit_name",
    "level",
    "parent_id",
    "venues_registered",
    "venues_active",
    "active_ratio",
    "scans",
    "scans_in",
    "scans_out",
    "persons",
    "quarantined",
    "declarations_done",
    "declaration_ratio",
    "venues_assessed",
    "assessed_ratio",
)
#: A spreadsheet may treat a cell starting with one of these as a formula (or strip it).
_DANGEROUS_FIRST: Final = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """The cell text; one that could start a formula gets a leading apostrophe (OWASP advice)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else format_number(value)
    if text.startswith(_DANGEROUS_FIRST):
        return "'" + text
    return text


def format_number(value: object) -> str:
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)


def row_of(figures: Figures, unit: UnitEvent) -> list[str]:
    return [
        safe_cell(cell)
        for cell in (
            figures.day.isoformat(),
            figures.unit_id,
            unit.name,
            unit.level,
            unit.parent_id,
            figures.venues_registered,
            figures.venues_active,
            figures.active_ratio,
            figures.scans,
            figures.scans_in,
            figures.scans_out,
            figures.persons,
            figures.quarantined,
            figures.declarations_done,
            figures.declaration_ratio,
            figures.venues_assessed,
            figures.assessed_ratio,
        )
    ]


def encode_rows(rows: Iterable[list[str]], *, header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    if header:
        writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue()


def chunks(rows: Iterable[list[str]], size: int = 500) -> Iterator[str]:
    """The header, then the rows encoded `size` at a time."""
    yield encode_rows([], header=True)
    batch: list[list[str]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield encode_rows(batch, header=False)
            batch = []
    if batch:
        yield encode_rows(batch, header=False)
