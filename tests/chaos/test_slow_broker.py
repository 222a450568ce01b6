"""Fault 5: a slow broker, delay injected by the asyncio TCP proxy between clients and Kafka.

Load: 1,200 scans (30 phones x 40 scans, batches of 20), 3 concurrent clients, client timeout
30 s (far above the gateway's 1 s produce bound).
Fault: every reply from the broker delayed 3 s, then 20 s (a broker that is as good as hung),
then the delay removed.
Result: the gateway answers every request (202 from the spool, or 503), never leaves a client
without an answer; once the broker is fast again the spool drains and nothing acknowledged is
lost. Latencies are recorded as figures (no timing threshold is asserted).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from scantrace_common.topics import SCANS, topic_name
from tests.chaos.checker import History, check
from tests.chaos.kafka_log import copies_by_id, read_scans
from tests.chaos.load import ScanLoad, plan_scans
from tests.chaos.stack import ChaosStack, metric_value, save_result, wait_for
from tests.chaos.world import scan_window_today

pytestmark = [pytest.mark.e2e, pytest.mark.chaos, pytest.mark.timeout(420)]

DELAYS_S = (3.0, 20.0)


def test_slow_broker_never_hangs_the_gateway(chaos_stack: ChaosStack) -> None:
    stack = chaos_stack
    gateway = stack.start("gateway")
    start, end = scan_window_today()
    venues = [f"k5v{i:02d}" for i in range(10)]
    phases: list[dict[str, Any]] = []
    history = History()
    for index, delay in enumerate(DELAYS_S):
        batches = plan_scans(
            persons=15,
            venues=venues,
            scans_per_person=40,
            batch_size=20,
            start_ms=start,
            end_ms=end,
            seed=50 + index,
            prefix=f"k5{index}",
        )
        stack.kafka.proxy.set_delay(delay)
        load = ScanLoad(
            gateway.address,
            stack.auth_secret,
            stack.signer.sign,
            history,
            concurrency=3,
            request_timeout_s=30.0,
            retry_for_s=0.0,  # one attempt each: every answer (or its absence) is a figure
        )
        stats = asyncio.run(load.run(batches))
        phases.append({"delay_s": delay, "batches": len(batches), "clients": stats.summary()})

    stack.kafka.proxy.set_delay(0.0)
    drained = wait_for(
        lambda: metric_value(gateway.address, "scantrace_gateway_spool_items") == 0,
        what="the spool drained once the broker was fast again",
        timeout_s=180,
    )
    scans = asyncio.run(read_scans(stack.kafka.address, topic_name(SCANS, stack.namespace)))
    verdict = check(history, copies_by_id(scans))
    save_result(
        "slow_broker",
        {
            "load": "1200 scans in 60 batches, one attempt each",
            "fault": f"broker replies delayed {DELAYS_S} s through the TCP proxy",
            "gateway_produce_bound_s": 1.0,
            "phases": phases,
            "spool_drain_s": round(drained, 1),
            "verdict": verdict.as_json(),
        },
    )
    for phase in phases:
        statuses = set(phase["clients"]["statuses"])
        assert statuses <= {"202", "503"}, phase  # no timeout, no reset, no 5xx but 503
    assert verdict.unknown == 0
    assert verdict.lost == 0, verdict.lost_ids
    assert verdict.phantoms == 0, verdict.phantom_ids
