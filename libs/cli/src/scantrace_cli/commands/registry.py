"""`scantrace registry import units.csv venues.csv`: bulk-load a province into the reporter.

Rows go through the reporter's batch endpoints (`POST /v1/units/batch`, `/v1/venues/batch`),
so they get the same validation as single POSTs; units are sent parents first. A progress bar
shows the rows sent; rejected rows are listed with their file, line and reason at the end.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from scantrace_cli.secrets import resolve_auth_secret
from scantrace_common.auth import mint_staff_token

UNIT_COLUMNS = ("unit_id", "name", "parent_id", "level")
VENUE_COLUMNS = (
    "venue_id",
    "name",
    "kind",
    "unit_id",
    "default_dwell_minutes",
    "lat",
    "lon",
    "address",
)


@dataclass(frozen=True, slots=True)
class Row:
    where: str  # "units.csv:12"
    body: dict[str, Any]


@dataclass
class Outcome:
    created: int = 0
    existing: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    qr: list[tuple[str, str]] = field(default_factory=list)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "registry",
        help="units and venues: bulk import into the reporter",
        description="Registry tools of the reporter.",
    )
    sub = parser.add_subparsers(dest="registry_command", metavar="ACTION", required=True)
    load = sub.add_parser(
        "import",
        help="import units.csv and venues.csv",
        description=(
            "Import units (columns: unit_id,name,parent_id,level; parent_id empty for the "
            "root) and venues (venue_id,name,kind,unit_id[,default_dwell_minutes,lat,lon,address]; "
            "venue_id may be empty to get a generated one; lat and lon together or neither) through the reporter's API. Existing ids "
            "are reported and skipped. Exit status 1 when any row was rejected."
        ),
    )
    load.add_argument("units_csv", type=Path)
    load.add_argument("venues_csv", type=Path, nargs="?")
    load.add_argument(
        "--url",
        default=None,
        help="reporter base URL (default: SCANTRACE_REPORTER_URL or http://127.0.0.1:8002)",
    )
    load.add_argument(
        "--token", default=None, help="admin token (default: SCANTRACE_TOKEN or minted locally)"
    )
    load.add_argument("--batch", type=int, default=500, help="rows per request (max 1000)")
    load.add_argument("--qr-out", type=Path, default=None, help="write venue_id,qr of new venues")
    load.add_argument("--quiet", action="store_true", help="no progress bar")
    load.set_defaults(func=run_import)


def base_url(env: Mapping[str, str], explicit: str | None) -> str:
    if explicit:
        return explicit.rstrip("/")
    if env.get("SCANTRACE_REPORTER_URL"):
        return env["SCANTRACE_REPORTER_URL"].rstrip("/")
    return f"http://127.0.0.1:{env.get('SCANTRACE_REPORTER_PORT', '8002')}"


def admin_token(env: Mapping[str, str], explicit: str | None) -> str | None:
    if explicit:
        return explicit
    if env.get("SCANTRACE_TOKEN"):
        return env["SCANTRACE_TOKEN"]
    secret = resolve_auth_secret(env)
    return mint_staff_token(secret, "registry-import", "admin") if secret else None


def read_rows(path: Path, columns: tuple[str, ...], required: int) -> Iterator[Row | str]:
    """Rows as request bodies; a string for a row that cannot be read (with its place)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns[:required] if c not in (reader.fieldnames or [])]
        if missing:
            raise SystemExit(f"{path}: missing columns {', '.join(missing)}")
        for line, record in enumerate(reader, start=2):
            where = f"{path.name}:{line}"
            body: dict[str, Any] = {}
            for column in columns:
                value = (record.get(column) or "").strip()
                if value:
                    body[column] = value
            if "default_dwell_minutes" in body:
                try:
                    body["default_dwell_minutes"] = int(body["default_dwell_minutes"])
                except ValueError:
                    yield f"{where}: default_dwell_minutes is not a whole number"
                    continue
            if "lat" in body or "lon" in body:
                location = _location(body.pop("lat", None), body.pop("lon", None))
                if isinstance(location, str):
                    yield f"{where}: {location}"
                    continue
                body["location"] = location
            if "parent_id" in columns and "parent_id" not in body:
                body["parent_id"] = None
            yield Row(where, body)


def _location(lat: str | None, lon: str | None) -> dict[str, float] | str:
    """`{"lat", "lon"}` from two cells, or why not (the reporter checks the ranges)."""
    if lat is None or lon is None:
        return "lat and lon must be given together"
    try:
        return {"lat": float(lat), "lon": float(lon)}
    except ValueError:
        return "lat and lon must be decimal degrees"


def parents_first(rows: list[Row]) -> list[Row]:
    """Units ordered so each parent listed in the file comes before its children."""
    by_id = {str(r.body.get("unit_id")): r for r in rows}
    ordered: list[Row] = []
    placed: set[str] = set()

    def place(row: Row, path: set[str]) -> None:
        unit_id = str(row.body.get("unit_id"))
        if unit_id in placed or unit_id in path:
            return  # placed already, or a cycle: the reporter refuses the orphan
        parent = row.body.get("parent_id")
        if parent in by_id:
            place(by_id[parent], path | {unit_id})
        placed.add(unit_id)
        ordered.append(row)

    for row in rows:
        place(row, set())
    return ordered


def post_json(url: str, token: str, payload: Any) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's reporter
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body)
        except ValueError:
            return exc.code, {"error": body.decode(errors="replace")[:300]}


def send(
    url: str, token: str, rows: list[Row], batch: int, bar: tqdm[Any], outcome: Outcome
) -> None:
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        status, answer = post_json(url, token, [r.body for r in chunk])
        if status != 200:
            error = answer.get("error") if isinstance(answer, dict) else answer
            raise SystemExit(f"{url} answered {status}: {error}")
        for created in answer["created"]:
            outcome.created += 1
            if "qr" in created:
                outcome.qr.append((created["venue_id"], created["qr"]))
        for rejected in answer["rejected"]:
            row = chunk[rejected["index"]]
            if rejected["status"] == 409:
                outcome.existing += 1
            else:
                outcome.rejected.append((row.where, rejected["error"]))
        bar.update(len(chunk))


def import_file(
    url: str, token: str, rows: Iterable[Row | str], batch: int, label: str, quiet: bool
) -> Outcome:
    outcome = Outcome()
    good: list[Row] = []
    for row in rows:
        if isinstance(row, str):
            where, _, reason = row.partition(": ")
            outcome.rejected.append((where, reason))
        else:
            good.append(row)
    if label == "units":
        good = parents_first(good)
    with tqdm(total=len(good), desc=label, unit="row", disable=quiet, file=sys.stderr) as bar:
        send(url, token, good, batch, bar, outcome)
    return outcome


def run_import(args: argparse.Namespace) -> int:
    env = os.environ
    token = admin_token(env, args.token)
    if token is None:
        print(
            "no token: pass --token, set SCANTRACE_TOKEN or SCANTRACE_AUTH_SECRET", file=sys.stderr
        )
        return 2
    url = base_url(env, args.url)
    batch = max(1, min(args.batch, 1000))
    outcomes = [
        (
            "units",
            import_file(
                url + "/v1/units/batch",
                token,
                read_rows(args.units_csv, UNIT_COLUMNS, 4),
                batch,
                "units",
                args.quiet,
            ),
        )
    ]
    if args.venues_csv is not None:
        outcomes.append(
            (
                "venues",
                import_file(
                    url + "/v1/venues/batch",
                    token,
                    read_rows(args.venues_csv, VENUE_COLUMNS, 4),
                    batch,
                    "venues",
                    args.quiet,
                ),
            )
        )
    failed = False
    for label, outcome in outcomes:
        print(
            f"{label}: {outcome.created} created, {outcome.existing} already registered, "
            f"{len(outcome.rejected)} rejected"
        )
        for where, reason in outcome.rejected:
            failed = True
            print(f"  rejected {where}: {reason}", file=sys.stderr)
        if label == "venues" and args.qr_out is not None:
            with args.qr_out.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["venue_id", "qr"])
                writer.writerows(outcome.qr)
    return 1 if failed else 0
