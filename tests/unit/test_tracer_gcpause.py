"""Collection is held off while queries run and comes back, once none runs, on the loop's next turn."""

from __future__ import annotations

import asyncio
import gc

from scantrace_tracer.gcpause import GcPause


def test_collection_held_while_queries_run_and_back_after() -> None:
    async def run() -> list[bool]:
        pause = GcPause()
        seen = [gc.isenabled()]
        pause.enter()
        pause.enter()  # a second query overlapping the first
        seen.append(gc.isenabled())
        pause.leave()
        await asyncio.sleep(0)
        seen.append(gc.isenabled())  # one query still runs
        pause.leave()
        seen.append(gc.isenabled())  # answered, but the collection waits for the next turn
        await asyncio.sleep(0)
        seen.append(gc.isenabled())
        return seen

    assert gc.isenabled()
    assert asyncio.run(run()) == [True, False, False, False, True]


def test_a_query_starting_before_the_collection_keeps_it_held() -> None:
    async def run() -> list[bool]:
        pause = GcPause()
        pause.enter()
        pause.leave()
        pause.enter()  # before the loop's next turn
        await asyncio.sleep(0)
        held = not gc.isenabled()
        pause.leave()
        await asyncio.sleep(0)
        return [held, gc.isenabled()]

    assert asyncio.run(run()) == [True, True]


def test_collection_left_off_by_someone_else_stays_off() -> None:
    async def run() -> bool:
        pause = GcPause()
        pause.enter()
        pause.leave()
        await asyncio.sleep(0)
        return gc.isenabled()

    gc.disable()
    try:
        assert asyncio.run(run()) is False
    finally:
        gc.enable()
