"""SPEC section 10 over HTTP with a real Kafka and a real Redis: venue locations, criteria sets,
owner tokens, assessments, inspections and the public map."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.reporter import ADMIN, make_tree, new_signer, running_reporter

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
