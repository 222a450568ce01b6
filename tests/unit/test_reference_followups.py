"""Hand-worked cases for the reference of SPEC section 11 follow-up."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.reference.followups import (
    Contact,
    HealthDeclaration,
    reference_follow_up_id,
    reference_follow_ups,
)

pytestmark = pytest.mark.unit

TZ = "Asia/Ho_Chi_Minh"  # UTC+07:00, no DST
MIDNIGHT_17 = 1_621_184_400_000  # 2021-05-17T00:00+07:00 = 2021-05-16T17:00:00Z
HOUR = 3_600_000
DAY = 24 * HOUR
CASE = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
OTHER_CASE = "00000000-0000-4000-8000-000000000002"


def local(day_of_may: int, hours: float = 0) -> int:
    """Epoch ms of `hours` after local midnight of 2021-05-<day_of_may> in Asia/Ho_Chi_Minh."""
    return MIDNIGHT_17 + (day_of_may - 17) * DAY + round(hours * HOUR)


def decl(n: int, at: int, *symptoms: str, person: str = "f1") -> HealthDeclaration:
    return HealthDeclaration(f"00000000-0000-4000-8000-{n:012d}", person, at, symptoms)


# f1's encounters with the case ended at 09:00 and 10:00 on 17 May: the last exposure is 10:00.
F1 = Contact("f1", (local(17, 9), local(17, 10)))


def one(declarations: list[HealthDeclaration], now: int, contact: Contact = F1) -> dict[str, Any]:
    (record,) = reference_follow_ups(CASE, [contact], declarations, now, TZ)
    return record


def statuses(record: dict[str, Any]) -> dict[str, str]:
    return {d["date"]: d["status"] for d in record["days"]}


def test_the_record_follows_the_fourteen_days_after_the_last_exposure() -> None:
    record = one([], local(17, 12))
    assert {k: record[k] for k in ("case_id", "person_id", "last_exposure", "until")} == {
        "case_id": CASE,
        "person_id": "f1",
        "last_exposure": local(17, 10),
        "until": "2021-05-31",
    }
    assert record["follow_up_id"] == reference_follow_up_id(CASE, "f1")
    assert [d["date"] for d in record["days"]] == [
        (date(2021, 5, 18) + timedelta(days=n)).isoformat() for n in range(14)
    ]
    assert set(statuses(record).values()) == {"pending"}
    assert record["status"] == "active"


def test_day_statuses_seen_unwell_missed_pending() -> None:
    declarations = [
        decl(1, local(18, 8)),
        decl(2, local(19, 8)),
        decl(3, local(19, 20), "fever"),
    ]
    got = statuses(one(declarations, local(21, 12)))
    assert [got[f"2021-05-{d}"] for d in (18, 19, 20, 21, 22)] == [
        "seen_ok",
        "seen_unwell",
        "missed",
        "pending",  # 21 has not ended
        "pending",
    ]


def test_days_are_local_across_midnight() -> None:
    declarations = [
        decl(1, local(19) - 1),  # 18 May 23:59:59.999 local (16:59Z)
        decl(2, local(19)),  # 19 May 00:00 local, still 18 May in UTC
    ]
    got = statuses(one(declarations, local(21)))
    assert [got["2021-05-18"], got["2021-05-19"], got["2021-05-20"]] == [
        "seen_ok",
        "seen_ok",
        "missed",
    ]


def test_declarations_outside_the_days_followed_do_not_count() -> None:
    declarations = [decl(1, local(17, 11)), decl(2, local(32, 8))]  # exposure day, 1 June
    record = one(declarations, local(40))
    assert set(statuses(record).values()) == {"missed"}
    assert record["status"] == "lost"


def test_three_missed_days_are_lost_until_a_declaration() -> None:
    assert one([], local(21) - 1)["status"] == "active"  # 18, 19 missed, 20 not ended
    assert one([], local(21))["status"] == "lost"
    assert one([decl(1, local(21, 8))], local(21, 12))["status"] == "active"


def test_a_past_run_of_three_missed_days_is_not_lost() -> None:
    record = one([decl(1, local(21, 8))], local(23, 12))
    assert [statuses(record)[f"2021-05-{d}"] for d in range(18, 24)] == [
        "missed",
        "missed",
        "missed",
        "seen_ok",
        "missed",
        "pending",
    ]
    assert record["status"] == "active"


def test_completed_once_the_last_day_has_ended() -> None:
    every_day = [decl(n, local(n, 9)) for n in range(18, 32)]
    assert one(every_day, local(32) - 1)["status"] == "active"
    assert one(every_day, local(32))["status"] == "completed"
    assert statuses(one(every_day, local(32)))["2021-05-31"] == "seen_ok"


def test_a_declaration_on_the_last_day_only() -> None:
    late = [decl(n, local(n, 9)) for n in range(18, 31)] + [decl(99, local(32) - 1, "cough")]
    record = one(late, local(40))
    assert statuses(record)["2021-05-31"] == "seen_unwell"
    assert record["status"] == "completed"


def test_lost_at_the_end_of_the_period_stays_lost() -> None:
    early = [decl(n, local(n, 9)) for n in range(18, 29)]  # 29, 30, 31 missed
    assert one(early, local(32))["status"] == "lost"


def test_a_contact_of_two_cases_has_two_records() -> None:
    declarations = [decl(1, local(18, 9)), decl(2, local(19, 9), person="f2")]
    first = reference_follow_ups(CASE, [F1, Contact("f2", (local(17, 8),))], declarations, 0, TZ)
    second = reference_follow_ups(OTHER_CASE, [Contact("f1", (local(20, 1),))], declarations, 0, TZ)
    assert [r["person_id"] for r in first] == ["f1", "f2"]
    assert second[0]["follow_up_id"] not in {r["follow_up_id"] for r in first}
    assert second[0]["until"] == "2021-06-03"
    assert statuses(second[0])["2021-05-21"] == "pending"
    assert "2021-05-18" not in statuses(second[0])


def test_a_last_exposure_at_local_midnight_belongs_to_that_day() -> None:
    record = one([], 0, Contact("f1", (local(18),)))
    assert record["until"] == "2021-06-01"
    assert record["days"][0]["date"] == "2021-05-19"


def test_days_of_23_hours_in_a_zone_with_dst() -> None:
    # Europe/London springs forward on 28 March 2021: that day lasts 23 hours.
    tz = "Europe/London"
    exposure = 1_616_803_200_000  # 2021-03-27T00:00:00Z = 00:00 GMT
    declarations = [
        HealthDeclaration("d1", "f1", 1_616_972_400_000 - 1),  # 28 Mar 23:59:59.999 BST
        HealthDeclaration("d2", "f1", 1_616_972_400_000),  # 29 Mar 00:00 BST = 28 Mar 23:00Z
    ]
    (record,) = reference_follow_ups(CASE, [Contact("f1", (exposure,))], declarations, 0, tz)
    got = statuses(record)
    assert (got["2021-03-28"], got["2021-03-29"], got["2021-03-30"]) == (
        "seen_ok",
        "seen_ok",
        "pending",
    )
