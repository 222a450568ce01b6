"""The load: batches of scans from many phones, posted with retries, every outcome recorded.

A batch is one person's scans (the device token binds one person). An attempt that gets a 202
records each item ok (or failed when the answer rejects it); a 503/429/5xx records failed; no
answer records unknown. Failed and unknown batches are sent again, with the same scan_ids,
until they are ok or the retry deadline passes: what a phone does.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from scantrace_common.auth import mint_device_token
from tests.chaos.checker import History


@dataclass(frozen=True)
class PlannedScan:
    scan_id: str
    person_id: str
    venue_id: str
    direction: str
    scanned_at: int


@dataclass(frozen=True)
class Batch:
    person_id: str
    scans: tuple[PlannedScan, ...]


def plan_scans(
    *,
    persons: int,
    venues: list[str],
    scans_per_person: int,
    batch_size: int,
    start_ms: int,
    end_ms: int,
    seed: int,
    prefix: str,
) -> list[Batch]:
    """Each person walks between venues within [start_ms, end_ms): in, then out or not."""
    rng = random.Random(seed)
    batches: list[Batch] = []
    for p in range(persons):
        person = f"{prefix}p{p:04d}"
        times = sorted(rng.randrange(start_ms, end_ms) for _ in range(scans_per_person))
        scans = []
        for t in times:
            scans.append(
                PlannedScan(
                    scan_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    person_id=person,
                    venue_id=rng.choice(venues),
                    direction="in" if rng.random() < 0.7 else "out",
                    scanned_at=t,
                )
            )
        for i in range(0, len(scans), batch_size):
            batches.append(Batch(person, tuple(scans[i : i + batch_size])))
    rng.shuffle(batches)
    return batches


@dataclass
class LoadStats:
    """What the clients saw: statuses, failures, latencies of answered requests."""

    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)
    gave_up_batches: int = 0

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_s)

        def pct(q: float) -> float | None:
            return (
                round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else None
            )

        return {
            "requests": self.requests,
            "statuses": dict(self.statuses),
            "latency_p50_s": pct(0.5),
            "latency_p99_s": pct(0.99),
            "latency_max_s": round(ordered[-1], 3) if ordered else None,
            "gave_up_batches": self.gave_up_batches,
        }


class ScanLoad:
    """Posts batches to the gateway; `run_in_thread` lets the main thread inject faults meanwhile."""

    def __init__(
        self,
        gateway_url: str,
        auth_secret: str,
        qr_of: Callable[[str], str],
        history: History,
        *,
        concurrency: int = 4,
        request_timeout_s: float = 30.0,
        retry_for_s: float = 120.0,
        pause_s: float = 0.0,
    ) -> None:
        self.gateway_url = gateway_url
        self.auth_secret = auth_secret
        self.qr_of = qr_of
        self.history = history
        self.concurrency = concurrency
        self.request_timeout_s = request_timeout_s
        self.retry_for_s = retry_for_s
        self.pause_s = pause_s
        self.stats = LoadStats()
        self.done_batches = 0
        self._tokens: dict[str, str] = {}
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _token(self, person: str) -> str:
        token = self._tokens.get(person)
        if token is None:
            token = mint_device_token(self.auth_secret, f"dev-{person}", person)
            self._tokens[person] = token
        return token

    async def _attempt(self, client: httpx.AsyncClient, batch: Batch) -> bool:
        """One POST; records outcomes; True when nothing needs resending."""
        body = [
            {
                "scan_id": s.scan_id,
                "person_id": s.person_id,
                "qr": self.qr_of(s.venue_id),
                "direction": s.direction,
                "scanned_at": s.scanned_at,
            }
            for s in batch.scans
        ]
        ids = [s.scan_id for s in batch.scans]
        started = time.monotonic()
        self.stats.requests += 1
        try:
            response = await client.post(
                f"{self.gateway_url}/v1/scans",
                json=body,
                headers={"authorization": f"Bearer {self._token(batch.person_id)}"},
                timeout=self.request_timeout_s,
            )
        except httpx.TimeoutException:
            self.stats.statuses["timeout"] += 1
            self.history.record_many(ids, "unknown")
            return False
        except httpx.TransportError:
            self.stats.statuses["no_answer"] += 1
            self.history.record_many(ids, "unknown")
            return False
        self.stats.latencies_s.append(time.monotonic() - started)
        self.stats.statuses[str(response.status_code)] += 1
        if response.status_code != 202:
            self.history.record_many(ids, "failed")
            return response.status_code < 500 and response.status_code not in (408, 429)
        rejected = {item["index"] for item in response.json()["rejected"]}
        for index, scan_id in enumerate(ids):
            self.history.record(scan_id, "failed" if index in rejected else "ok")
        return True

    async def _send(self, client: httpx.AsyncClient, batch: Batch) -> None:
        deadline = time.monotonic() + self.retry_for_s
        delay = 0.2
        while not await self._attempt(client, batch):
            if time.monotonic() > deadline:
                self.stats.gave_up_batches += 1
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        self.done_batches += 1

    async def run(self, batches: list[Batch]) -> LoadStats:
        queue: asyncio.Queue[Batch] = asyncio.Queue()
        for batch in batches:
            queue.put_nowait(batch)
        limits = httpx.Limits(max_connections=self.concurrency)
        async with httpx.AsyncClient(limits=limits) as client:

            async def worker() -> None:
                while not queue.empty():
                    await self._send(client, queue.get_nowait())
                    if self.pause_s:
                        await asyncio.sleep(self.pause_s)

            await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        return self.stats

    def run_in_thread(self, batches: list[Batch]) -> None:
        def target() -> None:
            try:
                asyncio.run(self.run(batches))
            except BaseException as exc:  # surfaced by join()
                self._error = exc

        self._thread = threading.Thread(target=target, name="scan-load", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float) -> LoadStats:
        assert self._thread is not None
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"the load did not finish within {timeout} s")
        if self._error is not None:
            raise self._error
        return self.stats
