"""`scantrace up [kafka redis gateway tracer reporter prometheus ...]`: the local stack in the foreground."""

from __future__ import annotations

import argparse

from scantrace_cli.stack.launcher import COMPONENTS, run_up

_EPILOG = """\
A local broker and Redis start only when SCANTRACE_KAFKA_BOOTSTRAP / SCANTRACE_REDIS_URL are
unset; they listen on 127.0.0.1 at SCANTRACE_LOCAL_KAFKA_PORT (9092) and
SCANTRACE_LOCAL_REDIS_PORT (6379). The broker is Apache Kafka where Java 17+ and Maven exist,
else the embedded Tansu (force one with SCANTRACE_LOCAL_BROKER=kafka|tansu). State, logs and
development secrets live in SCANTRACE_STATE_DIR (default .scantrace/). Prometheus (Debian's
`prometheus`; part of the default set only when installed) listens on
SCANTRACE_LOCAL_PROMETHEUS_PORT (9090), scrapes the services on their ports and loads
deploy/prometheus/alerts.yml. See docs/local-stack.md.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "up",
        help="start the local stack (or some components) in the foreground",
        description="Start the named components (all when none is named) in dependency order, "
        "wait until each is ready, and stop them all on Ctrl-C or SIGTERM.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "components",
        nargs="*",
        metavar="COMPONENT",
        help=f"any of: {' '.join(COMPONENTS)} (default: all)",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    return run_up(list(args.components))
