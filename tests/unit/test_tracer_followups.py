"""The pure follow-up of SPEC section 11 against the brute-force reference, and its parts."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scantrace_common.ids import is_valid_uuid
from scantrace_tracer.followups import (
    DayStatus,
    day_statuses,
    declaration,
    declared_days,
    follow_up,
    follow_up_id,
    follow_ups,
    followed_days,
    quarantine_dates,
    record_status,
    unseen_days,
)
from tests.reference.compliance import day_bounds_ms
from tests.reference.followups import Contact, HealthDeclaration, local_day, reference_follow_ups

pytestmark = pytest.mark.unit

TZ = "Asia/Ho_Chi_Minh"
MIDNIGHT_17 = 1_621_184_400_000  # 2021-05-17T00:00+07:00
HOUR = 3_600_000
DAY = 24 * HOUR
CASE = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"


def test_ids_are_uuids_of_the_case_and_person() -> None:
    one = follow_up_id(CASE, "f1")
    assert is_valid_uuid(one)
    assert uuid.UUID(one).version == 5
    assert one == follow_up_id(CASE, "f1")
    assert len({one, follow_up_id(CASE, "f2"), follow_up_id(str(uuid.uuid4()), "f1")}) == 3


def test_a_record_and_its_days() -> None:
    record = follow_up(CASE, "f1", [MIDNIGHT_17 + 9 * HOUR, MIDNIGHT_17 + 10 * HOUR], TZ)
    assert record.last_exposure == MIDNIGHT_17 + 10 * HOUR
    assert record.until == date(2021, 5, 31)
    days = followed_days(record, TZ)
    assert (days[0], days[-1], len(days)) == (date(2021, 5, 18), date(2021, 5, 31), 14)
    assert quarantine_dates(record, TZ) == (date(2021, 5, 18), date(2021, 5, 31))
    assert follow_up(CASE, "f1", [MIDNIGHT_17], TZ, days=3).until == date(2021, 5, 20)


def test_declared_days_are_local_and_any_symptom_makes_unwell() -> None:
    declarations = [
        declaration(MIDNIGHT_17 - 1, []),  # 16 May, 23:59:59.999 local
        declaration(MIDNIGHT_17, ["fever"]),
        declaration(MIDNIGHT_17 + HOUR, []),
    ]
    assert declared_days(declarations, TZ) == {date(2021, 5, 16): False, date(2021, 5, 17): True}
    assert declared_days(reversed(declarations), TZ) == declared_days(declarations, TZ)


def test_unseen_days_count_the_trailing_missed_days() -> None:
    def run(*names: Any) -> int:
        return unseen_days([DayStatus(date(2021, 5, 1 + n), s) for n, s in enumerate(names)])

    assert run() == 0
    assert run("missed", "missed", "pending") == 2
    assert run("missed", "missed", "missed", "seen_ok", "missed") == 1
    assert run("seen_unwell", "missed", "missed", "missed", "pending", "pending") == 3


def test_lost_and_completed() -> None:
    record = follow_up(CASE, "f1", [MIDNIGHT_17 + HOUR], TZ, days=4)  # 18 to 21 May
    none: dict[date, bool] = {}
    end_21 = MIDNIGHT_17 + 5 * DAY

    def status(declared: dict[date, bool], now: int) -> str:
        return record_status(record, day_statuses(record, declared, now, TZ), now, TZ)

    assert status(none, MIDNIGHT_17 + 4 * DAY - 1) == "active"
    assert status(none, MIDNIGHT_17 + 4 * DAY) == "lost"
    assert status({date(2021, 5, 21): True}, MIDNIGHT_17 + 4 * DAY) == "active"
    assert status({date(2021, 5, 21): True}, end_21) == "completed"
    assert status({date(2021, 5, 18): False}, end_21) == "lost"


# --- against the reference -------------------------------------------------------------------

PERSONS = ["f1", "f2", "f3", "f4"]
CASES = [CASE, "00000000-0000-4000-8000-000000000002", "00000000-0000-4000-8000-000000000003"]
# London springs forward on 28 March 2021; Ho Chi Minh City has no DST.
ZONES = ["Asia/Ho_Chi_Minh", "Europe/London"]
BASE_DAY = date(2021, 3, 20)


@st.composite
def instants(draw: st.DrawFn, tz: str, span_days: int) -> int:
    """An instant over span_days from BASE_DAY, often at a local midnight or 1 ms either side."""
    day = BASE_DAY + timedelta(days=draw(st.integers(0, span_days)))
    start, end = day_bounds_ms(day, tz)
    edge = draw(st.sampled_from([start, start - 1, start + 1, end - 1]))
    return draw(st.integers(start, end - 1) | st.just(edge))


@st.composite
def worlds(draw: st.DrawFn) -> tuple[Any, ...]:
    tz = draw(st.sampled_from(ZONES))
    days = draw(st.sampled_from([14, 14, 1, 2, 3, 5]))
    contacts = {
        case_id: [
            Contact(p, tuple(draw(st.lists(instants(tz, 10), min_size=1, max_size=3))))
            for p in draw(st.lists(st.sampled_from(PERSONS), unique=True, max_size=4))
        ]
        for case_id in draw(st.lists(st.sampled_from(CASES), unique=True, min_size=1))
    }
    declarations = draw(
        st.lists(
            st.builds(
                lambda n, p, at, unwell: HealthDeclaration(
                    f"00000000-0000-4000-8000-{n:012d}", p, at, ("fever",) if unwell else ()
                ),
                st.integers(0, 10**6),
                st.sampled_from(PERSONS),
                instants(tz, 30),
                st.booleans(),
            ),
            max_size=40,
        )
    )
    # A declaration on the last day followed (its first or last millisecond) of some contacts.
    for n, contact in enumerate(c for listed in contacts.values() for c in listed):
        if draw(st.booleans()):
            last_day = local_day(max(contact.encounter_ends), tz) + timedelta(days=days)
            start, end = day_bounds_ms(last_day, tz)
            at = draw(st.sampled_from([start, end - 1]))
            declarations.append(
                HealthDeclaration(f"00000000-0000-4000-9000-{n:012d}", contact.person_id, at)
            )
    now = draw(instants(tz, 35))
    return tz, days, contacts, declarations, now


def module_follow_ups(
    case_id: str,
    contacts: list[Contact],
    declarations: list[HealthDeclaration],
    now: int,
    tz: str,
    days: int,
) -> list[dict[str, Any]]:
    records = []
    pairs = [(c.person_id, c.encounter_ends) for c in contacts]
    for record in follow_ups(case_id, pairs, tz, days):
        declared = declared_days(
            [
                declaration(d.declared_at, d.symptoms)
                for d in declarations
                if d.person_id == record.person_id
            ],
            tz,
        )
        statuses = day_statuses(record, declared, now, tz)
        records.append(
            {
                "follow_up_id": record.follow_up_id,
                "case_id": record.case_id,
                "person_id": record.person_id,
                "last_exposure": record.last_exposure,
                "until": record.until.isoformat(),
                "status": record_status(record, statuses, now, tz),
                "days": [{"date": s.day.isoformat(), "status": s.status} for s in statuses],
            }
        )
    return records


@settings(max_examples=300, deadline=None)
@given(worlds(), st.randoms(use_true_random=False))
def test_follow_ups_equal_the_reference(world: tuple[Any, ...], rnd: random.Random) -> None:
    tz, days, contacts, declarations, now = world
    for case_id, case_contacts in contacts.items():
        expected = reference_follow_ups(case_id, case_contacts, declarations, now, tz, days)
        assert module_follow_ups(case_id, case_contacts, declarations, now, tz, days) == expected
        # Late declarations: whatever order they arrive in.
        shuffled = list(declarations)
        rnd.shuffle(shuffled)
        assert module_follow_ups(case_id, case_contacts, shuffled, now, tz, days) == expected


@settings(max_examples=100, deadline=None)
@given(worlds())
def test_a_contact_of_several_cases_has_one_record_per_case(world: tuple[Any, ...]) -> None:
    tz, days, contacts, declarations, now = world
    records = [
        r
        for case_id, case_contacts in contacts.items()
        for r in module_follow_ups(case_id, case_contacts, declarations, now, tz, days)
    ]
    assert len({r["follow_up_id"] for r in records}) == len(records)
    assert len({(r["case_id"], r["person_id"]) for r in records}) == len(records)
