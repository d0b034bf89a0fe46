"""The built-in fan-out procedures with every fan-out asynchronous (issue 20): the requests that
reach a call activity return before its children exist, the scheduler's worker starts them
(the scenario drives it before it reads the work lists), and the procedures end as they do with
the children started inside the request."""
from __future__ import annotations

import pytest

from tests.procedures.test_monthly_report import test_monthly_cycle_every_finding_kind  # noqa: F401
from tests.procedures.test_quarterly_tasks import test_regular_quarter_end_to_end  # noqa: F401


@pytest.fixture
def settings(settings):
    """Every fan-out of at least one child continues asynchronously, two children a batch."""
    return settings.with_(async_mode="worker", async_fanout_threshold=0, async_batch=2)
