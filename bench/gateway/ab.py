"""Old and new gateway code alternated against one broker and Redis (a same-run comparison).

`uv run python -m bench.gateway.ab --old REV [--only single|batch] [--pairs N] [--ack kafka]`:
the gateway of git revision REV (`git archive`, into a temporary directory put first on the
worker's PYTHONPATH) and the working tree's take turns, N pairs, ABBA order, each measured by
`run.measure_gateway` with the same wrk loads. Prints one line per load; writes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import secrets
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import REPO_ROOT, servers
from bench.gateway import run


def extract(rev: str, into: Path) -> Path:
    """The gateway's sources at `rev`; returns their `src` directory."""
    archive = subprocess.run(
        ["git", "archive", rev, "services/scan-gateway/src"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "services" / "scan-gateway" / "src"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--old", required=True, help="git revision of the old gateway")
    parser.add_argument("--only", action="append", choices=("single", "batch"))
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--ack", choices=("kafka", "spool"), default="kafka")
    options = parser.parse_args(argv)
    parts = set(options.only or ("single",))
    from scantrace_common.auth import mint_device_token
    from scantrace_common.qr import QrSigner
    from scantrace_common.settings import DEFAULT_RETENTION_DAYS
    from scantrace_common.topics import ensure_topics

    namespace = f"ab{uuid.uuid4().hex[:6]}."
    secret = secrets.token_urlsafe(32)
    signer = QrSigner.generate("bench")
    qrs = [signer.sign(f"venue-{i:04d}") for i in range(run.VENUES)]
    args = [mint_device_token(secret, "bench-device", "bench-person"), "bench-person"]
    args.append(str(int(time.time() * 1000)))
    with tempfile.TemporaryDirectory(prefix="scantrace-ab-") as tmp:
        state = Path(tmp)
        old_src = extract(options.old, state / "old")
        with servers(state) as (bootstrap, redis_url):
            asyncio.run(ensure_topics(bootstrap, namespace, retention_days=DEFAULT_RETENTION_DAYS))
            run.OTHERS.update(run.server_pids(state, redis_url))
            env = run.gateway_env_base(bootstrap, redis_url, namespace, secret, signer)
            for pair in range(options.pairs):
                for name in ("old", "new") if pair % 2 == 0 else ("new", "old"):
                    side = dict(env)
                    if name == "old":
                        side["PYTHONPATH"] = f"{old_src}:{env['PYTHONPATH']}"
                    measured = run.measure_gateway(options.ack, side, state, args, qrs, None, parts)
                    for load, r in ((k, r) for k, runs in measured.items() for r in runs):
                        print(
                            f"{name} {load}: {r['rps']:.0f} req/s, p50 {r['p50_us'] / 1000:.1f} "
                            f"ms, p99 {r['p99_us'] / 1000:.1f} ms, {r['per_cpu_s']:.0f} req "
                            f"per worker CPU-s, redis {r.get('redis_cpu_s')} s, broker "
                            f"{r.get('broker_cpu_s')} s",
                            flush=True,
                        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
