"""Schemathesis against the API's own OpenAPI schema: generated requests (valid and invalid,
signed in as the regulator and as an enterprise) never get a server error, and every response
matches its documented status and schema."""

from __future__ import annotations

from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import ApiWorld
from tests.utils.compliance import ENTERPRISES

#: Server errors, and responses that do not match their documented statuses, types and schemas.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: Cases run per operation and caller; Counter of (caller, status) over the module.
CASES = 12
tally: Counter[tuple[str, int]] = Counter()


def _operations(world: ApiWorld) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    # signing out would end the session the other cases use, and the market's event stream never
    # ends (a generated request would wait on it forever); both have their own tests
    return [op for op in operations if op.path not in ("/auth/logout", "/market/stream")]


def test_api_gives_no_server_error_for_generated_requests(world: ApiWorld) -> None:
    sessions = {"regulator": world.sign_in(world.c.regulator), "enterprise": world.sign_in(ENTERPRISES[0])}
    operations = _operations(world)
    assert len(operations) >= 35, [f"{op.method} {op.path}" for op in operations]
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: schemathesis.Case) -> None:
            for caller, headers in sessions.items():
                response = case.call(headers=headers)
                tally[(caller, response.status_code)] += 1
                shown = f"{case.method} {case.formatted_path} as {caller}: {response.status_code}"
                assert response.status_code < 500, f"{shown} {response.text[:500]}"
                case.validate_response(response, checks=CHECKS)

        run()


def test_api_fuzz_report(world: ApiWorld) -> None:
    """Runs after the fuzzing (same module): prints how many cases ran and their statuses."""
    total = sum(tally.values())
    by_status = Counter[int]()
    for (_, status), n in tally.items():
        by_status[status] += n
    print(f"\nschemathesis: {total} requests, statuses {dict(sorted(by_status.items()))}")
    assert total > 0
    assert all(status < 500 for status in by_status)
