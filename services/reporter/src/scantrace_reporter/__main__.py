"""`python -m scantrace_reporter`: serve the reporter on SCANTRACE_REPORTER_PORT (8002)."""

from __future__ import annotations

import uvicorn

from scantrace_common.logs import configure_logging
from scantrace_reporter.app import create_reporter_app
from scantrace_reporter.settings import ReporterSettings


def main() -> None:
    settings = ReporterSettings()
    configure_logging("reporter", settings.log_level)
    uvicorn.run(
        create_reporter_app(settings),
        host=settings.reporter_host,
        port=settings.reporter_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
