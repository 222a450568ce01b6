"""A small Jepsen-style checker: what the gateway promised against what the log and views hold.

Every attempt to submit a scan is recorded with its outcome as the client saw it:

- `ok`: a 2xx that did not reject the item (the gateway promised it is durable);
- `failed`: a definite refusal (503, 429, 4xx or an item rejection: nothing was promised);
- `unknown`: no answer (timeout, connection reset, the gateway died mid-request).

A scan_id's outcome is the strongest of its attempts: ok > unknown > failed, because one ok
is a promise whatever the other attempts said. Afterwards the checker compares the history with
the scans found in `scans.v1` and with the counts the downstream views report:

- lost: ok, but absent from the log (the one thing that must never happen);
- log copies: extra copies of a scan_id in the log (at-least-once delivery; allowed, because
  consumers deduplicate, and reported as a figure);
- duplicated: a downstream count above the distinct scan_ids behind it (deduplication failed);
- phantoms: scan_ids in the log that no one ever submitted.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Outcome = Literal["ok", "failed", "unknown"]

_STRENGTH: dict[Outcome, int] = {"failed": 0, "unknown": 1, "ok": 2}


class History:
    """Outcomes of every attempt, per scan_id; safe to record from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._final: dict[str, Outcome] = {}
        self.attempts: Counter[Outcome] = Counter()

    def record(self, scan_id: str, outcome: Outcome) -> None:
        with self._lock:
            self.attempts[outcome] += 1
            previous = self._final.get(scan_id)
            if previous is None or _STRENGTH[outcome] > _STRENGTH[previous]:
                self._final[scan_id] = outcome

    def record_many(self, scan_ids: Iterable[str], outcome: Outcome) -> None:
        for scan_id in scan_ids:
            self.record(scan_id, outcome)

    def outcome(self, scan_id: str) -> Outcome | None:
        with self._lock:
            return self._final.get(scan_id)

    def final(self) -> dict[str, Outcome]:
        with self._lock:
            return dict(self._final)

    def ids(self, outcome: Outcome) -> set[str]:
        return {scan_id for scan_id, seen in self.final().items() if seen == outcome}


@dataclass(frozen=True)
class Verdict:
    """The checker's figures; `valid` when nothing acknowledged is missing or counted twice."""

    scan_ids: int
    ok: int
    failed: int
    unknown: int
    attempts: dict[str, int]
    present: int
    lost: int
    unknown_present: int
    failed_present: int
    log_records: int
    log_copies: int
    phantoms: int
    duplicated: int = 0
    missing_downstream: int = 0
    lost_ids: list[str] = field(default_factory=list)
    phantom_ids: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.phantoms == 0
            and self.missing_downstream == 0
        )

    def as_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["lost_ids"] = body["lost_ids"][:20]
        body["phantom_ids"] = body["phantom_ids"][:20]
        body["valid"] = self.valid
        return body


def check(history: History, log: Mapping[str, int]) -> Verdict:
    """Compare the history with the log (scan_id -> copies found in scans.v1)."""
    final = history.final()
    ok = {i for i, o in final.items() if o == "ok"}
    unknown = {i for i, o in final.items() if o == "unknown"}
    failed = {i for i, o in final.items() if o == "failed"}
    present = {i for i, copies in log.items() if copies > 0}
    lost = sorted(ok - present)
    phantoms = sorted(present - final.keys())
    return Verdict(
        scan_ids=len(final),
        ok=len(ok),
        failed=len(failed),
        unknown=len(unknown),
        attempts={str(k): v for k, v in history.attempts.items()},
        present=len(present & final.keys()),
        lost=len(lost),
        unknown_present=len(unknown & present),
        failed_present=len(failed & present),
        log_records=sum(log.values()),
        log_copies=sum(copies - 1 for copies in log.values() if copies > 1),
        phantoms=len(phantoms),
        lost_ids=lost,
        phantom_ids=phantoms,
    )


def with_downstream(
    verdict: Verdict, expected: Mapping[Any, int], observed: Mapping[Any, int]
) -> Verdict:
    """Add what a downstream view counted (e.g. compliance scans per unit and day) against the
    distinct scans it should count: above is `duplicated`, below is `missing_downstream`."""
    duplicated = 0
    missing = 0
    for key in expected.keys() | observed.keys():
        difference = observed.get(key, 0) - expected.get(key, 0)
        if difference > 0:
            duplicated += difference
        else:
            missing -= difference
    return Verdict(
        **{
            **asdict(verdict),
            "duplicated": verdict.duplicated + duplicated,
            "missing_downstream": verdict.missing_downstream + missing,
        }
    )
