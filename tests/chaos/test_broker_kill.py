"""Fault 1: the broker is SIGKILLed and restarted three times while posts stream in.

Load: 2,400 scans (60 phones x 40 scans, batches of 20) from 3 concurrent clients, paced over
the faults, each batch retried with the same scan_ids until it is acknowledged.
Fault: Apache Kafka SIGKILLed 3 times, down ~3 s each time, restarted on the same data.
Result: every scan answered 202 is in scans.v1 (0 lost); the reporter's compliance counts each
scan_id once (0 duplicated after deduplication), however many copies the log holds.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from scantrace_common.topics import SCANS, topic_name
from tests.chaos.checker import History, check, with_downstream
from tests.chaos.kafka_log import copies_by_id, read_scans
from tests.chaos.load import ScanLoad, plan_scans
from tests.chaos.stack import ChaosStack, metric_value, save_result, wait_for
from tests.chaos.world import (
    TZ,
    compliance,
    register_world,
    scan_window_today,
    scans_per_day,
    settle,
)

pytestmark = [pytest.mark.e2e, pytest.mark.chaos, pytest.mark.timeout(420)]

KILLS = 3


def test_broker_sigkilled_three_times_loses_and_duplicates_nothing(chaos_stack: ChaosStack) -> None:
    stack = chaos_stack
    stack.start("reporter")
    gateway = stack.start("gateway")
    admin = stack.token("admin")
    world = register_world(stack.url("reporter"), admin, "k1", venues=20, seed=1)
    start, end = scan_window_today()
    batches = plan_scans(
        persons=60,
        venues=world.venue_ids,
        scans_per_person=40,
        batch_size=20,
        start_ms=start,
        end_ms=end,
        seed=11,
        prefix="k1",
    )
    history = History()
    load = ScanLoad(
        gateway.address, stack.auth_secret, stack.signer.sign, history, concurrency=3, pause_s=1.0
    )
    load.run_in_thread(batches)

    outages: list[float] = []
    for round_ in range(KILLS):
        target = (round_ + 1) * len(batches) // (KILLS + 2)

        def progressed(target: int = target) -> bool:
            return load.done_batches >= target

        wait_for(
            progressed,
            what=f"load progress before kill {round_ + 1}",
            timeout_s=120,
            interval_s=0.2,
        )
        killed_at = time.monotonic()
        stack.kafka.kill()
        time.sleep(3.0)  # posts meanwhile go to the gateway's spool
        stack.kafka.start()
        outages.append(round(time.monotonic() - killed_at, 1))
    stats = load.join(timeout=240)

    drained = wait_for(
        lambda: metric_value(gateway.address, "scantrace_gateway_spool_items") == 0,
        what="the gateway's spool drained",
        timeout_s=120,
    )
    scans = asyncio.run(read_scans(stack.kafka.address, topic_name(SCANS, stack.namespace)))
    verdict = check(history, copies_by_id(scans))

    # Downstream: compliance counts each scan_id once per day (the reporter deduplicates).
    expected = scans_per_day(scans, set(world.venue_ids))
    observed = {
        day: settle(
            lambda day=day: compliance(stack.url("reporter"), admin, world.root, day)["scans"],
            expected[day],
        )
        for day in expected
    }
    verdict = with_downstream(verdict, expected, observed)
    save_result(
        "broker_kill",
        {
            "load": f"{sum(len(b.scans) for b in batches)} scans in {len(batches)} batches",
            "fault": f"Kafka SIGKILLed {KILLS} times, restarted on its data",
            "outages_s": outages,
            "spool_drain_s": round(drained, 1),
            "clients": stats.summary(),
            "verdict": verdict.as_json(),
            "compliance_scans": {str(d): [expected[d], observed[d]] for d in expected},
            "tz": TZ,
        },
    )
    assert stats.gave_up_batches == 0, stats.summary()
    assert verdict.lost == 0, verdict.lost_ids
    assert verdict.phantoms == 0, verdict.phantom_ids
    assert verdict.duplicated == 0, verdict.as_json()
    assert verdict.missing_downstream == 0, verdict.as_json()
    assert verdict.ok == verdict.scan_ids  # every batch was eventually acknowledged
