"""The duplicate check never claims an id before its item is durable.

A gateway that dies between the check and the durable write must not leave the id marked:
the phone's retry has to be accepted and stored, not answered "duplicate". The deduper is
shared between two harnesses, as Redis outlives a gateway process.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from scantrace_common.events import DeclarationEvent, ScanEvent, decode
from scantrace_gateway.dedup import LocalDeduper, first_occurrences
from scantrace_gateway.publisher import Sink
from scantrace_gateway.spool import Record
from scantrace_gateway.testing import Harness, MemoryPublisher, harness, new_scan_id

pytestmark = pytest.mark.unit


class GatewayDied(Exception):
    """Stands for the process dying in the middle of the durable write (the request gets the
    app's 500 for an unexpected exception instead of no answer at all: never a 202)."""


@dataclass
class DyingPublisher(MemoryPublisher):
    """Stores nothing and raises, as a gateway killed after the duplicate check would."""

    async def publish(self, records: list[Record]) -> Sink:
        raise GatewayDied


@dataclass
class GatedPublisher(MemoryPublisher):
    """Holds every publish until `release` is set, so two requests can overlap."""

    entered: asyncio.Queue[int] = field(default_factory=asyncio.Queue)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def publish(self, records: list[Record]) -> Sink:
        self.entered.put_nowait(len(records))
        await self.release.wait()
        return await super().publish(records)


def scan(h: Harness, scan_id: str | None = None) -> dict[str, Any]:
    return {
        "scan_id": scan_id or new_scan_id(),
        "person_id": "p-1",
        "qr": h.qr("v-1"),
        "direction": "in",
        "scanned_at": int(time.time() * 1000) - 1000,
    }


def headers(h: Harness) -> dict[str, str]:
    return {"authorization": f"Bearer {h.device_token('p-1')}"}


def published_scan_ids(h: Harness) -> list[str]:
    return [decode(ScanEvent, value).scan_id for _, _, value in h.publisher.records]


@pytest.mark.parametrize("as_array", [False, True])
async def test_a_crash_after_the_check_leaves_the_retry_accepted_and_stored(
    as_array: bool,
) -> None:
    redis_stand_in = LocalDeduper()  # outlives the gateway, as Redis does
    async with harness(publisher=DyingPublisher(), scan_deduper=redis_stand_in) as dying:
        items = [scan(dying), scan(dying)]
        body: Any = items if as_array else items[0]
        died = await dying.client.post("/v1/scans", json=body, headers=headers(dying))
        assert died.status_code == 500
    sent = [i["scan_id"] for i in items] if as_array else [items[0]["scan_id"]]

    async with harness(scan_deduper=redis_stand_in) as restarted:
        # The same scans (same ids); signed again since each harness has its own QR keys.
        items = [scan(restarted, i["scan_id"]) for i in items]
        body = items if as_array else items[0]
        retry = await restarted.client.post("/v1/scans", json=body, headers=headers(restarted))
        assert retry.status_code == 202
        assert retry.json() == {"accepted": len(sent), "duplicates": 0, "rejected": []}
        assert published_scan_ids(restarted) == sent
        # Once stored, the same retry again is a duplicate and is not published a second time.
        again = await restarted.client.post("/v1/scans", json=body, headers=headers(restarted))
        assert again.json() == {"accepted": 0, "duplicates": len(sent), "rejected": []}
        assert published_scan_ids(restarted) == sent


async def test_a_crash_after_the_check_leaves_the_declaration_retry_accepted() -> None:
    declaration = {
        "declaration_id": new_scan_id(),
        "person_id": "p-1",
        "declared_at": int(time.time() * 1000),
        "symptoms": ["fever"],
    }
    async with harness(publisher=DyingPublisher()) as dying:
        deduper = dying.app.state.gateway.declaration_deduper
        died = await dying.client.post("/v1/declarations", json=declaration, headers=headers(dying))
        assert died.status_code == 500
        assert await deduper.seen([declaration["declaration_id"]]) == [False]
        dying.app.state.gateway.publisher = MemoryPublisher()
        retry = await dying.client.post(
            "/v1/declarations", json=declaration, headers=headers(dying)
        )
        assert retry.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
        [(_, _, value)] = dying.app.state.gateway.publisher.records
        assert decode(DeclarationEvent, value).declaration_id == declaration["declaration_id"]


async def test_ids_are_marked_only_once_the_publish_returned() -> None:
    deduper = LocalDeduper()
    publisher = GatedPublisher()
    async with harness(publisher=publisher, scan_deduper=deduper) as gw:
        item = scan(gw)
        first = asyncio.create_task(gw.client.post("/v1/scans", json=item, headers=headers(gw)))
        # A safety bound only: a regression would hang here instead of failing.
        async with asyncio.timeout(30):
            assert await publisher.entered.get() == 1
            assert await deduper.seen([item["scan_id"]]) == [False]  # not durable: not marked
            # An identical request meanwhile is published too (best effort; consumers dedup).
            second = asyncio.create_task(
                gw.client.post("/v1/scans", json=item, headers=headers(gw))
            )
            assert await publisher.entered.get() == 1
            publisher.release.set()
            answers = [(await first).json(), (await second).json()]
        assert answers == [{"accepted": 1, "duplicates": 0, "rejected": []}] * 2
        assert await deduper.seen([item["scan_id"]]) == [True]
        third = await gw.client.post("/v1/scans", json=item, headers=headers(gw))
        assert third.json() == {"accepted": 0, "duplicates": 1, "rejected": []}


async def test_an_id_repeated_inside_one_request_is_a_duplicate() -> None:
    async with harness() as gw:
        a, b = scan(gw), scan(gw)
        response = await gw.client.post("/v1/scans", json=[a, b, a, a], headers=headers(gw))
        assert response.json() == {"accepted": 2, "duplicates": 2, "rejected": []}
        assert published_scan_ids(gw) == [a["scan_id"], b["scan_id"]]


def test_first_occurrences() -> None:
    ids = ["a", "b", "a", "c", "b"]
    assert first_occurrences(ids, [False, False, False, True, False]) == [
        True,
        True,
        False,
        False,
        False,
    ]


async def test_local_deduper_looks_without_marking() -> None:
    deduper = LocalDeduper(capacity=2)
    assert await deduper.seen(["a"]) == [False]
    assert await deduper.seen(["a"]) == [False]
    await deduper.mark(["a", "b", "c"])
    assert await deduper.seen(["a", "b", "c"]) == [False, True, True]  # oldest evicted
