"""`python -m scantrace_gateway`: uvicorn with one worker process per core, uvloop and httptools."""

from __future__ import annotations

import os
import shutil

import uvicorn

from scantrace_common.logs import configure_logging
from scantrace_gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    settings.require_real_secret()
    configure_logging("scan-gateway", settings.log_level)
    workers = settings.workers
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker writes its metrics to files here; /metrics merges them.
        metrics_dir = settings.state_dir / "metrics" / "gateway"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    uvicorn.run(
        "scantrace_gateway.app:create_app_from_env",
        factory=True,
        host=settings.gateway_host,
        port=settings.gateway_port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
