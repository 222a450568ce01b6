"""`scantrace tracer`: maintenance of the tracer's Redis state (rebuild, retention sweep)."""

from __future__ import annotations

import argparse
import asyncio
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("tracer", help="rebuild or trim the tracer's Redis state")
    sub = parser.add_subparsers(dest="tracer_command", metavar="ACTION", required=True)
    rebuild = sub.add_parser(
        "rebuild",
        help="rebuild visits and co-presence from venues.v1 and scans.v1",
        description=(
            "Delete the tracer's Redis keys (in SCANTRACE_NAMESPACE) and derive them again from "
            "the whole of venues.v1 and scans.v1. Stop the tracer worker first. Uses the "
            "SCANTRACE_* environment (broker, Redis, namespace, retention)."
        ),
    )
    rebuild.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rebuild.set_defaults(func=run_rebuild)
    sweep = sub.add_parser("sweep", help="remove scans and visits older than the retention now")
    sweep.set_defaults(func=run_sweep)


def run_rebuild(args: argparse.Namespace) -> int:
    from scantrace_tracer.rebuild import rebuild
    from scantrace_tracer.settings import TracerSettings

    settings = TracerSettings()
    if not args.yes and sys.stdin.isatty():
        answer = input(
            f"delete and rebuild the tracer state in {settings.redis_url} "
            f"(namespace {settings.namespace!r})? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            return 1
    try:
        report = asyncio.run(rebuild(settings))
    except Exception as exc:  # one line with the cause, for an operator
        print(f"rebuild failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(
        f"rebuilt: {report.keys_deleted} keys deleted, {report.venue_events} venue events and "
        f"{report.scan_events} scan events applied; follow-ups from {report.exposure_events} "
        f"exposure notices and {report.declaration_events} declarations; clusters from "
        f"{report.cluster_events} cluster lists and {report.case_events} cases"
    )
    return 0


def run_sweep(_: argparse.Namespace) -> int:
    from scantrace_common.redis_client import connect
    from scantrace_tracer.keys import Keys
    from scantrace_tracer.settings import TracerSettings
    from scantrace_tracer.store import TracerStore

    settings = TracerSettings()

    async def sweep() -> int:
        redis = connect(settings.redis_url)
        try:
            store = TracerStore(
                redis, Keys(settings.namespace), retention_days=settings.retention_days
            )
            return await store.sweep()
        finally:
            await redis.aclose()

    print(f"swept {asyncio.run(sweep())} person keys")
    return 0
