"""Schemathesis against /api/v1/openapi.json, as the admin, a branch commissioner, a unit
committee member and a group committee member.

Every documented operation (the test checks that none is left out) gets generated requests:
valid ones, whose responses must be < 500 and conform to the document (status code, content
type, headers, body schema), with authentication enforced where the document says so (not
"valid data is accepted": the document does not state every rule the server checks, such as
a linkage report's period or a page beyond 2**31, and such a 422 is not a defect); and
invalid ones (negative mode: wrong types, out-of-range values, missing fields), whose responses
must never be a 5xx. Bounded and repeatable: a fixed number of examples per operation and mode,
derandomized, no example database. It is marked slow but runs in `make test` (nothing deselects
it); SANJI_SCHEMATHESIS_EXAMPLES raises the bound for a longer local run.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, positive_data_acceptance
from sqlalchemy import select

from api.extensions import state
from engine.infra.db import write_intent
from engine.models import User
from engine.org.auth import issue_token
from tests.conftest import BPMN

EXAMPLES = int(os.environ.get("SANJI_SCHEMATHESIS_EXAMPLES", "12"))
NEGATIVE_EXAMPLES = max(1, EXAMPLES // 3)
METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}
# the admin; a branch commissioner; a unit committee (another unit's data must stay 404); the group committee
# admin runs on every database (PostgreSQL refuses what SQLite takes, e.g. NUL in text); the other
# roles fuzz the same endpoints through the same policy, so .ci/run runs them in the SQLite pass only
USERS = [
    "admin",
    pytest.param("xinsheng_laogan", marks=pytest.mark.once),
    pytest.param("xuchang_secretary", marks=pytest.mark.once),
    pytest.param("group_secretary", marks=pytest.mark.once),
]


def scenario(api) -> None:
    assert api.deploy(BPMN / "three_tier.bpmn").status_code == 201
    for unit in ("xinsheng", "xuchang"):
        r = api.post("/api/v1/process-definitions/three_tier/start", "group_secretary",
                     json={"variables": {"unit_id": unit}})
        assert r.status_code == 201


def describe(exc: BaseException) -> str:
    """The failure with the sub-failures of a group (Hypothesis' FlakyFailure hides them)."""
    return f"{type(exc).__name__}: {exc}" + "".join(
        "\n  - " + describe(sub).replace("\n", "\n    ") for sub in getattr(exc, "exceptions", ()))


def fresh_token(app, username: str) -> str:
    """A bearer token without a password login (an argon2 verification per logout example)."""
    st = state(app)
    with write_intent(), st.sessions() as s:
        token = issue_token(s, s.scalars(select(User).where(User.username == username)).one(), st.clock.now(), 1)
        s.commit()
    return token


@pytest.mark.slow
@pytest.mark.parametrize("user", USERS)
def test_api_conforms_to_its_openapi_document(app, api, user):
    scenario(api)
    token = api.token(user)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    documented = {(m.upper(), path) for path, item in document["paths"].items() for m in item if m in METHODS}
    assert {(op.method.upper(), op.path) for op in operations} == documented
    began = time.monotonic()
    failures: list[str] = []
    calls: dict[str, int] = {}
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        for mode, examples in ((GenerationMode.POSITIVE, EXAMPLES), (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)):

            @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case) -> None:  # type: ignore[no-untyped-def]
                # logout revokes the token it is called with: a fresh one each time (not the run's)
                bearer = fresh_token(app, user) if operation.path == "/api/v1/auth/logout" else token
                # headers given here count as the run's explicit credentials: the auth checks then also
                # replay each successful request without them and with invalid ones, expecting 401.
                # Invalid data must never make a 5xx (what it makes otherwise is the positive run's business).
                headers = {"Authorization": f"Bearer {bearer}"}
                if mode is GenerationMode.POSITIVE:
                    case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
                else:
                    case.call_and_validate(headers=headers, checks=[not_a_server_error])
                calls[label] = calls.get(label, 0) + 1

            try:
                check()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, label  # nothing to get wrong (no parameters, no body)
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{label} ({mode.value}): {describe(exc)[:3000]}")
    elapsed = time.monotonic() - began
    print(f"schemathesis as {user}: {len(operations)} operations, {sum(calls.values())} calls, {elapsed:.0f} s")
    if failures:
        (Path(os.environ.get("SANJI_ST_REPORT", "/tmp")) / f"schemathesis-{user}.txt").write_text("\n\n".join(failures))
    assert not failures, "\n\n".join(failures)
    assert sorted(f"{op.method.upper()} {op.path}" for op in operations if not calls.get(f"{op.method.upper()} {op.path}")) == []
