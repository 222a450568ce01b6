"""Gateway benchmark (`make bench`, or `uv run python -m bench.gateway.run`).

(a) a hello-world FastAPI POST endpoint and (b) POST /v1/scans with one scan, both one uvicorn
worker (uvloop + httptools) driven by the same wrk + Lua load (unique scan ids), at full load and
at about half of it; the single-scan runs alternate with hello-world runs (both servers stay up),
so each run's ratio to hello-world compares two loads taken seconds apart; (c) msgpack arrays of 500 scans (scans/s); (d) the raw producer ceiling: the
same events sent straight to the broker with create_batch/send_batch (acks=all, idempotent); and
the raw acks=all round trip of one record at a time (p50/p99), the floor of a durable answer.
Each wrk run also records the CPU seconds the broker and Redis used meanwhile.
Every figure is the median of REPEATS runs (bench.common, 3) with their min and max.
Servers are pinned to core 0 and wrk to core 1 where `taskset` exists and there are 2+ cores
(`PINNING` says which, in the results' notes). Uses the broker and Redis
of SCANTRACE_KAFKA_BOOTSTRAP / SCANTRACE_REDIS_URL when set, else starts its own on free ports.
Writes bench/results/gateway.json and gateway.md.

A subset for quick comparisons (prints the wrk figures, writes no results):
`--only hello|single|batch` (repeatable) and `--ack kafka|spool`, e.g.
`python -m bench.gateway.run --only hello --only single --ack kafka`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script by bench/run_all.py
    sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    REPEATS,
    RESULTS_DIR,
    Result,
    machine_info,
    median,
    percentile,
    result,
    servers,
    write_results,
)

HERE = Path(__file__).resolve().parent
DURATION_S = int(os.environ.get("SCANTRACE_BENCH_SECONDS", "5"))
WARMUP_S = 2
CONNECTIONS = 64
BATCH_SIZE = 500
BATCH_CONNECTIONS = 32
VENUES = 50
RAW_EVENTS = 300_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(core: int, argv: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    cores = os.cpu_count() or 1
    return [taskset, "-c", str(core % cores), *argv] if taskset and cores > 1 else argv


#: How the servers and wrk shared the cores, for the notes of the per-worker figures.
PINNING = (
    "server worker pinned to core 0 and wrk to core 1 (taskset); broker and Redis unpinned"
    if pinned(0, []) != []
    else "not pinned (one core, or no taskset): server and wrk shared the cores"
)


@contextlib.contextmanager
def serve(argv: list[str], env: dict[str, str], url: str, log: Path) -> Iterator[int]:
    """Start a server (pinned to core 0), wait until `url` answers 200; yields its pid."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            pinned(0, argv), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{argv} exited:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv} not ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: pid of the broker and Redis started by this run: their CPU per run is reported too, since
#: on a 2-core machine they compete with the worker for the same cores.
OTHERS: dict[str, int] = {}


def wrk(
    url: str, script: str, args: list[str], connections: int, seconds: int, pid: int
) -> dict[str, Any]:
    argv = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(HERE / script), url, "--", *args,
    ]  # fmt: skip
    cpu_before = cpu_seconds(pid)
    others_before = {name: cpu_seconds(other) for name, other in OTHERS.items()}
    out = subprocess.run(
        pinned(1, argv), capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    cpu = cpu_seconds(pid) - cpu_before
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    data: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    data["server_cpu_s"] = round(cpu, 3)
    # Requests per CPU-second of the server process: its capacity per worker, whatever else
    # the shared machine was doing meanwhile.
    data["per_cpu_s"] = data["requests"] / cpu if cpu > 0 else None
    for name, before in others_before.items():
        with contextlib.suppress(OSError):
            data[f"{name}_cpu_s"] = round(cpu_seconds(OTHERS[name]) - before, 3)
    return data


Runs = list[dict[str, Any]]


def load(url: str, script: str, args: list[str], pid: int, connections: int = CONNECTIONS) -> Runs:
    """Warm up, then REPEATS measured runs: their median is the figure, min and max its spread."""
    wrk(url, script, args, connections, WARMUP_S, pid)
    return [wrk(url, script, args, connections, DURATION_S, pid) for _ in range(REPEATS)]


def mid(runs: Runs, key: str) -> float:
    """The median of one field over the runs."""
    return median([float(run[key]) for run in runs])


@dataclass(frozen=True)
class Hello:
    """The hello-world server, kept up so gateway runs can alternate with its runs."""

    url: str
    pid: int

    def run(self) -> dict[str, Any]:
        return wrk(f"{self.url}/hello", "hello.lua", ["0"], CONNECTIONS, DURATION_S, self.pid)


def half_load_delay_ms(full_rps: float) -> int:
    """Each of CONNECTIONS connections pausing this long gives at most about half the full rate."""
    return max(1, round(CONNECTIONS * 1000 / (full_rps / 2)))


async def raw_producer_ceiling(
    bootstrap: str, topic: str, events: list[tuple[bytes, bytes]]
) -> float:
    """Events/s sent with create_batch/send_batch per partition, acks=all, idempotent."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.partitioner import DefaultPartitioner

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        max_batch_size=1 << 20,
    )
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        partitioner = DefaultPartitioner()
        cache: dict[bytes, int] = {}

        async def send(chunk: list[tuple[bytes, bytes]]) -> None:
            by_partition: dict[int, list[tuple[bytes, bytes]]] = {}
            for key, value in chunk:
                partition = cache.get(key)
                if partition is None:
                    partition = cache[key] = partitioner(key, partitions, partitions)
                by_partition.setdefault(partition, []).append((key, value))
            futures = []
            for partition, items in by_partition.items():
                batch = producer.create_batch()
                for key, value in items:
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        batch.close()
                        futures.append(await producer.send_batch(batch, topic, partition=partition))
                        batch = producer.create_batch()
                        batch.append(key=key, value=value, timestamp=None)
                batch.close()
                futures.append(await producer.send_batch(batch, topic, partition=partition))
            await asyncio.gather(*futures)

        await send(events[:5000])  # warm-up: metadata, connections
        started = time.perf_counter()
        for i in range(0, len(events), 20_000):
            await send(events[i : i + 20_000])
        return len(events) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def raw_ack_round_trips(bootstrap: str, topic: str, count: int = 2000) -> list[float]:
    """Milliseconds of one-record create_batch/send_batch sends awaited one at a time (acks=all,
    idempotent): the least a durable single-scan answer can wait on this machine."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=0
    )
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        samples: list[float] = []
        for i in range(count + 100):
            batch = producer.create_batch()
            batch.append(key=b"k", value=b"x" * 200, timestamp=None)
            batch.close()
            started = time.perf_counter()
            await (
                await producer.send_batch(batch, topic, partition=partitions[i % len(partitions)])
            )
            if i >= 100:  # after connections and metadata are warm
                samples.append((time.perf_counter() - started) * 1000)
        return samples
    finally:
        await producer.stop()


def server_pids(state: Path, redis_url: str) -> dict[str, int]:
    """The broker's and Redis's pids when this run started them (their CPU is reported)."""
    port = redis_url.rsplit(":", 1)[-1].split("/")[0]
    found: dict[str, int] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("redis-server") or "/redis-server " in cmd:
            if cmd.split()[1:2] == [f"127.0.0.1:{port}"]:
                found["redis"] = int(proc.name)
        elif "java" in cmd and str(state) in cmd:
            found["broker"] = int(proc.name)
    return found


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--only",
        action="append",
        choices=("hello", "single", "batch"),
        help="run only these gateway loads (no baselines, no results written)",
    )
    parser.add_argument("--ack", action="append", choices=("kafka", "spool"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    whole = options.only is None and options.ack is None
    parts = set(options.only or ("hello", "single", "batch"))
    acks = options.ack or ["kafka", "spool"]
    from scantrace_common.auth import mint_device_token
    from scantrace_common.events import ScanEvent, encode
    from scantrace_common.qr import QrSigner
    from scantrace_common.settings import DEFAULT_RETENTION_DAYS
    from scantrace_common.topics import SCANS, ensure_topics, topic_name

    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian package `wrk`)", file=sys.stderr)
        return 2
    namespace = f"bench{uuid.uuid4().hex[:6]}."
    secret = secrets.token_urlsafe(32)
    signer = QrSigner.generate("bench")
    qrs = [signer.sign(f"venue-{i:04d}") for i in range(VENUES)]
    token = mint_device_token(secret, "bench-device", "bench-person")
    scanned_at = str(int(time.time() * 1000))
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="scantrace-bench-") as tmp:
        state = Path(tmp)
        with servers(state) as (bootstrap, redis_url):
            asyncio.run(ensure_topics(bootstrap, namespace, retention_days=DEFAULT_RETENTION_DAYS))
            topic = topic_name(SCANS, namespace)
            if not whole:
                OTHERS.update(server_pids(state, redis_url))
                env = gateway_env_base(bootstrap, redis_url, namespace, secret, signer)
                with hello_server(env, state) as hello_world:
                    if "hello" in parts:
                        for name, repeated in zip(
                            ("hello", "hello_half"), measure_hello(hello_world), strict=True
                        ):
                            print(name, json.dumps(repeated), flush=True)
                    subset = {
                        ack: measure_gateway(
                            ack,
                            env,
                            state,
                            [token, "bench-person", scanned_at],
                            qrs,
                            hello_world,
                            parts,
                        )
                        for ack in acks
                    }
                for ack, measured in subset.items():
                    for name, run in measured.items():
                        print(f"{name}[ack={ack}]", json.dumps(run), flush=True)
                return 0
            now = int(time.time() * 1000)
            events = [
                (
                    f"venue-{i % VENUES:04d}".encode(),
                    encode(
                        ScanEvent(
                            scan_id=str(uuid.uuid4()),
                            person_id="bench-person",
                            venue_id=f"venue-{i % VENUES:04d}",
                            direction="in",
                            scanned_at=now,
                            received_at=now,
                            device_id="bench-device",
                        )
                    ),
                )
                for i in range(RAW_EVENTS)
            ]
            print("raw acks=all round trips ...", flush=True)
            round_trips = asyncio.run(raw_ack_round_trips(bootstrap, topic))
            OTHERS.update(server_pids(state, redis_url))
            print("raw producer ceiling ...", flush=True)
            ceilings = [
                asyncio.run(raw_producer_ceiling(bootstrap, topic, events)) for _ in range(REPEATS)
            ]
            ceiling = median(ceilings)
            del events

            env = gateway_env_base(bootstrap, redis_url, namespace, secret, signer)
            args = [token, "bench-person", scanned_at]
            with hello_server(env, state) as hello_world:
                hello, hello_half = measure_hello(hello_world)
                gateway_runs = {
                    ack: measure_gateway(ack, env, state, [*args], qrs, hello_world)
                    for ack in ("kafka", "spool")
                }

    runs: dict[str, Runs] = {"hello": hello, "hello_half": hello_half}
    for ack, measured in gateway_runs.items():
        runs.update({f"{name}[ack={ack}]": repeated for name, repeated in measured.items()})
    for name, repeated in runs.items():
        print(name, json.dumps(repeated), flush=True)
        for one in repeated:
            if one.get("non2xx") or one.get("errors"):
                print(
                    f"WARNING: {name} had {one['non2xx']} non-2xx and {one['errors']} socket errors"
                )

    results += [
        figure("hello_world_post_rps", hello, "rps", "req/s", digits=0),
        figure("hello_world_req_per_cpu_s", hello, "per_cpu_s", "req/cpu-s", digits=0),
        figure("hello_world_p50", hello, "p50_us", "ms", scale=1e-3),
        figure("hello_world_p99", hello, "p99_us", "ms", scale=1e-3),
        figure("hello_world_p99_at_half_load", hello_half, "p99_us", "ms", scale=1e-3),
        result("gateway", "raw_producer_ceiling", round(ceiling), "msg/s", samples=ceilings),
        result("gateway", "raw_ack_round_trip_p50", round(percentile(round_trips, 50), 2), "ms"),
        result("gateway", "raw_ack_round_trip_p99", round(percentile(round_trips, 99), 2), "ms"),
    ]
    for ack, measured in gateway_runs.items():
        results += gateway_results(ack, measured, hello, hello_half, ceiling)
    write_results("gateway", results)
    write_markdown(results, runs)
    return 0


@contextlib.contextmanager
def hello_server(env: dict[str, str], state: Path) -> Iterator[Hello]:
    """The hello-world app, one uvicorn worker pinned like the gateway's."""
    port = free_port()
    hello_argv = [
        sys.executable, "-m", "uvicorn", "bench.gateway.hello:app", "--port", str(port),
        "--workers", "1", "--loop", "uvloop", "--http", "httptools", "--no-access-log",
        "--log-level", "warning",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with serve(hello_argv, env, f"{base}/docs", state / "hello.log") as pid:
        yield Hello(base, pid)


def measure_hello(hello: Hello) -> tuple[Runs, Runs]:
    """The hello-world baseline at full and about half load."""
    print("hello world ...", flush=True)
    full = load(f"{hello.url}/hello", "hello.lua", ["0"], hello.pid)
    delay = str(half_load_delay_ms(mid(full, "rps")))
    return full, load(f"{hello.url}/hello", "hello.lua", [delay], hello.pid)


def gateway_env_base(
    bootstrap: str, redis_url: str, namespace: str, secret: str, signer: Any
) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SCANTRACE_KAFKA_BOOTSTRAP": bootstrap,
        "SCANTRACE_REDIS_URL": redis_url,
        "SCANTRACE_NAMESPACE": namespace,
        "SCANTRACE_AUTH_SECRET": secret,
        "SCANTRACE_QR_VERIFY_KEYS": signer.public_env_value(),
        "SCANTRACE_RATE_LIMITS": "off",
        "SCANTRACE_GATEWAY_WORKERS": "1",
        "SCANTRACE_LOG_LEVEL": "WARNING",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def measure_gateway(
    ack: str,
    env: dict[str, str],
    state: Path,
    args: list[str],
    qrs: list[str],
    hello: Hello | None,
    parts: set[str] | frozenset[str] = frozenset({"single", "batch"}),
) -> dict[str, Runs]:
    """Single-scan full and half load, then 500-scan msgpack arrays, with SCANTRACE_GATEWAY_ACK.

    With `hello`, each full-load single-scan run follows a hello-world run (`paired_hello`), so
    their ratio compares the two under the same moment's noise.
    """
    print(f"gateway (ack={ack}) ...", flush=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gateway_env = {
        **env,
        "SCANTRACE_GATEWAY_PORT": str(port),
        "SCANTRACE_GATEWAY_ACK": ack,
        "SCANTRACE_STATE_DIR": str(state / f"gateway-{ack}"),
    }
    argv = [sys.executable, "-m", "scantrace_gateway"]
    measured: dict[str, Runs] = {}
    with serve(argv, gateway_env, f"{base}/readyz", state / f"gateway-{ack}.log") as pid:
        if "single" in parts:
            single_args = [*args, "0", *qrs]
            wrk(f"{base}/v1/scans", "single.lua", single_args, CONNECTIONS, WARMUP_S, pid)
            single, paired = [], []
            for _ in range(REPEATS):
                if hello is not None:
                    paired.append(hello.run())
                single.append(
                    wrk(f"{base}/v1/scans", "single.lua", single_args, CONNECTIONS, DURATION_S, pid)
                )
            half_delay = str(half_load_delay_ms(mid(single, "rps")))
            single_half = load(f"{base}/v1/scans", "single.lua", [*args, half_delay, *qrs], pid)
            measured.update(single=single, single_half=single_half, paired_hello=paired)
        if "batch" in parts:
            batch_args = [*args, str(BATCH_SIZE), *qrs]
            measured["batch"] = load(
                f"{base}/v1/scans", "batch.lua", batch_args, pid, BATCH_CONNECTIONS
            )
        # Delivery is part of the work: wait until the spool is empty before stopping.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = httpx.get(f"{base}/metrics", timeout=5).text
            if "scantrace_gateway_spool_items 0.0" in text:
                break
            time.sleep(0.5)
        else:
            print(f"WARNING: ack={ack}: the spool was not empty 60 s after the run")
    return measured


def figure(
    metric: str,
    runs: Runs,
    key: str,
    unit: str,
    *,
    scale: float = 1.0,
    digits: int | None = 3,
    **extra: Any,
) -> Result:
    """The median of `key` (times `scale`) over the runs, with every run's value as samples."""
    samples = [float(run[key]) * scale for run in runs]
    value = median(samples)
    return result(
        "gateway",
        metric,
        round(value, digits) if digits else round(value),
        unit,
        samples=samples,
        **extra,
    )


def gateway_results(
    ack: str,
    measured: dict[str, Runs],
    hello: Runs,
    hello_half: Runs,
    ceiling: float,
) -> list[Result]:
    single, single_half, batch = measured["single"], measured["single_half"], measured["batch"]
    paired = measured["paired_hello"]
    tag = f"[ack={ack}]"
    hello_rps, hello_per_cpu = mid(hello, "rps"), mid(hello, "per_cpu_s")
    # each single-scan run over the hello-world run just before it
    ratios = [s["rps"] / h["rps"] for h, s in zip(paired, single, strict=True)]
    cpu_ratios = [s["per_cpu_s"] / h["per_cpu_s"] for h, s in zip(paired, single, strict=True)]
    return [
        figure(
            f"single_scan_rps_per_worker{tag}",
            single,
            "rps",
            "req/s",
            digits=0,
            baseline_metric="hello_world_post_rps",
            baseline_value=round(hello_rps),
            target=round(0.6 * hello_rps),
            note=PINNING,
        ),
        result(
            "gateway",
            f"single_scan_to_hello_ratio{tag}",
            round(median(ratios), 3),
            "x",
            baseline_metric="hello-world run just before each single-scan run",
            target=0.6,
            samples=ratios,
            note=PINNING,
        ),
        figure(
            f"single_scan_req_per_cpu_s{tag}",
            single,
            "per_cpu_s",
            "req/cpu-s",
            digits=0,
            baseline_metric="hello_world_req_per_cpu_s",
            baseline_value=round(hello_per_cpu),
            target=round(0.6 * hello_per_cpu),
        ),
        result(
            "gateway",
            f"single_scan_to_hello_cpu_ratio{tag}",
            round(median(cpu_ratios), 3),
            "x",
            baseline_metric="hello-world run just before each single-scan run",
            samples=cpu_ratios,
        ),
        figure(f"single_scan_p50{tag}", single, "p50_us", "ms", scale=1e-3),
        figure(
            f"single_scan_p99{tag}",
            single,
            "p99_us",
            "ms",
            scale=1e-3,
            baseline_metric="hello_world_p99",
            baseline_value=mid(hello, "p99_us") / 1000,
        ),
        figure(f"single_scan_rps_at_half_load{tag}", single_half, "rps", "req/s", digits=0),
        figure(
            f"single_scan_p99_at_half_load{tag}",
            single_half,
            "p99_us",
            "ms",
            scale=1e-3,
            baseline_metric="hello_world_p99_at_half_load",
            baseline_value=mid(hello_half, "p99_us") / 1000,
            target=25.0,
            better="lower",
        ),
        figure(
            f"batch500_msgpack_scans_per_worker{tag}",
            batch,
            "rps",
            "scans/s",
            scale=BATCH_SIZE,
            digits=0,
            baseline_metric="raw_producer_ceiling",
            baseline_value=round(ceiling),
            target=round(min(150_000.0, 0.5 * ceiling)),
        ),
        figure(
            f"batch500_scans_per_cpu_s{tag}",
            batch,
            "per_cpu_s",
            "scans/cpu-s",
            scale=BATCH_SIZE,
            digits=0,
            target=150_000,
        ),
        figure(f"batch500_p99{tag}", batch, "p99_us", "ms", scale=1e-3),
    ]


def write_markdown(results: list[Result], runs: dict[str, Runs]) -> None:
    machine = machine_info()
    lines = [
        "# Gateway benchmark",
        "",
        f"{machine['cpu_model']}, {machine['cores']} cores; {machine['date']}, commit "
        f"{machine['commit']}. One uvicorn worker (uvloop, httptools), wrk (1 thread, "
        f"{CONNECTIONS} connections, {DURATION_S} s after {WARMUP_S} s warm-up, the median of "
        f"{REPEATS} runs, min and max beside); {PINNING}. Each full-load single-scan run follows "
        "a hello-world run, and `single_scan_to_hello_ratio` is the median of those pairs' ratios. "
        "`per cpu-s` figures divide the requests by the CPU time the server process used, "
        "which shows capacity per worker even when the shared machine is busy; the half-load "
        "runs pause each connection so that the rate is at most half the full-load rate. "
        "`broker_cpu_s`/`redis_cpu_s` in the raw figures: CPU the broker and Redis used during "
        "the same run, on the same two cores.",
        "",
        "| metric | value | min – max | unit | baseline | ratio | target | meets |",
        "|---|---:|---|---|---:|---:|---:|---|",
    ]
    for r in results:

        def cell(v: object) -> str:
            return "—" if v is None else (f"{v:,.2f}" if isinstance(v, float) else str(v))

        meets = {True: "yes", False: "no", None: "—"}[r["meets_target"]]
        lines.append(
            f"| {r['metric']} | {cell(r['value'])} | {cell(r['min'])} – {cell(r['max'])} "
            f"| {r['unit']} | {cell(r['baseline_value'])} "
            f"| {cell(r['ratio'])} | {cell(r['target'])} | {meets} |"
        )
    lines += ["", "Raw wrk figures:", "", "```"]
    lines += [f"{name}: {json.dumps(run)}" for name, run in runs.items()]
    lines += ["```", ""]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "gateway.md").write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
