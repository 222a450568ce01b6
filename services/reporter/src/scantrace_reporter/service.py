"""Registry and quarantine commands: validate, publish durably, then apply to the Redis view.

A 201 means the event is acknowledged by Kafka (the source of truth) *and* applied to this
reporter's view, so a GET right after the POST sees it. The consumer applies the same event
again later: every apply is idempotent.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import msgspec
from pydantic import ValidationError

from scantrace_common.errors import ApiError
from scantrace_common.events import Location, QuarantineEvent, UnitEvent, VenueEvent, encode
from scantrace_common.http import describe_validation
from scantrace_common.qr import QrSigner
from scantrace_common.timeparse import format_time, now_ms
from scantrace_common.topics import QUARANTINES, UNITS, VENUES, topic_name
from scantrace_reporter.days import check_quarantine
from scantrace_reporter.models import QuarantineIn, UnitIn, VenueIn
from scantrace_reporter.store import ComplianceStore


class Publisher(Protocol):
    async def send_batch(self, topic: str, items: list[tuple[bytes | None, bytes]]) -> None: ...


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one item of a batch was refused: an HTTP status and a message."""

    status: int
    error: str

    def as_error(self) -> ApiError:
        return ApiError(self.status, self.error)


T = TypeVar("T")


def only(results: list[T | Rejection]) -> T:
    """The result of a request that held one item; its rejection is raised as the answer."""
    (result,) = results
    if isinstance(result, Rejection):
        raise result.as_error()
    return result


class ReporterService:
    def __init__(
        self, *, store: ComplianceStore, publisher: Publisher, signer: QrSigner, namespace: str
    ) -> None:
        self.store = store
        self.registry = store.registry
        self.publisher = publisher
        self.signer = signer
        self._units_topic = topic_name(UNITS, namespace)
        self._venues_topic = topic_name(VENUES, namespace)
        self._quarantines_topic = topic_name(QUARANTINES, namespace)
        #: Ids being created right now (published, not yet applied): a second POST gets 409.
        self._claimed: set[str] = set()

    # units -----------------------------------------------------------------------------------

    async def create_units(self, items: list[Any]) -> list[UnitEvent | Rejection]:
        """Validate each item (a parent may come earlier in the same list), publish, apply."""
        results: list[UnitEvent | Rejection] = []
        accepted: list[UnitEvent] = []
        batch_ids: set[str] = set()
        at = now_ms()
        for raw in items:
            try:
                unit = raw if isinstance(raw, UnitIn) else UnitIn.model_validate(raw)
            except ValidationError as exc:
                results.append(Rejection(422, describe_validation(exc.errors())))
                continue
            key = "unit:" + unit.unit_id
            if unit.unit_id in self.registry.units or key in self._claimed:
                results.append(Rejection(409, f"unit {unit.unit_id!r} already exists"))
                continue
            if unit.parent_id is not None and not (
                unit.parent_id in self.registry.units or unit.parent_id in batch_ids
            ):
                results.append(Rejection(422, f"parent_id {unit.parent_id!r} is not a unit"))
                continue
            event = UnitEvent(
                unit_id=unit.unit_id,
                name=unit.name,
                parent_id=unit.parent_id,
                level=unit.level,
                at=at,
            )
            self._claimed.add(key)
            batch_ids.add(unit.unit_id)
            accepted.append(event)
            results.append(event)
        try:
            if accepted:
                await self.publisher.send_batch(
                    self._units_topic, [(e.unit_id.encode(), encode(e)) for e in accepted]
                )
                await self.store.apply_units(accepted)
        finally:
            self._claimed.difference_update("unit:" + e.unit_id for e in accepted)
        return results

    # venues ----------------------------------------------------------------------------------

    async def create_venues(self, items: list[Any]) -> list[VenueEvent | Rejection]:
        results: list[VenueEvent | Rejection] = []
        accepted: list[VenueEvent] = []
        at = now_ms()
        for raw in items:
            try:
                venue = raw if isinstance(raw, VenueIn) else VenueIn.model_validate(raw)
            except ValidationError as exc:
                results.append(Rejection(422, describe_validation(exc.errors())))
                continue
            venue_id = venue.venue_id or "v-" + secrets.token_hex(8)
            key = "venue:" + venue_id
            if venue_id in self.registry.venues or key in self._claimed:
                results.append(Rejection(409, f"venue {venue_id!r} already exists"))
                continue
            if venue.unit_id not in self.registry.units:
                results.append(Rejection(422, f"unit_id {venue.unit_id!r} is not a unit"))
                continue
            event = VenueEvent(
                venue_id=venue_id,
                name=venue.name,
                kind=venue.kind,
                unit_id=venue.unit_id,
                default_dwell_minutes=venue.default_dwell_minutes,
                registered_at=at,
                location=None
                if venue.location is None
                else Location(lat=venue.location.lat, lon=venue.location.lon),
                address=venue.address,
            )
            self._claimed.add(key)
            accepted.append(event)
            results.append(event)
        try:
            if accepted:
                await self.publish_venues(accepted)
        finally:
            self._claimed.difference_update("venue:" + e.venue_id for e in accepted)
        return results

    async def publish_venues(self, events: list[VenueEvent]) -> None:
        await self.publisher.send_batch(
            self._venues_topic, [(e.venue_id.encode(), encode(e)) for e in events]
        )
        await self.store.apply_venues(events)

    async def revoke_venue(self, venue_id: str) -> VenueEvent:
        """Revoke from now on; revoking a revoked venue changes nothing."""
        venue = self.registry.venues.get(venue_id)
        if venue is None:
            raise ApiError(404, f"no venue {venue_id!r}")
        if venue.revoked_at is not None:
            return venue
        revoked = msgspec.structs.replace(venue, revoked_at=max(now_ms(), venue.registered_at))
        await self.publish_venues([revoked])
        return revoked

    def venue_body(self, venue: VenueEvent) -> dict[str, Any]:
        return {
            "venue_id": venue.venue_id,
            "name": venue.name,
            "kind": venue.kind,
            "unit_id": venue.unit_id,
            "default_dwell_minutes": venue.default_dwell_minutes,
            "registered_at": format_time(venue.registered_at),
            "revoked_at": None if venue.revoked_at is None else format_time(venue.revoked_at),
            "location": None
            if venue.location is None
            else {"lat": venue.location.lat, "lon": venue.location.lon},
            "address": venue.address,
            "qr": self.signer.sign(venue.venue_id),
        }

    # quarantines -----------------------------------------------------------------------------

    async def register_quarantine(self, body: QuarantineIn) -> QuarantineEvent:
        """Check the unit and the period (days.check_quarantine, as the consumer will), publish."""
        if body.unit_id not in self.registry.units:
            raise ApiError(422, f"unit_id {body.unit_id!r} is not a unit")
        at = now_ms()
        first, last = body.from_date, body.to_date
        check_quarantine(first, last, self.store.clock.day_of(at))
        event = QuarantineEvent(
            person_id=body.person_id,
            unit_id=body.unit_id,
            from_date=first.isoformat(),
            to_date=last.isoformat(),
            registered_at=at,
        )
        await self.publisher.send_batch(
            self._quarantines_topic, [(event.person_id.encode(), encode(event))]
        )
        await self.store.apply_quarantines([event])
        return event
