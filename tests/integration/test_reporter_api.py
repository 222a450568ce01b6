"""The reporter over HTTP with a real Kafka and a real Redis: registry, posters, scopes, CSV,
and compliance fed through the topics."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image

from scantrace_common.events import DeclarationEvent, ScanEvent, encode
from scantrace_common.kafka import DurableProducer
from scantrace_common.qr import QrSigner, QrVerifier
from scantrace_common.timeparse import local_date
from scantrace_common.topics import DECLARATIONS, SCANS, topic_name
from tests.support.reporter import (
    ADMIN,
    auth,
    make_tree,
    new_signer,
    running_reporter,
    wait_until,
)

pytestmark = pytest.mark.integration

TZ = "Asia/Ho_Chi_Minh"
HOSTILE = ['=cmd|" /C calc"!A0', "+1+1", "-2", "@SUM(A1)", "\tTab", "\rCR"]


@pytest.fixture
def signer() -> QrSigner:
    return new_signer()


@pytest.fixture
async def client(
    redis_url: str, kafka_bootstrap: str, namespace: str, signer: QrSigner
) -> AsyncIterator[httpx.AsyncClient]:
    async with running_reporter(
        redis_url=redis_url, kafka_bootstrap=kafka_bootstrap, namespace=namespace, signer=signer
    ) as test_client:
        yield test_client


async def test_registry_qr_posters_and_revocation(
    client: httpx.AsyncClient, signer: QrSigner
) -> None:
    await make_tree(client)
    duplicate = {"unit_id": "P", "name": "again", "parent_id": None, "level": "province"}
    assert (await client.post("/v1/units", json=duplicate, headers=ADMIN)).status_code == 409
    orphan = {"unit_id": "X", "name": "x", "parent_id": "nowhere", "level": "commune"}
    assert (await client.post("/v1/units", json=orphan, headers=ADMIN)).status_code == 422
    assert (
        await client.post("/v1/units", json={**orphan, "level": "city"}, headers=ADMIN)
    ).status_code == 422

    name = "Nhà hàng Phở Hương Việt"
    body = {"venue_id": "v-pho", "name": name, "kind": "restaurant", "unit_id": "C1"}
    created = await client.post("/v1/venues", json=body, headers=ADMIN)
    assert created.status_code == 201
    qr = created.json()["qr"]
    assert created.json() == {"venue_id": "v-pho", "qr": qr}
    assert QrVerifier.from_env_value(signer.public_env_value()).verify(qr) == "v-pho"
    assert (await client.post("/v1/venues", json=body, headers=ADMIN)).status_code == 409
    bad_kind = {**body, "venue_id": "v2", "kind": "casino"}
    assert (await client.post("/v1/venues", json=bad_kind, headers=ADMIN)).status_code == 422
    unknown_unit = {**body, "venue_id": "v3", "unit_id": "nowhere"}
    assert (await client.post("/v1/venues", json=unknown_unit, headers=ADMIN)).status_code == 422
    generated = await client.post(
        "/v1/venues", json={"name": "Chợ", "kind": "market", "unit_id": "D2"}, headers=ADMIN
    )
    assert generated.status_code == 201

    venue = (await client.get("/v1/venues/v-pho", headers=ADMIN)).json()
    assert venue["name"] == name
    assert venue["revoked_at"] is None
    png = await client.get("/v1/venues/v-pho/qr.png", headers=ADMIN)
    assert png.headers["content-type"] == "image/png"
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))] == [qr]
    svg = await client.get("/v1/venues/v-pho/qr.svg", headers=ADMIN)
    assert "Phở" in svg.text
    archive = await client.get("/v1/units/P/posters.zip", headers=ADMIN)
    assert archive.status_code == 200

    revoked = await client.delete("/v1/venues/v-pho", headers=ADMIN)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert (await client.get("/v1/venues/v-pho/qr.png", headers=ADMIN)).status_code == 410
    assert (await client.delete("/v1/venues/nowhere", headers=ADMIN)).status_code == 404

    batch = (
        await client.post(
            "/v1/venues/batch",
            json=[
                {"venue_id": "b1", "name": "A", "kind": "shop", "unit_id": "C1"},
                {"venue_id": "b1", "name": "A", "kind": "shop", "unit_id": "C1"},
                {"venue_id": "b2", "name": "B", "kind": "nope", "unit_id": "C1"},
            ],
            headers=ADMIN,
        )
    ).json()
    assert [c["venue_id"] for c in batch["created"]] == ["b1"]
    assert [(r["index"], r["status"]) for r in batch["rejected"]] == [(1, 409), (2, 422)]
    assert "unit_id" not in (await client.get("/metrics")).text  # finding 11


async def test_officials_only_read_their_units(client: httpx.AsyncClient) -> None:
    await make_tree(client)
    body = {"venue_id": "v1", "name": "Shop", "kind": "shop", "unit_id": "C1"}
    assert (await client.post("/v1/venues", json=body, headers=ADMIN)).status_code == 201
    body2 = {"venue_id": "v2", "name": "Shop 2", "kind": "shop", "unit_id": "D2"}
    assert (await client.post("/v1/venues", json=body2, headers=ADMIN)).status_code == 201
    official = auth("official", ["D1"])
    today = local_date(int(time.time() * 1000), TZ).isoformat()
    inside = await client.get(f"/v1/compliance?unit_id=C1&date={today}", headers=official)
    assert inside.status_code == 200
    for path in (
        f"/v1/compliance?unit_id=P&date={today}",
        f"/v1/compliance?unit_id=D2&date={today}",
        f"/v1/compliance?unit_id=nowhere&date={today}",
        f"/v1/compliance.csv?unit_id=P&from={today}&to={today}",
        "/v1/venues/v2",
        "/v1/venues/v2/qr.svg",
        "/v1/units/P/posters.zip",
    ):
        assert (await client.get(path, headers=official)).status_code == 403, path
    assert (await client.get("/v1/venues/v1", headers=official)).status_code == 200
    assert (
        await client.get(f"/v1/compliance.csv?unit_id=D1&from={today}&to={today}", headers=official)
    ).status_code == 200
    # Read-only: no writes for officials, nothing for other roles, 401 without a token.
    assert (
        await client.post("/v1/venues", json={**body, "venue_id": "v9"}, headers=official)
    ).status_code == 403
    assert (await client.delete("/v1/venues/v1", headers=official)).status_code == 403
    quarantine = {"person_id": "p", "unit_id": "C1", "from": today, "to": today}
    assert (
        await client.post("/v1/quarantines", json=quarantine, headers=official)
    ).status_code == 403
    assert (
        await client.get(f"/v1/compliance?unit_id=C1&date={today}", headers=auth("epidemiologist"))
    ).status_code == 403
    assert (await client.get(f"/v1/compliance?unit_id=C1&date={today}")).status_code == 401
    assert (
        await client.get("/v1/compliance?unit_id=C1&date=17-05-2021", headers=ADMIN)
    ).status_code == 422


async def test_compliance_through_kafka_and_safe_csv(
    client: httpx.AsyncClient, kafka_bootstrap: str, namespace: str
) -> None:
    units: list[dict[str, str | None]] = [
        {"unit_id": "P", "name": HOSTILE[0], "parent_id": None, "level": "province"}
    ]
    units += [
        {"unit_id": f"-c{i}", "name": name, "parent_id": "P", "level": "commune"}
        for i, name in enumerate(HOSTILE[1:])
    ]
    for unit in units:
        assert (await client.post("/v1/units", json=unit, headers=ADMIN)).status_code == 201
    for i, name in enumerate(HOSTILE):
        venue = {"venue_id": f"v{i}", "name": name, "kind": "shop", "unit_id": "-c0"}
        assert (await client.post("/v1/venues", json=venue, headers=ADMIN)).status_code == 201
    now = int(time.time() * 1000)
    today = local_date(now, TZ).isoformat()
    quarantine = {"person_id": "p1", "unit_id": "-c0", "from": today, "to": today}
    assert (await client.post("/v1/quarantines", json=quarantine, headers=ADMIN)).status_code == 201

    scans = [
        ScanEvent(
            scan_id=str(uuid.uuid4()),
            person_id=f"p{i % 4}",
            venue_id=f"v{i % 3}",
            direction="in" if i % 2 else "out",
            scanned_at=now - 1000 * i,
            received_at=now,
            device_id="d",
        )
        for i in range(30)
    ]
    declaration = DeclarationEvent(
        declaration_id=str(uuid.uuid4()),
        person_id="p1",
        declared_at=now,
        received_at=now,
        device_id="d",
    )

    async def produce() -> None:
        producer = DurableProducer(kafka_bootstrap, ack_timeout_s=20)
        await producer.start()
        try:
            items = [(s.venue_id.encode(), encode(s)) for s in scans + scans[:5]]
            await producer.send_batch(topic_name(SCANS, namespace), items)
            await producer.send_batch(
                topic_name(DECLARATIONS, namespace), [(b"p1", encode(declaration))]
            )
        finally:
            await producer.stop()

    await produce()

    async def figures() -> dict[str, Any]:
        answer = await client.get(f"/v1/compliance?unit_id=P&date={today}", headers=ADMIN)
        assert answer.status_code == 200
        body: dict[str, Any] = answer.json()
        return body

    async def done() -> bool:
        body = await figures()
        return bool(body["scans"] == 30 and body["declarations_done"] == 1)

    await wait_until(done)
    body = await figures()
    assert body["venues_registered"] == len(HOSTILE)
    assert body["venues_active"] == 3
    assert body["persons"] == 4
    assert body["declaration_ratio"] == 1.0
    assert [c["unit_id"] for c in body["children"]] == sorted(str(u["unit_id"]) for u in units[1:])

    exported = await client.get(
        f"/v1/compliance.csv?unit_id=P&from={today}&to={today}", headers=ADMIN
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert len(rows) == 1 + len(units)
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    names = {row[2] for row in rows[1:]}
    # Names are stored with whitespace collapsed ("\tTab" -> "Tab"); formula starters get a "'".
    stored = {" ".join(str(u["name"]).split()) for u in units}
    assert names == {"'" + n if n[0] in "=+-@" else n for n in stored}
