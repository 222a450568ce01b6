"""The compiled contacts (`_contacts.contacts_json`) write the same bytes as the Python path.

Random co-presence rows as `TracerStore.co_present_rows` returns them (times over the whole
range a date holds, "#n" suffixes, persons left out, ties on totals, ids to escape), through
both: `exposures._encounters` + `_contacts` + `jsonbody.exposures_body`, and the kernel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scantrace_tracer import codec
from scantrace_tracer._contacts import contacts_json
from scantrace_tracer.exposures import _contacts_compiled, _contacts_plain, _Window
from scantrace_tracer.jsonbody import answer_head, exposures_body, iso_time, json_string
from scantrace_tracer.store import TracerStore
from scantrace_tracer.visits import Visit

MIN = 60_000
#: up to 9999-12-31T23:59:59.999Z, the last instant a date holds
LAST = 253_402_300_799_999
times = st.integers(0, LAST - 600 * MIN) | st.integers(
    1_700_000_000_000, 1_700_000_000_000 + 30 * 1440 * MIN
)
persons = st.sampled_from(["p1", "p2", "p3", "p10", 'p"4', "p\u00e95", "q"])
venues = st.sampled_from(["va", "vb", "v\\c", "v-d"])


class _Rows:
    """A store whose co-presence read returns rows drawn for the windows it is asked about."""

    def __init__(self, members: list[tuple[int, str, int, int, int]]) -> None:
        #: (window number, person, start from the window's, length, #n suffix number)
        self.members = members

    async def co_present_rows(
        self, requests: Sequence[tuple[str, Sequence[tuple[int, int]]]], m: int
    ) -> list[tuple[int, int, int, int, list[bytes]]]:
        flat = [(i, j, a, b) for i, (_, ws) in enumerate(requests) for j, (a, b) in enumerate(ws)]
        rows: dict[tuple[int, int, int, int], list[bytes]] = {}
        for k, person, s, d, n in self.members:
            if flat:
                i, j, a, b = flat[k % len(flat)]
                start = max(0, a + s)
                member = codec.visit_member(Visit("-", start, start + d, "out"), person, n)
                rows.setdefault((i, j, a, b), []).append(member)
        return [(i, j, a, b, ms) for (i, j, a, b), ms in rows.items()]


windows = st.lists(
    st.tuples(persons, venues, times, st.integers(0, 300 * MIN)), min_size=1, max_size=6
)
members = st.lists(
    st.tuples(
        st.integers(0, 20),
        persons,
        st.integers(-300 * MIN, 300 * MIN) | st.sampled_from([0, -1, 1, 7]),
        st.integers(0, 300 * MIN) | st.sampled_from([15 * MIN, 15 * MIN + 1, 30 * MIN]),
        st.sampled_from([0, 0, 0, 1, 2]),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(windows, members, st.sampled_from([0, 15, 30]), st.sampled_from([1, 2]), persons)
def test_kernel_writes_the_python_paths_bytes(
    drawn: list[tuple[str, str, int, int]],
    rows: list[tuple[int, str, int, int, int]],
    minutes: int,
    depth: int,
    case: str,
) -> None:
    m = minutes * MIN
    ws = [_Window(owner, venue, a, a + d) for owner, venue, a, d in drawn]
    # depth 2 leaves out the case and the depth-1 contacts; depth 1 the case
    exclude = {case} if depth == 1 else {case, "p1"}
    store = cast(TracerStore, _Rows(rows))
    contacts, starts = asyncio.run(_contacts_plain(store, ws, m, exclude, depth, True))
    want = exposures_body(case, 0, LAST, minutes, depth, contacts)
    body, firsts = asyncio.run(_contacts_compiled(store, ws, m, exclude, depth, True))
    got = answer_head(case, 0, LAST, minutes, depth).encode() + body + b"]}"
    assert got == want
    assert firsts == starts


def test_kernel_on_no_rows() -> None:
    assert contacts_json([], [], [], [], 0, set(), 1, False, True, json_string, iso_time) == (
        b"",
        [],
    )


instants = (
    st.integers(0, LAST)
    | st.integers(0, LAST // 1000).map(lambda s: s * 1000)  # whole seconds: no millis written
    | st.sampled_from([0, 999, 1000, 86_399_999, 86_400_000, 951_782_400_000, LAST])
)


def _one_row(a: int, b: int, members: list[bytes]) -> tuple[bytes, list[tuple[str, int]]]:
    """The kernel on one window [a, b] at venue "v", depth 1, no minimum overlap."""
    return contacts_json(
        [(0, 0, a, b, members)],
        [b'"v"'],
        [[0]],
        [],
        0,
        set(),
        1,
        False,
        False,
        json_string,
        iso_time,
    )


@given(instants, instants)
def test_kernel_writes_times_as_iso_time(x: int, y: int) -> None:
    s, e = min(x, y), max(x, y)
    body, _ = _one_row(s, e, [codec.visit_member(Visit("v", s, e, "out"), "p", 0)])
    assert f'"start":"{iso_time(s)}","end":"{iso_time(e)}"'.encode() in body


def test_kernel_refuses_a_member_too_short_to_hold_a_visit() -> None:
    with pytest.raises(ValueError, match="malformed visit member"):
        _one_row(0, 10, [b"\x00" * 16])
