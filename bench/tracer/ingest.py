"""The tracer's ingest figures: the sustained maximum rate, and the scan-to-queryable delay at half.

Maximum: a backlog of scans sized to keep one worker busy for about 20 s is produced, then a
fresh tracer process drains it; the rate is taken between 10% and 90% of the backlog (start-up,
the consumer group's join and the tail left out), so it is a rate held for many seconds, not a
burst. REPEATS drains, each on its own topics and keys; the figure is their median.

Freshness: one fresh tracer, then REPEATS windows in which this process (the load generator)
produces scans at half the median maximum, stamping `received_at` as it sends; each window's p99
comes from the difference of the tracer's histogram before and after it. The generator competes
for the same two cores as the tracer, broker and Redis, so each window also records the CPU the
generator, the worker and Redis used and how busy the whole machine was: a p99 taken with the
machine saturated says so in its note.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import msgspec

from bench.common import REPEATS, Result, median, result
from bench.machine_load import busy_and_total
from bench.tracer.province import DAY, Province
from scantrace_common.events import encode
from scantrace_common.kafka import DurableProducer
from scantrace_common.redis_client import connect
from scantrace_common.settings import DEFAULT_RETENTION_DAYS
from scantrace_common.topics import SCANS, ensure_topics, topic_name

NAME: Final = "tracer"
SCALE: Final = float(os.environ.get("SCANTRACE_BENCH_TRACER_SCALE", "1.0"))
#: Persons of the backlog: about 5.3 scans each, 530k scans, 13-20 s for one worker at 25-40k/s.
BACKLOG_PERSONS: Final = int(100_000 * SCALE)
#: Seconds of each paced freshness window.
PACED_S: Final = float(os.environ.get("SCANTRACE_BENCH_TRACER_PACED_SECONDS", "15"))
#: A window shorter than this is noted as such: start-up noise weighs on it.
LONG_ENOUGH_S: Final = 10.0
#: The machine counts as saturated above this share of its cores busy.
SATURATED: Final = 0.9
DELAY: Final = "scantrace_tracer_scan_to_queryable_seconds"


def log(msg: str) -> None:
    print(f"[tracer bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def redis_cpu_seconds(redis: Any) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def metric_values(text: str, name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def histogram_p99(text: str, name: str, before: str = "") -> float | None:
    """The upper bound of the bucket holding the 99th percentile of what was observed after
    `before` (an earlier scrape of the same process) up to `text`."""
    then = metric_values(before, f"{name}_bucket")
    buckets = {k: v - then.get(k, 0.0) for k, v in metric_values(text, f"{name}_bucket").items()}
    total = sum(metric_values(text, f"{name}_count").values()) - sum(
        metric_values(before, f"{name}_count").values()
    )
    if total <= 0:
        return None
    for key, cumulative in sorted(buckets.items(), key=lambda kv: float(_le(kv[0]))):
        if cumulative >= 0.99 * total:
            return float(_le(key))
    return None


def _le(key: str) -> str:
    return key.split('le="')[1].split('"')[0]


async def processed(client: httpx.AsyncClient) -> float:
    try:
        text = (await client.get("/metrics")).text
    except httpx.HTTPError:
        return -1.0
    values = metric_values(text, "scantrace_tracer_events_processed_total")
    return sum(v for k, v in values.items() if 'topic="scans.v1"' in k)


async def wait_processed(client: httpx.AsyncClient, n: float, timeout_s: float) -> None:
    deadline = time.perf_counter() + timeout_s
    while await processed(client) < n:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the tracer did not process {n:.0f} scans in {timeout_s}s")
        await asyncio.sleep(0.1)


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


@dataclass
class Tracer:
    """One tracer process on its own namespace, its metrics read over HTTP."""

    env: dict[str, str]
    process: subprocess.Popen[bytes]
    client: httpx.AsyncClient

    @classmethod
    def start(cls, base_env: dict[str, str], namespace: str, log_path: Path) -> Tracer:
        port = free_port()
        env = dict(base_env, SCANTRACE_NAMESPACE=namespace, SCANTRACE_TRACER_PORT=str(port))
        with log_path.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "scantrace_tracer"], env=env, stdout=out, stderr=out
            )
        client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5)
        return cls(env, process, client)

    async def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        await self.client.aclose()


async def produce(producer: DurableProducer, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    for i in range(0, len(values), 20_000):
        await producer.send_batch(topic, values[i : i + 20_000])


@dataclass(frozen=True)
class Drain:
    rate: float
    window_s: float
    worker_cpu_s: float
    redis_cpu_s: float
    scans: int
    backlog: int
    ceiling: float


async def drain_once(
    bootstrap: str,
    redis_url: str,
    env: dict[str, str],
    state: Path,
    backlog: list[tuple[bytes, bytes]],
    run: int,
) -> Drain:
    """Produce the backlog on fresh topics, then time a fresh tracer between 10% and 90% of it."""
    namespace = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_topics(bootstrap, namespace, retention_days=DEFAULT_RETENTION_DAYS)
    topic = topic_name(SCANS, namespace)
    producer = DurableProducer(bootstrap, client_id="bench-tracer")
    await producer.start()
    try:
        await produce(producer, topic, backlog)
    finally:
        await producer.stop()
    n = len(backlog)
    ceiling = await raw_ceiling(bootstrap, topic, n)
    tracer = Tracer.start(env, namespace, state / f"tracer-drain-{run}.log")
    redis = connect(redis_url)
    marks: dict[str, tuple[float, float, float, float]] = {}  # time, count, worker, redis CPU
    try:
        deadline = time.perf_counter() + 900
        while "high" not in marks:
            done = await processed(tracer.client)
            for name, share in (("low", 0.1), ("high", 0.9)):
                if name not in marks and done >= share * n:
                    marks[name] = (
                        time.perf_counter(),
                        done,
                        cpu_seconds(tracer.process.pid),
                        await redis_cpu_seconds(redis),
                    )
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the tracer did not process 90% of {n} scans in 900 s")
            await asyncio.sleep(0.05)
    finally:
        await tracer.stop()
        await redis.aclose()
    (t0, c0, w0, r0), (t1, c1, w1, r1) = marks["low"], marks["high"]
    drain = Drain((c1 - c0) / (t1 - t0), t1 - t0, w1 - w0, r1 - r0, int(c1 - c0), n, ceiling)
    log(
        f"drain {run}: {drain.rate:.0f} scans/s held for {drain.window_s:.1f} s "
        f"({drain.scans} scans), worker {drain.worker_cpu_s:.2f} CPU-s, Redis "
        f"{drain.redis_cpu_s:.2f} CPU-s; raw getmany {ceiling:.0f}/s"
    )
    return drain


@dataclass(frozen=True)
class Window:
    p99: float | None
    rate: float
    generator_cores: float
    worker_cores: float
    redis_cores: float
    machine_busy: float  # share of all cores


def _received(scan: Any, at: int) -> Any:
    return msgspec.structs.replace(scan, received_at=at)


async def paced_windows(
    bootstrap: str, redis_url: str, env: dict[str, str], state: Path, target_rate: float
) -> list[Window]:
    """REPEATS windows at `target_rate` against one fresh tracer, the generator's CPU measured."""
    namespace = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_topics(bootstrap, namespace, retention_days=DEFAULT_RETENTION_DAYS)
    topic = topic_name(SCANS, namespace)
    per_window = int(target_rate * PACED_S)
    persons = max(1000, int(per_window * REPEATS / 5.3) + 1000)
    paced = Province(persons, 1000, 1, 3.0, time.time_ns() // 1_000_000 - 2 * DAY, seed=4).scans(0)
    log(f"freshness: {len(paced)} scans generated for {REPEATS} windows of {per_window}")
    producer = DurableProducer(bootstrap, client_id="bench-tracer-paced")
    await producer.start()
    tracer = Tracer.start(env, namespace, state / "tracer-paced.log")
    redis = connect(redis_url)
    windows: list[Window] = []
    try:
        # one warm-up scan: the pacing starts once the consumer has joined
        warm = _received(paced[0], time.time_ns() // 1_000_000)
        await producer.send_batch(topic, [(warm.venue_id.encode(), encode(warm))])
        await wait_processed(tracer.client, 1, 120)
        await asyncio.sleep(10)  # the group may rebalance again shortly after its first join
        sent_total = 1
        for w in range(REPEATS):
            chunk = paced[1 + w * per_window : 1 + (w + 1) * per_window]
            before = (await tracer.client.get("/metrics")).text
            cpu0 = (
                time.process_time(),
                cpu_seconds(tracer.process.pid),
                await redis_cpu_seconds(redis),
                busy_and_total()[0],
            )
            started = time.perf_counter()
            sent = 0
            while sent < len(chunk):
                due = min(len(chunk), int((time.perf_counter() - started) * target_rate) + 1)
                if due > sent:
                    at = time.time_ns() // 1_000_000
                    step = [
                        (s.venue_id.encode(), encode(_received(s, at))) for s in chunk[sent:due]
                    ]
                    await producer.send_batch(topic, step)
                    sent = due
                await asyncio.sleep(0.02)
            sending_s = time.perf_counter() - started
            sent_total += sent
            await wait_processed(tracer.client, sent_total, 300)
            span = time.perf_counter() - started
            cpu1 = (
                time.process_time(),
                cpu_seconds(tracer.process.pid),
                await redis_cpu_seconds(redis),
                busy_and_total()[0],
            )
            after = (await tracer.client.get("/metrics")).text
            used = [(b - a) / span for a, b in zip(cpu0, cpu1, strict=True)]
            window = Window(
                p99=histogram_p99(after, DELAY, before),
                rate=sent / sending_s,
                generator_cores=used[0],
                worker_cores=used[1],
                redis_cores=used[2],
                machine_busy=used[3] / (os.cpu_count() or 1),
            )
            windows.append(window)
            log(
                f"window {w}: p99 <= {window.p99} s at {window.rate:.0f}/s; cores: generator "
                f"{window.generator_cores:.2f}, worker {window.worker_cores:.2f}, Redis "
                f"{window.redis_cores:.2f}; machine {window.machine_busy:.0%} busy"
            )
    finally:
        await tracer.stop()
        await producer.stop()
        await redis.aclose()
    return windows


async def ingest_bench(bootstrap: str, redis_url: str, state: Path) -> list[Result]:
    """The sustained maximum (REPEATS drains) and the delay at half of its median."""
    now = time.time_ns() // 1_000_000
    scans = Province(BACKLOG_PERSONS, 1000, 1, 3.0, now - 3 * DAY, seed=3).scans(now)
    backlog = [(s.venue_id.encode(), encode(s)) for s in scans]
    del scans
    log(f"backlog of {len(backlog)} scans")
    env = dict(
        os.environ,
        SCANTRACE_KAFKA_BOOTSTRAP=bootstrap,
        SCANTRACE_REDIS_URL=redis_url,
        SCANTRACE_LOG_LEVEL="WARNING",
        SCANTRACE_STATE_DIR=str(state),
    )
    drains = [
        await drain_once(bootstrap, redis_url, env, state, backlog, run) for run in range(REPEATS)
    ]
    del backlog
    rates = [d.rate for d in drains]
    per_cpu = [d.scans / d.worker_cpu_s for d in drains]
    rate = median(rates)
    short = min(d.window_s for d in drains)
    drain_note = (
        f"held {short:.0f}-{max(d.window_s for d in drains):.0f} s per run (10% to 90% of "
        f"a {drains[0].backlog:,}-scan backlog)"
        + (
            f"; shorter than {LONG_ENOUGH_S:.0f} s: raise SCANTRACE_BENCH_TRACER_SCALE"
            if short < LONG_ENOUGH_S
            else ""
        )
    )
    windows = await paced_windows(bootstrap, redis_url, env, state, rate / 2)
    p99s = [w.p99 for w in windows if w.p99 is not None]
    busiest = max(windows, key=lambda w: w.machine_busy)
    paced_note = (
        f"load generator {median([w.generator_cores for w in windows]):.2f} cores, worker "
        f"{median([w.worker_cores for w in windows]):.2f}, Redis "
        f"{median([w.redis_cores for w in windows]):.2f}; machine up to {busiest.machine_busy:.0%} busy"
        + (
            " (saturated: the delay includes waiting for a core)"
            if busiest.machine_busy > SATURATED
            else ""
        )
    )
    return [
        result(
            NAME,
            "ingest_scans_per_second_per_worker",
            round(rate, 1),
            "scans/s",
            baseline_metric="raw_getmany_scans_per_second",
            baseline_value=round(median([d.ceiling for d in drains]), 1),
            target=25_000,
            samples=rates,
            note=drain_note,
        ),
        result(
            NAME,
            "ingest_scans_per_worker_cpu_second",
            round(median(per_cpu), 1),
            "scans/CPU-s",
            baseline_metric="redis_cpu_seconds_during_ingest",
            baseline_value=round(median([d.redis_cpu_s for d in drains]), 2),
            samples=per_cpu,
        ),
        result(
            NAME,
            "scan_to_queryable_p99_at_half_max_ingest",
            median(p99s) if p99s else None,
            "s",
            baseline_metric="paced_rate_scans_per_second",
            baseline_value=round(median([w.rate for w in windows]), 1),
            target=2.0,
            better="lower",
            samples=p99s,
            note=paced_note,
        ),
    ]
