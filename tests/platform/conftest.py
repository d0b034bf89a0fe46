"""Platform tests: scripts here call helpers that query the database (org_inspectors,
study_rates, find_records); the sandbox bounds a script's wall time including those calls,
so on a heavily loaded test machine the default 1 s bound could turn a correct run into an
incident. The bound is raised for these tests only."""
from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def settings(settings: Any) -> Any:
    return settings.with_(script_timeout_ms=10_000)
