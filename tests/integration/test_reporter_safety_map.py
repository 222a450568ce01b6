"""SPEC section 10 over HTTP with a real Kafka and a real Redis: venue locations, criteria sets,
owner tokens, assessments, inspections and the public map."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import msgspec
import pytest
from geojson_pydantic import Feature, FeatureCollection, Point

from scantrace_common.auth import mint_venue_token
from scantrace_common.events import AssessmentEvent, CriteriaSetEvent, VenueReportEvent, encode
from scantrace_common.kafka import DurableProducer
from scantrace_common.topics import ASSESSMENTS, CRITERIA, VENUE_REPORTS, dlq_of, topic_name
from tests.integration.test_reporter_hardening import read_all
from tests.support.reporter import (
    ADMIN,
    SECRET,
    auth,
    make_tree,
    new_signer,
    running_reporter,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(
    redis_url: str, kafka_bootstrap: str, namespace: str
) -> AsyncIterator[httpx.AsyncClient]:
    reporter = running_reporter(
        redis_url=redis_url,
        kafka_bootstrap=kafka_bootstrap,
        namespace=namespace,
        signer=new_signer(),
    )
    async with reporter as test_client:
        yield test_client


LOCATED = {
    "venue_id": "v-cho",
    "name": "Chợ Tân Phong",
    "kind": "market",
    "unit_id": "D1",
    "location": {"lat": 10.9721, "lon": 106.8433},
    "address": "  Đường Nguyễn Ái Quốc,   Tân Phong ",
}


async def test_venues_carry_an_optional_location_and_address(client: httpx.AsyncClient) -> None:
    await make_tree(client)
    assert (await client.post("/v1/venues", json=LOCATED, headers=ADMIN)).status_code == 201
    venue = (await client.get("/v1/venues/v-cho", headers=ADMIN)).json()
    assert venue["location"] == {"lat": 10.9721, "lon": 106.8433}
    assert venue["address"] == "Đường Nguyễn Ái Quốc, Tân Phong"
    plain = {"venue_id": "v-plain", "name": "Quán", "kind": "cafe", "unit_id": "D1"}
    assert (await client.post("/v1/venues", json=plain, headers=ADMIN)).status_code == 201
    venue = (await client.get("/v1/venues/v-plain", headers=ADMIN)).json()
    assert (venue["location"], venue["address"]) == (None, None)

    refused = [
        {"lat": 91, "lon": 106},
        {"lat": 10, "lon": -180.5},
        {"lat": 10},
        {"lat": "north", "lon": 106},
        {"lat": 10, "lon": 106, "alt": 3},
    ]
    for i, location in enumerate(refused):
        body = {**LOCATED, "venue_id": f"bad-{i}", "location": location}
        answer = await client.post("/v1/venues", json=body, headers=ADMIN)
        assert answer.status_code == 422, location
        assert "location" in answer.json()["error"]
        assert (await client.get(f"/v1/venues/bad-{i}", headers=ADMIN)).status_code == 404
    too_long = {**LOCATED, "venue_id": "bad-address", "address": "x" * 501}
    assert (await client.post("/v1/venues", json=too_long, headers=ADMIN)).status_code == 422

    batch = await client.post(
        "/v1/venues/batch",
        json=[
            {**LOCATED, "venue_id": "b1"},
            {**LOCATED, "venue_id": "b2", "location": {"lat": 10, "lon": 200}},
        ],
        headers=ADMIN,
    )
    assert [c["venue_id"] for c in batch.json()["created"]] == ["b1"]
    assert [(r["index"], r["status"]) for r in batch.json()["rejected"]] == [(1, 422)]
    assert (await client.get("/v1/venues/b1", headers=ADMIN)).json()["location"] == {
        "lat": 10.9721,
        "lon": 106.8433,
    }
    revoked = await client.delete("/v1/venues/v-cho", headers=ADMIN)
    assert revoked.json()["location"] == {"lat": 10.9721, "lon": 106.8433}


def criteria_set(set_id: str = "nh-test", version: int = 1, **changes: Any) -> dict[str, Any]:
    """A small safety set for restaurants and markets: 2 criteria, 10 points, one fail option."""
    document: dict[str, Any] = {
        "set_id": set_id,
        "version": version,
        "title": "Bộ tiêu chí thử nghiệm",
        "kinds": ["restaurant", "market"],
        "criteria": [
            {
                "criterion_id": "khoang-cach",
                "text": "Khoảng cách giữa các bàn",
                "options": [
                    {"option_id": "dat", "text": "Đạt", "points": 6},
                    {"option_id": "khong-dat", "text": "Không đạt", "points": 0},
                ],
                "fail_options": ["khong-dat"],
            },
            {
                "criterion_id": "khau-trang",
                "text": "Nhân viên đeo khẩu trang",
                "options": [
                    {"option_id": "tat-ca", "text": "Tất cả", "points": 4},
                    {"option_id": "mot-phan", "text": "Một phần", "points": 2},
                ],
            },
        ],
        "bands": [
            {"min_percent": 0, "level": "red"},
            {"min_percent": 50, "level": "orange"},
            {"min_percent": 80, "level": "green"},
        ],
        "fail_level": "red",
        "validity_days": 30,
    }
    return {**document, **changes}


@pytest.mark.skip(
    reason="flaky: a wait for the versions read back timed out in 2 of 3 rehearsal runs "
    "(Tansu and Apache Kafka); cause not found yet (closing note of 2026-12-04, issue #20)"
)
async def test_criteria_sets_keep_every_version(
    client: httpx.AsyncClient, redis_url: str, kafka_bootstrap: str, namespace: str
) -> None:
    created = await client.post("/v1/criteria", json=criteria_set(), headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json()["max_points"] == 10
    assert created.json()["published_at"].endswith("Z")
    again = await client.post("/v1/criteria", json=criteria_set(title="Khác"), headers=ADMIN)
    assert again.status_code == 409
    newer = criteria_set(version=2, validity_days=14)
    assert (await client.post("/v1/criteria", json=newer, headers=ADMIN)).status_code == 201

    bad = criteria_set(
        set_id="nh-bad",
        bands=[],
        criteria=[
            {
                "criterion_id": "a",
                "text": "A",
                "options": [{"option_id": "x", "text": "X", "points": 1}],
                "fail_options": ["y"],
            },
            {
                "criterion_id": "a",
                "text": "A",
                "options": [{"option_id": "x", "text": "X", "points": 1}],
            },
        ],
    )
    refused = await client.post("/v1/criteria", json=bad, headers=ADMIN)
    assert refused.status_code == 422
    reasons = refused.json()["error"]
    for reason in ("defined twice", "fail option 'y' is not one of its options", "bands is empty"):
        assert reason in reasons
    for body in (
        criteria_set(set_id="nh-bad", version=0),
        criteria_set(set_id="nh-bad", kinds=["casino"]),
        criteria_set(set_id="nh-bad", published_at=1),
        criteria_set(set_id="nh-bad", surprise=1),
        [criteria_set(set_id="nh-bad")],
    ):
        assert (await client.post("/v1/criteria", json=body, headers=ADMIN)).status_code == 422
    assert (await client.get("/v1/criteria/nh-bad", headers=ADMIN)).status_code == 404
    official = auth("official", ["D1"])
    assert (
        await client.post("/v1/criteria", json=criteria_set(version=3), headers=official)
    ).status_code == 403

    listing = (await client.get("/v1/criteria", headers=official)).json()["sets"]
    assert [(s["set_id"], s["version"], s["versions"]) for s in listing] == [("nh-test", 2, [1, 2])]
    venue_token = {"Authorization": "Bearer " + mint_venue_token(SECRET, "any-venue")}
    newest = (await client.get("/v1/criteria/nh-test", headers=venue_token)).json()
    assert (newest["version"], newest["validity_days"]) == (2, 14)
    first = (await client.get("/v1/criteria/nh-test?version=1", headers=ADMIN)).json()
    assert (first["version"], first["validity_days"]) == (1, 30)
    assert (await client.get("/v1/criteria/nh-test?version=9", headers=ADMIN)).status_code == 404
    assert (await client.get("/v1/criteria/nowhere", headers=ADMIN)).status_code == 404

    # Kafka keeps only version 2 (compacted by set_id); a restarted reporter still has both.
    async with running_reporter(
        redis_url=redis_url,
        kafka_bootstrap=kafka_bootstrap,
        namespace=namespace,
        signer=new_signer(),
    ) as restarted:
        old = await restarted.get("/v1/criteria/nh-test?version=1", headers=ADMIN)
        assert old.json()["validity_days"] == 30


async def test_whole_shipped_sets_are_published_once(
    redis_url: str, kafka_bootstrap: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = msgspec.convert(criteria_set(set_id="shipped"), CriteriaSetEvent)
    monkeypatch.setattr("scantrace_reporter.app.publishable_sets", lambda: [shipped])
    seen = []
    for _ in range(2):
        async with running_reporter(
            redis_url=redis_url,
            kafka_bootstrap=kafka_bootstrap,
            namespace=namespace,
            signer=new_signer(),
        ) as reporter:
            seen.append((await reporter.get("/v1/criteria/shipped", headers=ADMIN)).json())
    assert seen[0]["version"] == 1
    assert seen[0]["published_at"] == seen[1]["published_at"]


RESTAURANT = {"venue_id": "v-pho", "name": "Phở Hương", "kind": "restaurant", "unit_id": "C1"}
ANSWERS = {"khoang-cach": "dat", "khau-trang": "mot-phan"}


async def owner_of(client: httpx.AsyncClient, venue_id: str) -> dict[str, str]:
    answer = await client.post(f"/v1/venues/{venue_id}/owner-token", headers=ADMIN)
    assert answer.status_code == 201, answer.text
    return {"Authorization": "Bearer " + answer.json()["token"]}


async def test_owners_assess_their_venue_only(client: httpx.AsyncClient) -> None:
    await make_tree(client)
    for venue in (
        RESTAURANT,
        {**RESTAURANT, "venue_id": "v-other"},
        {**RESTAURANT, "venue_id": "v-school", "kind": "school"},
    ):
        assert (await client.post("/v1/venues", json=venue, headers=ADMIN)).status_code == 201
    assert (
        await client.post("/v1/criteria", json=criteria_set(), headers=ADMIN)
    ).status_code == 201

    inside, outside = auth("official", ["D1"]), auth("official", ["D2"])
    minted = await client.post("/v1/venues/v-pho/owner-token", headers=inside)
    assert minted.status_code == 201
    assert (await client.post("/v1/venues/v-pho/owner-token", headers=outside)).status_code == 403
    assert (await client.post("/v1/venues/nowhere/owner-token", headers=ADMIN)).status_code == 404
    owner = {"Authorization": "Bearer " + minted.json()["token"]}
    assert (await client.get("/v1/venues/v-pho", headers=owner)).status_code == 200
    assert (await client.get("/v1/venues/v-other", headers=owner)).status_code == 403
    assert (
        await client.get("/v1/compliance?unit_id=P&date=2026-01-01", headers=owner)
    ).status_code == 403
    assert (await client.post("/v1/venues/v-pho/owner-token", headers=owner)).status_code == 403

    body = {"set_id": "nh-test", "answers": ANSWERS}
    created = await client.post("/v1/venues/v-pho/assessments", json=body, headers=owner)
    assert created.status_code == 201, created.text
    result = created.json()
    assert {k: result[k] for k in ("venue_id", "set_id", "version", "points", "max_points")} == {
        "venue_id": "v-pho",
        "set_id": "nh-test",
        "version": 1,
        "points": 8,
        "max_points": 10,
    }
    assert (result["percent"], result["level"], result["failed"]) == (80.0, "green", [])
    assessed_at = datetime.fromisoformat(result["assessed_at"])
    assert datetime.fromisoformat(result["valid_until"]) - assessed_at == timedelta(days=30)
    assert (
        await client.post("/v1/venues/v-other/assessments", json=body, headers=owner)
    ).status_code == 403
    assert (
        await client.post("/v1/venues/v-pho/assessments", json=body, headers=inside)
    ).status_code == 403
    failing = {"set_id": "nh-test", "answers": {**ANSWERS, "khoang-cach": "khong-dat"}}
    by_admin = await client.post("/v1/venues/v-pho/assessments", json=failing, headers=ADMIN)
    assert (by_admin.json()["level"], by_admin.json()["failed"]) == ("red", ["khoang-cach"])

    refusals: list[tuple[dict[str, Any], str]] = [
        ({"set_id": "nowhere", "answers": ANSWERS}, "no criteria set 'nowhere'"),
        ({"set_id": "nh-test", "version": 4, "answers": ANSWERS}, "has no version 4"),
        ({"set_id": "nh-test", "answers": {"khoang-cach": "dat"}}, "'khau-trang' is unanswered"),
        (
            {"set_id": "nh-test", "answers": {**ANSWERS, "extra": "dat"}},
            "unknown criterion 'extra'",
        ),
        (
            {"set_id": "nh-test", "answers": {**ANSWERS, "khau-trang": "dat"}},
            "option 'dat' is an option of criterion 'khoang-cach', not of 'khau-trang'",
        ),
        ({"set_id": "nh-test", "answers": {**ANSWERS, "khau-trang": "zz"}}, "has no option 'zz'"),
        ({"set_id": "nh-test", "answers": ANSWERS, "by": "me"}, "by"),
        ({"set_id": "nh-test"}, "answers"),
    ]
    for refused, reason in refusals:
        answer = await client.post("/v1/venues/v-pho/assessments", json=refused, headers=owner)
        assert answer.status_code == 422, refused
        assert reason in answer.json()["error"], answer.json()
    school = await client.post("/v1/venues/v-school/assessments", json=body, headers=ADMIN)
    assert school.status_code == 422
    assert "not 'school'" in school.json()["error"]

    listing = (await client.get("/v1/venues/v-pho/assessments", headers=inside)).json()
    assert [a["assessment_id"] for a in listing["assessments"]] == [
        by_admin.json()["assessment_id"],
        result["assessment_id"],
    ]
    assert (listing["status"], listing["level"]) == ("current", "red")
    assert (await client.get("/v1/venues/v-pho/assessments", headers=owner)).status_code == 200
    assert (await client.get("/v1/venues/v-pho/assessments", headers=outside)).status_code == 403
    assert (await client.get("/v1/venues/v-school/assessments", headers=ADMIN)).json()[
        "assessments"
    ] == []

    assert (await client.delete("/v1/venues/v-other", headers=ADMIN)).status_code == 200
    assert (
        await client.post("/v1/venues/v-other/assessments", json=body, headers=ADMIN)
    ).status_code == 410
    assert (await client.post("/v1/venues/v-other/owner-token", headers=ADMIN)).status_code == 410


async def assessed_restaurant(client: httpx.AsyncClient, venues: list[dict[str, Any]]) -> None:
    """The unit tree, `venues`, the test set, and an admin's assessment of v-pho (green)."""
    await make_tree(client)
    for venue in venues:
        assert (await client.post("/v1/venues", json=venue, headers=ADMIN)).status_code == 201
    assert (
        await client.post("/v1/criteria", json=criteria_set(), headers=ADMIN)
    ).status_code == 201
    body = {"set_id": "nh-test", "answers": ANSWERS}
    answer = await client.post("/v1/venues/v-pho/assessments", json=body, headers=ADMIN)
    assert answer.status_code == 201


async def test_inspections_suspend_until_a_later_pass(client: httpx.AsyncClient) -> None:
    await assessed_restaurant(client, [RESTAURANT])
    inside = auth("official", ["C1"])

    async def inspect(headers: dict[str, str], **fields: Any) -> httpx.Response:
        return await client.post("/v1/venues/v-pho/inspections", json=fields, headers=headers)

    suspended = await inspect(inside, result="fail", note="không giãn cách", suspend=True)
    assert suspended.status_code == 201, suspended.text
    assert (suspended.json()["status"], suspended.json()["staff_id"]) == ("suspended", "official-1")
    failed = await inspect(ADMIN, result="fail")
    assert failed.json()["status"] == "suspended"
    passed = await inspect(inside, result="pass", note="đã khắc phục")
    assert (passed.json()["status"], passed.json()["level"]) == ("current", "green")

    for refused in ({"result": "maybe"}, {"result": "pass", "suspend": "yes"}, {"note": "x"},
                    {"result": "pass", "note": "x" * 1001}):  # fmt: skip
        assert (await inspect(ADMIN, **refused)).status_code == 422, refused
    assert (await inspect(auth("official", ["D2"]), result="pass")).status_code == 403
    owner = await owner_of(client, "v-pho")
    assert (await inspect(owner, result="pass")).status_code == 403
    listing = (await client.get("/v1/venues/v-pho/inspections", headers=inside)).json()
    assert [n["result"] for n in listing["inspections"]] == ["pass", "fail", "fail"]


MAP = "/v1/map/venues.geojson"


async def publish(
    kafka_bootstrap: str, topic: str, event: VenueReportEvent | AssessmentEvent
) -> None:
    """Write an event as another reporter (or the gateway) would, keyed by its venue."""
    producer = DurableProducer(kafka_bootstrap, ack_timeout_s=20)
    await producer.start()
    try:
        await producer.send_batch(topic, [(event.venue_id.encode(), encode(event))])
    finally:
        await producer.stop()


async def the_map(client: httpx.AsyncClient, query: str = "") -> dict[str, dict[str, Any]]:
    """The map's features by venue id, after checking the body against the GeoJSON models."""
    answer = await client.get(MAP + query)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/geo+json"
    collection = FeatureCollection[Feature[Point, dict[str, Any]]].model_validate_json(
        answer.content
    )
    return {str(f.id): f.properties or {} for f in collection.features}


async def test_the_public_map(
    client: httpx.AsyncClient, kafka_bootstrap: str, namespace: str
) -> None:
    await make_tree(client)
    venues = [
        {**RESTAURANT, "location": {"lat": 10.95, "lon": 106.82}},
        {**RESTAURANT, "venue_id": "v-cho", "kind": "market", "unit_id": "D2",
         "location": {"lat": 10.78, "lon": 106.95}},
        {**RESTAURANT, "venue_id": "v-unlocated"},
        {**RESTAURANT, "venue_id": "v-gone", "location": {"lat": 10.9, "lon": 106.8}},
    ]  # fmt: skip
    for venue in venues:
        assert (await client.post("/v1/venues", json=venue, headers=ADMIN)).status_code == 201
    assert (await client.delete("/v1/venues/v-gone", headers=ADMIN)).status_code == 200
    assert (
        await client.post("/v1/criteria", json=criteria_set(), headers=ADMIN)
    ).status_code == 201

    features = await the_map(client)
    assert sorted(features) == ["v-cho", "v-pho"]
    assert features["v-pho"] == {
        "venue_id": "v-pho",
        "name": "Phở Hương",
        "kind": "restaurant",
        "unit_id": "C1",
        "status": "none",
        "level": None,
        "valid_until": None,
        "reports_30d": 0,
    }
    raw = (await client.get(MAP)).json()
    assert raw["features"][1]["geometry"] == {"type": "Point", "coordinates": [106.82, 10.95]}

    owner = await owner_of(client, "v-pho")
    body = {"set_id": "nh-test", "answers": ANSWERS}
    assessed = await client.post("/v1/venues/v-pho/assessments", json=body, headers=owner)
    until = assessed.json()["valid_until"]
    features = await the_map(client)
    assert (features["v-pho"]["status"], features["v-pho"]["level"]) == ("current", "green")
    assert features["v-pho"]["valid_until"] == until

    # overdue the moment valid_until passes: the status is computed at the request's instant
    until_ms = int(datetime.fromisoformat(until).timestamp() * 1000)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("scantrace_reporter.routes.map.now_ms", lambda: until_ms - 1)
        assert (await the_map(client))["v-pho"]["status"] == "current"
        patch.setattr("scantrace_reporter.routes.map.now_ms", lambda: until_ms)
        overdue = (await the_map(client))["v-pho"]
        assert (overdue["status"], overdue["level"], overdue["valid_until"]) == (
            "overdue",
            None,
            until,
        )

    # suspended until a later inspection passes
    inspect = "/v1/venues/v-pho/inspections"
    suspend = {"result": "fail", "suspend": True}
    assert (await client.post(inspect, json=suspend, headers=ADMIN)).status_code == 201
    assert (await the_map(client))["v-pho"]["status"] == "suspended"
    assert (await the_map(client, "?status=suspended")).keys() == {"v-pho"}
    assert (await client.post(inspect, json={"result": "pass"}, headers=ADMIN)).status_code == 201
    assert (await the_map(client))["v-pho"]["status"] == "current"

    # filters
    assert (await the_map(client, "?unit_id=D1")).keys() == {"v-pho"}
    assert (await the_map(client, "?unit_id=P&kind=market")).keys() == {"v-cho"}
    assert (await the_map(client, "?level=green")).keys() == {"v-pho"}
    assert (await the_map(client, "?status=none")).keys() == {"v-cho"}
    assert (await the_map(client, "?level=red")) == {}
    for bad in ("?kind=casino", "?level=blue", "?status=open", "?unit_id=a%20b"):
        assert (await client.get(MAP + bad)).status_code == 422, bad
    assert (await client.get(MAP + "?unit_id=nowhere")).status_code == 404

    # ETag and Cache-Control; a change makes a new ETag
    first = await client.get(MAP)
    assert first.headers["cache-control"] == "public, max-age=30"
    etag = first.headers["etag"]
    unchanged = await client.get(MAP, headers={"If-None-Match": etag})
    assert (unchanged.status_code, unchanged.content) == (304, b"")

    # what other reporters publish reaches this one's map through the consumers; reports are
    # counted and nothing of their person is shown
    report = VenueReportEvent(
        report_id=str(uuid.uuid4()),
        venue_id="v-cho",
        category="crowded",
        text="đông người",
        person_id="p-secret-person",
        device_id="d-secret-device",
        received_at=int(time.time() * 1000),
    )
    await publish(kafka_bootstrap, topic_name(VENUE_REPORTS, namespace), report)

    async def reported() -> bool:
        return bool((await the_map(client))["v-cho"]["reports_30d"] == 1)

    await wait_until(reported)
    changed = await client.get(MAP, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert "secret" not in changed.text
    assert "đông người" not in changed.text


async def test_compliance_counts_the_venues_assessed(
    client: httpx.AsyncClient, kafka_bootstrap: str, namespace: str
) -> None:
    venues = [
        RESTAURANT,
        {**RESTAURANT, "venue_id": "v-late"},
        {**RESTAURANT, "venue_id": "v-never"},
    ]
    await assessed_restaurant(client, venues)
    # an assessment whose validity ended a minute ago (as another reporter would have written it)
    now = int(time.time() * 1000)
    expired = AssessmentEvent(
        assessment_id=str(uuid.uuid4()),
        venue_id="v-late",
        set_id="nh-test",
        version=1,
        answers=ANSWERS,
        assessed_at=now - 31 * 24 * 3600 * 1000,
        points=8,
        max_points=10,
        percent=80.0,
        level="green",
        valid_until=now - 60_000,
        by="admin-1",
    )
    await publish(kafka_bootstrap, topic_name(ASSESSMENTS, namespace), expired)

    async def consumed() -> bool:
        listing = (await client.get("/v1/venues/v-late/assessments", headers=ADMIN)).json()
        return bool(listing["status"] == "overdue")

    await wait_until(consumed)
    today = datetime.fromtimestamp(now / 1000, ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    figures = (await client.get(f"/v1/compliance?unit_id=P&date={today}", headers=ADMIN)).json()
    assert (figures["venues_registered"], figures["venues_assessed"]) == (3, 1)
    assert figures["assessed_ratio"] == pytest.approx(1 / 3)
    children = {c["unit_id"]: c for c in figures["children"]}
    assert (children["D1"]["venues_assessed"], children["D2"]["assessed_ratio"]) == (1, None)
    csv_text = (
        await client.get(f"/v1/compliance.csv?unit_id=D1&from={today}&to={today}", headers=ADMIN)
    ).text
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert {(r["unit_id"], r["venues_assessed"], r["assessed_ratio"]) for r in rows} == {
        ("D1", "1", repr(round(1 / 3, 6))),
        ("C1", "1", repr(round(1 / 3, 6))),
    }


async def test_bad_criteria_events_are_dead_lettered(
    client: httpx.AsyncClient, kafka_bootstrap: str, namespace: str
) -> None:
    assert (
        await client.post("/v1/criteria", json=criteria_set(), headers=ADMIN)
    ).status_code == 201
    reused = msgspec.convert(criteria_set(title="Another text, same version"), CriteriaSetEvent)
    invalid = msgspec.convert(criteria_set(set_id="nh-broken", bands=[]), CriteriaSetEvent)
    good = msgspec.convert(criteria_set(version=5), CriteriaSetEvent)
    # the same document stamped at another instant (two reporters publishing a shipped set)
    republished = msgspec.convert({**criteria_set(), "published_at": 1}, CriteriaSetEvent)
    topic = topic_name(CRITERIA, namespace)
    producer = DurableProducer(kafka_bootstrap, ack_timeout_s=20)
    await producer.start()
    try:
        # straight to the topic, bypassing the API's checks
        await producer.send_batch(
            topic,
            [(e.set_id.encode(), encode(e)) for e in (reused, republished, invalid, good)],
        )
    finally:
        await producer.stop()

    async def consumed() -> bool:
        answer = await client.get("/v1/criteria/nh-test?version=5", headers=ADMIN)
        return answer.status_code == 200

    await wait_until(consumed)
    dead = await read_all(kafka_bootstrap, dlq_of(topic), 2)
    reasons = sorted(dict(r.headers)["dlq.reason"].decode() for r in dead)
    assert len(reasons) == 2
    assert "bands is empty" in reasons[0]
    assert "version 1 of 'nh-test' exists already" in reasons[1]
    first = (await client.get("/v1/criteria/nh-test?version=1", headers=ADMIN)).json()
    assert first["title"] == "Bộ tiêu chí thử nghiệm"
    assert (await client.get("/v1/criteria/nh-broken", headers=ADMIN)).status_code == 404
