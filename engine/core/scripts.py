"""The restricted environment that BPMN scripts, conditions and expressions run in.

RestrictedPython compiles the source (no names or attributes starting with `_`, guarded
attribute and item access); on top of that we refuse imports and a list of dangerous
names at deploy time, allow only a small set of builtins and Sanji helpers, and bound
each run with a line tracer: in time (its own, and the request's engine deadline) and in
memory (engine/core/script_limits.py). A violation raises `ScriptError`, which the runtime turns
into an incident.
"""

from __future__ import annotations

import ast
import sys
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from functools import lru_cache
from types import CodeType, FrameType, FunctionType, MethodType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.core import ast_guard, calendar, script_limits
from engine.core.bounds import Deadline
from engine.errors import ScriptError

SCRIPT_FILENAME = "<bpmn-script>"
FORBIDDEN_NAMES = frozenset(
    {
        "open",
        "eval",
        "exec",
        "compile",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "input",
        "breakpoint",
        "help",
        "memoryview",
        "type",
        "object",
        "super",
        "classmethod",
        "staticmethod",
        "property",
        "exit",
        "quit",
        "dir",
        "print",
    }
)
MAX_INT_LITERAL = 10**9

_SAFE = {
    "None": None,
    "True": True,
    "False": False,
    "abs": abs,
    "all": all,
    "any": any,
    "bool": bool,
    "dict": dict,
    "divmod": divmod,
    "enumerate": enumerate,
    "filter": filter,
    "float": float,
    "int": int,
    "isinstance": isinstance,
    "len": len,
    "list": list,
    "map": map,
    "max": max,
    "min": min,
    "reversed": reversed,
    "round": round,
    "set": set,
    "sorted": sorted,
    "str": str,
    "sum": sum,
    "tuple": tuple,
    "zip": zip,
    "range": lambda *a: _range(*a),
    "ValueError": ValueError,
    "KeyError": KeyError,
    "TypeError": TypeError,
    "Exception": Exception,
}


def _range(*args: int) -> range:
    r = range(*args)
    if len(r) > 100_000:
        raise ScriptError("range() in scripts is limited to 100,000 items")
    return r


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    ops: dict[str, Callable[[Any, Any], Any]] = {
        "+=": lambda a, b: a + b,
        "-=": lambda a, b: a - b,
        "*=": script_limits.guarded_mul,
        "/=": lambda a, b: a / b,
        "//=": lambda a, b: a // b,
        "%=": lambda a, b: a % b,
        "|=": lambda a, b: a | b,
        "&=": lambda a, b: a & b,
    }
    if op not in ops:
        raise ScriptError("operator {op} is not allowed in scripts", op=op)
    return ops[op](x, y)


GUARDS: dict[str, Any] = {
    "__builtins__": _SAFE,
    "_getitem_": lambda obj, key: obj[key],
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_apply_": lambda f, *a, **kw: f(*a, **kw),
    **script_limits.GUARDS,  # _getattr_, _mul_, _mod_: memory bounds on one-line amplifiers
}


class _Checker(ast.NodeVisitor):
    """Sanji's own rules on top of RestrictedPython's: reported at deploy with line numbers."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def visit_Import(self, node: ast.Import) -> None:
        self.errors.append(f"line {node.lineno}: import is not allowed in scripts")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.errors.append(f"line {node.lineno}: import is not allowed in scripts")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES or node.id.startswith("_"):
            self.errors.append(f"line {node.lineno}: name {node.id!r} is not allowed in scripts")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_"):
            self.errors.append(f"line {node.lineno}: attribute {node.attr!r} is not allowed in scripts")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, int) and not isinstance(node.value, bool) and abs(node.value) > MAX_INT_LITERAL:
            self.errors.append(f"line {node.lineno}: integer literal too large")
        if isinstance(node.value, (str, bytes)) and len(node.value) > 100_000:
            self.errors.append(f"line {node.lineno}: string literal too large")

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, (ast.Pow, ast.LShift)):
            self.errors.append(f"line {node.lineno}: operator ** and << are not allowed in scripts")
        self.generic_visit(node)

    def _no_defs(self, node: ast.AST) -> None:
        self.errors.append(f"line {getattr(node, 'lineno', 0)}: {type(node).__name__} is not allowed in scripts")

    visit_ClassDef = visit_AsyncFunctionDef = visit_Global = visit_Nonlocal = _no_defs
    visit_Lambda = visit_Yield = visit_YieldFrom = visit_Await = _no_defs


def check_source(source: str, mode: str = "exec") -> list[str]:
    """All rule violations in `source`; empty when it may run. Used at deploy and run time."""
    try:
        tree = ast_guard.parse(source, SCRIPT_FILENAME, mode)
    except SyntaxError as exc:
        return [f"line {exc.lineno}: syntax error: {exc.msg}"]
    checker = _Checker()
    checker.visit(tree)
    if checker.errors:
        return checker.errors
    return list(_restricted(source, mode).errors)


def _restricted(source: str, mode: str) -> Any:
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    with ast_guard.LOCK:  # RestrictedPython parses and compiles an AST
        return compiler(source, SCRIPT_FILENAME, policy=script_limits.BoundedPolicy)


@lru_cache(maxsize=2048)
def _compile(source: str, mode: str) -> CodeType:
    errors = check_source(source, mode)
    if errors:
        raise ScriptError(
            "script refused: {errors}", {"source": source[:500], "errors": errors}, errors="; ".join(errors)
        )
    code: CodeType = _restricted(source, mode).code
    return code


class ScriptTimeout(ScriptError):
    pass


class _Budget:
    """Time a script run has spent inside our helpers (database reads and writes), which the
    script's own time bound does not count: a loop over 50 units that saves a record for each
    must not fail on a busy database, while a runaway loop of the script's own still stops."""

    def __init__(self) -> None:
        self.in_helpers = 0.0
        self.depth = 0


_BUDGET: ContextVar[_Budget | None] = ContextVar("sanji_script_budget", default=None)

# A run that spends nearly all its time in helpers (`while True: org_units()`) still ends:
# its wall time is bounded at this many times the script's own bound.
WALL_FACTOR = 30
MEMORY_CHECK_INTERVAL = 0.001  # seconds between two readings of a script run's memory


def _metered(helper: Callable[..., Any]) -> Callable[..., Any]:
    """`helper`, its time counted as the helpers' (≈ 25 per script run are wrapped, so the name
    and doc are copied by hand: functools.wraps cost more than the rest of the wrapping)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get()
        if budget is None or budget.depth:
            return helper(*args, **kwargs)
        budget.depth += 1
        started = time.monotonic()
        try:
            return helper(*args, **kwargs)
        finally:
            budget.depth -= 1
            budget.in_helpers += time.monotonic() - started

    call.__name__ = call.__qualname__ = getattr(helper, "__name__", "helper")
    call.__doc__ = helper.__doc__
    call.__wrapped__ = helper  # type: ignore[attr-defined]
    return call


def _run_bounded(
    code: CodeType, scope: dict[str, Any], timeout_s: float, max_bytes: int, deadline: Deadline | None = None
) -> Any:
    started = time.monotonic()
    wall_deadline = started + timeout_s * WALL_FACTOR
    # the request's engine deadline counts the helpers' time too (SANJI_ENGINE_MAX_SECONDS)
    engine_deadline = deadline.at if deadline is not None and deadline.at is not None else wall_deadline
    budget = _Budget()
    meter = script_limits.Meter(max_bytes)
    next_memory_check = started + MEMORY_CHECK_INTERVAL

    def local_trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal next_memory_check
        now = time.monotonic()
        if now - started - budget.in_helpers > timeout_s or now > wall_deadline:
            raise ScriptTimeout("script exceeded its time bound of {timeout_s:.3g} s", timeout_s=timeout_s)
        if now > engine_deadline:
            raise deadline.exceeded()  # type: ignore[union-attr]
        if now >= next_memory_check:  # a system call: once a millisecond (≈10 MB of memset)
            if meter.over():
                raise meter.error()
            next_memory_check = now + MEMORY_CHECK_INTERVAL
        return local_trace

    def global_trace(frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename == SCRIPT_FILENAME:
            return local_trace(frame, event, arg)
        return None

    previous = sys.gettrace()
    token = _BUDGET.set(budget)
    with meter:
        sys.settrace(global_trace)
        try:
            return eval(code, scope)
        finally:
            sys.settrace(previous)
            _BUDGET.reset(token)


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow environment that evaluates through the sandbox with our helpers."""

    def __init__(
        self,
        helpers: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
        timeout_s: float = 1.0,
        max_bytes: int = script_limits.DEFAULT_MAX_BYTES,
        deadline: Deadline | None = None,
    ) -> None:
        super().__init__()
        # A callable is called when a script first runs: most steps of most instances run none,
        # and building the helpers (closures over the session and instance, metered) costs.
        self._helpers = helpers
        self._globals: dict[str, Any] | None = None
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes  # SANJI_SCRIPT_MAX_MB
        self.deadline = deadline  # the runtime's engine deadline, if any

    @property
    def globals(self) -> dict[str, Any]:
        if self._globals is None:
            helpers = self._helpers() if callable(self._helpers) else self._helpers
            self._globals = {
                k: _metered(v) if isinstance(v, (FunctionType, MethodType)) else v for k, v in helpers.items()
            }
        return self._globals

    @globals.setter
    def globals(self, value: dict[str, Any]) -> None:
        self._globals = value or None

    def _scope(self, context: Mapping[str, Any], external: Mapping[str, Any] | None) -> dict[str, Any]:
        scope = dict(GUARDS)
        scope.update(self.globals)
        if external:
            scope.update(external)
        scope.update(context)
        return scope

    def evaluate(self, expression: str, context: dict[str, Any], external_context: Any = None) -> Any:
        code = _compile(expression.strip(), "eval")
        try:
            return _run_bounded(
                code, self._scope(context, external_context), self.timeout_s, self.max_bytes, self.deadline
            )
        except ScriptError:
            raise
        except NameError as exc:
            # Conditions often test variables a branch did not set: say which one.
            raise ScriptError("expression {expression!r}: {exc}", expression=expression.strip(), exc=exc) from exc

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        code = _compile(script, "exec")
        scope = self._scope(context, external_context)
        _run_bounded(code, scope, self.timeout_s, self.max_bytes, self.deadline)
        reserved = set(GUARDS) | set(self.globals) | set(external_context or {})
        result = {k: v for k, v in scope.items() if k not in reserved and not k.startswith("_") and not callable(v)}
        context.clear()
        context.update(result)
        return True

    def call_service(self, context: Any, **kwargs: Any) -> Any:
        raise ScriptError("service tasks are not supported")


class SanjiScriptEngine(PythonScriptEngine):
    """Script engine carrying the clock and time zone, which our timer specs read."""

    def __init__(
        self,
        environment: RestrictedEnvironment,
        now: Callable[[], datetime],
        zone: Any,
        max_branches: int | None = None,
        timer_min_seconds: float = 0.0,
    ) -> None:
        super().__init__(environment)
        self.now = now
        self.zone = zone
        self.max_branches = max_branches  # SANJI_MAX_BRANCHES, read by multi-instance tasks (spiff.py)
        self.timer_min_seconds = timer_min_seconds  # SANJI_TIMER_MIN_SECONDS, read by computed timers

    def validate(self, expression: str) -> None:
        errors = check_source(expression, "eval")
        if errors:
            raise ScriptError("{errors}", errors="; ".join(errors))


# ---- helpers available to every script -------------------------------------------------


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def date_helpers(now: Callable[[], datetime], zone: Any) -> dict[str, Callable[..., Any]]:
    """Calendar helpers: they take and return ISO strings so task data stays JSON."""

    def local_now() -> datetime:
        return now().astimezone(zone)

    def today() -> str:
        return local_now().date().isoformat()

    def now_iso() -> str:
        return local_now().isoformat(timespec="seconds")

    def add_days(d: Any, n: int) -> str:
        return (_as_date(d) + timedelta(days=int(n))).isoformat()

    def add_months(d: Any, n: int) -> str:
        return calendar.add_months(_as_date(d), int(n)).isoformat()

    def month_start(d: Any = None) -> str:
        return calendar.month_start(_as_date(d or today())).isoformat()

    def month_end(d: Any = None) -> str:
        return calendar.month_end(_as_date(d or today())).isoformat()

    def quarter_of(d: Any = None) -> int:
        return calendar.quarter_of(_as_date(d or today()))

    def year_of(d: Any = None) -> int:
        return _as_date(d or today()).year

    def quarter_start(d: Any = None) -> str:
        return calendar.quarter_start(_as_date(d or today())).isoformat()

    def quarter_end(d: Any = None) -> str:
        return calendar.quarter_end(_as_date(d or today())).isoformat()

    def previous_quarter(d: Any = None) -> dict[str, int]:
        x = _as_date(d or today())
        year, quarter = calendar.previous_quarter(x.year, calendar.quarter_of(x))
        return {"year": year, "quarter": quarter}

    def days_between(a: Any, b: Any) -> int:
        return (_as_date(b) - _as_date(a)).days

    return {
        "today": today,
        "now_iso": now_iso,
        "add_days": add_days,
        "add_months": add_months,
        "month_start": month_start,
        "month_end": month_end,
        "quarter_of": quarter_of,
        "year_of": year_of,
        "quarter_start": quarter_start,
        "quarter_end": quarter_end,
        "previous_quarter": previous_quarter,
        "days_between": days_between,
    }
