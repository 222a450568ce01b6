"""Bad inputs and out-of-scope callers: each refused with the documented status and reason.

- officials outside their units: 403 on compliance, CSV and registry reads;
- forged, truncated, re-signed and tampered QR payloads, revoked venues, another person's id:
  the scan is rejected (422 for one scan, an item of `rejected` in a batch) with its reason,
  and counted under that reason in scantrace_gateway_scans_rejected_total.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from scantrace_common.auth import mint_device_token, mint_staff_token
from scantrace_common.qr import QrSigner, b64url_decode, b64url_encode

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def registry(request: pytest.FixtureRequest, reporter_url: str) -> dict[str, str]:
    """A province with two districts, a venue in each; ids unique to this module."""
    stack = request.getfixturevalue("e2e_stack")
    admin = stack.token("admin")
    h = uuid.uuid4().hex[:8]
    ids = {
        "root": f"in{h}-prov",
        "a": f"in{h}-da",
        "b": f"in{h}-db",
        "venue_a": f"in{h}-va",
        "venue_b": f"in{h}-vb",
        "revoked": f"in{h}-vr",
    }
    with httpx.Client(base_url=reporter_url, headers=bearer(admin), timeout=30) as client:
        units = [
            {"unit_id": ids["root"], "name": "P", "parent_id": None, "level": "province"},
            {"unit_id": ids["a"], "name": "A", "parent_id": ids["root"], "level": "district"},
            {"unit_id": ids["b"], "name": "B", "parent_id": ids["root"], "level": "district"},
        ]
        for unit in units:
            assert client.post("/v1/units", json=unit).status_code == 201
        for venue, unit in (("venue_a", "a"), ("venue_b", "b"), ("revoked", "a")):
            body = {"venue_id": ids[venue], "name": venue, "kind": "shop", "unit_id": ids[unit]}
            assert client.post("/v1/venues", json=body).status_code == 201
        assert client.delete(f"/v1/venues/{ids['revoked']}").status_code == 200
    return ids


# -- officials outside their units ------------------------------------------------------------


def test_official_outside_their_units_gets_403(
    request: pytest.FixtureRequest, reporter_url: str, registry: dict[str, str]
) -> None:
    stack = request.getfixturevalue("e2e_stack")
    official = mint_staff_token(stack.auth_secret, "off-a", "official", units=[registry["a"]])
    unscoped = mint_staff_token(stack.auth_secret, "off-none", "official")
    today = time.strftime("%Y-%m-%d")
    inside = [
        ("/v1/compliance", {"unit_id": registry["a"], "date": today}),
        ("/v1/compliance.csv", {"unit_id": registry["a"], "from": today, "to": today}),
        (f"/v1/units/{registry['a']}", None),
        (f"/v1/venues/{registry['venue_a']}", None),
    ]
    outside = [
        ("/v1/compliance", {"unit_id": registry["b"], "date": today}),
        ("/v1/compliance", {"unit_id": registry["root"], "date": today}),
        ("/v1/compliance.csv", {"unit_id": registry["b"], "from": today, "to": today}),
        ("/v1/compliance.csv", {"unit_id": registry["root"], "from": today, "to": today}),
        (f"/v1/units/{registry['b']}", None),
        (f"/v1/units/{registry['root']}", None),
        (f"/v1/venues/{registry['venue_b']}", None),
        (f"/v1/venues/{registry['venue_b']}/qr.svg", None),
        (f"/v1/units/{registry['b']}/posters.zip", None),
        ("/v1/compliance", {"unit_id": "no-such-unit", "date": today}),
        (f"/v1/venues/{registry['venue_a']}-nope", None),
    ]
    with httpx.Client(base_url=reporter_url, timeout=30) as client:
        for path, params in inside:
            response = client.get(path, params=params, headers=bearer(official))
            assert response.status_code == 200, (path, response.text)
        for path, params in outside:
            response = client.get(path, params=params, headers=bearer(official))
            # Unknown ids are 403 too: an official cannot probe which ids exist elsewhere.
            assert response.status_code == 403, (path, response.status_code, response.text)
        for path, params in inside:
            response = client.get(path, params=params, headers=bearer(unscoped))
            assert response.status_code == 403, ("official without units", path)


# -- QR payloads and persons ------------------------------------------------------------------


def rejected_counts(gateway_url: str) -> dict[str, float]:
    text = httpx.get(f"{gateway_url}/metrics", timeout=10).text
    counts: dict[str, float] = {}
    for match in re.finditer(
        r'^scantrace_gateway_scans_rejected_total\{reason="(\w+)"\} (\S+)$', text, re.M
    ):
        counts[match.group(1)] = float(match.group(2))
    return counts


def tamper_signature(payload: str) -> str:
    prefix, venue, kid, signature = payload.split(".", 3)
    raw = bytearray(b64url_decode(signature))
    raw[0] ^= 0x01
    return f"{prefix}.{venue}.{kid}.{b64url_encode(bytes(raw))}"


def bad_qr_cases(
    sign: Callable[[str], str], key_id: str, ids: dict[str, str]
) -> dict[str, tuple[str, str]]:
    """name -> (qr payload, the reason label it must be rejected under)."""
    good = sign(ids["venue_a"])
    other_key = QrSigner.generate(key_id)  # same key id, another key: a re-signed forgery
    _, venue, kid, signature = good.split(".", 3)
    return {
        "forged_signature": (tamper_signature(good), "qr_invalid"),
        "truncated": (good[:-10], "qr_invalid"),
        "re_signed_other_key": (other_key.sign(ids["venue_a"]), "qr_invalid"),
        "venue_swapped": (f"ST1.{ids['venue_b']}.{kid}.{signature}", "qr_invalid"),
        "unknown_key_id": (f"ST1.{venue}.zz9.{signature}", "qr_invalid"),
        "wrong_prefix": (f"ST2.{venue}.{kid}.{signature}", "qr_invalid"),
        "not_a_qr": ("https://example.invalid/?v=1", "qr_invalid"),
        "revoked_venue": (sign(ids["revoked"]), "venue_revoked"),
    }


def post_scan(gateway_url: str, token: str, body: Any) -> httpx.Response:
    return httpx.post(f"{gateway_url}/v1/scans", json=body, headers=bearer(token), timeout=30)


def scan(person: str, qr: str) -> dict[str, Any]:
    return {
        "scan_id": str(uuid.uuid4()),
        "person_id": person,
        "qr": qr,
        "direction": "in",
        "scanned_at": int(time.time() * 1000),
    }


def test_bad_qr_payloads_and_persons_are_rejected_with_their_reason(
    request: pytest.FixtureRequest, gateway_url: str, registry: dict[str, str]
) -> None:
    stack = request.getfixturevalue("e2e_stack")
    person = f"{registry['root']}-p"
    token = mint_device_token(stack.auth_secret, "dev-inputs", person)
    cases = bad_qr_cases(stack.signer.sign, stack.signer.key_id, registry)
    # Revocations reach the gateway through venues.v1: wait until it refuses the revoked venue.
    deadline = time.monotonic() + 60
    while post_scan(gateway_url, token, scan(person, cases["revoked_venue"][0])).status_code == 202:
        assert time.monotonic() < deadline, "the gateway still accepts a revoked venue after 60 s"
        time.sleep(1.0)

    before = rejected_counts(gateway_url)
    expected: dict[str, int] = {}
    for name, (qr, reason) in cases.items():
        response = post_scan(gateway_url, token, scan(person, qr))
        assert response.status_code == 422, (name, response.status_code, response.text)
        message = response.json()["error"]
        assert ("revoked" if reason == "venue_revoked" else "qr") in message.lower(), (
            name,
            message,
        )
        expected[reason] = expected.get(reason, 0) + 1
    # Another person's id with a valid QR.
    response = post_scan(
        gateway_url, token, scan("someone-else", stack.signer.sign(registry["venue_a"]))
    )
    assert response.status_code == 422
    assert "person_id" in response.json()["error"]
    expected["person_mismatch"] = 1

    # In a batch each bad item is judged on its own; the good one is accepted.
    items = [scan(person, qr) for qr, _ in cases.values()]
    items.append(scan(person, stack.signer.sign(registry["venue_a"])))
    response = post_scan(gateway_url, token, items)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 1
    assert [r["index"] for r in body["rejected"]] == list(range(len(cases)))
    assert all(r["scan_id"] == items[r["index"]]["scan_id"] for r in body["rejected"])
    for _, reason in cases.values():
        expected[reason] += 1

    after = rejected_counts(gateway_url)
    for reason, count in expected.items():
        assert after.get(reason, 0) - before.get(reason, 0) == count, (reason, before, after)


def test_a_device_token_cannot_speak_for_another_person_in_declarations(
    request: pytest.FixtureRequest, gateway_url: str
) -> None:
    stack = request.getfixturevalue("e2e_stack")
    token = mint_device_token(stack.auth_secret, "dev-decl", "decl-owner")
    body = {
        "declaration_id": str(uuid.uuid4()),
        "person_id": "decl-victim",
        "declared_at": int(time.time() * 1000),
        "symptoms": ["fever"],
        "note": "",
    }
    response = httpx.post(
        f"{gateway_url}/v1/declarations", json=body, headers=bearer(token), timeout=30
    )
    assert response.status_code == 422
    assert "person_id" in response.json()["error"]
