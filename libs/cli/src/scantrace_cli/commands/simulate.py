"""`scantrace simulate`: a synthetic Đồng Nai province, sent to the running stack or written to files."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from scantrace_cli.sim.config import SimConfig
from scantrace_cli.sim.files import write_workload
from scantrace_cli.sim.generator import generate
from scantrace_cli.sim.live import add_stack_options, drive_and_summarize
from scantrace_cli.sim.offline import workload_summary
from scantrace_cli.sim.prefix import prefixed
from scantrace_common.ids import is_valid_id


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="simulate a province's scans and drive the stack (or write them with --dry-run)",
        description=(
            "Generate a deterministic province modelled on Dong Nai (2 cities, 9 districts, 170 "
            "communes, the provincial departments), its venues and its people's days, then send "
            "everything through the public APIs: registry and quarantines to the reporter, devices, "
            "scans and declarations to the gateway. Ends with a summary: uploads, the districts' "
            "compliance and one exposure query. The same --seed gives the same data."
        ),
    )
    parser.add_argument("--people", type=int, default=2_000, help="persons (default 2000)")
    parser.add_argument(
        "--venues", type=int, default=0, help="venues (default: one per 10 people, at least 60)"
    )
    parser.add_argument("--days", type=int, default=1, help="days to simulate (default 1)")
    parser.add_argument(
        "--start-date",
        type=date.fromisoformat,
        default=None,
        help="first day, YYYY-MM-DD (default: so that the last day is today, in SCANTRACE_TZ)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--id-prefix",
        default="",
        help="prefix for every unit, venue and person id (runs with other seeds or sizes "
        "on the same stack then do not collide)",
    )
    parser.add_argument("--never-scan-share", type=float, default=0.08)
    parser.add_argument("--forget-out-share", type=float, default=0.5)
    parser.add_argument("--double-scan-share", type=float, default=0.05)
    parser.add_argument("--offline-share", type=float, default=0.1)
    parser.add_argument("--retry-share", type=float, default=0.02)
    parser.add_argument("--quarantine-share", type=float, default=0.01)
    parser.add_argument("--declare-share", type=float, default=0.85)
    add_stack_options(parser)
    parser.set_defaults(func=run)


def default_start(days: int, tz: str) -> date:
    today = datetime.now(tz=ZoneInfo(tz)).date()
    return today - timedelta(days=max(1, days) - 1)


def config_from_args(args: argparse.Namespace) -> SimConfig:
    tz = os.environ.get("SCANTRACE_TZ", "Asia/Ho_Chi_Minh")
    if args.people < 1 or args.days < 1:
        raise ValueError("--people and --days must be at least 1")
    for name, value in vars(args).items():
        if name.endswith("_share") and not 0.0 <= value <= 1.0:
            raise ValueError(f"--{name.replace('_', '-')} must be between 0 and 1")
    return SimConfig(
        people=args.people,
        venues=args.venues,
        days=args.days,
        start_date=args.start_date or default_start(args.days, tz),
        seed=args.seed,
        tz=tz,
        never_scan_share=args.never_scan_share,
        forget_out_share=args.forget_out_share,
        double_scan_share=args.double_scan_share,
        offline_share=args.offline_share,
        retry_share=args.retry_share,
        quarantine_share=args.quarantine_share,
        declare_share=args.declare_share,
    )


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    workload = generate(config)
    if args.id_prefix:
        if not is_valid_id(args.id_prefix + "x" * 20):
            print("simulate: --id-prefix may use only [A-Za-z0-9_.-] and be short", file=sys.stderr)
            return 2
        workload = prefixed(workload, args.id_prefix)
    if args.dry_run is not None:
        out_dir = Path(args.dry_run)
        write_workload(workload, out_dir)
        print(workload_summary(workload, out_dir))
        return 0
    return asyncio.run(drive_and_summarize(workload, args, seed=config.seed))
