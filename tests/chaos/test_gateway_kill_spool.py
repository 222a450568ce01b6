"""Fault 2: the gateway is SIGKILLed while the broker is down and its spool holds scans.

Load: 2,000 scans (50 phones x 40 scans, batches of 20) from 3 concurrent clients, retried with
the same scan_ids until acknowledged (a phone whose request died sends it again).
Fault: Kafka SIGKILLed; once the spool holds scans, the gateway is SIGKILLed mid-stream and
restarted on the same spool while the broker is still down (it then answers scans 503 until it
has read the venue revocations); then the broker comes back.
Result: every scan ever answered 202 reaches scans.v1 (0 lost); nothing no one sent appears.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from scantrace_common.topics import SCANS, topic_name
from tests.chaos.checker import History, check
from tests.chaos.kafka_log import copies_by_id, read_scans
from tests.chaos.load import ScanLoad, plan_scans
from tests.chaos.stack import ChaosStack, metric_value, save_result, wait_for
from tests.chaos.world import scan_window_today

pytestmark = [pytest.mark.e2e, pytest.mark.chaos, pytest.mark.timeout(420)]


def spool_items(url: str) -> float:
    return metric_value(url, "scantrace_gateway_spool_items") or 0.0


def test_gateway_killed_with_a_full_spool_loses_nothing(chaos_stack: ChaosStack) -> None:
    stack = chaos_stack
    gateway = stack.start("gateway")
    start, end = scan_window_today()
    venues = [f"k2v{i:02d}" for i in range(20)]
    batches = plan_scans(
        persons=50,
        venues=venues,
        scans_per_person=40,
        batch_size=20,
        start_ms=start,
        end_ms=end,
        seed=22,
        prefix="k2",
    )
    history = History()
    load = ScanLoad(
        gateway.address, stack.auth_secret, stack.signer.sign, history, concurrency=3, pause_s=0.4
    )
    load.run_in_thread(batches)
    total = len(batches)

    wait_for(lambda: load.done_batches >= total // 5, what="first fifth sent", timeout_s=120)
    stack.kafka.kill()
    broker_down_at = time.monotonic()
    wait_for(lambda: spool_items(gateway.address) > 0, what="scans in the spool", timeout_s=60)
    done_before = load.done_batches
    wait_for(
        lambda: load.done_batches >= done_before + 5, what="more batches spooled", timeout_s=60
    )
    spooled_at_kill = spool_items(gateway.address)
    stack.kill("gateway")  # SIGKILL mid-stream: in-flight requests get no answer
    time.sleep(1.0)
    stack.restart("gateway", ready_path="/healthz")  # Kafka is still down: not "ready"
    spooled_after_restart = spool_items(gateway.address)
    # Restarted while Kafka is away, the gateway cannot read the venue revocations, so it takes
    # no scan until it has (503 with Retry-After, finding 8): the load's batches retry meanwhile.
    readiness = httpx.get(f"{gateway.address}/readyz", timeout=5).json()
    assert readiness["checks"]["revocations"].startswith("failed"), readiness
    stack.kafka.start()
    broker_down_s = time.monotonic() - broker_down_at
    stats = load.join(timeout=240)
    drained = wait_for(
        lambda: spool_items(gateway.address) == 0, what="the spool drained", timeout_s=120
    )

    scans = asyncio.run(read_scans(stack.kafka.address, topic_name(SCANS, stack.namespace)))
    verdict = check(history, copies_by_id(scans))
    save_result(
        "gateway_kill_spool",
        {
            "load": f"{sum(len(b.scans) for b in batches)} scans in {total} batches",
            "fault": "Kafka SIGKILLed; gateway SIGKILLed with a non-empty spool, restarted; Kafka back",
            "spool_items_at_gateway_kill": spooled_at_kill,
            "spool_items_after_restart": spooled_after_restart,
            "broker_down_s": round(broker_down_s, 1),
            "spool_drain_s": round(drained, 1),
            "clients": stats.summary(),
            "verdict": verdict.as_json(),
        },
    )
    assert spooled_at_kill > 0
    assert spooled_after_restart >= 1, "the restarted gateway did not reopen the spool"
    assert stats.gave_up_batches == 0, stats.summary()
    assert verdict.lost == 0, verdict.lost_ids
    assert verdict.phantoms == 0, verdict.phantom_ids
    assert verdict.ok == verdict.scan_ids
