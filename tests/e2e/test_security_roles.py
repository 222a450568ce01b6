"""Every endpoint of every service, against every role, no token and forged tokens.

The operations are taken from each service's OpenAPI document (`app.openapi()`, built in
process at collection time), so a new endpoint becomes a new test case by itself, and fails
until `EXPECTED` below says who may call it. Each case sends a request that the allowed roles
get a 2xx for; no token (and any forged token) must get 401, another role 403.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import jwt
import pytest
from pydantic import SecretStr

from scantrace_common.auth import mint_device_token, mint_staff_token, mint_venue_token

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PUBLIC = frozenset({"*"})
STAFF = ("admin", "epidemiologist", "official", "operator")
#: "venue" is a venue owner's token (SPEC 10) bound to the world's venue.
CALLERS = ("none", *STAFF, "device", "venue")
#: Tokens that must be refused with 401 wherever a token is needed.
FORGED = ("expired", "wrong_secret", "alg_none", "truncated", "no_role", "unknown_role")

#: Who may call what: "*" is public (no token needed). SPEC sections 2 to 5.
EXPECTED: dict[tuple[str, str, str], frozenset[str]] = {
    ("gateway", "GET", "/healthz"): PUBLIC,
    ("gateway", "GET", "/readyz"): PUBLIC,
    ("gateway", "GET", "/metrics"): PUBLIC,
    ("gateway", "POST", "/v1/devices"): PUBLIC,
    ("gateway", "POST", "/v1/scans"): frozenset({"device"}),
    ("gateway", "POST", "/v1/declarations"): frozenset({"device"}),
    ("tracer", "GET", "/healthz"): PUBLIC,
    ("tracer", "GET", "/readyz"): PUBLIC,
    ("tracer", "GET", "/metrics"): PUBLIC,
    ("tracer", "GET", "/v1/persons/{person_id}/visits"): frozenset({"epidemiologist"}),
    ("tracer", "GET", "/v1/persons/{person_id}/exposures"): frozenset({"epidemiologist"}),
    ("tracer", "GET", "/v1/venues/{venue_id}/visits"): frozenset({"epidemiologist"}),
    ("tracer", "GET", "/v1/venues/{venue_id}/occupancy"): frozenset({"epidemiologist"}),
    ("tracer", "POST", "/v1/cases"): frozenset({"epidemiologist"}),
    ("tracer", "GET", "/v1/cases/{case_id}"): frozenset({"epidemiologist"}),
    ("tracer", "GET", "/v1/follow-ups"): frozenset({"epidemiologist"}),
    ("tracer", "GET", "/v1/clusters"): frozenset({"epidemiologist"}),
    ("reporter", "GET", "/healthz"): PUBLIC,
    ("reporter", "GET", "/readyz"): PUBLIC,
    ("reporter", "GET", "/metrics"): PUBLIC,
    ("reporter", "POST", "/v1/units"): frozenset({"admin"}),
    ("reporter", "POST", "/v1/units/batch"): frozenset({"admin"}),
    ("reporter", "GET", "/v1/units/{unit_id}"): frozenset({"admin", "official"}),
    ("reporter", "POST", "/v1/venues"): frozenset({"admin"}),
    ("reporter", "POST", "/v1/venues/batch"): frozenset({"admin"}),
    ("reporter", "GET", "/v1/venues/{venue_id}"): frozenset({"admin", "official", "venue"}),
    ("reporter", "DELETE", "/v1/venues/{venue_id}"): frozenset({"admin"}),
    ("reporter", "GET", "/v1/venues/{venue_id}/qr.png"): frozenset({"admin", "official"}),
    ("reporter", "GET", "/v1/venues/{venue_id}/qr.svg"): frozenset({"admin", "official"}),
    ("reporter", "GET", "/v1/units/{unit_id}/posters.zip"): frozenset({"admin", "official"}),
    ("reporter", "POST", "/v1/quarantines"): frozenset({"admin"}),
    ("reporter", "GET", "/v1/compliance"): frozenset({"admin", "official"}),
    ("reporter", "GET", "/v1/compliance.csv"): frozenset({"admin", "official"}),
    # SPEC 8
    ("reporter", "POST", "/v1/staff"): frozenset({"admin"}),
    ("reporter", "GET", "/v1/staff"): frozenset({"admin"}),
    ("reporter", "GET", "/v1/staff/{staff_id}"): frozenset({"admin"}),
    ("reporter", "DELETE", "/v1/staff/{staff_id}"): frozenset({"admin"}),
    ("reporter", "POST", "/v1/sessions"): PUBLIC,
    # SPEC section 10
    ("reporter", "GET", "/v1/criteria"): frozenset({*STAFF, "venue"}),
    ("reporter", "GET", "/v1/criteria/{set_id}"): frozenset({*STAFF, "venue"}),
    ("reporter", "POST", "/v1/criteria"): frozenset({"admin"}),
    ("reporter", "POST", "/v1/venues/{venue_id}/owner-token"): frozenset({"admin", "official"}),
    ("reporter", "POST", "/v1/venues/{venue_id}/assessments"): frozenset({"admin", "venue"}),
    ("reporter", "GET", "/v1/venues/{venue_id}/assessments"): frozenset(
        {"admin", "official", "venue"}
    ),
    ("reporter", "POST", "/v1/venues/{venue_id}/inspections"): frozenset({"admin", "official"}),
    ("reporter", "GET", "/v1/venues/{venue_id}/inspections"): frozenset({"admin", "official"}),
    ("reporter", "GET", "/v1/map/venues.geojson"): PUBLIC,
}

_SECRET_FOR_SCHEMA = "openapi-only-" + "s" * 32


@functools.cache
def openapi_documents() -> dict[str, dict[str, Any]]:
    """Each service's OpenAPI document, from its FastAPI app (no server, no connection)."""
    from scantrace_gateway.app import create_gateway_app
    from scantrace_gateway.settings import GatewaySettings
    from scantrace_reporter.app import create_reporter_app
    from scantrace_reporter.settings import ReporterSettings
    from scantrace_tracer.api import create_tracer_app
    from scantrace_tracer.settings import TracerSettings

    secret = _SECRET_FOR_SCHEMA
    return {
        "gateway": create_gateway_app(GatewaySettings(auth_secret=SecretStr(secret))).openapi(),
        "tracer": create_tracer_app(TracerSettings(auth_secret=SecretStr(secret))).openapi(),
        "reporter": create_reporter_app(ReporterSettings(auth_secret=SecretStr(secret))).openapi(),
    }


def openapi_operations() -> list[tuple[str, str, str]]:
    return sorted(
        (service, method.upper(), path)
        for service, doc in openapi_documents().items()
        for path, operations in doc["paths"].items()
        for method in operations
    )


def test_the_table_covers_exactly_the_openapi_operations() -> None:
    documented = set(openapi_operations())
    missing = documented - EXPECTED.keys()
    stale = EXPECTED.keys() - documented
    assert not missing, f"endpoints with no expected roles (add them to EXPECTED): {missing}"
    assert not stale, f"EXPECTED names endpoints the services no longer have: {stale}"


def test_the_running_services_serve_the_same_documents(
    gateway_url: str, tracer_url: str, reporter_url: str
) -> None:
    urls = {"gateway": gateway_url, "tracer": tracer_url, "reporter": reporter_url}
    for service, url in urls.items():
        live = httpx.get(f"{url}/openapi.json", timeout=10).json()
        assert set(live["paths"]) == set(openapi_documents()[service]["paths"]), service


# -- the requests ------------------------------------------------------------------------------


@dataclass
class World:
    """What the requests refer to: a unit with a child, venues, a person, a case."""

    secret: str
    admin: str
    epi: str
    signer_sign: Callable[[str], str]
    urls: dict[str, str]
    root: str
    child: str
    venue: str
    #: A criteria set for the venue's kind (office).
    criteria: str
    person: str
    case_id: str
    staff: str = ""
    today: str = field(default_factory=lambda: date.today().isoformat())

    def fresh_venue(self) -> str:
        venue_id = f"sec-{uuid.uuid4().hex[:10]}"
        response = httpx.post(
            f"{self.urls['reporter']}/v1/venues",
            json={"venue_id": venue_id, "name": "Doomed", "kind": "shop", "unit_id": self.child},
            headers={"authorization": f"Bearer {self.admin}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return venue_id

    def fresh_staff(self) -> str:
        staff_id = f"sec-{uuid.uuid4().hex[:10]}"
        response = httpx.post(
            f"{self.urls['reporter']}/v1/staff",
            json=staff_body(staff_id),
            headers={"authorization": f"Bearer {self.admin}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return staff_id


STAFF_PASSWORD = "a staff password of the security tests"


def staff_body(staff_id: str) -> dict[str, Any]:
    return {
        "staff_id": staff_id,
        "name": "Sec staff",
        "role": "official",
        "password": STAFF_PASSWORD,
    }


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None


def criteria_set(set_id: str) -> dict[str, Any]:
    """A one-criterion set for offices (SPEC 10)."""
    return {
        "set_id": set_id,
        "version": 1,
        "title": "Sec set",
        "kinds": ["office"],
        "criteria": [
            {
                "criterion_id": "c1",
                "text": "Masks",
                "options": [{"option_id": "yes", "text": "Yes", "points": 1}],
            }
        ],
        "bands": [{"min_percent": 0, "level": "green"}],
        "validity_days": 30,
    }


def _now_ms() -> int:
    return int(time.time() * 1000)


def build_call(world: World, key: tuple[str, str, str], allowed_caller: bool) -> Call:
    """A request that an allowed caller gets a 2xx for (fresh ids where a call creates or revokes)."""
    _, method, path = key
    window = {"from": _now_ms() - 3_600_000, "to": _now_ms()}
    new_id = f"sec-{uuid.uuid4().hex[:10]}"
    unit = {"unit_id": new_id, "name": "Sec unit", "parent_id": world.root, "level": "commune"}
    venue = {"venue_id": new_id, "name": "Sec venue", "kind": "cafe", "unit_id": world.child}
    scan = {
        "scan_id": str(uuid.uuid4()),
        "person_id": world.person,
        "qr": world.signer_sign(world.venue),
        "direction": "in",
        "scanned_at": _now_ms(),
    }
    declaration = {
        "declaration_id": str(uuid.uuid4()),
        "person_id": world.person,
        "declared_at": _now_ms(),
        "symptoms": [],
        "note": "",
    }
    calls: dict[tuple[str, str], Call] = {
        ("GET", "/healthz"): Call("GET", "/healthz"),
        ("GET", "/readyz"): Call("GET", "/readyz"),
        ("GET", "/metrics"): Call("GET", "/metrics"),
        ("POST", "/v1/devices"): Call("POST", "/v1/devices", json={"person_id": new_id}),
        ("POST", "/v1/scans"): Call("POST", "/v1/scans", json=scan),
        ("POST", "/v1/declarations"): Call("POST", "/v1/declarations", json=declaration),
        ("GET", "/v1/persons/{person_id}/visits"): Call(
            "GET", f"/v1/persons/{world.person}/visits", window
        ),
        ("GET", "/v1/persons/{person_id}/exposures"): Call(
            "GET", f"/v1/persons/{world.person}/exposures", window
        ),
        ("GET", "/v1/venues/{venue_id}/visits"): Call(
            "GET", f"/v1/venues/{world.venue}/visits", window
        ),
        ("GET", "/v1/venues/{venue_id}/occupancy"): Call(
            "GET", f"/v1/venues/{world.venue}/occupancy"
        ),
        ("POST", "/v1/cases"): Call(
            "POST",
            "/v1/cases",
            json={
                "person_id": world.person,
                "infectious_from": window["from"],
                "infectious_to": window["to"],
            },
        ),
        ("GET", "/v1/cases/{case_id}"): Call("GET", f"/v1/cases/{world.case_id}"),
        ("GET", "/v1/follow-ups"): Call("GET", "/v1/follow-ups", {"case_id": world.case_id}),
        ("GET", "/v1/clusters"): Call("GET", "/v1/clusters", window),
        ("POST", "/v1/units"): Call("POST", "/v1/units", json=unit),
        ("POST", "/v1/units/batch"): Call("POST", "/v1/units/batch", json=[unit]),
        ("GET", "/v1/units/{unit_id}"): Call("GET", f"/v1/units/{world.root}"),
        ("POST", "/v1/venues"): Call("POST", "/v1/venues", json=venue),
        ("POST", "/v1/venues/batch"): Call("POST", "/v1/venues/batch", json=[venue]),
        ("GET", "/v1/venues/{venue_id}"): Call("GET", f"/v1/venues/{world.venue}"),
        ("DELETE", "/v1/venues/{venue_id}"): Call(
            "DELETE", f"/v1/venues/{world.fresh_venue() if allowed_caller else world.venue}"
        ),
        ("GET", "/v1/venues/{venue_id}/qr.png"): Call("GET", f"/v1/venues/{world.venue}/qr.png"),
        ("GET", "/v1/venues/{venue_id}/qr.svg"): Call("GET", f"/v1/venues/{world.venue}/qr.svg"),
        ("GET", "/v1/units/{unit_id}/posters.zip"): Call(
            "GET", f"/v1/units/{world.child}/posters.zip"
        ),
        ("POST", "/v1/quarantines"): Call(
            "POST",
            "/v1/quarantines",
            json={
                "person_id": new_id,
                "unit_id": world.child,
                "from": world.today,
                "to": world.today,
            },
        ),
        ("GET", "/v1/compliance"): Call(
            "GET", "/v1/compliance", {"unit_id": world.root, "date": world.today}
        ),
        ("GET", "/v1/criteria"): Call("GET", "/v1/criteria"),
        ("GET", "/v1/criteria/{set_id}"): Call("GET", f"/v1/criteria/{world.criteria}"),
        ("POST", "/v1/criteria"): Call("POST", "/v1/criteria", json=criteria_set(new_id)),
        ("POST", "/v1/venues/{venue_id}/owner-token"): Call(
            "POST", f"/v1/venues/{world.venue}/owner-token"
        ),
        ("POST", "/v1/venues/{venue_id}/assessments"): Call(
            "POST",
            f"/v1/venues/{world.venue}/assessments",
            json={"set_id": world.criteria, "answers": {"c1": "yes"}},
        ),
        ("GET", "/v1/venues/{venue_id}/assessments"): Call(
            "GET", f"/v1/venues/{world.venue}/assessments"
        ),
        ("POST", "/v1/venues/{venue_id}/inspections"): Call(
            "POST", f"/v1/venues/{world.venue}/inspections", json={"result": "pass"}
        ),
        ("GET", "/v1/venues/{venue_id}/inspections"): Call(
            "GET", f"/v1/venues/{world.venue}/inspections"
        ),
        ("GET", "/v1/map/venues.geojson"): Call("GET", "/v1/map/venues.geojson"),
        ("GET", "/v1/compliance.csv"): Call(
            "GET",
            "/v1/compliance.csv",
            {"unit_id": world.root, "from": world.today, "to": world.today},
        ),
        ("POST", "/v1/staff"): Call("POST", "/v1/staff", json=staff_body(new_id)),
        ("GET", "/v1/staff"): Call("GET", "/v1/staff"),
        ("GET", "/v1/staff/{staff_id}"): Call("GET", f"/v1/staff/{world.staff}"),
        ("DELETE", "/v1/staff/{staff_id}"): Call(
            "DELETE", f"/v1/staff/{world.fresh_staff() if allowed_caller else world.staff}"
        ),
        ("POST", "/v1/sessions"): Call(
            "POST", "/v1/sessions", json={"staff_id": world.staff, "password": STAFF_PASSWORD}
        ),
    }
    return calls[(method, path)]


def caller_token(world: World, caller: str) -> str | None:
    secret = world.secret
    staff = {"sub": "forger", "role": "admin", "exp": int(time.time()) + 600}
    tokens: dict[str, Callable[[], str | None]] = {
        "none": lambda: None,
        "admin": lambda: world.admin,
        "epidemiologist": lambda: world.epi,
        "official": lambda: mint_staff_token(secret, "off-sec", "official", units=[world.root]),
        "operator": lambda: mint_staff_token(secret, "op-sec", "operator"),
        "device": lambda: mint_device_token(secret, "dev-sec", world.person),
        "venue": lambda: mint_venue_token(secret, world.venue),
        "expired": lambda: jwt.encode({**staff, "exp": int(time.time()) - 60}, secret, "HS256"),
        "wrong_secret": lambda: jwt.encode(staff, "another-secret-" + "z" * 30, "HS256"),
        "alg_none": lambda: jwt.encode(staff, "", algorithm="none"),
        "truncated": lambda: world.admin[:-6],
        "no_role": lambda: jwt.encode({"sub": "x", "exp": staff["exp"]}, secret, "HS256"),
        "unknown_role": lambda: jwt.encode({**staff, "role": "root"}, secret, "HS256"),
    }
    return tokens[caller]()


@pytest.fixture(scope="module")
def world(
    request: pytest.FixtureRequest, gateway_url: str, tracer_url: str, reporter_url: str
) -> World:
    stack = request.getfixturevalue("e2e_stack")
    admin, epi = stack.token("admin"), stack.token("epidemiologist")
    hexid = uuid.uuid4().hex[:8]
    root, child, venue = f"sec{hexid}-root", f"sec{hexid}-child", f"sec{hexid}-venue"
    with httpx.Client(
        base_url=reporter_url, headers={"authorization": f"Bearer {admin}"}, timeout=30
    ) as client:
        for body in (
            {"unit_id": root, "name": "Sec province", "parent_id": None, "level": "province"},
            {"unit_id": child, "name": "Sec district", "parent_id": root, "level": "district"},
        ):
            assert client.post("/v1/units", json=body).status_code == 201
        response = client.post(
            "/v1/venues",
            json={"venue_id": venue, "name": "Sec venue", "kind": "office", "unit_id": child},
        )
        assert response.status_code == 201, response.text
        staff = f"sec{hexid}-staff"
        assert client.post("/v1/staff", json=staff_body(staff)).status_code == 201
        response = client.post("/v1/criteria", json=criteria_set(f"sec{hexid}-set"))
        assert response.status_code == 201, response.text
    response = httpx.post(
        f"{tracer_url}/v1/cases",
        json={
            "person_id": f"sec{hexid}-p",
            "infectious_from": _now_ms() - 86_400_000,
            "infectious_to": _now_ms(),
        },
        headers={"authorization": f"Bearer {epi}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return World(
        secret=stack.auth_secret,
        admin=admin,
        epi=epi,
        signer_sign=stack.signer.sign,
        urls={"gateway": gateway_url, "tracer": tracer_url, "reporter": reporter_url},
        root=root,
        child=child,
        venue=venue,
        criteria=f"sec{hexid}-set",
        person=f"sec{hexid}-p",
        case_id=response.json()["case_id"],
        staff=staff,
    )


def expected_statuses(allowed: frozenset[str], caller: str) -> str:
    if allowed == PUBLIC:
        return "2xx"
    if caller == "none" or caller in FORGED:
        return "401"
    return "2xx" if caller in allowed else "403"


def _case_ids() -> list[Any]:
    cases = []
    for key in openapi_operations():
        for caller in (*CALLERS, *FORGED):
            cases.append(pytest.param(key, caller, id=f"{key[0]}-{key[1]}-{key[2]}-{caller}"))
    return cases


@pytest.mark.parametrize(("key", "caller"), _case_ids())
def test_role_matrix(world: World, key: tuple[str, str, str], caller: str) -> None:
    allowed = EXPECTED.get(key)
    assert allowed is not None, f"{key} is in the OpenAPI document but not in EXPECTED"
    want = expected_statuses(allowed, caller)
    call = build_call(world, key, allowed_caller=want == "2xx")
    token = caller_token(world, caller)
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    response = httpx.request(
        call.method,
        f"{world.urls[key[0]]}{call.path}",
        params=call.params,
        json=call.json,
        headers=headers,
        timeout=60,
    )
    if want == "2xx":
        assert 200 <= response.status_code < 300, (response.status_code, response.text[:300])
    else:
        assert response.status_code == int(want), (response.status_code, response.text[:300])
