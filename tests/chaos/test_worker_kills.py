"""Fault 3: the tracer and reporter workers are SIGKILLed three times at random points mid-stream.

Load: 1,800 scans (60 phones x 30 scans, batches of 15) from 3 clients, over 20 venues in a
province of two districts; 9 persons quarantined today, 6 of them declaring.
Fault: three rounds, each at a random point of the stream: the tracer process (API and stream
worker) and the reporter process (API and consumers) SIGKILLed a random 0-1.5 s apart, then
restarted on the same consumer groups.
Result: once the consumers catch up, every person's visits, the exposures (depth 1 and 2) of 4
persons and the province's compliance (with its districts) equal the reference computed from
the scans in scans.v1: nothing a crash interrupted is lost or counted twice.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from scantrace_common.timeparse import local_date
from scantrace_common.topics import SCANS, topic_name
from tests.chaos.checker import History, check
from tests.chaos.compare import (
    Probe,
    differences,
    expected_answers,
    read_answers,
    register_health,
    settle_answers,
)
from tests.chaos.kafka_log import copies_by_id, read_scans
from tests.chaos.load import ScanLoad, plan_scans
from tests.chaos.stack import ChaosStack, save_result, wait_for
from tests.chaos.world import TZ, register_world, scan_window_today

pytestmark = [pytest.mark.e2e, pytest.mark.chaos, pytest.mark.timeout(480)]

ROUNDS = 3


def test_tracer_and_reporter_killed_mid_stream_match_the_reference(chaos_stack: ChaosStack) -> None:
    stack = chaos_stack
    rng = random.Random(33)
    stack.start("reporter")
    stack.start("tracer")
    gateway = stack.start("gateway")
    admin, epi = stack.token("admin"), stack.token("epidemiologist")
    world = register_world(stack.url("reporter"), admin, "k3", venues=20, seed=3)
    start, end = scan_window_today()
    day = local_date(start, TZ)
    batches = plan_scans(
        persons=60,
        venues=world.venue_ids,
        scans_per_person=30,
        batch_size=15,
        start_ms=start,
        end_ms=end,
        seed=33,
        prefix="k3",
    )
    persons = sorted({b.person_id for b in batches})
    health = register_health(
        stack.url("reporter"), gateway.address, admin, stack.auth_secret, world, persons[:9], day
    )
    history = History()
    load = ScanLoad(
        gateway.address, stack.auth_secret, stack.signer.sign, history, concurrency=3, pause_s=1.0
    )
    load.run_in_thread(batches)

    kills = []
    for round_ in range(ROUNDS):
        target = int(len(batches) * (round_ + rng.uniform(0.3, 0.9)) / (ROUNDS + 1))

        def progressed(target: int = target) -> bool:
            return load.done_batches >= target

        wait_for(progressed, what="load progress", timeout_s=180)
        first, second = rng.sample(["tracer", "reporter"], 2)
        stack.kill(first)
        time.sleep(rng.uniform(0.0, 1.5))
        stack.kill(second)
        kills.append({"at_batch": load.done_batches, "of": len(batches), "order": [first, second]})
        # Started again at once, not waited for: the next kill may land during start-up.
        stack.respawn("tracer")
        stack.respawn("reporter")
    # measured from the last respawn, while the load still runs
    ready_s = stack.wait_ready("tracer", "reporter")
    stats = load.join(timeout=300)
    stack.wait_ready("tracer", "reporter")
    stack.check_alive()

    scans = asyncio.run(read_scans(stack.kafka.address, topic_name(SCANS, stack.namespace)))
    verdict = check(history, copies_by_id(scans))
    probe = Probe.of(persons, seed=3, day=day)
    want = expected_answers(world, scans, health, probe)
    got, waited = settle_answers(
        lambda: read_answers(stack.url("tracer"), stack.url("reporter"), epi, admin, world, probe),
        want,
    )
    diff = differences(got, want)
    save_result(
        "worker_kills",
        {
            "load": f"{sum(len(b.scans) for b in batches)} scans, {len(persons)} persons, "
            f"{len(health.quarantines)} quarantined, {len(health.declarations)} declarations",
            "fault": f"tracer and reporter SIGKILLed {ROUNDS} times mid-stream, restarted",
            "kills": kills,
            "ready_after_last_kill_s": round(ready_s, 1),
            "clients": stats.summary(),
            "verdict": verdict.as_json(),
            "compared": {
                "visit_lists": len(want["visits"]),
                "exposure_answers": len(want["exposures"]),
                "compliance_units": 1 + len(want["compliance"]["children"]),
            },
            "differences": diff,
            "settle_s": round(waited, 1),
            "compliance_scans": [got["compliance"]["scans"], want["compliance"]["scans"]],
        },
    )
    assert verdict.lost == 0, verdict.lost_ids
    assert diff == {"visits": 0, "exposures": 0, "compliance": 0}, (
        got["compliance"],
        want["compliance"],
    )
