"""Venue clusters in Redis (SPEC 11): a case's presences per venue, each touched venue's list
recomputed (`clusters.recompute_venue`), published whole on `clusters.v1` and kept.

When a case is done, its person's visits within the infectious period are read once, clipped
(`clusters.presences_by_venue`) and kept per venue; each venue where it is present is recomputed
from the presences of every case there and the list last published (hours before the retention
horizon), and published only when it changed. One lock per process serialises recomputations,
so two cases done together cannot publish a venue's lists out of order.

Retention: a venue's presences expire `SCANTRACE_RETENTION_DAYS` after the last case there; its
list that long plus the open days after its last change (a published list stays on the
compacted topic); `scantrace tracer rebuild` restores the lists from `clusters.v1` and the
presences from `cases.v1` and the rebuilt visits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any, Final

import msgspec

from scantrace_common.events import CaseEvent, ClustersEvent, encode_valid
from scantrace_common.kafka import DurableProducer
from scantrace_common.timeparse import format_time
from scantrace_common.topics import CLUSTERS, topic_name
from scantrace_tracer import clusters
from scantrace_tracer.clusters import Cluster, Presence, Thresholds
from scantrace_tracer.settings import TracerSettings
from scantrace_tracer.store import DAY_MS, TracerStore

#: No visit is longer than a day: every visit overlapping an hour after the horizon is whole.
HORIZON_MARGIN_MS: Final = DAY_MS


class ClusterStore:
    def __init__(
        self,
        store: TracerStore,
        *,
        thresholds: Thresholds,
        retention_days: int,
        open_days: int,
        namespace: str,
    ) -> None:
        self.store, self.redis, self.keys = store, store.redis, store.keys
        self.thresholds = thresholds
        self.retention_ms = retention_days * DAY_MS
        self.open_days = open_days
        self.topic = topic_name(CLUSTERS, namespace)
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, store: TracerStore, settings: TracerSettings) -> ClusterStore:
        """Thresholds of SCANTRACE_CLUSTER_THRESHOLDS; open for SCANTRACE_FOLLOW_UP_DAYS."""
        return cls(
            store,
            thresholds=settings.thresholds,
            retention_days=settings.retention_days,
            open_days=settings.follow_up_days,
            namespace=settings.namespace,
        )

    async def add_case(
        self, case: CaseEvent, producer: DurableProducer | None, now: int, *, recompute: bool = True
    ) -> int:
        """Keep the case's presences and recompute the venues it touches; returns how many
        venues' lists changed (published on clusters.v1 when `producer` is given). A rebuild
        passes `recompute=False`: the lists restored from clusters.v1 are the ones published."""
        visits = await self.store.person_visits(
            case.person_id, case.infectious_from, case.infectious_to
        )
        found = clusters.presences_by_venue(
            clusters.Case(case.case_id, case.person_id, case.infectious_from, case.infectious_to),
            [clusters.CaseVisit(v.venue_id, v.start, v.end) for v in visits],
        )
        if not found:
            return 0
        async with self._lock:
            async with self.redis.pipeline(transaction=False) as pipe:
                for venue_id, presences in found.items():
                    key = self.keys.case_presences(venue_id)
                    spans = sorted((p.start, p.end) for p in presences)
                    pipe.hset(key, case.case_id, msgspec.json.encode(spans))
                    pipe.pexpire(key, self.retention_ms)
                await pipe.execute()
            if not recompute:
                return 0
            return await self._recompute(sorted(found), producer, now)

    async def _recompute(
        self, venues: Sequence[str], producer: DurableProducer | None, now: int
    ) -> int:
        async with self.redis.pipeline(transaction=False) as pipe:
            for venue_id in venues:
                pipe.hgetall(self.keys.case_presences(venue_id))
                pipe.get(self.keys.venue_clusters(venue_id))
            pipe.hmget(self.keys.venue_kinds, list(venues))
            got: list[Any] = await pipe.execute()
        kinds = got[-1]
        horizon = now - self.retention_ms + HORIZON_MARGIN_MS
        changed: list[tuple[str, list[Cluster], list[Cluster]]] = []
        for n, venue_id in enumerate(venues):
            raw_presences, raw_previous = got[2 * n], got[2 * n + 1]
            presences = [
                Presence(_text(case_id), start, end)
                for case_id, spans in raw_presences.items()
                for start, end in msgspec.json.decode(spans)
            ]
            previous = stored_clusters(raw_previous)
            kind = _text(kinds[n]) if kinds[n] is not None else None
            at_least = clusters.threshold(kind, self.thresholds)
            current = clusters.recompute_venue(venue_id, presences, at_least, previous, horizon)
            if current != previous:
                changed.append((venue_id, previous, current))
        if not changed:
            return 0
        if producer is not None:
            await producer.send_batch(
                self.topic,
                [
                    (v.encode(), encode_valid(self.event(v, current, now)))
                    for v, _, current in changed
                ],
            )
        await self.keep([(v, previous, current) for v, previous, current in changed], now)
        return len(changed)

    async def restore(self, published: Iterable[ClustersEvent], now: int) -> int:
        """Keep the lists of `clusters.v1` events (a rebuild; the last event of a venue wins)."""
        latest = {e.venue_id: e for e in published}
        await self.keep(
            [
                (
                    v,
                    [],
                    [Cluster(c.cluster_id, v, c.start, c.end, tuple(c.cases)) for c in e.clusters],
                )
                for v, e in latest.items()
            ],
            now,
        )
        return len(latest)

    def event(self, venue_id: str, found: Iterable[Cluster], now: int) -> ClustersEvent:
        return clusters.clusters_event(venue_id, found, now, self.open_days)

    async def keep(
        self, lists: Iterable[tuple[str, Sequence[Cluster], Sequence[Cluster]]], now: int
    ) -> None:
        """Store venues' new lists (each replacing `previous`) and index their clusters."""
        ttl_ms = self.retention_ms + self.open_days * DAY_MS
        async with self.redis.pipeline(transaction=False) as pipe:
            for venue_id, previous, current in lists:
                body = [[c.cluster_id, c.start, c.end, list(c.cases)] for c in current]
                pipe.set(self.keys.venue_clusters(venue_id), msgspec.json.encode(body), px=ttl_ms)
                if previous:
                    pipe.zrem(self.keys.clusters, *[c.cluster_id for c in previous])
                if current:
                    pipe.zadd(
                        self.keys.clusters,
                        {c.cluster_id: clusters.closes_at(c.end, self.open_days) for c in current},
                    )
            # clusters closed a retention ago: their lists have expired
            pipe.zremrangebyscore(self.keys.clusters, "-inf", f"({now - self.retention_ms}")
            await pipe.execute()

    async def set_kinds(self, kinds: dict[str, str]) -> None:
        """venue_id -> kind, from venues.v1 (the threshold of each venue)."""
        if kinds:
            mapping: dict[Any, Any] = dict(kinds)
            await self.redis.hset(self.keys.venue_kinds, mapping=mapping)

    async def between(self, t1: int, t2: int, now: int) -> list[dict[str, Any]]:
        """The clusters overlapping [t1, t2], by start then venue_id, statuses as of `now`."""
        ids: list[Any] = await self.redis.zrangebyscore(
            self.keys.clusters, clusters.closes_at(t1, self.open_days), "+inf"
        )
        venues = sorted({clusters.parse_cluster_id(_text(i))[0] for i in ids})
        async with self.redis.pipeline(transaction=False) as pipe:
            for venue_id in venues:
                pipe.get(self.keys.venue_clusters(venue_id))
            raws: list[Any] = await pipe.execute()
        found = [c for raw in raws for c in stored_clusters(raw) if c.start <= t2 and c.end > t1]
        found.sort(key=lambda c: (c.start, c.venue_id))
        return [
            {
                "cluster_id": c.cluster_id,
                "venue_id": c.venue_id,
                "start": format_time(c.start),
                "end": format_time(c.end),
                "cases": list(c.cases),
                "status": clusters.cluster_status(c.end, now, self.open_days),
                "closes_at": format_time(clusters.closes_at(c.end, self.open_days)),
            }
            for c in found
        ]

    async def open_count(self, now: int) -> int:
        """Clusters open at `now` (the gauge)."""
        return int(await self.redis.zcount(self.keys.clusters, f"({now}", "+inf"))


def stored_clusters(raw: bytes | str | None) -> list[Cluster]:
    if raw is None:
        return []
    return [
        Cluster(cid, clusters.parse_cluster_id(cid)[0], start, end, tuple(cases))
        for cid, start, end, cases in msgspec.json.decode(raw)
    ]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
