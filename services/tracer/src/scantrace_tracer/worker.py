"""The Faust app: venues.v1 and declarations.v1 in batches (`take_events`), scans.v1 by its
`ScanBatches` service.

Faust acks the events of a batch when the agent asks for the next one, i.e. after the work;
acked offsets are committed every second. Faust would also ack a batch whose processing
raised (its `take` acks in a `finally`), so a batch that still fails after retries ends the
process at once, before anything is committed: the restarted worker replays it (the store's
writes are idempotent). scans.v1 is read with `getmany` (see `scan_batches`: Faust's per-event
path was measured 30x slower than the consumer). Faust's tables, web server and leader topic are
not used: the state lives in Redis, the HTTP API is FastAPI.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust

from scantrace_common.kafka import DurableProducer, TooManyInvalid
from scantrace_common.topics import SCANS
from scantrace_tracer import metrics
from scantrace_tracer.cluster_store import ClusterStore
from scantrace_tracer.followup_store import FollowUpStore
from scantrace_tracer.ingest import Ingest, Record
from scantrace_tracer.scan_batches import ScanBatches
from scantrace_tracer.settings import TracerSettings
from scantrace_tracer.store import TracerStore, wall_clock_ms

log = logging.getLogger(__name__)

#: Attempts at a failing batch (transient Redis or broker errors) before the process stops.
ATTEMPTS = 5
#: Exit status when the worker stops itself (poison ratio, persistent failure).
EXIT_STOPPED = 70


def faust_broker(bootstrap: str) -> list[str]:
    return [f"kafka://{host}" for host in bootstrap.split(",") if host]


def build_app(settings: TracerSettings) -> faust.App:
    # The app's own group reads venues.v1; scans.v1 has the tracer group (`ScanBatches`).
    return faust.App(
        f"{settings.namespace}{settings.tracer_group}-venues",
        broker=faust_broker(settings.kafka_bootstrap),
        web_enabled=False,
        store="memory://",
        autodiscover=False,
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        # Faust's 60 s session kept a SIGKILLed worker's partitions, and its restart unready,
        # for ~85 s; aiokafka's own defaults (10 s, heartbeat 3 s) as for the other consumers
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        broker_rebalance_timeout=20.0,
        stream_wait_empty=False,
        datadir=str(settings.state_dir / "tracer-faust"),
        producer_acks=-1,
        logging_config=None,
    )


def _records(events: Sequence[Any]) -> list[Record]:
    out: list[Record] = []
    for event in events:
        msg = event.message
        out.append(Record(msg.topic, msg.partition, msg.offset, msg.key, msg.value))
    return out


async def with_retries(
    what: str, work: Callable[[Sequence[Record]], Awaitable[int]], records: Sequence[Record]
) -> None:
    delay = 0.2
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await work(records)
            return
        except TooManyInvalid:
            log.critical("too many poison events: stopping the tracer worker", exc_info=True)
            os._exit(EXIT_STOPPED)
        except Exception:
            if attempt == ATTEMPTS:
                log.critical(
                    "%s failed %d times: stopping before the commit", what, attempt, exc_info=True
                )
                # os._exit: Faust would otherwise ack (and commit) the failed batch
                os._exit(EXIT_STOPPED)
            log.exception("%s failed (attempt %d), retrying in %.1fs", what, attempt, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def wire(app: faust.App, settings: TracerSettings, ingest: Ingest, scans: ScanBatches) -> None:
    """Agents and timers of the worker."""
    positions: dict[tuple[str, int], int] = {}

    def note(records: Sequence[Record]) -> None:
        for r in records:
            positions[(r.topic, r.partition)] = max(
                positions.get((r.topic, r.partition), 0), r.offset + 1
            )

    def batches(topic: str, what: str, work: Callable[[Sequence[Record]], Awaitable[int]]) -> None:
        """An agent taking `topic` in batches of up to 1000 raw events, each done by `work`."""
        source = app.topic(
            topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        )

        async def agent(stream: Any) -> None:
            async for events in stream.take_events(1000, within=0.2):
                records = _records(events)
                await with_retries(what, work, records)
                note(records)

        app.agent(source, name=what.split()[0] + "s")(agent)

    batches(ingest.venues_topic, "venue batch", ingest.handle_venues)
    batches(ingest.declarations_topic, "declaration batch", ingest.handle_declarations)

    async def gauges() -> None:
        try:
            metrics.OPEN_VISITS.set(await ingest.store.open_visits(wall_clock_ms()))
            if ingest.clusters is not None:
                metrics.OPEN_CLUSTERS.set(await ingest.clusters.open_count(wall_clock_ms()))
            scans_lag = await scans.lag()
            if scans_lag is not None:
                metrics.CONSUMER_LAG.labels(topic=SCANS).set(scans_lag)
            lag: dict[str, int] = {}
            for tp in app.consumer.assignment():
                high = app.consumer.highwater(tp)
                done = positions.get((tp.topic, tp.partition), 0)
                base = tp.topic.removeprefix(settings.namespace)
                lag[base] = lag.get(base, 0) + max(0, high - done) if done else lag.get(base, 0)
            for topic, value in lag.items():
                metrics.CONSUMER_LAG.labels(topic=topic).set(value)
        except Exception:
            log.debug("gauge update failed", exc_info=True)

    async def retention() -> None:
        try:
            await ingest.store.sweep()
        except Exception:
            log.exception("retention sweep failed; the next one retries")

    app.timer(interval=2.0)(gauges)
    app.timer(interval=settings.tracer_sweep_interval_s)(retention)


def dead_letter_sender(producer: DurableProducer) -> Callable[..., Awaitable[None]]:
    async def send(
        topic: str, items: list[tuple[bytes | None, bytes]], headers: list[tuple[str, bytes]]
    ) -> None:
        await producer.send_batch(topic, [(k or b"", v) for k, v in items], headers=headers)

    return send


async def start_worker(
    settings: TracerSettings,
    store: TracerStore,
    producer: DurableProducer,
    follow_ups: FollowUpStore | None = None,
    clusters: ClusterStore | None = None,
) -> faust.App:
    """Start the Faust app inside the running event loop (the HTTP server's)."""
    from scantrace_tracer.ingest import PoisonGuard

    await store.load_venues()
    # Faust insists on a data directory although the tracer keeps no state there
    (settings.state_dir / "tracer-faust").mkdir(parents=True, exist_ok=True)
    app = build_app(settings)
    ingest = Ingest(
        store,
        namespace=settings.namespace,
        dead_letter=dead_letter_sender(producer),
        guard=PoisonGuard(
            max_ratio=settings.tracer_max_invalid_ratio,
            window=settings.tracer_invalid_window,
            min_invalid=settings.tracer_min_invalid_to_stop,
        ),
        group=f"{settings.namespace}{settings.tracer_group}",
        follow_ups=follow_ups,
        clusters=clusters,
    )
    scans = ScanBatches(
        bootstrap=settings.kafka_bootstrap,
        group=f"{settings.namespace}{settings.tracer_group}",
        ingest=ingest,
        retrying=with_retries,
        batch_max=settings.tracer_batch_max,
        wait_s=settings.tracer_batch_within_s,
    )
    wire(app, settings, ingest, scans)
    app.finalize()
    await app.start()
    # supervised by the app: started now, stopped with it
    await app.add_runtime_dependency(scans)
    return app
