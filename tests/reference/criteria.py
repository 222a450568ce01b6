"""SPEC section 10 (criteria sets, assessments, map status) done the slow, literal way on plain JSON
documents: every combination of answers tried for `max_points`, integer cross-multiplication for
percents, and the venue's history replayed event by event for the map status."""

from __future__ import annotations

from decimal import Decimal
from itertools import product
from typing import Any

from scantrace_common.venue_kinds import VENUE_KINDS

Doc = dict[str, Any]
LEVELS = ("green", "yellow", "orange", "red")


def ref_max_points(doc: Doc) -> int:
    """The largest total over every way of answering (each criterion: one option)."""
    best = 0
    for choice in product(*[c["options"] for c in doc["criteria"]]):
        best = max(best, sum(o["points"] for o in choice))
    return best


def _hundredths(value: float) -> Decimal:
    return Decimal(repr(value)) * 100


def ref_set_is_valid(doc: Doc) -> bool:
    """Whether a set may be published."""
    kinds = doc["kinds"]
    if not kinds or len(set(kinds)) != len(kinds):
        return False
    for kind in kinds:
        if kind not in VENUE_KINDS:
            return False
    criteria = doc["criteria"]
    if not criteria:
        return False
    ids = [c["criterion_id"] for c in criteria]
    if len(set(ids)) != len(ids):
        return False
    has_fail = False
    for c in criteria:
        options = [o["option_id"] for o in c["options"]]
        if not options or len(set(options)) != len(options):
            return False
        fails = c["fail_options"]
        if len(set(fails)) != len(fails):
            return False
        for f in fails:
            if f not in options:
                return False
        if fails:
            has_fail = True
    if has_fail and doc["fail_level"] is None:
        return False
    total = 0
    for c in criteria:
        total += max(o["points"] for o in c["options"])
    if total == 0:
        return False
    bands = doc["bands"]
    if not bands:
        return False
    seen: list[Decimal] = []
    for band in bands:
        h = _hundredths(band["min_percent"])
        if h != int(h) or h in seen or band["level"] not in LEVELS:
            return False
        seen.append(h)
    return min(seen) == 0


def ref_answer_problems(
    doc: Doc, answers: dict[str, str], kind: str | None
) -> set[tuple[str, Any]]:
    """(code, criterion_id) for each reason to refuse the answers."""
    found: set[tuple[str, Any]] = set()
    if kind is not None and kind not in doc["kinds"]:
        found.add(("kind", None))
    for c in doc["criteria"]:
        cid = c["criterion_id"]
        if cid not in answers:
            found.add(("unanswered", cid))
            continue
        own = [o["option_id"] for o in c["options"]]
        if answers[cid] in own:
            continue
        elsewhere = False
        for other in doc["criteria"]:
            for o in other["options"]:
                if o["option_id"] == answers[cid]:
                    elsewhere = True
        found.add(("other_criterion" if elsewhere else "unknown_option", cid))
    criterion_ids = [c["criterion_id"] for c in doc["criteria"]]
    for key in answers:
        if key not in criterion_ids:
            found.add(("unknown_criterion", key))
    return found


def ref_score(doc: Doc, answers: dict[str, str]) -> dict[str, Any]:
    """points, max_points, shown percent (rounded down to 0.01), level and failed, of valid answers."""
    points = 0
    failed = []
    for c in doc["criteria"]:
        for o in c["options"]:
            if o["option_id"] == answers[c["criterion_id"]]:
                points += o["points"]
        if answers[c["criterion_id"]] in c["fail_options"]:
            failed.append(c["criterion_id"])
    top = ref_max_points(doc)
    # percent >= min  <=>  100 * points / top >= h / 100  <=>  10000 * points >= h * top
    level = None
    best = Decimal(-1)
    for band in doc["bands"]:
        h = _hundredths(band["min_percent"])
        if 10000 * points >= h * top and h > best:
            best, level = h, band["level"]
    if failed:
        level = doc["fail_level"]
    shown = Decimal((10000 * points) // top) / 100
    return {
        "points": points,
        "max_points": top,
        "percent": float(shown),
        "level": level,
        "failed": failed,
    }


def ref_status(events: list[dict[str, Any]], t: int) -> tuple[str, str | None]:
    """Replay a venue's inspections and assessments (dicts with `type`: `inspection` (at,
    inspection_id, result, suspend) or `assessment` (assessed_at, assessment_id, level,
    valid_until)) in time order up to t, then read the status at t."""

    def when(e: dict[str, Any]) -> tuple[int, str]:
        if e["type"] == "inspection":
            return (e["at"], e["inspection_id"])
        return (e["assessed_at"], e["assessment_id"])

    suspended = False
    latest: dict[str, Any] | None = None
    for e in sorted(events, key=when):
        if when(e)[0] > t:
            break
        if e["type"] == "inspection":
            if e["suspend"]:
                suspended = True
            elif e["result"] == "pass":
                suspended = False
        elif latest is None or when(e) > when(latest):
            latest = e
    if suspended:
        return ("suspended", None)
    if latest is None:
        return ("none", None)
    if t >= latest["valid_until"]:
        return ("overdue", None)
    return ("current", latest["level"])
