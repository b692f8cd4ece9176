"""The OpenAPI document checked by schemathesis against a running server: every operation, with
generated valid and invalid input, over a seeded store and an admin key, answers without a
server error (5xx) and, when it succeeds, with a body matching its documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from .erp_stub import StubErp, StubRealTime


@pytest.fixture
def running(start_api):
    erp = StubErp()
    erp.prices[("DRILL-1", "C100")] = "77.00"
    erp.customers["C100"] = {"number": "C100", "name": "Acme GmbH"}
    erp.documents[("invoice", "INV-1")] = b"%PDF-1.4 invoice"
    yield start_api(erp=StubRealTime(erp.url))
    erp.stop()


def test_no_server_errors(running):
    # One hypothesis run per operation, inside one test: schemathesis' lazy pytest schemas
    # (from_fixture) do not run under this pytest; the failures of all operations are reported together.
    schema = schemathesis.openapi.from_url(f"{running.url}/openapi.json")
    headers = {"Authorization": f"Bearer {running.keys['admin']}"}
    failures, checked = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        checked.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collected, reported below
            failures.append(f"{operation.label}: {exc}")
    assert len(checked) >= 15, checked
    assert not failures, "\n\n".join(failures)
