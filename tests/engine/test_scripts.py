"""The script sandbox: allowed code runs, escapes are refused before running, loops are bounded."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from engine.errors import ScriptError
from engine.core.scripts import RestrictedEnvironment, check_source, date_helpers

ESCAPES = [
    "__import__('os').system('id')",
    "().__class__.__bases__[0].__subclasses__()",
    "open('/etc/passwd').read()",
    "import os",
    "from os import path",
    "eval('1+1')",
    "exec('x=1')",
    "compile('1', 'x', 'eval')",
    "globals()",
    "getattr(x, 'y')",
    "type(x)",
    "x = 10 ** 100000",
    "lambda: 1",
    "class A: pass",
    "x._secret",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_escapes_are_refused_with_a_line(source):
    problems = check_source(source)
    assert problems and all(p.startswith("line ") for p in problems)
    with pytest.raises(ScriptError):
        RestrictedEnvironment({}).execute(source, {"x": 1})


def test_allowed_code_updates_the_data():
    env = RestrictedEnvironment({})
    data = {"findings": [{"kind": "即知即改"}, {"kind": "违反党的纪律"}, {"kind": "无"}]}
    env.execute("serious = [f for f in findings if f['kind'] == '违反党的纪律']\n"
                "count = len(serious)\nsummary = {'total': len(findings), 'serious': count}\n"
                "del serious", data)
    assert data["count"] == 1 and data["summary"] == {"total": 3, "serious": 1} and "serious" not in data
    assert env.evaluate("count > 0 and summary['total'] == 3", data) is True


def test_time_bound():
    env = RestrictedEnvironment({}, timeout_s=0.2)
    with pytest.raises(ScriptError, match="time bound"):
        env.execute("while True:\n    pass", {})
    with pytest.raises(ScriptError, match="100,000"):
        env.execute("x = list(range(10000000))", {})


def test_undefined_variable_names_it():
    with pytest.raises(ScriptError, match="severity"):
        RestrictedEnvironment({}).evaluate("severity == 'major'", {})


def test_date_helpers_use_the_clock_and_zone():
    now = datetime(2027, 1, 31, 17, 0, tzinfo=timezone.utc)  # already Feb 1st in Shanghai
    h = date_helpers(lambda: now, ZoneInfo("Asia/Shanghai"))
    assert h["today"]() == "2027-02-01"
    assert h["month_end"]() == "2027-02-28"
    assert h["add_months"]("2027-01-31", 1) == "2027-02-28"
    assert h["quarter_of"]("2027-05-05") == 2
    assert h["quarter_end"]("2027-05-05") == "2027-06-30"
    assert h["previous_quarter"]("2027-02-01") == {"year": 2026, "quarter": 4}
    assert h["days_between"]("2027-01-01", "2027-03-01") == 59


def test_time_in_helpers_does_not_count_against_the_bound():
    """A loop that saves a record per unit on a slow database is legitimate work; the bound
    is for the script's own computation. A loop that only calls helpers still ends."""
    import time as _time

    calls: list[int] = []

    def slow_save(n: int) -> None:  # stands in for save_record on a busy database
        _time.sleep(0.02)
        calls.append(n)

    env = RestrictedEnvironment({"slow_save": slow_save}, timeout_s=0.05)
    data: dict = {}
    env.execute("for i in range(10):\n    slow_save(i)\ndone = len(range(10))", data)
    assert calls == list(range(10)) and data["done"] == 10  # 0.2 s in the helper, bound 0.05 s

    env = RestrictedEnvironment({"slow_save": slow_save}, timeout_s=0.01)
    with pytest.raises(ScriptError, match="time bound"):
        env.execute("while True:\n    slow_save(0)", {})  # ends at the wall bound (30 × 0.01 s)
