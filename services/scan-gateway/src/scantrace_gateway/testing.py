"""Helpers for tests of code that uses the gateway: an in-memory Publisher and a test harness.

Only unit tests use `MemoryPublisher`; integration tests run the real Kafka/spool publisher.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from scantrace_common.auth import mint_device_token
from scantrace_common.qr import QrSigner, QrVerifier
from scantrace_gateway.app import Overrides, create_gateway_app
from scantrace_gateway.dedup import Deduper
from scantrace_gateway.publisher import Sink, Unavailable
from scantrace_gateway.settings import GatewaySettings
from scantrace_gateway.spool import Record


@dataclass
class MemoryPublisher:
    """Keeps what was published; `available = False` makes every publish raise Unavailable."""

    records: list[Record] = field(default_factory=list)
    available: bool = True

    async def publish(self, records: list[Record]) -> Sink:
        if not self.available:
            raise Unavailable("memory publisher switched off")
        self.records.extend(records)
        return "kafka"


class RevokedSet(set[str]):
    """Revoked venue ids a test adds to; complete from the start (no topic to catch up on)."""

    caught_up = True


@dataclass
class Harness:
    app: FastAPI
    client: httpx.AsyncClient
    publisher: MemoryPublisher
    signer: QrSigner
    old_signer: QrSigner
    revoked: RevokedSet
    secret: str

    def device_token(self, person_id: str, device_id: str = "dev-1") -> str:
        return mint_device_token(self.secret, device_id, person_id)

    def qr(self, venue_id: str) -> str:
        return self.signer.sign(venue_id)


def new_scan_id() -> str:
    return str(uuid.uuid4())


@asynccontextmanager
async def harness(
    rate_limits: str = "off",
    *,
    publisher: MemoryPublisher | None = None,
    scan_deduper: Deduper | None = None,
    **settings: Any,
) -> AsyncIterator[Harness]:
    """The app with in-memory parts, lifespan run, and an httpx client on it (no sockets).

    Pass a `scan_deduper` to share duplicate memory between two harnesses (a restarted
    gateway in front of the same Redis)."""
    signer, old_signer = QrSigner.generate("k2"), QrSigner.generate("k1")
    keys = f"{old_signer.public_env_value()},{signer.public_env_value()}"
    secret = secrets.token_urlsafe(32)
    config = GatewaySettings(
        auth_secret=SecretStr(secret), qr_verify_keys=keys, rate_limits=rate_limits, **settings
    )
    publisher = publisher or MemoryPublisher()
    revoked = RevokedSet()
    app = create_gateway_app(
        config,
        Overrides(
            publisher=publisher,
            scan_deduper=scan_deduper,
            verify_qr=QrVerifier.from_env_value(keys).verify,
            revoked=revoked,
        ),
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
    ):
        yield Harness(app, client, publisher, signer, old_signer, revoked, secret)
