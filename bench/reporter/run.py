"""Reporter benchmark on a Dong Nai-sized province: 11 district-level units, 170 communes,
50,000 venues.

- ingest: scans/s through the consumer's work (msgpack decode + the Redis Lua ingest with
  dedup, venue-day and subtree counters and HyperLogLogs), one worker (one event loop), batches
  of 5,000 as the consumer reads them. Baseline: the raw Redis pipeline ceiling in the same run,
  one SADD (dedup) and one HINCRBY (a counter) per scan, pipelined in the same batches.
- compliance query p99 for the province, a district and a commune (the store's query, as the
  HTTP handler runs it). Baseline: SQLite doing the same aggregate over the same scans.

Servers: SCANTRACE_REDIS_URL when set, else a private redis-server on a free port.
Bounded: one to three minutes on 2 cores (SQLite's province queries are the slow part). Writes bench/results/reporter.json and reporter.md.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Final

import msgspec

from bench.common import (
    REPEATS,
    RESULTS_DIR,
    Result,
    machine_info,
    median,
    percentile,
    result,
    write_results,
)
from scantrace_common.events import (
    DeclarationEvent,
    QuarantineEvent,
    ScanEvent,
    UnitEvent,
    VenueEvent,
    decode,
    encode,
)
from scantrace_common.kafka import BatchConsumerLoop, Decoded, DurableProducer, consumer_for
from scantrace_common.redis_client import connect
from scantrace_common.settings import DEFAULT_RETENTION_DAYS
from scantrace_common.timeparse import day_bounds, local_date
from scantrace_common.topics import SCANS as SCANS_TOPIC
from scantrace_common.topics import ensure_topics, topic_name
from scantrace_reporter.days import DayClock
from scantrace_reporter.keys import Keys
from scantrace_reporter.registry import Registry
from scantrace_reporter.store import ComplianceStore

TZ: Final = "Asia/Ho_Chi_Minh"
DISTRICTS: Final = 11
COMMUNES: Final = 170
VENUES: Final = 50_000
SCANS: Final = int(os.environ.get("SCANTRACE_BENCH_REPORTER_SCANS", "300000"))
PERSONS: Final = 150_000
BATCH: Final = 5000
QUERIES: Final = int(os.environ.get("SCANTRACE_BENCH_REPORTER_QUERIES", "300"))
INGEST_TARGET: Final = 25_000.0
PROVINCE_P99_TARGET_MS: Final = 50.0
NS: Final = f"bench{uuid.uuid4().hex[:6]}."


@contextmanager
def redis_server() -> Iterator[str]:
    url = os.environ.get("SCANTRACE_REDIS_URL")
    if url:
        yield url
        return
    from scantrace_cli.stack.redis import LocalRedis

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as state:
        server = LocalRedis(Path(state), port, persist=False)
        with server:
            yield server.address


def province() -> tuple[list[UnitEvent], list[VenueEvent]]:
    """The tree and the venues, spread over communes (a few at district and province level)."""
    units = [UnitEvent(unit_id="DN", name="Tỉnh Đồng Nai", parent_id=None, level="province", at=0)]
    units += [
        UnitEvent(unit_id=f"D{d:02d}", name=f"Huyện {d}", parent_id="DN", level="district", at=0)
        for d in range(DISTRICTS)
    ]
    units += [
        UnitEvent(
            unit_id=f"C{c:03d}",
            name=f"Xã {c}",
            parent_id=f"D{c % DISTRICTS:02d}",
            level="commune",
            at=0,
        )
        for c in range(COMMUNES)
    ]
    rng = random.Random(7)
    homes = [u.unit_id for u in units[1 + DISTRICTS :]]
    venues = []
    for v in range(VENUES):
        unit = homes[v % COMMUNES] if v % 50 else f"D{v % DISTRICTS:02d}"
        venues.append(
            VenueEvent(
                venue_id=f"v{v:05d}",
                name=f"Cửa hàng {v}",
                kind=rng.choice(["shop", "market", "office", "cafe", "school"]),
                unit_id=unit,
                registered_at=0,
            )
        )
    return units, venues


def scan_payloads(day: date) -> list[bytes]:
    """Encoded scans on `day`, Zipf-ish venue popularity, 2% duplicates."""
    rng = random.Random(11)
    start, _ = day_bounds(day, TZ)
    weights = [1 / (1 + i) ** 0.6 for i in range(VENUES)]
    venues = rng.choices(range(VENUES), weights=weights, k=SCANS)
    payloads = []
    for i, v in enumerate(venues):
        event = ScanEvent(
            scan_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            person_id=f"p{rng.randrange(PERSONS)}",
            venue_id=f"v{v:05d}",
            direction="in" if i % 2 else "out",
            scanned_at=start + rng.randrange(86_400_000),
            received_at=start,
            device_id="d",
        )
        payloads.append(encode(event))
    dupes = rng.sample(payloads, SCANS // 50)
    return payloads + dupes


async def ingest(store: ComplianceStore, payloads: list[bytes]) -> float:
    """Scans/s through decode + ingest, in consumer-sized batches."""
    started = time.perf_counter()
    for i in range(0, len(payloads), BATCH):
        batch = [decode(ScanEvent, p) for p in payloads[i : i + BATCH]]
        await store.ingest_scans(batch)
    return len(payloads) / (time.perf_counter() - started)


async def raw_pipeline(url: str, payloads: list[bytes], day: date) -> float:
    """The ceiling: decode + one SADD and one HINCRBY per scan, pipelined per batch."""
    redis = connect(url)
    seen, counts = f"{NS}raw:seen:{day}", f"{NS}raw:counts:{day}"
    started = time.perf_counter()
    for i in range(0, len(payloads), BATCH):
        pipe = redis.pipeline(transaction=False)
        for payload in payloads[i : i + BATCH]:
            scan = decode(ScanEvent, payload)
            pipe.sadd(seen, scan.scan_id)
            pipe.hincrby(counts, scan.venue_id, 1)
        await pipe.execute()
    rate = len(payloads) / (time.perf_counter() - started)
    await redis.delete(seen, counts)
    await redis.aclose()
    return rate


async def query_p99(store: ComplianceStore, unit_ids: list[str], day: date) -> tuple[float, float]:
    samples = []
    for i in range(QUERIES):
        started = time.perf_counter()
        await store.compliance(unit_ids[i % len(unit_ids)], day)
        samples.append((time.perf_counter() - started) * 1000)
    return percentile(samples, 99), percentile(samples, 50)


@contextmanager
def kafka_server() -> Iterator[str]:
    """SCANTRACE_KAFKA_BOOTSTRAP when set, else the tests' local broker on a free port."""
    bootstrap = os.environ.get("SCANTRACE_KAFKA_BOOTSTRAP")
    if bootstrap:
        yield bootstrap
        return
    from tests.support.servers import kafka_for_tests

    with tempfile.TemporaryDirectory() as state, kafka_for_tests(Path(state)) as (address, _):
        yield address


async def kafka_ingest(
    bootstrap: str,
    url: str,
    units: list[UnitEvent],
    venues: list[VenueEvent],
    payloads: list[bytes],
    run: int = 0,
) -> tuple[float, float]:
    """(reporter consumer scans/s, raw consumer scans/s) through a real broker, on topics and
    keys of their own for each `run`."""
    ns = f"{NS}k{run}."
    await ensure_topics(bootstrap, ns, retention_days=DEFAULT_RETENTION_DAYS)
    topic = topic_name(SCANS_TOPIC, ns)
    producer = DurableProducer(bootstrap, ack_timeout_s=60)
    await producer.start()
    try:
        for i in range(0, len(payloads), 20_000):
            chunk = payloads[i : i + 20_000]
            await producer.send_batch(
                topic, [(decode(ScanEvent, p).venue_id.encode(), p) for p in chunk]
            )
    finally:
        await producer.stop()

    async def raw_consume() -> float:
        """The ceiling: getmany + msgpack decode only, same topic, same batches."""
        consumer = consumer_for(bootstrap, [topic], ns + "raw", max_poll_records=BATCH)
        await consumer.start()
        done = 0
        started = 0.0
        try:
            while done < len(payloads):
                batches = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
                records = [r for part in batches.values() for r in part]
                if not records:
                    continue
                if not started:
                    started = time.perf_counter()
                for record in records:
                    decode(ScanEvent, record.value)
                done += len(records)
            return done / (time.perf_counter() - started)
        finally:
            await consumer.stop()

    raw = await raw_consume()
    redis = connect(url)
    clock = DayClock(TZ)
    store = ComplianceStore(redis, Keys(ns), Registry(clock), clock, retention_days=21)
    await store.apply_units(units)
    for i in range(0, len(venues), 2000):
        await store.apply_venues(venues[i : i + 2000])

    async def handle(batch: list[Decoded[ScanEvent]]) -> None:
        await store.ingest_scans([d.event for d in batch])
        return None

    dlq = DurableProducer(bootstrap)
    await dlq.start()
    consumer = consumer_for(bootstrap, [topic], ns + "reporter", max_poll_records=BATCH)
    loop = BatchConsumerLoop(
        consumer=consumer,
        decode=lambda r: decode(ScanEvent, r.value),
        handle=handle,
        dlq_producer=dlq,
        group_id=ns + "reporter",
        max_records=BATCH,
    )
    try:
        await consumer.start()
        done = 0
        started = 0.0
        while done < len(payloads):
            batches = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
            records = [r for part in batches.values() for r in part]
            if not records:
                continue
            if not started:
                started = time.perf_counter()
            await loop.process(records)  # decode, ingest, commit: the reporter's consumer work
            done += len(records)
        rate = done / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await dlq.stop()
        await redis.aclose()
    return rate, raw


def sqlite_baseline(
    units: list[UnitEvent], venues: list[VenueEvent], payloads: list[bytes], day: date
) -> dict[str, float]:
    """p99 ms of the same aggregate in SQLite over raw scans (indexed), per scope."""
    db = sqlite3.connect(":memory:")
    db.executescript(
        """
        CREATE TABLE tree (ancestor TEXT, unit_id TEXT);
        CREATE TABLE venues (venue_id TEXT PRIMARY KEY, unit_id TEXT, reg_day TEXT, rev_day TEXT);
        CREATE TABLE scans (scan_id TEXT PRIMARY KEY, person_id TEXT, venue_id TEXT,
                            direction TEXT, day TEXT);
        CREATE INDEX tree_ancestor ON tree (ancestor, unit_id);
        CREATE INDEX venues_unit ON venues (unit_id);
        CREATE INDEX scans_day_venue ON scans (day, venue_id);
        """
    )
    parents = {u.unit_id: u.parent_id for u in units}
    rows = []
    for unit in parents:
        current: str | None = unit
        while current is not None:
            rows.append((current, unit))
            current = parents[current]
    db.executemany("INSERT INTO tree VALUES (?, ?)", rows)
    db.executemany(
        "INSERT INTO venues VALUES (?, ?, ?, NULL)",
        [(v.venue_id, v.unit_id, "1970-01-01") for v in venues],
    )
    clock = DayClock(TZ)
    scans = (decode(ScanEvent, p) for p in payloads)
    db.executemany(
        "INSERT OR IGNORE INTO scans VALUES (?, ?, ?, ?, ?)",
        (
            (
                s.scan_id,
                s.person_id,
                s.venue_id,
                s.direction,
                clock.day_of(s.scanned_at).isoformat(),
            )
            for s in scans
        ),
    )
    db.commit()
    db.execute("ANALYZE")
    registered_query = """
        SELECT COUNT(*) FROM tree t JOIN venues v ON v.unit_id = t.unit_id
        WHERE t.ancestor = ? AND v.reg_day <= ? AND (v.rev_day IS NULL OR v.rev_day > ?)
    """
    scans_query = """
        SELECT COUNT(DISTINCT s.venue_id), COUNT(*), SUM(s.direction = 'in'),
               COUNT(DISTINCT s.person_id)
        FROM scans s
        JOIN venues v ON v.venue_id = s.venue_id
        JOIN tree t ON t.unit_id = v.unit_id AND t.ancestor = ?
        WHERE s.day = ? AND v.reg_day <= ? AND (v.rev_day IS NULL OR v.rev_day > ?)
    """
    d = day.isoformat()
    out: dict[str, float] = {}
    scopes = {
        "province": ["DN"],
        "district": [f"D{i:02d}" for i in range(DISTRICTS)],
        "commune": [f"C{i:03d}" for i in range(COMMUNES)],
    }
    for scope, unit_ids in scopes.items():
        samples = []
        runs = {"province": 3, "district": 5, "commune": 20}[scope]  # bounded: SQLite is slow
        for i in range(runs):
            started = time.perf_counter()
            for unit in [unit_ids[i % len(unit_ids)]] + [
                u for u in parents if parents[u] == unit_ids[i % len(unit_ids)]
            ]:
                db.execute(registered_query, (unit, d, d)).fetchone()
                db.execute(scans_query, (unit, d, d, d)).fetchone()
            samples.append((time.perf_counter() - started) * 1000)
        out[scope] = percentile(samples, 99)
    db.close()
    return out


async def main() -> int:
    units, venues = province()
    day = local_date(int(time.time() * 1000), TZ) - timedelta(days=1)
    print(f"generating {SCANS} scans ...", flush=True)
    payloads = scan_payloads(day)
    results: list[Result] = []
    with redis_server() as url:
        redis = connect(url)
        clock = DayClock(TZ)
        store = ComplianceStore(redis, Keys(NS), Registry(clock), clock, retention_days=21)
        rates, baseline_rates = [], []
        for run in range(REPEATS):
            # the first run fills the store the queries below ask; the others have keys of
            # their own (deleted with the rest at the end), so no run meets the scans as known
            run_store = (
                store
                if run == 0
                else ComplianceStore(
                    redis, Keys(f"{NS}r{run}."), Registry(clock), clock, retention_days=21
                )
            )
            started = time.perf_counter()
            await run_store.apply_units(units)
            for i in range(0, len(venues), 2000):
                await run_store.apply_venues(venues[i : i + 2000])
            print(f"registry of {VENUES} venues applied in {time.perf_counter() - started:.1f} s")
            baseline_rates.append(await raw_pipeline(url, payloads, day))
            rates.append(await ingest(run_store, payloads))
            print(
                f"ingest {rates[-1]:,.0f} scans/s, raw pipeline {baseline_rates[-1]:,.0f} scans/s"
            )
        results.append(
            result(
                "reporter",
                "ingest scans per second, one worker (decode + Redis, no Kafka)",
                round(median(rates)),
                "scans/s",
                baseline_metric="raw Redis pipeline (SADD + HINCRBY per scan), same run",
                baseline_value=round(median(baseline_rates)),
                target=INGEST_TARGET,
                samples=rates,
            )
        )
        if os.environ.get("SCANTRACE_BENCH_REPORTER_KAFKA", "1") != "0":
            print("through Kafka ...", flush=True)
            try:
                kafka_rates, raw_rates = [], []
                with kafka_server() as bootstrap:
                    for run in range(REPEATS):
                        kafka_rate, raw_rate = await kafka_ingest(
                            bootstrap, url, units, venues, payloads, run
                        )
                        kafka_rates.append(kafka_rate)
                        raw_rates.append(raw_rate)
                        print(
                            f"from Kafka: {kafka_rate:,.0f} scans/s, raw consumer {raw_rate:,.0f}/s"
                        )
                results.append(
                    result(
                        "reporter",
                        "ingest scans per second from Kafka, one worker (consume, decode, "
                        "Redis, commit)",
                        round(median(kafka_rates)),
                        "scans/s",
                        baseline_metric="raw aiokafka consumer (getmany + decode), same topic",
                        baseline_value=round(median(raw_rates)),
                        target=INGEST_TARGET,
                        samples=kafka_rates,
                    )
                )
            except Exception as exc:  # the Redis figures stand on their own
                print(f"Kafka stage skipped: {type(exc).__name__}: {exc}")
        quarantines = [
            QuarantineEvent(
                person_id=f"p{i}",
                unit_id=f"C{i % COMMUNES:03d}",
                from_date=(day - timedelta(days=3)).isoformat(),
                to_date=(day + timedelta(days=10)).isoformat(),
                registered_at=0,
            )
            for i in range(5000)
        ]
        await store.apply_quarantines(quarantines)
        start, _ = day_bounds(day, TZ)
        await store.apply_declarations(
            [
                DeclarationEvent(
                    declaration_id=str(uuid.uuid4()),
                    person_id=f"p{i}",
                    declared_at=start + i,
                    received_at=start,
                    device_id="d",
                )
                for i in range(0, 5000, 2)
            ]
        )
        province_answer = await store.compliance("DN", day)
        print(
            msgspec.json.encode(
                {k: v for k, v in province_answer.items() if k != "children"}
            ).decode()
        )
        exact = len({decode(ScanEvent, p).person_id for p in payloads})
        error_pct = abs(province_answer["persons"] - exact) / exact * 100
        results.append(
            result(
                "reporter",
                f"persons estimate error, province (HyperLogLog vs exact {exact:,})",
                round(error_pct, 3),
                "%",
                target=2.0,
                better="lower",
            )
        )
        print("baseline: SQLite ...", flush=True)
        sqlite_p99 = sqlite_baseline(units, venues, payloads, day)
        scopes = {
            "province": (["DN"], PROVINCE_P99_TARGET_MS),
            "district": ([f"D{i:02d}" for i in range(DISTRICTS)], None),
            "commune": ([f"C{i:03d}" for i in range(COMMUNES)], None),
        }
        for scope, (unit_ids, target) in scopes.items():
            p99s = []
            for _ in range(REPEATS):
                p99, p50 = await query_p99(store, unit_ids, day)
                p99s.append(p99)
                print(
                    f"{scope}: p50 {p50:.2f} ms, p99 {p99:.2f} ms; "
                    f"SQLite p99 {sqlite_p99[scope]:.1f} ms"
                )
            results.append(
                result(
                    "reporter",
                    f"compliance query p99, {scope} (with its children)",
                    round(median(p99s), 3),
                    "ms",
                    baseline_metric="SQLite, same aggregate over the raw scans (indexed), same run",
                    baseline_value=round(sqlite_p99[scope], 3),
                    target=target,
                    better="lower",
                    samples=p99s,
                )
            )
        info = await redis.info("memory")
        print(f"redis used_memory {info['used_memory_human']}")
        keys = [k async for k in redis.scan_iter(match=f"*{NS}*", count=10_000)]
        for i in range(0, len(keys), 10_000):
            await redis.delete(*keys[i : i + 10_000])
        await redis.aclose()
    write_results("reporter", results)
    write_markdown(results)
    return 0


def write_markdown(results: list[Result]) -> None:
    machine = machine_info()
    lines = [
        "# reporter benchmark",
        "",
        f"{machine['cpu_model']}, {machine['cores']} cores; {machine['date']}; "
        f"province of {DISTRICTS} districts, {COMMUNES} communes, {VENUES:,} venues; "
        f"{SCANS:,} scans (+2% duplicates) on one day; load average at the end "
        f"{os.getloadavg()[0]:.1f} (the machine is shared: figures vary with it).",
        "",
        "| metric | value | unit | baseline | baseline value | target | meets |",
        "|---|---:|---|---|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['metric']} | {r['value']} | {r['unit']} | {r['baseline_metric'] or '—'} | "
            f"{r['baseline_value'] if r['baseline_value'] is not None else '—'} | "
            f"{r['target'] if r['target'] is not None else '—'} | "
            f"{'—' if r['meets_target'] is None else ('yes' if r['meets_target'] else 'no')} |"
        )
    (RESULTS_DIR / "reporter.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
