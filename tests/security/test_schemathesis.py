"""Schemathesis against /api/v1/openapi.json, as the admin and as a branch commissioner.

Every documented operation gets generated requests (valid and invalid); every response must
be < 500 and conform to the document (status code, content type, headers, body schema), and
authentication must be enforced where the document says so. Bounded and repeatable: a fixed
number of examples per operation, derandomized, no example database.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import BPMN

EXAMPLES = int(os.environ.get("SANJI_SCHEMATHESIS_EXAMPLES", "12"))


def scenario(api) -> None:
    assert api.deploy(BPMN / "three_tier.bpmn").status_code == 201
    for unit in ("xinsheng", "xuchang"):
        r = api.post("/api/v1/process-definitions/three_tier/start", "group_secretary",
                     json={"variables": {"unit_id": unit}})
        assert r.status_code == 201


@pytest.mark.slow
@pytest.mark.parametrize("user", ["admin", "xinsheng_laogan"])
def test_api_conforms_to_its_openapi_document(app, api, user):
    scenario(api)
    token = api.token(user)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    began = time.monotonic()
    failures: list[str] = []
    calls = 0
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case) -> None:  # type: ignore[no-untyped-def]
            nonlocal calls
            bearer = token
            if operation.path == "/api/v1/auth/logout":  # do not revoke the token the run uses
                api.tokens.pop("_throwaway", None)
                bearer = api.token(user)
                api.tokens.pop(user)
            # headers given here count as the run's explicit credentials: the auth checks then also
            # replay each successful request without them and with invalid ones, expecting 401
            case.call_and_validate(headers={"Authorization": f"Bearer {bearer}"})
            calls += 1

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect every operation's failure, then report all
            failures.append(f"{label}: {type(exc).__name__}: {str(exc)[:1500]}")
    elapsed = time.monotonic() - began
    print(f"schemathesis as {user}: {len(operations)} operations, {calls} calls, {elapsed:.0f} s")
    if failures:
        (Path(os.environ.get("SANJI_ST_REPORT", "/tmp")) / f"schemathesis-{user}.txt").write_text("\n\n".join(failures))
    assert not failures, "\n\n".join(failures)
