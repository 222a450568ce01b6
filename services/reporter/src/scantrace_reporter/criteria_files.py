"""The criteria sets shipped with the reporter (`criteria_sets/*.json`, one file per set and
version) and the decisions not yet transcribed into a set (`criteria_sets/pending/*.json`).

A set file is a criteria set document, validated by the engine when loaded. A set with `gaps` is
partial: it holds only what was verified and is not offered to venues (`publishable_sets`). A
pending file records what is known of a decision whose criteria could not be read at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Annotated

import msgspec

from scantrace_common.events import Band, Day, Text
from scantrace_common.ids import Id
from scantrace_reporter.criteria import (
    CriteriaSet,
    InvalidCriteriaSet,
    parse_set,
    set_problems,
)

PACKAGE = "scantrace_reporter.criteria_sets"
Str500 = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


@dataclass(frozen=True, slots=True)
class ShippedSet:
    file: str
    criteria_set: CriteriaSet

    @property
    def whole(self) -> bool:
        return not self.criteria_set.gaps


class OutlineItem(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    criterion_id: Id | None
    text: Text
    max_points: Annotated[int, msgspec.Meta(ge=0)] | None


class PendingSet(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What is known of a decision whose criteria are not transcribed yet."""

    set_id: Id
    title: Str500
    kinds: list[str]
    decision: Str500
    issuer: Str500
    date: Day | None
    urls: list[Text]
    stated_criteria: int | None
    stated_max_points: int | None
    outline: list[OutlineItem]
    bands: list[Band]
    fail_rule: Text | None
    validity_days: int | None
    note: Text
    gaps: Annotated[list[Text], msgspec.Meta(min_length=1)]


def _files(folder: Traversable) -> list[Traversable]:
    return sorted(
        (f for f in folder.iterdir() if f.is_file() and f.name.endswith(".json")),
        key=lambda f: f.name,
    )


def shipped_sets() -> list[ShippedSet]:
    """Every shipped set file, validated; raises `InvalidCriteriaSet` naming the bad file."""
    out: list[ShippedSet] = []
    for f in _files(resources.files(PACKAGE)):
        try:
            cs = parse_set(f.read_bytes())
        except InvalidCriteriaSet as exc:
            raise InvalidCriteriaSet(f.name, exc.reasons) from exc
        expected = f"{cs.set_id}.v{cs.version}.json"
        if f.name != expected:
            raise InvalidCriteriaSet(f.name, [f"file name should be {expected}"])
        out.append(ShippedSet(f.name, cs))
    return out


def publishable_sets() -> list[CriteriaSet]:
    """The shipped sets that are whole (no gaps): the ones to publish to venues."""
    return [s.criteria_set for s in shipped_sets() if s.whole]


def pending_band_problems(pending: PendingSet) -> list[str]:
    """The engine's band checks on a pending decision's verified bands (none is fine)."""
    if not pending.bands:
        return []
    probe = CriteriaSet(
        set_id=pending.set_id,
        version=1,
        title=pending.title,
        kinds=pending.kinds,
        criteria=[],
        bands=pending.bands,
        validity_days=1,
    )
    return [p for p in set_problems(probe) if "band" in p or "min_percent" in p]


def pending_sets() -> list[PendingSet]:
    """Every pending file, decoded strictly."""
    folder = resources.files(PACKAGE).joinpath("pending")
    out = []
    for f in _files(folder):
        try:
            out.append(msgspec.json.decode(f.read_bytes(), type=PendingSet))
        except msgspec.ValidationError as exc:
            raise InvalidCriteriaSet(f.name, [str(exc)]) from exc
    return out
