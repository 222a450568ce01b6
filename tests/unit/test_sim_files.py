"""Dry-run files: written once, read back identical; the CLI writes them too."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from scantrace_cli.main import main
from scantrace_cli.sim.config import SimConfig
from scantrace_cli.sim.files import read_workload, write_workload
from scantrace_cli.sim.generator import generate

pytestmark = pytest.mark.unit


def test_round_trip(tmp_path: Path) -> None:
    workload = generate(SimConfig(people=300, start_date=date(2026, 3, 4), seed=5))
    paths = write_workload(workload, tmp_path)
    assert set(paths) >= {"units.csv", "venues.csv", "scans.msgpack", "meta.json"}
    assert read_workload(tmp_path) == workload


def test_registry_csv_has_headers_and_diacritics(tmp_path: Path) -> None:
    write_workload(generate(SimConfig(people=100, start_date=date(2026, 3, 4))), tmp_path)
    with (tmp_path / "units.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0] == {
        "unit_id": "dn",
        "name": "Tỉnh Đồng Nai",
        "parent_id": "",
        "level": "province",
    }
    with (tmp_path / "venues.csv").open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    assert header == ["venue_id", "name", "kind", "unit_id", "default_dwell_minutes", "lat", "lon"]


def test_cli_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "simulate",
            "--people",
            "200",
            "--seed",
            "3",
            "--start-date",
            "2026-03-04",
            "--dry-run",
            str(out),
        ]
    )
    assert code == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["first_date"] == meta["last_date"] == "2026-03-04"
    assert meta["counts"]["persons"] == 200
    printed = capsys.readouterr().out
    assert "Thành phố Biên Hòa" in printed
    again = tmp_path / "again"
    main(
        [
            "simulate",
            "--people",
            "200",
            "--seed",
            "3",
            "--start-date",
            "2026-03-04",
            "--dry-run",
            str(again),
        ]
    )
    assert (again / "scans.msgpack").read_bytes() == (out / "scans.msgpack").read_bytes()


def test_cli_refuses_bad_shares(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["simulate", "--people", "10", "--offline-share", "1.5", "--dry-run", "/nonexistent"])
        == 2
    )
    assert "--offline-share" in capsys.readouterr().err


def test_id_prefix_renames_every_id(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "simulate",
            "--people",
            "50",
            "--start-date",
            "2026-03-04",
            "--id-prefix",
            "run7-",
            "--dry-run",
            str(out),
        ]
    )
    assert code == 0
    workload = read_workload(out)
    assert all(u.unit_id.startswith("run7-") for u in workload.units)
    assert all(
        v.venue_id.startswith("run7-") and v.unit_id.startswith("run7-") for v in workload.venues
    )
    assert all(
        s.person_id.startswith("run7-") and s.venue_id.startswith("run7-") for s in workload.scans
    )
    assert all(u.parent_id is None or u.parent_id.startswith("run7-") for u in workload.units)


def test_replay_cli_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scantrace_cli.commands.replay import default_data_dir

    if not default_data_dir().is_dir():
        pytest.skip(f"no data sets at {default_data_dir()}")
    out = tmp_path / "replay"
    code = main(
        [
            "replay",
            "--dataset",
            "sociopatterns-hospital",
            "--limit",
            "500",
            "--end-date",
            "2026-03-06",
            "--dry-run",
            str(out),
        ]
    )
    assert code == 0
    workload = read_workload(out)
    assert workload.last_date == "2026-03-06"
    assert {u.unit_id for u in workload.units} == {"replay", "replay.sociopatterns-hospital"}
    assert "sociopatterns-hospital" in capsys.readouterr().out
