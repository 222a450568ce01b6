"""The reporter's FastAPI dependencies: the service, settings and fonts opened in the lifespan, the
caller (`Admin`, `Reader`), the unit or venue a reader may see, and the days they may ask about."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from scantrace_common.auth import STAFF_ROLES, Principal, require_roles
from scantrace_common.errors import ApiError
from scantrace_common.events import UnitEvent, VenueEvent
from scantrace_common.ids import IdStr
from scantrace_common.timeparse import now_ms
from scantrace_reporter.days import DayWindow, query_window
from scantrace_reporter.poster import PosterFonts
from scantrace_reporter.safety_service import SafetyService
from scantrace_reporter.service import ReporterService
from scantrace_reporter.settings import ReporterSettings

Admin = Annotated[Principal, Depends(require_roles("admin"))]
#: Admins, and officials within their `units` claim (read-only).
Reader = Annotated[Principal, Depends(require_roles("admin", "official"))]
#: Any staff token, or a venue owner's (SPEC 10: the criteria sets).
StaffOrVenue = Annotated[Principal, Depends(require_roles(*sorted(STAFF_ROLES), "venue"))]
#: Admins, officials within their units, and a venue token of the venue of the path.
VenueReader = Annotated[Principal, Depends(require_roles("admin", "official", "venue"))]
#: Who may assess a venue: an admin, or a venue token of that venue (SPEC 10).
Assessor = Annotated[Principal, Depends(require_roles("admin", "venue"))]


def _service(request: Request) -> ReporterService:
    service: ReporterService = request.app.state.service
    return service


def _settings(request: Request) -> ReporterSettings:
    settings: ReporterSettings = request.app.state.settings
    return settings


def _fonts(request: Request) -> PosterFonts:
    fonts: PosterFonts | None = request.app.state.poster_fonts
    if fonts is None:
        raise ApiError(503, "no font covering Vietnamese is installed (fonts-dejavu-core)")
    return fonts


ServiceDep = Annotated[ReporterService, Depends(_service)]
SettingsDep = Annotated[ReporterSettings, Depends(_settings)]
#: The poster fonts; 503 when the host has none (the service runs without posters).
FontsDep = Annotated[PosterFonts, Depends(_fonts)]


def unit_in_scope(service: ReporterService, principal: Principal, unit_id: str) -> UnitEvent:
    """The unit; 404 when unknown (admins), 403 for an official outside their units (unknown
    ones too, so that officials cannot probe which ids exist elsewhere)."""
    unit = service.registry.units.get(unit_id)
    if principal.role == "official":
        if unit is None or not service.registry.within(unit_id, principal.units or ()):
            raise ApiError(403, f"unit {unit_id!r} is outside your units")
    elif unit is None:
        raise ApiError(404, f"no unit {unit_id!r}")
    return unit


def _unit_of_path(
    unit_id: Annotated[IdStr, Path()], principal: Reader, service: ServiceDep
) -> UnitEvent:
    return unit_in_scope(service, principal, unit_id)


def _unit_of_query(
    unit_id: Annotated[IdStr, Query()], principal: Reader, service: ServiceDep
) -> UnitEvent:
    return unit_in_scope(service, principal, unit_id)


def venue_in_scope(service: ReporterService, principal: Principal, venue_id: str) -> VenueEvent:
    """The venue; 404 when unknown, 403 for an official outside their units or a venue token of
    another venue (unknown ones too: no probing)."""
    venue = service.registry.venues.get(venue_id)
    if principal.role == "venue" and principal.venue_id != venue_id:
        raise ApiError(403, "a venue token reads and assesses its own venue only")
    if principal.role == "official" and (
        venue is None or not service.registry.within(venue.unit_id, principal.units or ())
    ):
        raise ApiError(403, f"venue {venue_id!r} is outside your units")
    if venue is None:
        raise ApiError(404, f"no venue {venue_id!r}")
    return venue


def _venue_of_path(
    venue_id: Annotated[IdStr, Path()], principal: Reader, service: ServiceDep
) -> VenueEvent:
    return venue_in_scope(service, principal, venue_id)


def _venue_for_reader(
    venue_id: Annotated[IdStr, Path()], principal: VenueReader, service: ServiceDep
) -> VenueEvent:
    return venue_in_scope(service, principal, venue_id)


def _venue_for_assessor(
    venue_id: Annotated[IdStr, Path()], principal: Assessor, service: ServiceDep
) -> VenueEvent:
    return venue_in_scope(service, principal, venue_id)


#: `/v1/units/{unit_id}...` as the caller may read it.
UnitOfPath = Annotated[UnitEvent, Depends(_unit_of_path)]
#: `?unit_id=` as the caller may read it.
UnitOfQuery = Annotated[UnitEvent, Depends(_unit_of_query)]
#: `/v1/venues/{venue_id}...` as the caller may read it.
VenueOfPath = Annotated[VenueEvent, Depends(_venue_of_path)]
#: The same, readable by the venue's own token too.
VenueForReader = Annotated[VenueEvent, Depends(_venue_for_reader)]
#: `/v1/venues/{venue_id}/assessments` as an `Assessor` may write it.
VenueForAssessor = Annotated[VenueEvent, Depends(_venue_for_assessor)]


def _safety(request: Request) -> SafetyService:
    safety: SafetyService = request.app.state.safety
    return safety


SafetyDep = Annotated[SafetyService, Depends(_safety)]


def _readable_days(service: ServiceDep, settings: SettingsDep) -> DayWindow:
    return query_window(service.store.clock.day_of(now_ms()), settings.retention_days)


#: The days compliance may be asked about (days.query_window), today in SCANTRACE_TZ.
ReadableDays = Annotated[DayWindow, Depends(_readable_days)]
