"""schemathesis against each running service's OpenAPI document, with tokens of the right role.

Checks: no 5xx (`not_a_server_error`), responses match their documented schemas and content
types. Bounded: a few examples per operation, so the services take a couple of minutes. The
hypothesis profile of tests/conftest.py applies (derandomized in CI). Statuses per operation are
recorded as figures in tests/chaos/results/schemathesis.json.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from scantrace_common.auth import mint_device_token

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MAX_EXAMPLES = 30
RESULTS = Path(__file__).parents[1] / "chaos" / "results" / "schemathesis.json"
#: Operations whose 2xx does real, slow work per example (posters render a PNG per venue).
SKIP = {("reporter", "GET", "/v1/units/{unit_id}/posters.zip")}


def role_token(request: pytest.FixtureRequest, service: str) -> str:
    stack = request.getfixturevalue("e2e_stack")
    if service == "gateway":
        return mint_device_token(stack.auth_secret, "dev-fuzz", "fuzz-person")
    role = "epidemiologist" if service == "tracer" else "admin"
    token: str = stack.token(role, sub=f"{role}-fuzz")
    return token


#: The four OpenAPI documents of SPEC section 1.
@pytest.mark.parametrize("service", ["gateway", "tracer", "reporter", "console"])
def test_openapi_fuzzing_finds_no_server_error(
    request: pytest.FixtureRequest, service: str
) -> None:
    url: str = request.getfixturevalue(f"{service}_url")
    headers = {"authorization": f"Bearer {role_token(request, service)}"}
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    failures: list[str] = []
    bodiless: set[str] = set()
    started = time.monotonic()

    # The console's operations are HTML pages and forms (CSRF-protected) whose documents FastAPI
    # declares as JSON: only "no server error" is checked there.
    checks: list[Any] = [not_a_server_error]
    if service != "console":
        checks += [response_schema_conformance, content_type_conformance]

    def exercise(operation: Any, name: str) -> None:
        @given(case=operation.as_strategy())
        # derandomize, database and deadline come from the loaded profile (tests/conftest.py):
        # derandomized in CI, so a red run replays the same requests.
        @settings(max_examples=MAX_EXAMPLES, suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            if "requestBody" in operation.definition.raw and case.media_type is None:
                bodiless.add(name)  # the document's body schema could not be generated
            response = case.call(base_url=url, headers=headers, timeout=60)
            statuses[name][response.status_code] += 1
            try:
                case.validate_response(response, checks=checks)
            except Exception as exc:  # collected: one report for the whole service
                failures.append(f"{name}: {type(exc).__name__}: {str(exc)[:400]}")

        run()

    for result in schema.get_all_operations():
        operation = cast(Any, result).ok()
        key = (service, operation.method.upper(), operation.path)
        if key in SKIP or operation.path in ("/metrics", "/healthz", "/readyz"):
            continue

        exercise(operation, f"{key[1]} {key[2]}")
    figures: dict[str, Any] = {}
    if RESULTS.exists():
        figures = json.loads(RESULTS.read_text())
    figures[service] = {
        "max_examples_per_operation": MAX_EXAMPLES,
        "seconds": round(time.monotonic() - started, 1),
        "statuses": {op: dict(sorted(c.items())) for op, c in sorted(statuses.items())},
        "failures": failures[:20],
        "request_bodies_not_generated": sorted(bodiless),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    assert not failures, "\n".join(failures)
