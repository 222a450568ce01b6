"""Console settings: the common ones plus its port and where the tracer and the reporter answer."""

from __future__ import annotations

from pydantic import Field

from scantrace_common.settings import CommonSettings


class ConsoleSettings(CommonSettings):
    """`SCANTRACE_*` variables of the console (keyword arguments in tests)."""

    #: SCANTRACE_CONSOLE_PORT.
    console_port: int = Field(default=8003, ge=0, le=65535)
    console_host: str = "127.0.0.1"
    #: Where the console calls the APIs; by default the local stack's ports.
    tracer_url: str = ""
    reporter_url: str = ""
    tracer_port: int = 8001
    reporter_port: int = 8002
    #: The unit an admin's compliance page opens on (officials open on their first unit).
    console_root_unit: str = ""
    #: Seconds the console waits for an API before it says the service is unavailable.
    console_upstream_timeout_s: float = Field(default=15.0, gt=0, le=120)

    @property
    def tracer_base(self) -> str:
        return (self.tracer_url or f"http://127.0.0.1:{self.tracer_port}").rstrip("/")

    @property
    def reporter_base(self) -> str:
        return (self.reporter_url or f"http://127.0.0.1:{self.reporter_port}").rstrip("/")

    @property
    def secure_cookies(self) -> bool:
        """Cookies are `Secure` everywhere but development (plain http on 127.0.0.1)."""
        return self.environment != "development"
