"""The live driver: feeds a workload to a running stack through its public HTTP APIs only.

Order: units (parents first) and venues via the reporter (admin token), which answers each
venue's QR payload; devices via the gateway; quarantines via the reporter; then the phones'
uploads in the order they would reach the server (`uploaded_at`), scans as msgpack arrays with
each person's device token. Scans that lie in the future of this machine's clock are held back
(they have not happened yet) and counted as `not_due`.
"""

from __future__ import annotations

import asyncio
import socket
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
import msgspec
from tqdm import tqdm

from scantrace_cli.sim.client import HttpError, RateCap, open_session, send
from scantrace_cli.sim.model import SimDeclaration, SimScan, SimUnit, SimVenue, Workload
from scantrace_common.timeparse import now_ms

MAX_SCANS_PER_REQUEST: Final = 1000
REGISTRY_BATCH: Final = 500
#: Scans up to this far ahead of our clock are sent (the gateway allows 5 minutes).
FUTURE_MARGIN_MS: Final = 60_000


class RegistryError(Exception):
    """The reporter refused a whole registry batch (not item by item)."""


@dataclass(frozen=True)
class Endpoints:
    gateway: str
    reporter: str
    tracer: str


@dataclass
class DriveStats:
    units_created: int = 0
    units_existing: int = 0
    venues_created: int = 0
    venues_existing: int = 0
    registry_rejected: int = 0
    devices: int = 0
    quarantines: int = 0
    scans_sent: int = 0
    scans_accepted: int = 0
    scans_duplicates: int = 0
    scans_rejected: int = 0
    scans_failed: int = 0
    scans_not_due: int = 0
    declarations_sent: int = 0
    declarations_accepted: int = 0
    declarations_failed: int = 0
    upload_seconds: float = 0.0
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass
class DriveResult:
    stats: DriveStats
    qr: dict[str, str]
    tokens: dict[str, str]
    sent_scans: list[SimScan]
    sent_declarations: list[SimDeclaration]


@dataclass(frozen=True)
class Upload:
    """One request a phone makes: a batch of scans or one declaration."""

    at: int
    person_id: str
    scans: tuple[SimScan, ...] = ()
    declaration: SimDeclaration | None = None


def plan_uploads(workload: Workload, now: int) -> tuple[list[Upload], int]:
    """The phones' requests in arrival order, and how many scans are not due yet."""
    groups: dict[tuple[str, int], list[SimScan]] = {}
    not_due = 0
    for scan in workload.scans:
        if scan.scanned_at > now + FUTURE_MARGIN_MS:
            not_due += 1
            continue
        groups.setdefault((scan.person_id, scan.uploaded_at), []).append(scan)
    uploads: list[Upload] = []
    for (person_id, at), scans in groups.items():
        for i in range(0, len(scans), MAX_SCANS_PER_REQUEST):
            uploads.append(Upload(at, person_id, tuple(scans[i : i + MAX_SCANS_PER_REQUEST])))
    for declaration in workload.declarations:
        if declaration.declared_at <= now + FUTURE_MARGIN_MS:
            uploads.append(Upload(declaration.uploaded_at, declaration.person_id, (), declaration))
    uploads.sort(key=lambda u: (u.at, u.person_id))
    return uploads, not_due


def registry_levels(units: Iterable[SimUnit]) -> list[list[SimUnit]]:
    """Units grouped by depth, so every parent is created before its children."""
    unit_list = list(units)
    parent = {u.unit_id: u.parent_id for u in unit_list}

    def depth(unit_id: str) -> int:
        d, current = 0, parent.get(unit_id)
        while current is not None and d < 64:
            d, current = d + 1, parent.get(current)
        return d

    levels: dict[int, list[SimUnit]] = {}
    for unit in unit_list:
        levels.setdefault(depth(unit.unit_id), []).append(unit)
    return [levels[d] for d in sorted(levels)]


async def _pool(n: int, jobs: Iterator[Any], work: Callable[[Any], Awaitable[None]]) -> None:
    """Run `work` over `jobs` with at most `n` in flight (the iterator is shared by the workers)."""

    async def worker() -> None:
        for job in jobs:
            await work(job)

    await asyncio.gather(*(worker() for _ in range(max(1, n))))


class LiveDriver:
    def __init__(
        self,
        workload: Workload,
        endpoints: Endpoints,
        *,
        admin_token: str,
        concurrency: int = 32,
        rate: float = 0.0,
        progress: bool = True,
        timeout_s: float = 30.0,
        source_addresses: int = 200,
    ) -> None:
        self.workload = workload
        self.endpoints = endpoints
        self.admin_token = admin_token
        self.concurrency = concurrency
        self.rate = RateCap(rate)
        self.progress = progress
        self.timeout_s = timeout_s
        self.source_addresses = source_addresses
        self._phones: list[aiohttp.ClientSession] = []
        self.stats = DriveStats()
        self.qr: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self._encoder = msgspec.msgpack.Encoder()

    def _bar(self, total: int, desc: str, unit: str) -> tqdm[Any]:
        return tqdm(total=total, desc=desc, unit=unit, disable=not self.progress, leave=True)

    async def run(self) -> DriveResult:
        async with open_session(self.concurrency, self.timeout_s) as client:
            await self.register_units(client)
            await self.register_venues(client)
            self._phones = self._open_phone_sessions()
            try:
                await self.enrol_devices(client)
                await self.register_quarantines(client)
                sent_scans, sent_declarations = await self.upload(client)
            finally:
                for session in self._phones:
                    await session.close()
                self._phones = []
        return DriveResult(self.stats, self.qr, self.tokens, sent_scans, sent_declarations)

    def _open_phone_sessions(self) -> list[aiohttp.ClientSession]:
        """Phones talk from many addresses, like real ones behind many networks.

        The gateway limits enrolments and requests per client address, so against a gateway on
        loopback the phones are spread over source addresses 127.0.0.2 .. (all of 127/8 is
        local on Linux). Against any other host they share this machine's address.
        """
        host = urlsplit(self.endpoints.gateway).hostname or ""
        local = host in ("127.0.0.1", "localhost") and _can_bind("127.0.0.2")
        count = self.source_addresses if local else 0
        if count <= 0:
            return [open_session(self.concurrency, self.timeout_s)]
        return [
            open_session(
                self.concurrency,
                self.timeout_s,
                local_addr=f"127.0.{(i + 2) // 256}.{(i + 2) % 256}",
            )
            for i in range(count)
        ]

    def phone(self, person_id: str) -> aiohttp.ClientSession:
        """The session (so the source address) of this person's phone; stable for a person."""
        return self._phones[zlib.crc32(person_id.encode()) % len(self._phones)]

    # registry --------------------------------------------------------------------------------

    async def _post_batch(
        self, client: aiohttp.ClientSession, path: str, items: list[dict[str, Any]]
    ) -> list[tuple[int, dict[str, Any]]]:
        """(status, body) per item through the reporter's `/batch` route, else one POST each."""
        url = f"{self.endpoints.reporter}{path}"
        response = await send(client, "POST", f"{url}/batch", token=self.admin_token, json=items)
        if response.status_code == 200:
            answer = response.json()
            results: list[tuple[int, dict[str, Any]]] = [(0, {})] * len(items)
            for created in answer.get("created", []):
                results[created["index"]] = (201, created)
            for rejected in answer.get("rejected", []):
                results[rejected["index"]] = (rejected.get("status", 422), rejected)
            return results
        if response.status_code not in (404, 405):
            raise RegistryError(
                f"{path}/batch answered HTTP {response.status_code}: {response.content[:300]!r}"
            )
        found: list[tuple[int, dict[str, Any]]] = []
        for item in items:
            one = await send(client, "POST", url, token=self.admin_token, json=item)
            found.append((one.status_code, one.json() if one.content else {}))
        return found

    async def register_units(self, client: aiohttp.ClientSession) -> None:
        for level in registry_levels(self.workload.units):
            for i in range(0, len(level), REGISTRY_BATCH):
                chunk = level[i : i + REGISTRY_BATCH]
                items = [
                    {
                        "unit_id": u.unit_id,
                        "name": u.name,
                        "parent_id": u.parent_id,
                        "level": u.level,
                    }
                    for u in chunk
                ]
                for status, body in await self._post_batch(client, "/v1/units", items):
                    if status in (200, 201):
                        self.stats.units_created += 1
                    elif status == 409:
                        self.stats.units_existing += 1
                    else:
                        self.stats.registry_rejected += 1
                        self.stats.reasons[f"unit: {body.get('error') or body.get('detail')}"] += 1

    async def register_venues(self, client: aiohttp.ClientSession) -> None:
        venues = self.workload.venues
        bar = self._bar(len(venues), "venues", "venue")
        for i in range(0, len(venues), REGISTRY_BATCH):
            chunk = venues[i : i + REGISTRY_BATCH]
            results = await self._post_batch(client, "/v1/venues", [_venue_body(v) for v in chunk])
            for venue, (status, body) in zip(chunk, results, strict=True):
                if status in (200, 201) and "qr" in body:
                    self.stats.venues_created += 1
                    self.qr[venue.venue_id] = body["qr"]
                elif status == 409:
                    existing = await send(
                        client,
                        "GET",
                        f"{self.endpoints.reporter}/v1/venues/{venue.venue_id}",
                        token=self.admin_token,
                    )
                    if existing.status_code == 200:
                        self.stats.venues_existing += 1
                        self.qr[venue.venue_id] = existing.json()["qr"]
                else:
                    self.stats.registry_rejected += 1
                    self.stats.reasons[f"venue: {body.get('error') or body.get('detail')}"] += 1
            bar.update(len(chunk))
        bar.close()

    async def enrol_devices(self, client: aiohttp.ClientSession) -> None:
        persons = [p for p in self.workload.persons if p.scans]
        bar = self._bar(len(persons), "devices", "device")
        url = f"{self.endpoints.gateway}/v1/devices"

        async def enrol(person_id: str) -> None:
            response = await send(self.phone(person_id), "POST", url, json={"person_id": person_id})
            if response.status_code == 201:
                self.tokens[person_id] = response.json()["token"]
                self.stats.devices += 1
            else:
                self.stats.reasons[f"device: HTTP {response.status_code}"] += 1
            bar.update(1)

        await _pool(self.concurrency, iter([p.person_id for p in persons]), enrol)
        bar.close()

    async def register_quarantines(self, client: aiohttp.ClientSession) -> None:
        url = f"{self.endpoints.reporter}/v1/quarantines"

        async def register(q: Any) -> None:
            body = {
                "person_id": q.person_id,
                "unit_id": q.unit_id,
                "from": q.from_date,
                "to": q.to_date,
            }
            response = await send(client, "POST", url, token=self.admin_token, json=body)
            if response.status_code in (200, 201):
                self.stats.quarantines += 1
            else:
                self.stats.reasons[f"quarantine: HTTP {response.status_code}"] += 1

        await _pool(self.concurrency, iter(self.workload.quarantines), register)

    # uploads ---------------------------------------------------------------------------------

    async def upload(
        self, client: aiohttp.ClientSession
    ) -> tuple[list[SimScan], list[SimDeclaration]]:
        uploads, not_due = plan_uploads(self.workload, now_ms())
        self.stats.scans_not_due = not_due
        total = sum(len(u.scans) for u in uploads)
        bar = self._bar(total, "scans", "scan")
        sent_scans: list[SimScan] = []
        sent_declarations: list[SimDeclaration] = []
        scans_url = f"{self.endpoints.gateway}/v1/scans"
        declarations_url = f"{self.endpoints.gateway}/v1/declarations"
        started = time.perf_counter()

        async def one(upload: Upload) -> None:
            token = self.tokens.get(upload.person_id)
            if token is None:
                self.stats.scans_failed += len(upload.scans)
                bar.update(len(upload.scans))
                return
            await self.rate.take(max(1, len(upload.scans)))
            if upload.declaration is not None:
                await self._declare(
                    self.phone(upload.person_id), declarations_url, token, upload.declaration
                )
                sent_declarations.append(upload.declaration)
                return
            await self._post_scans(self.phone(upload.person_id), scans_url, token, upload.scans)
            sent_scans.extend(upload.scans)
            bar.update(len(upload.scans))
            if bar.n % 500 < len(upload.scans):
                s = self.stats
                bar.set_postfix(
                    accepted=s.scans_accepted, dup=s.scans_duplicates, rejected=s.scans_rejected
                )

        await _pool(self.concurrency, iter(uploads), one)
        bar.close()
        self.stats.upload_seconds = time.perf_counter() - started
        return sent_scans, sent_declarations

    async def _post_scans(
        self, client: aiohttp.ClientSession, url: str, token: str, scans: tuple[SimScan, ...]
    ) -> None:
        body = self._encoder.encode(
            [
                {
                    "scan_id": s.scan_id,
                    "person_id": s.person_id,
                    "qr": self.qr.get(s.venue_id, f"ST1.{s.venue_id}.unregistered.x"),
                    "direction": s.direction,
                    "scanned_at": s.scanned_at,
                }
                for s in scans
            ]
        )
        self.stats.scans_sent += len(scans)
        try:
            response = await send(
                client, "POST", url, token=token, content=body, content_type="application/msgpack"
            )
        except HttpError as exc:
            self.stats.scans_failed += len(scans)
            self.stats.reasons[f"scans: {type(exc).__name__}"] += 1
            return
        if response.status_code != 202:
            self.stats.scans_failed += len(scans)
            self.stats.reasons[f"scans: HTTP {response.status_code}"] += 1
            return
        answer = response.json()
        self.stats.scans_accepted += int(answer.get("accepted", 0))
        self.stats.scans_duplicates += int(answer.get("duplicates", 0))
        for rejected in answer.get("rejected", []):
            self.stats.scans_rejected += 1
            self.stats.reasons[f"scan rejected: {rejected.get('error')}"] += 1

    async def _declare(
        self, client: aiohttp.ClientSession, url: str, token: str, d: SimDeclaration
    ) -> None:
        body = {
            "declaration_id": d.declaration_id,
            "person_id": d.person_id,
            "declared_at": d.declared_at,
            "symptoms": d.symptoms,
            "note": d.note,
        }
        self.stats.declarations_sent += 1
        try:
            response = await send(client, "POST", url, token=token, json=body)
        except HttpError as exc:
            self.stats.declarations_failed += 1
            self.stats.reasons[f"declaration: {type(exc).__name__}"] += 1
            return
        if response.status_code == 202:
            self.stats.declarations_accepted += 1
        else:
            self.stats.declarations_failed += 1
            self.stats.reasons[f"declaration: HTTP {response.status_code}"] += 1


def _can_bind(address: str) -> bool:
    """Whether this machine can send from `address` (Linux: all of 127/8; macOS: only 127.0.0.1)."""
    try:
        with socket.socket() as probe:
            probe.bind((address, 0))
    except OSError:
        return False
    return True


def _venue_body(venue: SimVenue) -> dict[str, Any]:
    body: dict[str, Any] = {
        "venue_id": venue.venue_id,
        "name": venue.name,
        "kind": venue.kind,
        "unit_id": venue.unit_id,
    }
    if venue.default_dwell_minutes is not None:
        body["default_dwell_minutes"] = venue.default_dwell_minutes
    if venue.lat is not None and venue.lon is not None:
        body["location"] = {"lat": venue.lat, "lon": venue.lon}
    return body
