"""Tracer benchmark (`make bench`): ingest rate, exposure latency against PostgreSQL, Redis bytes
per visit, scan-to-queryable delay. Writes bench/results/tracer.json and tracer.md.

Sizes are bounded so a run takes a few minutes on 2 cores; SCANTRACE_BENCH_TRACER_SCALE (default
1.0) scales the ingest backlog, SCANTRACE_BENCH_TRACER_PACED_SECONDS (15) each freshness window
(bench/tracer/ingest.py); the query data set is >= 2M visits (SCANTRACE_BENCH_TRACER_SIM_PEOPLE,
default 90,000, shrinks the simulated province for a quick check). Headline figures are the
median of REPEATS runs (the ingest drains, the freshness windows, the simulated province's query
rounds), with their min and max.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Literal

import msgspec
from redis.exceptions import RedisError

from bench.common import REPEATS, Result, median, percentile, result, servers, write_results
from bench.tracer import postgres
from bench.tracer.ingest import NAME, ingest_bench, log
from bench.tracer.province import DAY, MIN, Province
from scantrace_common.redis_client import connect
from scantrace_common.timeparse import parse_time
from scantrace_tracer import codec
from scantrace_tracer.exposures import exposures_json
from scantrace_tracer.fastpipe import FastPipe
from scantrace_tracer.gcpause import GcPause
from scantrace_tracer.keys import Keys, bucket_of
from scantrace_tracer.store import TracerStore
from scantrace_tracer.visits import Visit

# -- queries -------------------------------------------------------------------------------


#: People of the simulated province for the query data set: about 2.07 million visits in 14 days.
SIM_PEOPLE = int(os.environ.get("SCANTRACE_BENCH_TRACER_SIM_PEOPLE", "90000"))


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
        # one list of seconds per round: each round's percentiles, their median the figure
        d1_redis: list[list[float]] = []
        d1_pg: list[list[float]] = []
        d1_rows: list[list[float]] = []
        d2_redis: list[list[float]] = []
        d2_pg: list[list[float]] = []
        agree = True
        encounters: list[int] = []
        encounters2: list[int] = []
        d2_failed = 0
        # the stress set has no targets and its depth-2 queries take seconds: one round
        rounds = REPEATS if not suffix else 1
        with psycopg.connect(conninfo, autocommit=True) as conn, conn.cursor() as cur:
            for _ in range(rounds):
                for timings in (d1_redis, d1_pg, d1_rows, d2_redis, d2_pg):
                    timings.append([])
                for p in rng.sample(people, 200):
                    # what the API does for the query, up to its JSON body (api.person_exposures),
                    # collection held off during it and done after it (api._audited, gcpause)
                    a = time.perf_counter()
                    pause.enter()
                    body = await exposures_json(store, p, t1, t2, 15, 1)
                    pause.leave()
                    d1_redis[-1].append(time.perf_counter() - a)
                    await asyncio.sleep(0)  # the loop's next turn: the collection, as in the API
                    a = time.perf_counter()
                    theirs = pg_answer(cur, p, t1, t2, m, 1)
                    d1_pg[-1].append(time.perf_counter() - a)
                    a = time.perf_counter()
                    pg_join_rows(cur, p, t1, t2, m)
                    d1_rows[-1].append(time.perf_counter() - a)
                    ours = answer_of(body)
                    encounters.append(encounter_count(ours, 1))
                    agree &= ours == answer_of(theirs)
                log(
                    f"depth 1: redis p50 {percentile(d1_redis[-1], 50) * 1000:.1f} ms "
                    f"p99 {percentile(d1_redis[-1], 99) * 1000:.1f} ms; postgres p50 "
                    f"{percentile(d1_pg[-1], 50) * 1000:.1f} ms p99 "
                    f"{percentile(d1_pg[-1], 99) * 1000:.1f} ms "
                    f"(its join alone p99 {percentile(d1_rows[-1], 99) * 1000:.1f} ms)"
                )
                d2_t2 = t1 + DAY  # depth 2 fans out: a 1-day window keeps the run bounded
                for p in rng.sample(people, 12):
                    a = time.perf_counter()
                    pause.enter()
                    try:
                        body = await asyncio.wait_for(
                            exposures_json(store, p, t1, d2_t2, 15, 2), 30
                        )
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
                    d2_redis[-1].append(time.perf_counter() - a)
                    await asyncio.sleep(0)
                    ours = answer_of(body)
                    encounters2.append(encounter_count(ours, 2))
                    a = time.perf_counter()
                    theirs = pg_answer(cur, p, t1, d2_t2, m, 2)
                    d2_pg[-1].append(time.perf_counter() - a)
                    agree &= ours == answer_of(theirs)
                log(f"depth 2: {len(d2_redis[-1])} answered, {d2_failed} failed so far")
        await redis.aclose()
        await reader.close()
    log(f"answers agree: {agree}; mean depth-1 encounters {sum(encounters) / len(encounters):.0f}")

    def ms_runs(rounds_s: list[list[float]], q: float) -> list[float]:
        """The q-th percentile of each round, in ms."""
        return [percentile(r, q) * 1000 for r in rounds_s if r]

    def ms(rounds_s: list[list[float]], q: float) -> float | None:
        """The median over the rounds of their q-th percentiles, in ms."""
        runs = ms_runs(rounds_s, q)
        return round(median(runs), 2) if runs else None

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
        samples: list[float] | None = None,
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
            samples=samples if samples and len(samples) > 1 else None,
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
            baseline_value=float(d2_failed + sum(len(r) for r in d2_redis)),
            target=0.0,
        ),
        fig(
            "exposure_depth1_p50",
            ms(d1_redis, 50),
            "ms",
            samples=ms_runs(d1_redis, 50),
            baseline_metric="postgres_depth1_p50",
            baseline_value=ms(d1_pg, 50),
        ),
        fig(
            "exposure_depth1_p99",
            ms(d1_redis, 99),
            "ms",
            samples=ms_runs(d1_redis, 99),
            baseline_metric="postgres_depth1_p99",
            baseline_value=pg_p99,
            target=min(20.0, pg_p99 / 2),
        ),
        # the same latency next to PostgreSQL's join alone (rows, no answer made of them)
        fig(
            "exposure_depth1_p99_vs_join",
            ms(d1_redis, 99),
            "ms",
            samples=ms_runs(d1_redis, 99),
            baseline_metric="postgres_join_rows_depth1_p99",
            baseline_value=ms(d1_rows, 99),
        ),
        fig(
            "exposure_depth2_p50",
            ms(d2_redis, 50),
            "ms",
            samples=ms_runs(d2_redis, 50),
            baseline_metric="postgres_depth2_p50",
            baseline_value=ms(d2_pg, 50),
        ),
        fig(
            "exposure_depth2_p99",
            ms(d2_redis, 99),
            "ms",
            samples=ms_runs(d2_redis, 99),
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
