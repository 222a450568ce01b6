"""`scantrace replay`: real contact and check-in data sets as venues and scans (see docs/data.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from scantrace_cli.sim.files import write_workload
from scantrace_cli.sim.live import add_stack_options, drive_and_summarize
from scantrace_cli.sim.offline import workload_summary
from scantrace_cli.sim.replay import DATASETS, load_dataset


def default_data_dir() -> Path:
    """SCANTRACE_DATA_DIR, else `../shared/data` beside the repository (found from this file)."""
    configured = os.environ.get("SCANTRACE_DATA_DIR")
    if configured:
        return Path(configured)
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").exists() and (parent / "libs").is_dir():
            return parent.parent / "shared" / "data"
    return Path("../shared/data")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay a real contact data set (SocioPatterns, Foursquare) through the stack",
        description=(
            "Turn a real data set into venues and scans and send them through the public APIs "
            "(or write them with --dry-run). SocioPatterns proximity records become sessions of "
            "presence at rooms, classes or offices (in/out scans); Foursquare check-ins become "
            "`in` scans at their venues. Times move by whole days so the last day of data is "
            "--end-date (local time of day is kept). docs/data.md has the whole mapping."
        ),
    )
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder holding the data sets (default: SCANTRACE_DATA_DIR, else ../shared/data)",
    )
    parser.add_argument(
        "--end-date",
        type=date.fromisoformat,
        default=None,
        help="local day the data's last day moves to (default: yesterday, so all of it is past)",
    )
    parser.add_argument(
        "--gap-minutes",
        type=int,
        default=10,
        help="SocioPatterns: a person's records at one venue closer than this are one session",
    )
    parser.add_argument("--limit", type=int, default=0, help="read only the first N records")
    add_stack_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    tz = os.environ.get("SCANTRACE_TZ", "Asia/Ho_Chi_Minh")
    end_date = args.end_date or datetime.now(tz=ZoneInfo(tz)).date() - timedelta(days=1)
    data_dir = args.data_dir or default_data_dir()
    try:
        workload = load_dataset(
            args.dataset,
            data_dir,
            end_date=end_date,
            tz=tz,
            gap_minutes=args.gap_minutes,
            limit=args.limit,
        )
    except (OSError, ValueError) as exc:
        print(f"replay: cannot read {args.dataset} under {data_dir}: {exc}", file=sys.stderr)
        return 2
    if args.dry_run is not None:
        out_dir = Path(args.dry_run)
        write_workload(workload, out_dir)
        print(workload_summary(workload, out_dir))
        return 0
    return asyncio.run(drive_and_summarize(workload, args, seed=0))
