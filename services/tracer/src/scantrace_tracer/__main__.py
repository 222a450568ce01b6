"""`python -m scantrace_tracer`: the HTTP API and the Faust stream worker in one process."""

from __future__ import annotations

import uvicorn

from scantrace_common.logs import configure_logging
from scantrace_tracer.settings import TracerSettings


def main() -> None:
    settings = TracerSettings()
    settings.require_real_secret()
    configure_logging("tracer", settings.log_level)
    uvicorn.run(
        "scantrace_tracer.api:create_app_from_env",
        factory=True,
        host=settings.tracer_host,
        port=settings.tracer_port,
        workers=1,
        loop="asyncio",
        http="httptools",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
