"""Which names a script or expression calls, reads and writes, found with Python's ast.

The deploy check (engine/core/deploy_checks.py) compares them with what the script
environment offers (the sandbox's builtins and the helpers of engine/core/script_helpers.py,
listed here as names so that deploy needs no database) and with the variables the steps of
the process write. Nothing is run: this only reads the source.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from datetime import UTC, datetime

from engine.core import ast_guard
from engine.core.scripts import _SAFE, date_helpers

# The names a script may use besides the task data: keep in step with
# engine/core/script_helpers.py and engine/platform/study.py (tests/engine/test_deploy_checks.py
# compares these sets with the helpers a running instance gets).
BUILTINS = frozenset(_SAFE)
DATE_HELPERS = frozenset(date_helpers(lambda: datetime.now(UTC), UTC))
ORG_HELPERS = frozenset(
    {"org_units", "org_branches", "org_name", "unit_of", "group_id", "org_people", "committee_members"}
)
RECORD_HELPERS = frozenset({"save_record", "find_records", "update_record", "get_record", "instance_id", "urge_open"})
PLATFORM_HELPERS = frozenset({"org_inspectors", "study_rates", "month_of"})
MEETING_HELPERS = frozenset({"unit_meetings"})  # engine/platform/meetings/rules.py
ZONE_HELPERS = frozenset({"zone_info", "record_zone_activity"})  # engine/platform/meetings/zones.py
HELPERS = DATE_HELPERS | ORG_HELPERS | RECORD_HELPERS | PLATFORM_HELPERS | MEETING_HELPERS | ZONE_HELPERS
AVAILABLE = BUILTINS | HELPERS

# Handlers that make a read inside `try:` a deliberate test for a missing variable.
_GUARDING = {"Exception", "NameError", "KeyError", "BaseException"}


@dataclass
class Names:
    """What one source does with names: `calls` / `reads` map a name to its first line."""

    calls: dict[str, int] = field(default_factory=dict)  # f(...) on a bare name the script does not define
    reads: dict[str, int] = field(default_factory=dict)  # read before the script sets it (outside a guarding try)
    writes: set[str] = field(default_factory=set)  # set at the script's top level (become task data)

    def unknown_calls(self) -> dict[str, int]:
        """Calls of names that are neither a builtin, a helper nor defined by the script."""
        return {n: line for n, line in self.calls.items() if n not in AVAILABLE and n not in self.writes}

    def free_reads(self) -> dict[str, int]:
        """Reads of names that must come from the task data."""
        return {n: line for n, line in self.reads.items() if n not in AVAILABLE}


class _Flow(ast.NodeVisitor):
    """Statements in order: a read counts when no earlier statement of the script set the name."""

    def __init__(self) -> None:
        self.out = Names()
        self.assigned: set[str] = set()
        self.scopes: list[set[str]] = []  # comprehension and function scopes
        self.guarded = 0

    def _known(self, name: str) -> bool:
        return name in self.assigned or any(name in s for s in self.scopes)

    def _read(self, name: str, line: int) -> None:
        if not self._known(name) and not self.guarded:
            self.out.reads.setdefault(name, line)

    def _bind(self, name: str) -> None:
        if self.scopes:
            self.scopes[-1].add(name)
        else:
            self.assigned.add(name)
            self.out.writes.add(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._read(node.id, node.lineno)
        else:
            self._bind(node.id)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and not self._known(node.func.id):
            self.out.calls.setdefault(node.func.id, node.lineno)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self.visit(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self._read(node.target.id, node.lineno)
        self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.visit(node.target)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        for stmt in node.body + node.orelse:
            self.visit(stmt)

    def visit_Try(self, node: ast.Try) -> None:
        guarding = any(
            h.type is None or any(isinstance(n, ast.Name) and n.id in _GUARDING for n in ast.walk(h.type))
            for h in node.handlers
        )
        self.guarded += guarding
        for stmt in node.body:
            self.visit(stmt)
        self.guarded -= guarding
        for handler in node.handlers:
            if handler.name:
                self._bind(handler.name)
            for stmt in handler.body:
                self.visit(stmt)
        for stmt in node.orelse + node.finalbody:
            self.visit(stmt)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(default)
        self._bind(node.name)
        args = node.args
        self.scopes.append({a.arg for a in args.posonlyargs + args.args + args.kwonlyargs})
        if args.vararg:
            self.scopes[-1].add(args.vararg.arg)
        if args.kwarg:
            self.scopes[-1].add(args.kwarg.arg)
        self.scopes[-1].add(node.name)
        for stmt in node.body:
            self.visit(stmt)
        self.scopes.pop()

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        self.scopes.append(set())
        for gen in node.generators:
            self.visit(gen.iter)
            self.visit(gen.target)
            for cond in gen.ifs:
                self.visit(cond)
        if isinstance(node, ast.DictComp):
            self.visit(node.key)
            self.visit(node.value)
        else:
            self.visit(node.elt)
        self.scopes.pop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension


def names(source: str, mode: str = "exec") -> Names | None:
    """The names of `source`; None when it does not parse (the sandbox check reports that)."""
    try:
        tree = ast_guard.parse(source, "<bpmn-script>", mode)
    except SyntaxError:
        return None
    flow = _Flow()
    flow.visit(tree)
    return flow.out
