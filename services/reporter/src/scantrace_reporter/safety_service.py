"""SPEC section 10's commands: publish a criteria set version, assess a venue, inspect one.

Each is validated in full first (nothing of a refused request is published or stored), then
published durably (acks=all) and applied to this reporter's view before it is answered, as the
registry commands are (`service.py`); the consumers apply the same events again, idempotently.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import msgspec

from scantrace_common.errors import ApiError
from scantrace_common.events import (
    AssessmentEvent,
    CriteriaSetEvent,
    InspectionEvent,
    VenueEvent,
    encode_valid,
)
from scantrace_common.timeparse import format_time, now_ms
from scantrace_common.topics import ASSESSMENTS, CRITERIA, INSPECTIONS, topic_name
from scantrace_reporter.criteria import (
    InvalidAssessment,
    max_points,
    score,
    set_problems,
    shown_percent,
    valid_until,
)
from scantrace_reporter.map_status import MapStatus
from scantrace_reporter.models import AssessmentIn, InspectionIn
from scantrace_reporter.safety import SafetyStore, same_document
from scantrace_reporter.service import Publisher

log = logging.getLogger(__name__)
_FIELDS = frozenset(f.encode_name for f in msgspec.structs.fields(CriteriaSetEvent))


def parse_criteria(body: Any) -> CriteriaSetEvent:
    """A criteria set document from a JSON body; 422 with every reason it is refused for."""
    if not isinstance(body, dict):
        raise ApiError(422, "a criteria set is a JSON object")
    unknown = sorted(k for k in body if k not in _FIELDS or k in ("v", "published_at"))
    if unknown:
        raise ApiError(422, "unknown fields: " + ", ".join(repr(k) for k in unknown))
    try:
        cs = msgspec.convert(body, CriteriaSetEvent)
    except msgspec.ValidationError as exc:
        raise ApiError(422, f"invalid criteria set: {exc}") from exc
    problems = set_problems(cs)
    if problems:
        raise ApiError(422, f"criteria set {cs.set_id!r} refused: " + "; ".join(problems))
    return cs


def criteria_body(cs: CriteriaSetEvent) -> dict[str, Any]:
    """The set document as published, with its `max_points` and the versions known."""
    body: dict[str, Any] = msgspec.to_builtins(cs)
    body.pop("v", None)
    body["published_at"] = None if cs.published_at is None else format_time(cs.published_at)
    body["max_points"] = max_points(cs)
    return body


def assessment_body(a: AssessmentEvent) -> dict[str, Any]:
    return {
        "assessment_id": a.assessment_id,
        "venue_id": a.venue_id,
        "set_id": a.set_id,
        "version": a.version,
        "assessed_at": format_time(a.assessed_at),
        "points": a.points,
        "max_points": a.max_points,
        "percent": a.percent,
        "level": a.level,
        "failed": list(a.failed),
        "valid_until": format_time(a.valid_until),
        "answers": dict(a.answers),
        "by": a.by,
    }


def inspection_body(n: InspectionEvent) -> dict[str, Any]:
    return {
        "inspection_id": n.inspection_id,
        "venue_id": n.venue_id,
        "result": n.result,
        "note": n.note,
        "suspend": n.suspend,
        "staff_id": n.staff_id,
        "at": format_time(n.at),
    }


def status_body(status: MapStatus) -> dict[str, Any]:
    return {
        "status": status.status,
        "level": status.level,
        "valid_until": None if status.valid_until is None else format_time(status.valid_until),
    }


class SafetyService:
    def __init__(self, *, store: SafetyStore, publisher: Publisher, namespace: str) -> None:
        self.store = store
        self.publisher = publisher
        self._criteria_topic = topic_name(CRITERIA, namespace)
        self._assessments_topic = topic_name(ASSESSMENTS, namespace)
        self._inspections_topic = topic_name(INSPECTIONS, namespace)
        #: (set_id, version) being published right now: a second POST of it gets 409.
        self._claimed: set[tuple[str, int]] = set()

    # criteria --------------------------------------------------------------------------------

    async def publish_criteria(self, cs: CriteriaSetEvent) -> CriteriaSetEvent:
        """Publish a validated set as a new version; 409 when the version exists."""
        key = (cs.set_id, cs.version)
        if self.store.criteria_set(*key) is not None or key in self._claimed:
            raise ApiError(
                409, f"version {cs.version} of {cs.set_id!r} exists already: publish a new version"
            )
        event = msgspec.structs.replace(cs, published_at=now_ms())
        self._claimed.add(key)
        try:
            await self._send_criteria([event])
        finally:
            self._claimed.discard(key)
        return event

    async def publish_shipped(self, sets: list[CriteriaSetEvent]) -> list[CriteriaSetEvent]:
        """Publish the shipped whole sets this view does not hold yet (at start-up)."""
        new = []
        for cs in sets:
            known = self.store.criteria_set(cs.set_id, cs.version)
            if known is None:
                new.append(msgspec.structs.replace(cs, published_at=now_ms()))
            elif not same_document(known, cs):
                log.warning(
                    "shipped set %s v%d differs from the published one: keeping the published one",
                    cs.set_id,
                    cs.version,
                )
        if new:
            await self._send_criteria(new)
        return new

    async def _send_criteria(self, events: list[CriteriaSetEvent]) -> None:
        await self.publisher.send_batch(
            self._criteria_topic, [(e.set_id.encode(), encode_valid(e)) for e in events]
        )
        await self.store.apply_criteria(events)

    # assessments -----------------------------------------------------------------------------

    async def assess(self, venue: VenueEvent, body: AssessmentIn, by: str) -> AssessmentEvent:
        """Score the answers against the set (newest version unless one is named); 422 with every
        reason when refused, 410 for a revoked venue."""
        if venue.revoked_at is not None:
            raise ApiError(410, f"venue {venue.venue_id!r} is revoked")
        cs = self.store.criteria_set(body.set_id, body.version)
        if cs is None:
            if self.store.criteria_set(body.set_id) is None:
                raise ApiError(422, f"no criteria set {body.set_id!r}")
            raise ApiError(422, f"criteria set {body.set_id!r} has no version {body.version}")
        try:
            result = score(cs, body.answers, kind=venue.kind)
        except InvalidAssessment as exc:
            raise ApiError(422, str(exc)) from exc
        at = now_ms()
        event = AssessmentEvent(
            assessment_id=str(uuid.uuid4()),
            venue_id=venue.venue_id,
            set_id=cs.set_id,
            version=cs.version,
            answers=dict(body.answers),
            assessed_at=at,
            points=result.points,
            max_points=result.max_points,
            percent=shown_percent(result.percent),
            level=result.level,
            failed=list(result.failed),
            valid_until=valid_until(at, cs.validity_days),
            by=by[:128],
        )
        await self.publisher.send_batch(
            self._assessments_topic, [(venue.venue_id.encode(), encode_valid(event))]
        )
        await self.store.apply_assessments([event])
        return event

    # inspections -----------------------------------------------------------------------------

    async def inspect(self, venue: VenueEvent, body: InspectionIn, by: str) -> InspectionEvent:
        if venue.revoked_at is not None:
            raise ApiError(410, f"venue {venue.venue_id!r} is revoked")
        event = InspectionEvent(
            inspection_id=str(uuid.uuid4()),
            venue_id=venue.venue_id,
            result=body.result,
            note=body.note,
            suspend=body.suspend,
            staff_id=by[:128],
            at=now_ms(),
        )
        await self.publisher.send_batch(
            self._inspections_topic, [(venue.venue_id.encode(), encode_valid(event))]
        )
        await self.store.apply_inspections([event])
        return event
