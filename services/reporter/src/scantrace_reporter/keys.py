"""Redis key layout of the reporter; every key starts with the settings namespace.

Per-day compliance keys share the hash tag `{<ns>cd:<day>}`, so the Lua scripts that touch
many keys of one day address a single Redis Cluster slot. Registry keys are single-key
commands only and need no tag.

| key | type | holds |
|---|---|---|
| `<ns>rp:units` | hash | unit_id -> msgpack UnitEvent (the registry view) |
| `<ns>rp:venues` | hash | venue_id -> msgpack VenueEvent |
| `<ns>rp:zr:<unit>` | zset | venues of the subtree, score = ordinal of their registration day |
| `<ns>rp:zx:<unit>` | zset | revoked venues of the subtree, score = ordinal of the revocation day |
| `<ns>rp:cdays` | set | days holding any scan data (to re-judge venues on registry changes) |
| `{D}:seen` | set | scan_ids of scans on day D (dedup) |
| `{D}:vr` | hash | `<venue>|i`, `<venue>|o`: every scan at the venue on D (counted or not) |
| `{D}:vs` | hash | venue -> "1" counted in the unit figures on D / "0" not (not registered on D) |
| `{D}:agg` | hash | `<unit>|i`, `<unit>|o`, `<unit>|a`: subtree scans in/out and active venues |
| `{D}:hv:<venue>` | HLL | persons at the venue on D |
| `{D}:hu:<unit>` | HLL | persons at counted venues of the subtree on D |
| `{D}:q:<unit>` | set | persons in quarantine on D in the subtree |
| `{D}:decl` | set | persons who declared on D |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Keys:
    namespace: str

    @property
    def units(self) -> str:
        return f"{self.namespace}rp:units"

    @property
    def venues(self) -> str:
        return f"{self.namespace}rp:venues"

    @property
    def data_days(self) -> str:
        return f"{self.namespace}rp:cdays"

    def registered(self, unit_id: str) -> str:
        return f"{self.namespace}rp:zr:{unit_id}"

    def revoked(self, unit_id: str) -> str:
        return f"{self.namespace}rp:zx:{unit_id}"

    def day(self, day: date) -> str:
        """Prefix of every key of `day`, ending in `:`; the braces are the Cluster hash tag."""
        return f"{{{self.namespace}cd:{day.isoformat()}}}:"

    def seen(self, day: date) -> str:
        return self.day(day) + "seen"

    def venue_raw(self, day: date) -> str:
        return self.day(day) + "vr"

    def venue_state(self, day: date) -> str:
        return self.day(day) + "vs"

    def aggregates(self, day: date) -> str:
        return self.day(day) + "agg"

    def venue_persons(self, day: date, venue_id: str) -> str:
        return self.day(day) + "hv:" + venue_id

    def unit_persons(self, day: date, unit_id: str) -> str:
        return self.day(day) + "hu:" + unit_id

    def quarantined(self, day: date, unit_id: str) -> str:
        return self.day(day) + "q:" + unit_id

    def declared(self, day: date) -> str:
        return self.day(day) + "decl"
