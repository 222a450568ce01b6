"""`scantrace registry import`: CSV reading and parents-first ordering (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scantrace_cli.commands.registry import (
    UNIT_COLUMNS,
    VENUE_COLUMNS,
    Row,
    base_url,
    parents_first,
    read_rows,
)

pytestmark = pytest.mark.unit


def test_units_are_sent_parents_first() -> None:
    rows = [
        Row("u:2", {"unit_id": "C", "parent_id": "D"}),
        Row("u:3", {"unit_id": "D", "parent_id": "P"}),
        Row("u:4", {"unit_id": "P", "parent_id": None}),
        Row("u:5", {"unit_id": "X", "parent_id": "elsewhere"}),
        Row("u:6", {"unit_id": "Y", "parent_id": "Z"}),
        Row("u:7", {"unit_id": "Z", "parent_id": "Y"}),  # a cycle: sent, refused by the API
    ]
    order = [r.body["unit_id"] for r in parents_first(rows)]
    assert sorted(order) == ["C", "D", "P", "X", "Y", "Z"]
    assert order.index("P") < order.index("D") < order.index("C")


def test_rows_are_read_with_their_place(tmp_path: Path) -> None:
    units = tmp_path / "units.csv"
    units.write_text("unit_id,name,parent_id,level\nP,Tỉnh,,province\n", encoding="utf-8-sig")
    (row,) = read_rows(units, UNIT_COLUMNS, 4)
    assert isinstance(row, Row)
    assert row.where == "units.csv:2"
    assert row.body == {"unit_id": "P", "name": "Tỉnh", "parent_id": None, "level": "province"}

    venues = tmp_path / "venues.csv"
    venues.write_text(
        "venue_id,name,kind,unit_id,default_dwell_minutes\n,Chợ,market,P,\nv2,Quán,cafe,P,x\n",
        encoding="utf-8",
    )
    first, second = read_rows(venues, VENUE_COLUMNS, 4)
    assert isinstance(first, Row)
    assert first.body == {"name": "Chợ", "kind": "market", "unit_id": "P"}
    assert second == "venues.csv:3: default_dwell_minutes is not a whole number"

    located = tmp_path / "located.csv"
    located.write_text(
        "venue_id,name,kind,unit_id,lat,lon,address\n"
        "v1,Chợ,market,P,10.95,106.82,  12 Đường 30/4 \n"
        "v2,Quán,cafe,P,10.95,,\n"
        "v3,Quán,cafe,P,north,106.8,\n",
        encoding="utf-8",
    )
    one, two, three = read_rows(located, VENUE_COLUMNS, 4)
    assert isinstance(one, Row)
    assert one.body == {
        "venue_id": "v1",
        "name": "Chợ",
        "kind": "market",
        "unit_id": "P",
        "location": {"lat": 10.95, "lon": 106.82},
        "address": "12 Đường 30/4",
    }
    assert two == "located.csv:3: lat and lon must be given together"
    assert three == "located.csv:4: lat and lon must be decimal degrees"

    broken = tmp_path / "broken.csv"
    broken.write_text("unit_id,name\nP,x\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="missing columns"):
        list(read_rows(broken, UNIT_COLUMNS, 4))


def test_base_url() -> None:
    assert base_url({}, None) == "http://127.0.0.1:8002"
    assert base_url({"SCANTRACE_REPORTER_PORT": "9002"}, None) == "http://127.0.0.1:9002"
    assert base_url({"SCANTRACE_REPORTER_URL": "http://r:1/"}, None) == "http://r:1"
    assert base_url({}, "http://x/") == "http://x"
