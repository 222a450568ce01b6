"""Options and the top-level flow shared by `scantrace simulate` and `scantrace replay`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

from scantrace_cli.secrets import resolve_auth_secret
from scantrace_cli.sim.driver import Endpoints, LiveDriver
from scantrace_cli.sim.model import Workload
from scantrace_cli.sim.summary import summarize
from scantrace_common.auth import mint_staff_token


def default_url(env: Mapping[str, str], service: str, port: int) -> str:
    chosen = env.get(f"SCANTRACE_{service.upper()}_PORT", str(port))
    return f"http://127.0.0.1:{chosen}"


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    env = os.environ
    parser.add_argument(
        "--dry-run",
        metavar="OUT_DIR",
        default=None,
        help="write units.csv, venues.csv and msgpack files of scans etc. to OUT_DIR; send nothing",
    )
    parser.add_argument(
        "--rate", type=float, default=0.0, help="cap on scans sent per second (0: none)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="requests in flight (default 32)"
    )
    parser.add_argument("--gateway-url", default=default_url(env, "gateway", 8000))
    parser.add_argument("--reporter-url", default=default_url(env, "reporter", 8002))
    parser.add_argument("--tracer-url", default=default_url(env, "tracer", 8001))
    parser.add_argument(
        "--prometheus-url",
        default=default_url(env, "local_prometheus", 9090),
        help="the summary links to its graphs and alerts when it answers (`scantrace up prometheus`)",
    )
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the figures to stop changing before the summary (default 60)",
    )
    parser.add_argument(
        "--source-addresses",
        type=int,
        default=200,
        help="spread the phones over this many loopback source addresses (127.0.0.2 ...) when "
        "the gateway is on 127.0.0.1, as its limits are per address (0: one address)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


async def drive_and_summarize(workload: Workload, args: argparse.Namespace, *, seed: int) -> int:
    secret = resolve_auth_secret(os.environ)
    if secret is None:
        print(
            "no auth secret: set SCANTRACE_AUTH_SECRET or start the stack once (`make run`) "
            "so it writes the development secret",
            file=sys.stderr,
        )
        return 2
    endpoints = Endpoints(
        gateway=args.gateway_url.rstrip("/"),
        reporter=args.reporter_url.rstrip("/"),
        tracer=args.tracer_url.rstrip("/"),
    )
    admin = mint_staff_token(secret, "scantrace-simulate", "admin")
    epidemiologist = mint_staff_token(secret, "scantrace-simulate", "epidemiologist")
    driver = LiveDriver(
        workload,
        endpoints,
        admin_token=admin,
        concurrency=args.concurrency,
        rate=args.rate,
        progress=not args.no_progress,
        source_addresses=args.source_addresses,
    )
    try:
        result = await driver.run()
    except Exception as exc:  # a CLI reports any failure in one line
        print(f"the stack did not take the workload: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print()
    print(
        await summarize(
            workload,
            result.stats,
            endpoints,
            admin_token=admin,
            epidemiologist_token=epidemiologist,
            seed=seed,
            settle_timeout_s=args.settle_timeout,
            prometheus_url=args.prometheus_url,
        )
    )
    return 0 if result.stats.scans_accepted or not result.stats.scans_sent else 1
