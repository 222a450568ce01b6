"""Pure parts of the reporter: days, registry tree, figures, CSV safety, request models."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from scantrace_common.events import UnitEvent, VenueEvent
from scantrace_common.timeparse import day_bounds, local_date
from scantrace_reporter.csv_export import COLUMNS, chunks, row_of, safe_cell
from scantrace_reporter.days import DayClock, days_between, parse_day
from scantrace_reporter.figures import Figures, from_counters, ratio
from scantrace_reporter.keys import Keys
from scantrace_reporter.models import QuarantineIn, UnitIn, VenueIn
from scantrace_reporter.registry import Registry, RegistryConflict, UnknownUnit, venue_days

pytestmark = pytest.mark.unit
TZ = "Asia/Ho_Chi_Minh"
DAY = date(2021, 5, 17)


def _unit(unit_id: str, parent: str | None, level: str = "commune") -> UnitEvent:
    return UnitEvent(unit_id=unit_id, name=unit_id.upper(), parent_id=parent, level=level, at=0)  # type: ignore[arg-type]


def _venue(venue_id: str, unit: str, registered: int, revoked: int | None = None) -> VenueEvent:
    return VenueEvent(
        venue_id=venue_id,
        name=venue_id,
        kind="shop",
        unit_id=unit,
        registered_at=registered,
        revoked_at=revoked,
    )


@pytest.mark.parametrize("tz", [TZ, "America/New_York", "Asia/Kathmandu", "UTC"])
def test_day_clock_agrees_with_local_date(tz: str) -> None:
    clock = DayClock(tz)
    start, end = day_bounds(DAY, tz)
    for ms in (start, start + 1, end - 1, end, start - 1, start + 13 * 3_600_000 + 17):
        assert clock.day_of(ms) == local_date(ms, tz)


def test_day_clock_across_dst() -> None:
    clock = DayClock("America/New_York")
    for day in (date(2021, 3, 14), date(2021, 11, 7)):
        start, end = day_bounds(day, "America/New_York")
        assert clock.day_of(start) == day
        assert clock.day_of(end - 1) == day
        assert clock.day_of(end) != day


def test_parse_day_is_strict() -> None:
    assert parse_day("2021-05-17") == DAY
    for bad in ("2021-5-17", "20210517", "2021-05-17T00:00", "2021-02-30"):
        with pytest.raises(ValueError, match=r".+"):
            parse_day(bad)
    assert list(days_between(DAY, date(2021, 5, 19)))[-1] == date(2021, 5, 19)


def test_venue_registered_days_follow_the_rules() -> None:
    clock = DayClock(TZ)
    start, end = day_bounds(DAY, TZ)
    # Registered in the last millisecond of D: registered on D.
    assert venue_days(_venue("a", "u", end - 1), clock).registered_on(DAY)
    # Registered at the end of D: not yet.
    assert not venue_days(_venue("a", "u", end), clock).registered_on(DAY)
    # Revoked during D (even its last millisecond): not registered on D, but on the day before.
    revoked = venue_days(_venue("a", "u", start - 86_400_000, end - 1), clock)
    assert not revoked.registered_on(DAY)
    assert revoked.registered_on(date(2021, 5, 16))
    # Revoked exactly at the end of D: still registered on D.
    assert venue_days(_venue("a", "u", start, end), clock).registered_on(DAY)
    # A revocation dated before the registration: never registered.
    odd = venue_days(_venue("a", "u", end + 5 * 86_400_000, start), clock)
    assert not any(odd.registered_on(d) for d in days_between(DAY, date(2021, 6, 1)))


def test_registry_tree_chain_subtree_and_scopes() -> None:
    registry = Registry(DayClock(TZ))
    registry.add_unit(_unit("P", None, "province"))
    registry.add_unit(_unit("D2", "P", "district"))
    registry.add_unit(_unit("D1", "P", "district"))
    registry.add_unit(_unit("C1", "D1"))
    with pytest.raises(UnknownUnit):
        registry.add_unit(_unit("X", "nowhere"))
    assert registry.children["P"] == ["D1", "D2"]
    assert registry.chain("C1") == ("C1", "D1", "P")
    assert registry.subtree("P") == ["P", "D1", "C1", "D2"]
    assert registry.within("C1", ("D1",))
    assert not registry.within("D2", ("D1",))
    assert not registry.within("C1", ())
    assert registry.within("C1", None)
    # A re-parenting event is ignored; a rename is applied.
    assert not registry.add_unit(_unit("C1", "D2"))
    assert registry.add_unit(
        UnitEvent(unit_id="C1", name="new", parent_id="D1", level="commune", at=1)
    )
    registry.add_venue(_venue("v", "C1", 0))
    with pytest.raises(RegistryConflict):
        registry.add_venue(_venue("v", "D2", 0))
    assert registry.venues_in_subtree("P") == ["v"]


def test_ratios_and_figures() -> None:
    assert ratio(1, 0) is None
    assert ratio(1, 4) == 0.25
    figures = from_counters(
        "U",
        DAY,
        registered=5,
        revoked=1,
        counters=[b"3", None, b"9"],
        persons=7,
        quarantined=0,
        declared=0,
        assessed=6,
    )
    body = figures.as_dict()
    assert body["venues_registered"] == 4
    assert body["venues_assessed"] == 4  # clamped to the registered count
    assert body["assessed_ratio"] == 1.0
    assert body["venues_active"] == 4  # clamped to the registered count
    assert body["scans"] == 3
    assert body["scans_out"] == 0
    assert body["persons"] == 3  # never above the scans
    assert body["declaration_ratio"] is None
    assert list(body) == [
        "unit_id",
        "date",
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
    ]


HOSTILE = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", '=HYPERLINK("http://x")', "ok"]


@pytest.mark.parametrize("text", HOSTILE)
def test_safe_cell_never_starts_a_formula(text: str) -> None:
    cell = safe_cell(text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell.endswith(text)


def test_csv_rows_with_hostile_names_parse_back_safely() -> None:
    figures = Figures("-u1", DAY, 2, 1, 3, 1, 2, 0, 0)
    rows = [
        row_of(figures, UnitEvent(unit_id="-u1", name=name, parent_id="=p", level="commune", at=0))
        for name in HOSTILE
    ]
    text = "".join(chunks(rows, size=3))
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == list(COLUMNS)
    assert len(parsed) == len(HOSTILE) + 1
    for row in parsed[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert parsed[1][COLUMNS.index("active_ratio")] == "0.5"
    assert parsed[1][COLUMNS.index("declaration_ratio")] == ""


def test_keys_share_one_hash_tag_per_day() -> None:
    keys = Keys("ns.")
    tag = "{ns.cd:2021-05-17}"
    for key in (
        keys.seen(DAY),
        keys.venue_raw(DAY),
        keys.venue_state(DAY),
        keys.aggregates(DAY),
        keys.venue_persons(DAY, "v"),
        keys.unit_persons(DAY, "u"),
        keys.quarantined(DAY, "u"),
        keys.declared(DAY),
    ):
        assert key.startswith(tag)
    assert keys.units.startswith("ns.")


def test_request_models_validate() -> None:
    assert (
        UnitIn.model_validate({"unit_id": "u-1", "name": "  Xã  An Bình ", "level": "commune"}).name
        == "Xã An Bình"
    )
    for bad in (
        {"unit_id": "bad id", "name": "x", "level": "commune"},
        {"unit_id": "u", "name": "x", "level": "city"},
        {"unit_id": "u", "name": "   ", "level": "commune"},
        {"unit_id": "u", "name": "x", "level": "commune", "extra": 1},
    ):
        with pytest.raises(ValidationError):
            UnitIn.model_validate(bad)
    with pytest.raises(ValidationError):
        VenueIn.model_validate({"name": "x", "kind": "casino", "unit_id": "u"})
    with pytest.raises(ValidationError):
        VenueIn.model_validate(
            {"name": "x", "kind": "shop", "unit_id": "u", "default_dwell_minutes": 0}
        )
    quarantine = QuarantineIn.model_validate(
        {"person_id": "p", "unit_id": "u", "from": "2021-05-01", "to": "2021-05-14"}
    )
    assert quarantine.from_date == date(2021, 5, 1)


@given(st.text(max_size=40))
def test_any_name_is_safe_and_round_trips(name: str) -> None:
    cell = safe_cell(name)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell in (name, "'" + name)
    unit = UnitEvent(unit_id="u", name=name or "x", parent_id=None, level="commune", at=0)
    row = row_of(Figures("u", DAY, 0, 0, 0, 0, 0, 0, 0), unit)
    parsed = list(csv.reader(io.StringIO("".join(chunks([row])), newline="")))
    assert parsed[1] == row
