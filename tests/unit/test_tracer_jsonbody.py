"""The exposures JSON the API writes by hand equals msgspec's encoding of the plain answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from scantrace_common.timeparse import format_time
from scantrace_tracer import codec, responses
from scantrace_tracer.exposures import (
    ContactOut,
    EncounterOut,
    ExposuresOut,
    exposures,
    exposures_json,
)
from scantrace_tracer.jsonbody import (
    Contact,
    exposures_body,
    iso_time,
    json_string,
)
from scantrace_tracer.store import TracerStore
from scantrace_tracer.visits import Visit

MIN = 60_000
times = st.integers(0, 2**42) | st.sampled_from([0, 999, 1000, 86_399_999, 86_400_000])
# plain ids, and ids a JSON encoder must escape (quotes, backslashes, controls, non-ASCII)
ids = st.from_regex(r"[A-Za-z0-9_.-]{1,8}", fullmatch=True) | st.text(min_size=1, max_size=6)


@given(times)
def test_iso_time_is_format_time(ms: int) -> None:
    assert iso_time(ms) == format_time(ms)


@given(ids)
def test_json_string_is_msgspecs(text: str) -> None:
    assert json_string(text) == msgspec.json.encode(text).decode()


encounter = st.tuples(ids, times, st.integers(0, 3 * 86_400_000))
contact = st.tuples(ids, st.sampled_from([1, 2]), st.none() | ids, st.lists(encounter, min_size=1))


@given(ids, times, times, st.integers(0, 1440), st.lists(contact, max_size=5))
def test_body_is_msgspecs_encoding(
    person: str,
    t1: int,
    t2: int,
    minutes: int,
    drawn: list[tuple[str, int, str | None, list[tuple[str, int, int]]]],
) -> None:
    contacts: list[Contact] = []
    plain: list[ContactOut] = []
    for q, depth, via, encounters in drawn:
        rows = [(s, v, s + d, "owner") for v, s, d in encounters]
        total = sum(d // MIN for _, _, d in encounters)
        contacts.append((q, depth, via, total, rows))
        plain.append(
            ContactOut(
                q, depth, via, total, [EncounterOut(v, s, e, (e - s) // MIN) for s, v, e, _ in rows]
            )
        )
    want = msgspec.json.encode(responses.exposures(ExposuresOut(person, t1, t2, minutes, 2, plain)))
    assert exposures_body(person, t1, t2, minutes, 2, contacts) == want


class _Store:
    """The reads `exposures` makes, answered by brute force from a list of visits."""

    def __init__(self, visits: list[tuple[str, Visit]]) -> None:
        self.visits = visits

    async def person_visits(self, person_id: str, t1: int, t2: int) -> list[Visit]:
        return (await self.persons_visits([person_id], t1, t2))[person_id]

    async def persons_visits(
        self, persons: Sequence[str], t1: int, t2: int
    ) -> dict[str, list[Visit]]:
        return {
            p: sorted(v for q, v in self.visits if q == p and v.start <= t2 and v.end >= t1)
            for p in persons
        }

    async def co_present_rows(
        self, requests: Sequence[tuple[str, Sequence[tuple[int, int]]]], m: int
    ) -> list[tuple[int, int, int, int, list[bytes]]]:
        """Every visit at the venue for every window: a superset, as the store's read is."""
        return [
            (
                i,
                j,
                a,
                b,
                [codec.visit_member(v, q, 0) for q, v in self.visits if v.venue_id == venue],
            )
            for i, (venue, windows) in enumerate(requests)
            for j, (a, b) in enumerate(windows)
        ]


persons = st.sampled_from(["p1", "p2", "p3", 'p"4', "p\u00e95"])
visits = st.lists(
    st.tuples(
        persons,
        st.sampled_from(["va", "vb", "v\\c"]),
        st.integers(0, 600 * MIN),
        st.integers(0, 300 * MIN),
    ),
    max_size=25,
)


@given(visits, persons, st.sampled_from([0, 15, 30]), st.sampled_from([1, 2]))
def test_answer_json_is_the_plain_answer_encoded(
    drawn: list[tuple[str, str, int, int]], person: str, minutes: int, depth: int
) -> None:
    store = _Store([(p, Visit(v, s, s + d, "out")) for p, v, s, d in drawn])
    fake = cast(TracerStore, store)
    t1, t2 = 60 * MIN, 500 * MIN + 7
    plain = asyncio.run(exposures(fake, person, t1, t2, minutes, depth))
    body = asyncio.run(exposures_json(fake, person, t1, t2, minutes, depth))
    assert body == msgspec.json.encode(responses.exposures(plain))
