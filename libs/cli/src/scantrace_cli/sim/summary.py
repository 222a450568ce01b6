"""What a run ends with: the driver's counts, the districts' compliance and one exposure query."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import date
from typing import Any

import aiohttp

from scantrace_cli.sim.client import HttpError, open_session, send
from scantrace_cli.sim.driver import FUTURE_MARGIN_MS, DriveStats, Endpoints
from scantrace_cli.sim.model import Workload
from scantrace_cli.sim.tables import render_table
from scantrace_cli.stack.probes import http_ready
from scantrace_cli.stack.prometheus_graphs import graph_links
from scantrace_common.timeparse import day_bounds


def stats_table(stats: DriveStats) -> str:
    rows: list[tuple[str, object]] = [
        ("units created / already there", f"{stats.units_created:,} / {stats.units_existing:,}"),
        ("venues created / already there", f"{stats.venues_created:,} / {stats.venues_existing:,}"),
        ("devices enrolled", stats.devices),
        ("quarantines registered", stats.quarantines),
        ("scans sent", stats.scans_sent),
        ("  accepted", stats.scans_accepted),
        ("  duplicates", stats.scans_duplicates),
        ("  rejected", stats.scans_rejected),
        ("  failed requests' scans", stats.scans_failed),
        ("  not due yet (in the future)", stats.scans_not_due),
        (
            "declarations sent / accepted",
            f"{stats.declarations_sent:,} / {stats.declarations_accepted:,}",
        ),
        ("upload time", f"{stats.upload_seconds:.1f} s"),
        (
            "scans per second",
            round(stats.scans_sent / stats.upload_seconds) if stats.upload_seconds else 0,
        ),
    ]
    text = render_table(("", "count"), rows, title="Uploads")
    if stats.reasons:
        reasons = sorted(stats.reasons.items(), key=lambda kv: -kv[1])[:8]
        text += "\n\n" + render_table(("reason", "count"), reasons, title="Problems")
    return text


def compliance_table(body: dict[str, Any], names: dict[str, str]) -> str:
    headers = (
        "unit", "name", "venues", "active", "active %", "scans", "in", "out",
        "persons", "quarantined", "declared", "declared %",
    )  # fmt: skip

    def row(item: dict[str, Any]) -> list[object]:
        return [
            item["unit_id"], names.get(item["unit_id"], ""), item["venues_registered"],
            item["venues_active"], item["active_ratio"], item["scans"], item["scans_in"],
            item["scans_out"], item["persons"], item["quarantined"], item["declarations_done"],
            item["declaration_ratio"],
        ]  # fmt: skip

    rows = [row(child) for child in body.get("children", [])]
    rows.append(row(body))
    note = ""
    if body["venues_registered"] == 0:
        note = (
            "\n(no venue counts on this day: venues count from the day they are registered, "
            "and this run registered them today)"
        )
    title = f"Compliance on {body['date']} ({body['unit_id']} and its units)"
    return render_table(headers, rows, title=title) + note


def exposure_table(
    body: dict[str, Any], venue_names: dict[str, str] | None = None, limit: int = 10
) -> str:
    contacts = body.get("contacts", [])
    rows = [
        (
            c["person_id"], c["depth"], c["total_overlap_minutes"], len(c["encounters"]),
            ", ".join(_venue_label(v, venue_names) for v in sorted({e["venue_id"] for e in c["encounters"]}))[:70],
        )
        for c in contacts[:limit]
    ]  # fmt: skip
    title = (
        f"Exposures of {body['person_id']} from {body['from']} to {body['to']} "
        f"(min {body['min_overlap_minutes']} min): {len(contacts)} contacts"
    )
    return render_table(("contact", "depth", "minutes", "encounters", "venues"), rows, title=title)


def _venue_label(venue_id: str, names: dict[str, str] | None) -> str:
    name = (names or {}).get(venue_id)
    return f"{name} ({venue_id})" if name else venue_id


async def settled_compliance(
    client: aiohttp.ClientSession,
    endpoints: Endpoints,
    token: str,
    unit_id: str,
    day: date,
    timeout_s: float = 60.0,
) -> dict[str, Any] | None:
    """The compliance answer once two readings a moment apart agree (the consumers caught up)."""
    url = f"{endpoints.reporter}/v1/compliance"
    params = {"unit_id": unit_id, "date": day.isoformat()}
    deadline = time.monotonic() + timeout_s
    previous: dict[str, Any] | None = None
    while True:
        response = await send(client, "GET", url, token=token, params=params)
        if response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()
        if previous is not None and body == previous:
            return body
        if time.monotonic() > deadline:
            return body
        previous = body
        await asyncio.sleep(2.0)


async def summarize(
    workload: Workload,
    stats: DriveStats,
    endpoints: Endpoints,
    *,
    admin_token: str,
    epidemiologist_token: str,
    seed: int,
    settle_timeout_s: float = 60.0,
    prometheus_url: str | None = None,
) -> str:
    """The printable end-of-run summary; asks the reporter and the tracer over HTTP.

    Ends with links to the graphs and alerts of the Prometheus at `prometheus_url` if it answers.
    """
    parts = [stats_table(stats)]
    root = next((u.unit_id for u in workload.units if u.parent_id is None), None)
    last = date.fromisoformat(workload.last_date)
    names = {u.unit_id: u.name for u in workload.units}
    venue_names = {v.venue_id: v.name for v in workload.venues}
    async with open_session(4) as client:
        if root is not None:
            try:
                body = await settled_compliance(
                    client, endpoints, admin_token, root, last, settle_timeout_s
                )
                parts.append(
                    compliance_table(body, names) if body else "Compliance: the reporter refused"
                )
                if body and stats.scans_not_due:
                    parts[-1] += (
                        f"\n(today so far: {stats.scans_not_due:,} simulated scans lie ahead in "
                        f"{workload.tz} and were not sent; run again later for more of the day)"
                    )
            except HttpError as exc:
                parts.append(f"Compliance: the reporter is not reachable ({exc!r})")
        # a person whose scans were sent: scans not due yet reach no one
        due = time.time() * 1000 + FUTURE_MARGIN_MS
        scanners = sorted({s.person_id for s in workload.scans if s.scanned_at <= due})
        if scanners:
            person = random.Random(seed).choice(scanners)
            t1, _ = day_bounds(date.fromisoformat(workload.first_date), workload.tz)
            _, t2 = day_bounds(last, workload.tz)
            try:
                response = await send(
                    client,
                    "GET",
                    f"{endpoints.tracer}/v1/persons/{person}/exposures",
                    token=epidemiologist_token,
                    params={"from": t1, "to": t2 - 1, "min_overlap_minutes": 15, "depth": 1},
                    attempts=3,
                )
                if response.status_code == 200:
                    parts.append(exposure_table(response.json(), venue_names))
                else:
                    parts.append(
                        f"Exposures of {person}: the tracer answered HTTP {response.status_code}"
                    )
            except HttpError as exc:
                parts.append(f"Exposures of {person}: the tracer is not reachable ({exc!r})")
    if prometheus_url and http_ready(f"{prometheus_url.rstrip('/')}/-/ready"):
        parts.append(graph_links(prometheus_url))
    return "\n\n".join(parts)
