"""The exposures answer written straight to JSON: the API's hot path (hundreds of encounters).

`format_time` (datetime + strftime) costs about 5 us per time, two per encounter, and a dict per
encounter for msgspec another microsecond; here a time is a dict and a list look-up and an
encounter one f-string, written in one pass once the contacts are sorted. The bytes equal
msgspec's encoding of `responses.exposures` (compact, keys in SPEC order), as the unit tests
check.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Final

import msgspec

from scantrace_tracer.visits import MINUTE_MS

_EPOCH: Final = date(1970, 1, 1)
#: "HH:MM:" per minute of the day, "SS.mmmZ" (or "SSZ" on a whole second) per ms of a minute.
_HM: Final = [f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60)]
SMS: Final = [f"{s:02d}.{x:03d}Z" if x else f"{s:02d}Z" for s in range(60) for x in range(1000)]
#: day number -> "YYYY-MM-DDT", filled on use (a few days per query, the same every query)
_DAYS: dict[int, str] = {}
#: minute number -> "YYYY-MM-DDTHH:MM:", filled on use: a formatting table (the minutes of the
#: retention), cleared when it passes `_MINUTES_KEPT` entries
MINUTES: dict[int, str] = {}
_MINUTES_KEPT: Final = 200_000
_encode = msgspec.json.Encoder().encode
#: ids as the event schemas allow them (`scantrace_common.events.Id`) need no JSON escaping
_PLAIN: Final = re.compile(r"[A-Za-z0-9_.\-]*").fullmatch

#: An encounter as a query builds it: (start, venue_id, end, window owner).
#: Tuples sort in the SPEC's order of encounters (start, then venue_id, then end).
Encounter = tuple[int, str, int, str]
#: A contact: (person_id, depth, via, total_overlap_minutes, its encounters in order).
Contact = tuple[str, int, str | None, int, list[Encounter]]


def _day(d: int) -> str:
    text = (_EPOCH + timedelta(days=d)).isoformat() + "T"
    _DAYS[d] = text
    return text


def minute_prefix(minute: int) -> str:
    """The `YYYY-MM-DDTHH:MM:` of a minute number (ms // 60,000), kept in `MINUTES`."""
    if len(MINUTES) >= _MINUTES_KEPT:
        MINUTES.clear()
    d, m = divmod(minute, 1440)
    text = MINUTES[minute] = (_DAYS.get(d) or _day(d)) + _HM[m]
    return text


def iso_time(ms: int) -> str:
    """`scantrace_common.timeparse.format_time`, faster: RFC 3339 UTC, millis only when not 0."""
    minute = ms // MINUTE_MS
    return (MINUTES.get(minute) or minute_prefix(minute)) + SMS[ms - minute * MINUTE_MS]


def json_string(text: str) -> str:
    return f'"{text}"' if _PLAIN(text) else _encode(text).decode()


def exposures_body(
    person_id: str,
    t1: int,
    t2: int,
    min_overlap_minutes: int,
    depth: int,
    contacts: Sequence[Contact],
) -> bytes:
    """The SPEC section 5 exposures JSON of contacts already in the SPEC's order."""
    parts: list[str] = []
    add = parts.append
    prefix = MINUTES.get
    venues: dict[str, str] = {}  # venue_id -> its JSON string, made once per answer
    # one check of all the person ids: escaped one by one only when some id needs it
    plain = _PLAIN("".join([c[0] for c in contacts])) is not None
    for person, d, via, total, encounters in contacts:
        pieces: list[str] = []
        for s, v, e, _ in encounters:
            vj = venues.get(v)
            if vj is None:
                vj = venues[v] = json_string(v)
            # iso_time, inlined: this runs twice per encounter
            a = s // MINUTE_MS
            b = e // MINUTE_MS
            pieces.append(
                f'{{"venue_id":{vj},"start":"{prefix(a) or minute_prefix(a)}{SMS[s - a * MINUTE_MS]}",'
                f'"end":"{prefix(b) or minute_prefix(b)}{SMS[e - b * MINUTE_MS]}",'
                f'"overlap_minutes":{(e - s) // MINUTE_MS}}}'
            )
        inner = ",".join(pieces)
        viaj = "null" if via is None else json_string(via)
        pj = f'"{person}"' if plain else json_string(person)
        add(
            f'{{"person_id":{pj},"depth":{d},"via":{viaj},'
            f'"total_overlap_minutes":{total},"encounters":[{inner}]}}'
        )
    head = answer_head(person_id, t1, t2, min_overlap_minutes, depth)
    return (head + ",".join(parts) + "]}").encode()


def answer_head(person_id: str, t1: int, t2: int, min_overlap_minutes: int, depth: int) -> str:
    """The answer's JSON up to its contacts' list, opened."""
    return (
        f'{{"person_id":{json_string(person_id)},"from":"{iso_time(t1)}","to":"{iso_time(t2)}",'
        f'"min_overlap_minutes":{min_overlap_minutes},"depth":{depth},"contacts":['
    )
