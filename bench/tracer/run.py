"""Tracer benchmark (`make bench`): ingest rate, exposure latency against PostgreSQL, Redis bytes
per visit, scan-to-queryable delay. Writes bench/results/tracer.json and tracer.md.

Sizes are bounded so a run takes a few minutes on 2 cores; SCANTRACE_BENCH_TRACER_SCALE (default
1.0) scales the ingest; the query data set is always >= 2M visits.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import httpx
import msgspec
from redis.exceptions import RedisError

from bench.common import Result, percentile, result, servers, write_results
from bench.tracer import postgres
from bench.tracer.province import DAY, MIN, Province
from scantrace_common.events import encode
from scantrace_common.kafka import DurableProducer
from scantrace_common.redis_client import connect
from scantrace_common.settings import DEFAULT_RETENTION_DAYS
from scantrace_common.timeparse import parse_time
from scantrace_common.topics import SCANS, ensure_topics, topic_name
from scantrace_tracer import codec
from scantrace_tracer.exposures import exposures_json
from scantrace_tracer.fastpipe import FastPipe
from scantrace_tracer.gcpause import GcPause
from scantrace_tracer.keys import Keys, bucket_of
from scantrace_tracer.store import TracerStore
from scantrace_tracer.visits import Visit

NAME = "tracer"
SCALE = float(os.environ.get("SCANTRACE_BENCH_TRACER_SCALE", "1.0"))


def log(msg: str) -> None:
    print(f"[tracer bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- ingest --------------------------------------------------------------------------------


async def raw_ceiling(bootstrap: str, topic: str, n: int) -> float:
    """Scans/s read with getmany and discarded: the consumer's own ceiling."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from scantrace_tracer.rebuild import _partitions

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await _partitions(bootstrap, topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen = 0
        started = time.perf_counter()
        while seen < n:
            got = await consumer.getmany(timeout_ms=1000, max_records=5000)
            seen += sum(len(v) for v in got.values())
        return n / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def metric_values(text: str, name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


async def processed(client: httpx.AsyncClient) -> float:
    try:
        text = (await client.get("/metrics")).text
    except httpx.HTTPError:
        return -1.0
    values = metric_values(text, "scantrace_tracer_events_processed_total")
    return sum(v for k, v in values.items() if 'topic="scans.v1"' in k)


def start_tracer(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "scantrace_tracer"], env=env, stdout=out, stderr=out
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def redis_cpu_seconds(redis: Any) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def wait_processed(
    client: httpx.AsyncClient,
    n: int,
    timeout_s: float,
    on_first: Callable[[], Awaitable[None]] | None = None,
) -> tuple[float, float]:
    """(time of the first processed event, time when n are processed), perf_counter clock;
    `on_first` runs when the first is seen (to sample CPU times there)."""
    first = 0.0
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        done = await processed(client)
        if done > 0 and not first:
            first = time.perf_counter()
            if on_first is not None:
                await on_first()
        if done >= n:
            return first, time.perf_counter()
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the tracer did not process {n} scans in {timeout_s}s")


async def ingest_bench(bootstrap: str, redis_url: str, state: Path) -> list[Result]:
    ns = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_topics(bootstrap, ns, retention_days=DEFAULT_RETENTION_DAYS)
    topic = topic_name(SCANS, ns)
    now = time.time_ns() // 1_000_000
    persons = int(20_000 * SCALE)
    scans = Province(persons, 1000, 1, 3.0, now - 3 * DAY, seed=3).scans(now)
    n = len(scans)
    producer = DurableProducer(bootstrap, client_id="bench-tracer")
    await producer.start()
    try:
        for i in range(0, n, 20_000):
            chunk = scans[i : i + 20_000]
            await producer.send_batch(topic, [(s.venue_id.encode(), encode(s)) for s in chunk])
        log(f"produced {n} scans")
        ceiling = await raw_ceiling(bootstrap, topic, n)
        log(f"raw getmany ceiling {ceiling:.0f}/s")
        port = free_port()
        env = dict(
            os.environ,
            SCANTRACE_KAFKA_BOOTSTRAP=bootstrap,
            SCANTRACE_REDIS_URL=redis_url,
            SCANTRACE_NAMESPACE=ns,
            SCANTRACE_TRACER_PORT=str(port),
            SCANTRACE_LOG_LEVEL="WARNING",
            SCANTRACE_STATE_DIR=str(state),
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            proc = start_tracer(env, state / "tracer-1.log")
            redis = connect(redis_url)
            # CPU of the worker process and of Redis over the same span as the rate
            cpu_at_first: list[float] = []

            async def sample() -> None:
                cpu_at_first[:] = [cpu_seconds(proc.pid), await redis_cpu_seconds(redis)]

            try:
                first, done = await wait_processed(client, n, 900, sample)
                worker_cpu = cpu_seconds(proc.pid) - cpu_at_first[0]
                redis_cpu = await redis_cpu_seconds(redis) - cpu_at_first[1]
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
                await redis.aclose()
            rate = n / max(done - first, 1e-9)
            log(
                f"worker ingest {rate:.0f}/s; worker {worker_cpu:.2f} CPU-s "
                f"({n / worker_cpu:.0f} scans/CPU-s), Redis {redis_cpu:.2f} CPU-s"
            )
            # scan-to-queryable at half the measured rate, with a fresh process (fresh histogram)
            proc = start_tracer(env, state / "tracer-2.log")
            try:
                paced = Province(persons, 1000, 1, 3.0, now - 2 * DAY, seed=4).scans(0)
                # one warm-up scan: the pacing starts once the Faust consumer has joined
                warm = _received(paced[0], time.time_ns() // 1_000_000)
                await producer.send_batch(topic, [(warm.venue_id.encode(), encode(warm))])
                await wait_processed(client, 1, 120)
                # Faust may rebalance again shortly after its first assignment: let it settle
                await asyncio.sleep(10)
                paced = paced[1:]
                target_rate = rate / 2
                duration = 10.0
                count = min(len(paced), int(target_rate * duration))
                sent = 0
                started = time.perf_counter()
                while sent < count:
                    due = int((time.perf_counter() - started) * target_rate) + 1
                    step = paced[sent : min(count, due)]
                    if step:
                        at = time.time_ns() // 1_000_000
                        await producer.send_batch(
                            topic,
                            [(s.venue_id.encode(), encode(_received(s, at))) for s in step],
                        )
                        sent += len(step)
                    await asyncio.sleep(0.02)
                await wait_processed(client, count + 1, 300)
                text = (await client.get("/metrics")).text
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        p99 = histogram_p99(text, "scantrace_tracer_scan_to_queryable_seconds")
        for line in text.splitlines():
            if line.startswith("scantrace_tracer_scan_to_queryable_seconds_bucket"):
                log(line)
        log(f"scan-to-queryable p99 <= {p99}s at {target_rate:.0f}/s")
    finally:
        await producer.stop()
    return [
        result(
            NAME,
            "ingest_scans_per_second_per_worker",
            round(rate, 1),
            "scans/s",
            baseline_metric="raw_getmany_scans_per_second",
            baseline_value=round(ceiling, 1),
            target=25_000,
        ),
        result(
            NAME,
            "ingest_scans_per_worker_cpu_second",
            round(n / worker_cpu, 1),
            "scans/CPU-s",
            baseline_metric="redis_cpu_seconds_during_ingest",
            baseline_value=round(redis_cpu, 2),
        ),
        result(
            NAME,
            "scan_to_queryable_p99_at_half_max_ingest",
            p99,
            "s",
            baseline_metric="paced_rate_scans_per_second",
            baseline_value=round(target_rate, 1),
            target=2.0,
            better="lower",
        ),
    ]


def _received(scan: Any, at: int) -> Any:
    import msgspec

    return msgspec.structs.replace(scan, received_at=at)


def histogram_p99(text: str, name: str) -> float | None:
    buckets = metric_values(text, f"{name}_bucket")
    total = sum(v for k, v in metric_values(text, f"{name}_count").items())
    if not total:
        return None
    for key, cumulative in sorted(
        buckets.items(), key=lambda kv: float(kv[0].split('le="')[1].split('"')[0])
    ):
        if cumulative >= 0.99 * total:
            return float(key.split('le="')[1].split('"')[0])
    return None


# -- queries -------------------------------------------------------------------------------


#: People of the simulated province for the query data set: about 2.07 million visits in 14 days.
SIM_PEOPLE = 90_000


def simulated_visits(start: int) -> dict[str, list[Visit]]:
    """The simulator's province (`scantrace simulate`'s model of Dong Nai: homes, workplaces,
    schools, markets, buses) over 14 days, its scans walked into visits by the tracer's rules."""
    from datetime import UTC, datetime

    from scantrace_cli.sim.config import SimConfig
    from scantrace_cli.sim.generator import generate
    from scantrace_common.venue_kinds import dwell_minutes
    from scantrace_tracer.visits import MINUTE_MS, Scan, derive, ordered_unique

    first_day = datetime.fromtimestamp(start / 1000, UTC).date()
    workload = generate(SimConfig(people=SIM_PEOPLE, days=14, start_date=first_day, seed=11))
    dwell = {
        v.venue_id: dwell_minutes(v.kind, v.default_dwell_minutes) * MINUTE_MS
        for v in workload.venues
    }
    scans: dict[str, list[Scan]] = {}
    for s in workload.scans:
        scans.setdefault(s.person_id, []).append(
            Scan(s.scan_id, s.venue_id, s.direction, s.scanned_at)
        )
    return {
        person: derive(ordered_unique(own), lambda v: dwell.get(v, 60 * MINUTE_MS)).visits
        for person, own in scans.items()
    }


def zipf_visits(start: int) -> dict[str, list[Visit]]:
    """A stress set: 50k persons, 3,000 venues of Zipf popularity, 14 days (PERF-NOTES)."""
    return visits_of(Province(50_000, 3000, 14, 3.0, start, seed=11))


def visits_of(province: Province) -> dict[str, list[Visit]]:
    out: dict[str, list[Visit]] = {}
    rng = random.Random(9)
    for person, venue, t, stay in province.stays():
        closed = "out" if rng.random() < 0.7 else "dwell"
        out.setdefault(person, []).append(Visit(venue, t, t + stay, closed))  # type: ignore[arg-type]
    return out


async def load_redis(redis_url: str, keys: Keys, visits: dict[str, list[Visit]]) -> int:
    """Write both indexes the way the ingest does; returns the bytes of memory they added."""
    redis = connect(redis_url)
    fast = FastPipe(redis_url)
    before = int((await redis.info("memory"))["used_memory"])
    buckets: dict[tuple[str, int], list[Any]] = {}
    #: venue -> field ("max", bucket number) -> longest stay, as the ingest records them
    max_stay: dict[str, dict[str, int]] = {}
    commands: list[Any] = []
    for person, vs in visits.items():
        cmd: list[Any] = ["ZADD", keys.person_visits(person)]
        for v in vs:
            cmd += [v.start, codec.visit_member(v, v.venue_id, 0)]
            buckets.setdefault((v.venue_id, bucket_of(v.start)), []).extend(
                [v.start, codec.visit_member(v, person, 0)]
            )
            stays = max_stay.setdefault(v.venue_id, {})
            for field in ("max", str(bucket_of(v.start))):
                stays[field] = max(stays.get(field, 0), v.end - v.start)
        commands.append(cmd)
        if len(commands) >= 2000:
            await fast.execute(commands)
            commands = []
    for (venue, b), members in buckets.items():
        commands.append(["ZADD", keys.venue_bucket(venue, b), *members])
        if len(commands) >= 2000:
            await fast.execute(commands)
            commands = []
    commands += [
        ["HSET", keys.venue_stays(v), *[x for item in stays.items() for x in item]]
        for v, stays in max_stay.items()
    ]
    await fast.execute(commands)
    after = int((await redis.info("memory"))["used_memory"])
    await fast.close()
    await redis.aclose()
    return after - before


def load_postgres(conninfo: str, visits: dict[str, list[Visit]]) -> None:
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(postgres.SCHEMA)
        with conn.cursor().copy("COPY visits (person_id, venue_id, s, e) FROM STDIN") as copy:
            for person, vs in visits.items():
                for v in vs:
                    copy.write_row((person, v.venue_id, v.start, v.end))
        for statement in postgres.INDEXES.strip().split(";\n"):
            if statement.strip():
                conn.execute(statement)


def pg_join_rows(cur: Any, p: str, t1: int, t2: int, m: int) -> list[tuple[str, str, int, int]]:
    """Depth 1's join alone: the encounters as rows, not yet an answer (the second baseline)."""
    cur.execute(postgres.DEPTH1, {"p": p, "t1": t1, "t2": t2, "m": m})
    return [tuple(r) for r in cur.fetchall()]


def pg_answer(cur: Any, p: str, t1: int, t2: int, m: int, depth: int) -> bytes:
    """PostgreSQL's whole answer to the exposures query, as JSON (`postgres.ANSWER_DEPTH*`)."""
    sql = postgres.ANSWER_DEPTH1 if depth == 1 else postgres.ANSWER_DEPTH2
    cur.execute(sql, {"p": p, "t1": t1, "t2": t2, "m": m, "mm": m // MIN})
    return str(cur.fetchone()[0]).encode()


#: An exposures answer with its times as epoch ms: two engines' JSON compare equal through it.
Answer = tuple[str, int, int, int, int, list[tuple[str, int, str | None, int, list[Any]]]]


def answer_of(body: bytes) -> Answer:
    """An exposures answer (the API's or PostgreSQL's JSON) with times parsed, order kept."""
    out = msgspec.json.decode(body)
    return (
        out["person_id"],
        parse_time(out["from"]),
        parse_time(out["to"]),
        out["min_overlap_minutes"],
        out["depth"],
        [
            (
                c["person_id"],
                c["depth"],
                c["via"],
                c["total_overlap_minutes"],
                [
                    (
                        e["venue_id"],
                        parse_time(e["start"]),
                        parse_time(e["end"]),
                        e["overlap_minutes"],
                    )
                    for e in c["encounters"]
                ],
            )
            for c in out["contacts"]
        ],
    )


def encounter_count(answer: Answer, depth: int) -> int:
    return sum(len(c[4]) for c in answer[5] if c[1] == depth)


async def query_bench(redis_url: str, state: Path, dataset: str) -> list[Result]:
    """Depth-1 and depth-2 exposures on one data set, against PostgreSQL on the same visits.

    `simulated` (the simulator's province) carries the issue's targets; `zipf` is the stress
    set: its metric names end in `[zipf]` and have no targets.
    """
    start = (time.time_ns() // 1_000_000 // DAY - 15) * DAY
    visits = simulated_visits(start) if dataset == "simulated" else zipf_visits(start)
    suffix = "" if dataset == "simulated" else f"[{dataset}]"
    total = sum(len(v) for v in visits.values())
    log(f"{dataset}: {total} visits generated")
    keys = Keys(f"benchq{uuid.uuid4().hex[:6]}.")
    used = await load_redis(redis_url, keys, visits)
    per_visit = used / total
    log(f"redis: {per_visit:.1f} bytes per visit")
    with postgres.cluster(state / f"pg-{dataset}") as conninfo:
        load_postgres(conninfo, visits)
        log("postgres loaded and indexed")
        import psycopg

        redis = connect(redis_url)
        reader = FastPipe(redis_url)  # as the service reads (SCANTRACE_TRACER_REDIS_READERS)
        store = TracerStore(redis, keys, readers=[reader])
        rng = random.Random(5)
        people = sorted(visits)
        # As the service does after start-up (api.py): what is alive now (here the millions of
        # generated visits) is left out of collections, which would otherwise walk it all.
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
        pause = GcPause()
        t1, t2, m = start, start + 14 * DAY, 15 * MIN
        d1_redis: list[float] = []
        d1_pg: list[float] = []
        d1_rows: list[float] = []
        d2_redis: list[float] = []
        d2_pg: list[float] = []
        agree = True
        encounters: list[int] = []
        encounters2: list[int] = []
        with psycopg.connect(conninfo, autocommit=True) as conn, conn.cursor() as cur:
            for p in rng.sample(people, 200):
                # what the API does for the query, up to its JSON body (api.person_exposures),
                # collection held off during it and done after it (audit.AuditMiddleware, gcpause)
                a = time.perf_counter()
                pause.enter()
                body = await exposures_json(store, p, t1, t2, 15, 1)
                pause.leave()
                d1_redis.append(time.perf_counter() - a)
                await asyncio.sleep(0)  # the loop's next turn: the collection, as in the API
                a = time.perf_counter()
                theirs = pg_answer(cur, p, t1, t2, m, 1)
                d1_pg.append(time.perf_counter() - a)
                a = time.perf_counter()
                pg_join_rows(cur, p, t1, t2, m)
                d1_rows.append(time.perf_counter() - a)
                ours = answer_of(body)
                encounters.append(encounter_count(ours, 1))
                agree &= ours == answer_of(theirs)
            log(
                f"depth 1: redis p50 {percentile(d1_redis, 50) * 1000:.1f} ms "
                f"p99 {percentile(d1_redis, 99) * 1000:.1f} ms; postgres p50 "
                f"{percentile(d1_pg, 50) * 1000:.1f} ms p99 {percentile(d1_pg, 99) * 1000:.1f} ms "
                f"(its join alone p99 {percentile(d1_rows, 99) * 1000:.1f} ms)"
            )
            d2_t2 = t1 + DAY  # depth 2 fans out: a 1-day window keeps the run bounded
            d2_failed = 0
            for p in rng.sample(people, 12):
                a = time.perf_counter()
                pause.enter()
                try:
                    body = await asyncio.wait_for(exposures_json(store, p, t1, d2_t2, 15, 2), 30)
                except (TimeoutError, RedisError) as exc:
                    log(f"depth 2 for {p} failed after {time.perf_counter() - a:.1f}s: {exc!r}")
                    d2_failed += 1
                    await redis.aclose()
                    await reader.close()
                    redis = connect(redis_url)
                    reader = FastPipe(redis_url)
                    store = TracerStore(redis, keys, readers=[reader])
                    continue
                finally:
                    pause.leave()
                d2_redis.append(time.perf_counter() - a)
                await asyncio.sleep(0)
                ours = answer_of(body)
                encounters2.append(encounter_count(ours, 2))
                a = time.perf_counter()
                theirs = pg_answer(cur, p, t1, d2_t2, m, 2)
                d2_pg.append(time.perf_counter() - a)
                agree &= ours == answer_of(theirs)
            log(f"depth 2: {len(d2_redis)} answered, {d2_failed} failed")
        await redis.aclose()
        await reader.close()
    log(f"answers agree: {agree}; mean depth-1 encounters {sum(encounters) / len(encounters):.0f}")

    def ms(samples: list[float], q: float) -> float | None:
        return round(percentile(samples, q) * 1000, 2) if samples else None

    pg_p99 = ms(d1_pg, 99) or 0.0
    primary = not suffix

    def fig(
        metric: str,
        value: float | None,
        unit: str,
        *,
        baseline_metric: str | None = None,
        baseline_value: float | None = None,
        target: float | None = None,
        better: Literal["higher", "lower"] = "lower",
        always: bool = False,
    ) -> Result:
        # the stress set's figures carry its name and no target (correctness excepted)
        return result(
            NAME,
            metric + suffix,
            value,
            unit,
            baseline_metric=baseline_metric + suffix if baseline_metric else None,
            baseline_value=baseline_value,
            target=target if primary or always else None,
            better=better,
        )

    return [
        # the size of the answers: the work of both engines grows with it
        fig("exposure_depth1_mean_encounters", _mean(encounters), "encounters"),
        fig("exposure_depth2_mean_encounters", _mean(encounters2), "encounters"),
        fig(
            "exposure_depth2_failed_queries",
            float(d2_failed),
            "queries",
            baseline_metric="depth2_queries_tried",
            baseline_value=float(d2_failed + len(d2_redis)),
            target=0.0,
        ),
        fig(
            "exposure_depth1_p50",
            ms(d1_redis, 50),
            "ms",
            baseline_metric="postgres_depth1_p50",
            baseline_value=ms(d1_pg, 50),
        ),
        fig(
            "exposure_depth1_p99",
            ms(d1_redis, 99),
            "ms",
            baseline_metric="postgres_depth1_p99",
            baseline_value=pg_p99,
            target=min(20.0, pg_p99 / 2),
        ),
        # the same latency next to PostgreSQL's join alone (rows, no answer made of them)
        fig(
            "exposure_depth1_p99_vs_join",
            ms(d1_redis, 99),
            "ms",
            baseline_metric="postgres_join_rows_depth1_p99",
            baseline_value=ms(d1_rows, 99),
        ),
        fig(
            "exposure_depth2_p50",
            ms(d2_redis, 50),
            "ms",
            baseline_metric="postgres_depth2_p50",
            baseline_value=ms(d2_pg, 50),
        ),
        fig(
            "exposure_depth2_p99",
            ms(d2_redis, 99),
            "ms",
            baseline_metric="postgres_depth2_p99",
            baseline_value=ms(d2_pg, 99),
            target=150.0,
        ),
        fig(
            "answers_agree_with_postgres",
            1.0 if agree else 0.0,
            "bool",
            target=1.0,
            better="higher",
            always=True,
        ),
        fig(
            "redis_bytes_per_visit",
            round(per_visit, 1),
            "B",
            baseline_metric="visits_stored",
            baseline_value=float(total),
            target=200.0,
        ),
    ]


def _mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def write_markdown(results: list[Result]) -> None:
    from bench.common import RESULTS_DIR

    lines = [
        "# tracer benchmark",
        "",
        "| metric | value | unit | baseline | baseline value | target | meets |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['metric']} | {r['value']} | {r['unit']} | {r['baseline_metric'] or ''} | "
            f"{r['baseline_value'] if r['baseline_value'] is not None else ''} | "
            f"{r['target'] if r['target'] is not None else ''} | {r['meets_target']} |"
        )
    (RESULTS_DIR / f"{NAME}.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    only = set(sys.argv[1:])  # "ingest", "queries" (or "simulated", "zipf"); all when empty
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-tracer-") as tmp:
        state = Path(tmp)
        os.chmod(state, 0o755)  # noqa: S103 - PostgreSQL runs as `postgres` inside it
        with servers(state) as (bootstrap, redis_url):
            if not only or "ingest" in only:
                results += asyncio.run(ingest_bench(bootstrap, redis_url, state))
            # "simulated" or "zipf" alone: the queries on that data set only
            sets = [d for d in ("simulated", "zipf") if d in only] or ["simulated", "zipf"]
            if not only or "queries" in only or only & {"simulated", "zipf"}:
                # the simulator's province (the targets), then the Zipf stress set
                for dataset in sets:
                    results += asyncio.run(query_bench(redis_url, state, dataset))
    write_results(NAME, results)
    write_markdown(results)
    for r in results:
        log(
            f"{r['metric']}: {r['value']} {r['unit']} (target {r['target']}, meets {r['meets_target']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
