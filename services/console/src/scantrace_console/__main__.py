"""`python -m scantrace_console`: serve the console on SCANTRACE_CONSOLE_PORT (8003)."""

from __future__ import annotations

import uvicorn

from scantrace_common.logs import configure_logging
from scantrace_console.app import create_console_app
from scantrace_console.settings import ConsoleSettings


def main() -> None:
    settings = ConsoleSettings()
    configure_logging("console", settings.log_level)
    uvicorn.run(
        create_console_app(settings),
        host=settings.console_host,
        port=settings.console_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
