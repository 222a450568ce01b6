"""Reporter settings: the common ones plus its port, QR signing key, consumer and export limits."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from scantrace_common.settings import CommonSettings


class ReporterSettings(CommonSettings):
    """`SCANTRACE_*` variables of the reporter (keyword arguments in tests)."""

    #: SCANTRACE_REPORTER_PORT.
    reporter_port: int = Field(default=8002, ge=0, le=65535)
    reporter_host: str = "127.0.0.1"
    #: SCANTRACE_QR_SIGNING_KEY = `<key_id>:<base64url 32-byte Ed25519 seed>`.
    qr_signing_key: SecretStr | None = None
    #: Consumer groups are `<namespace><prefix>-registry`, `-scans`, `-quarantines`, `-declarations`;
    #: a new prefix (with the Redis keys of the namespace flushed) rebuilds the view from Kafka.
    reporter_group_prefix: str = "reporter"
    reporter_max_batch: int = Field(default=5000, ge=1, le=100_000)
    #: A TrueType font covering Vietnamese; found among the usual system paths when unset.
    poster_font: Path | None = None
    poster_font_bold: Path | None = None
    #: At most this many posters in one batch export (ask per commune above it).
    poster_batch_limit: int = Field(default=2000, ge=1)
    #: At most this many rows (units x days) in one CSV export.
    csv_max_rows: int = Field(default=400_000, ge=1)
    #: Lifetime of the tokens `POST /v1/sessions` answers (SPEC 8: default 8 h, at most 12 h).
    session_ttl_s: int = Field(default=8 * 3600, ge=60, le=12 * 3600)
    #: Start the Kafka consumers (tests of the HTTP layer alone may turn them off).
    reporter_consumers: bool = True
