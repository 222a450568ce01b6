"""The in-memory registry: the unit tree and the venues, mirrored from `units.v1` / `venues.v1`.

Units are immutable once created (only the name may change), so a unit's chain of ancestors,
and hence which subtree counters a venue feeds, never changes.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass
from datetime import date

from scantrace_common.events import UnitEvent, VenueEvent
from scantrace_reporter.days import DayClock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VenueDays:
    """The days a venue counts as registered: [first, stop) (stop None: still registered)."""

    first: date
    stop: date | None

    def registered_on(self, day: date) -> bool:
        return self.first <= day and (self.stop is None or day < self.stop)


def venue_days(event: VenueEvent, clock: DayClock) -> VenueDays:
    """Registered on D when registered_at < end of D and not revoked_at < end of D (docs/reporter.md)."""
    first = clock.day_of(event.registered_at)
    if event.revoked_at is None:
        return VenueDays(first, None)
    # A revocation dated before the registration leaves no registered day at all.
    return VenueDays(first, max(first, clock.day_of(event.revoked_at)))


class UnknownUnit(LookupError):
    pass


class RegistryConflict(ValueError):
    """An event that would move a venue to another unit: refused (the counters depend on it)."""


class Registry:
    """Units, their children (sorted), venues and the venues directly attached to each unit."""

    def __init__(self, clock: DayClock) -> None:
        self.clock = clock
        self.units: dict[str, UnitEvent] = {}
        self.children: dict[str, list[str]] = {}
        self.roots: list[str] = []
        self.venues: dict[str, VenueEvent] = {}
        self.days: dict[str, VenueDays] = {}
        self.venues_of_unit: dict[str, set[str]] = {}
        self._chains: dict[str, tuple[str, ...]] = {}

    # units -----------------------------------------------------------------------------------

    def add_unit(self, event: UnitEvent) -> bool:
        """Apply a unit event; False when it changes nothing (or would re-parent: refused)."""
        current = self.units.get(event.unit_id)
        if current is not None:
            if current.parent_id != event.parent_id or current.level != event.level:
                log.warning("ignoring a change of parent/level of unit %s", event.unit_id)
                return False
            if current.name == event.name:
                return False
            self.units[event.unit_id] = event
            return True
        if event.parent_id is not None and event.parent_id not in self.units:
            raise UnknownUnit(event.parent_id)
        self.units[event.unit_id] = event
        self.children.setdefault(event.unit_id, [])
        siblings = self.roots if event.parent_id is None else self.children[event.parent_id]
        bisect.insort(siblings, event.unit_id)
        return True

    def chain(self, unit_id: str) -> tuple[str, ...]:
        """The unit, its parent, ..., up to its root."""
        cached = self._chains.get(unit_id)
        if cached is not None:
            return cached
        if unit_id not in self.units:
            raise UnknownUnit(unit_id)
        parent = self.units[unit_id].parent_id
        chain = (unit_id, *self.chain(parent)) if parent is not None else (unit_id,)
        self._chains[unit_id] = chain
        return chain

    def subtree(self, unit_id: str) -> list[str]:
        """The unit and its descendants in pre-order, children sorted by unit_id."""
        order: list[str] = []
        stack = [unit_id]
        while stack:
            current = stack.pop()
            order.append(current)
            stack.extend(reversed(self.children.get(current, [])))
        return order

    def within(self, unit_id: str, scopes: tuple[str, ...] | None) -> bool:
        """Whether `unit_id` is one of `scopes` or a descendant of one (None: everything)."""
        if scopes is None:
            return True
        if unit_id not in self.units:
            return False
        return not set(scopes).isdisjoint(self.chain(unit_id))

    # venues ----------------------------------------------------------------------------------

    def add_venue(self, event: VenueEvent) -> VenueEvent | None:
        """Apply a venue event; returns the previous state (None if new). The unit must exist.

        DayRefused when its times fall on no day the reporter can count (nothing is changed).
        """
        days = venue_days(event, self.clock)
        if event.unit_id not in self.units:
            raise UnknownUnit(event.unit_id)
        previous = self.venues.get(event.venue_id)
        if previous is not None and previous.unit_id != event.unit_id:
            raise RegistryConflict(f"venue {event.venue_id} cannot move to another unit")
        self.venues[event.venue_id] = event
        self.days[event.venue_id] = days
        self.venues_of_unit.setdefault(event.unit_id, set()).add(event.venue_id)
        return previous

    def registered_on(self, venue_id: str, day: date) -> bool:
        days = self.days.get(venue_id)
        return days is not None and days.registered_on(day)

    def venues_in_subtree(self, unit_id: str) -> list[str]:
        found: list[str] = []
        for unit in self.subtree(unit_id):
            found.extend(sorted(self.venues_of_unit.get(unit, ())))
        return found
