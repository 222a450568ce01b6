"""Fault 4: Redis is lost (SIGKILLed and restarted empty: no persistence), then rebuilt from Kafka.

Load: 900 scans (30 phones x 30 scans, batches of 15) over 12 venues, 6 persons quarantined,
4 declarations; then, after the rebuild, 150 of the same scans sent again (the gateway's
dedup memory went with Redis, so they reach the log a second time).
Fault: the Redis server SIGKILLed and restarted empty while all services run.
Recovery (documented): `scantrace tracer rebuild --yes` with the tracer stopped; the reporter
restarted with a new `SCANTRACE_REPORTER_GROUP_PREFIX`, so its consumers read Kafka again.
Result: the same answers as before the fault (visits, exposures, compliance), equal to the
reference, and still equal after the resent copies (deduplicated downstream).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import httpx
import pytest

from scantrace_cli.stack import LocalRedis
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
from tests.chaos.load import Batch, PlannedScan, ScanLoad, plan_scans
from tests.chaos.stack import ChaosStack, save_result
from tests.chaos.world import TZ, register_world, scan_window_today

pytestmark = [pytest.mark.e2e, pytest.mark.chaos, pytest.mark.timeout(480)]


def test_redis_lost_then_rebuilt_from_kafka_answers_the_same(
    chaos_stack: ChaosStack, chaos_redis: LocalRedis
) -> None:
    stack = chaos_stack
    stack.start("reporter")
    stack.start("tracer")
    gateway = stack.start("gateway")
    admin, epi = stack.token("admin"), stack.token("epidemiologist")
    world = register_world(stack.url("reporter"), admin, "k4", venues=12, seed=4)
    start, end = scan_window_today()
    day = local_date(start, TZ)
    batches = plan_scans(
        persons=30,
        venues=world.venue_ids,
        scans_per_person=30,
        batch_size=15,
        start_ms=start,
        end_ms=end,
        seed=44,
        prefix="k4",
    )
    persons = sorted({b.person_id for b in batches})
    health = register_health(
        stack.url("reporter"), gateway.address, admin, stack.auth_secret, world, persons[:6], day
    )
    history = History()
    asyncio.run(
        ScanLoad(gateway.address, stack.auth_secret, stack.signer.sign, history).run(batches)
    )

    probe = Probe.of(persons, seed=4, day=day)
    topic = topic_name(SCANS, stack.namespace)

    def answers() -> dict[str, object]:
        return read_answers(stack.url("tracer"), stack.url("reporter"), epi, admin, world, probe)

    scans = asyncio.run(read_scans(stack.kafka.address, topic))
    want = expected_answers(world, scans, health, probe)
    stack.check_alive()
    before, settle_before = settle_answers(answers, want)
    assert differences(before, want) == {"visits": 0, "exposures": 0, "compliance": 0}

    # The fault: Redis dies and comes back empty.
    chaos_redis.kill()
    chaos_redis.start()
    # The services' Redis clients may fail once on their dead connections: count, then go on.
    errors_after_restart: list[str] = []
    while True:
        try:
            emptied = answers()
            break
        except (httpx.HTTPError, AssertionError) as exc:
            errors_after_restart.append(repr(exc)[:200])
            assert len(errors_after_restart) < 30, errors_after_restart
            time.sleep(1.0)
    lost_by_fault = differences(emptied, want)

    # The documented recovery.
    stack.services["tracer"].stop()
    rebuilt = stack.cli("tracer", "rebuild", "--yes")
    assert rebuilt.returncode == 0, rebuilt.stderr + rebuilt.stdout
    stack.restart("tracer")
    stack.restart("reporter", env={"SCANTRACE_REPORTER_GROUP_PREFIX": "reporter-rebuild1"})
    after, settle_after = settle_answers(answers, want)
    diff_after = differences(after, want)

    # Copies: the gateway forgot which scan_ids it saw; resend some, they land in the log again.
    resent = History()
    asyncio.run(
        ScanLoad(gateway.address, stack.auth_secret, stack.signer.sign, resent).run(batches[:10])
    )
    # Then one fresh scan per venue (so behind the copies in every partition): once the views
    # show these markers, they have consumed the copies too.
    marker = Batch(
        "k4marker",
        tuple(
            PlannedScan(str(uuid.uuid4()), "k4marker", venue, "in", start + i * 120_000)
            for i, venue in enumerate(world.venue_ids)
        ),
    )
    asyncio.run(
        ScanLoad(gateway.address, stack.auth_secret, stack.signer.sign, resent).run([marker])
    )
    scans_again = asyncio.run(read_scans(stack.kafka.address, topic))
    copies = copies_by_id(scans_again)
    marked = Probe([*probe.persons, "k4marker"], probe.exposure_persons, probe.day)
    want_marked = expected_answers(world, scans_again, health, marked)

    def marked_answers() -> dict[str, object]:
        return read_answers(stack.url("tracer"), stack.url("reporter"), epi, admin, world, marked)

    after_copies, _ = settle_answers(marked_answers, want_marked)
    diff_copies = differences(after_copies, want_marked)
    for scan_id, outcome in resent.final().items():
        history.record(scan_id, outcome)
    verdict = check(history, copies)
    save_result(
        "redis_rebuild",
        {
            "load": f"{sum(len(b.scans) for b in batches)} scans, {len(persons)} persons; "
            f"then {sum(len(b.scans) for b in batches[:10])} resent",
            "fault": "Redis SIGKILLed, restarted empty; tracer rebuild + reporter new groups",
            "settle_before_s": round(settle_before, 1),
            "differences_right_after_fault": lost_by_fault,
            "failed_reads_right_after_redis_restart": len(errors_after_restart),
            "first_failed_read": errors_after_restart[:1],
            "rebuild_output": rebuilt.stdout.strip(),
            "settle_after_rebuild_s": round(settle_after, 1),
            "differences_after_rebuild": diff_after,
            "log_copies_after_resend": sum(c - 1 for c in copies.values() if c > 1),
            "resend_outcomes": dict(Counter(resent.final().values())),
            "compliance_scans_after_resend": [
                after_copies["compliance"]["scans"],
                want_marked["compliance"]["scans"],
            ],
            "differences_after_resend": diff_copies,
            "verdict": verdict.as_json(),
        },
    )
    assert any(lost_by_fault.values()), "the fault did not bite: Redis was not emptied"
    assert diff_after == {"visits": 0, "exposures": 0, "compliance": 0}, (
        {"got": after["compliance"], "persons": after["persons"]},
        {"want": want["compliance"], "persons": want["persons"]},
    )
    assert diff_copies == {"visits": 0, "exposures": 0, "compliance": 0}
    assert verdict.lost == 0
