"""The message templates of engine errors, found in the source (for the catalog and its test).

An error's template is a string literal at the place it is raised (engine/errors.py):

    raise Invalid("unknown users: {names}", names=...)        # error classes: 1st argument
    raise Invalid.on("attendees", "unknown users: {names}", names=...)   # .on: 2nd argument
    field_error("day", "cannot be in the future")             # a details entry: 2nd argument
    Msg("the record kind must be a non-empty string")         # a nested message: 1st argument

`scan()` returns every such literal (python -m api.i18n update adds them to the catalog) and
every site whose template is not a literal, or whose details entry is a hand-made
`{"field", "message"}` dict (the catalog could not know either).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = "SanjiError"


@dataclass
class Scan:
    templates: list[tuple[str, str, int]] = field(default_factory=list)  # (template, file, line)
    problems: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, what)


def sources(root: Path = ROOT) -> list[Path]:
    return sorted([*(root / "engine").rglob("*.py"), *(root / "api").rglob("*.py"), root / "app.py"])


def _name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def error_classes(trees: dict[str, ast.Module]) -> set[str]:
    """SanjiError and every class deriving from it (by name, over all files)."""
    names = {BASE}
    grown = True
    while grown:
        grown = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.ClassDef)
                    and node.name not in names
                    and any(_name(b) in names for b in node.bases)
                ):
                    names.add(node.name)
                    grown = True
    return names


def _template_arg(call: ast.Call, classes: set[str]) -> tuple[bool, ast.expr | None]:
    """(is a message-making call, its template argument)."""
    fn = call.func
    name = _name(fn)
    position = None
    if name in classes:
        position = 0
    elif isinstance(fn, ast.Attribute) and fn.attr == "on" and _name(fn.value) in classes:
        position = 1
    elif name == "Msg":
        position = 0
    elif name == "field_error":
        position = 1
    if position is None:
        return False, None
    if len(call.args) > position:
        return True, call.args[position]
    for kw in call.keywords:
        if kw.arg in ("message", "template"):
            return True, kw.value
    return True, None


def _literals(arg: ast.expr | None) -> list[str] | None:
    """The templates an argument may be: a literal, either literal of `a if c else b`, none for
    `x.template` (an existing error's template passed on); None when it is built at run time."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if isinstance(arg, ast.IfExp):
        body, orelse = _literals(arg.body), _literals(arg.orelse)
        return None if body is None or orelse is None else body + orelse
    if isinstance(arg, ast.Attribute) and arg.attr == "template":
        return []
    return None


def scan(root: Path = ROOT) -> Scan:
    trees = {str(p.relative_to(root)): ast.parse(p.read_text(encoding="utf-8")) for p in sources(root)}
    classes = error_classes(trees)
    out = Scan()
    for rel, tree in trees.items():
        if rel == "engine/errors.py":
            continue  # the machinery itself
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                making, arg = _template_arg(node, classes)
                if not making:
                    continue
                literals = _literals(arg)
                if literals is not None:
                    out.templates.extend((t, rel, node.lineno) for t in literals)
                elif arg is None and isinstance(node.func, ast.Name) and node.func.id in classes and not node.args:
                    continue  # a bare class reference call without a message (none expected)
                else:
                    what = ast.unparse(arg)[:80] if arg is not None else "no template"
                    out.problems.append((rel, node.lineno, f"template is not a literal: {what}"))
            elif isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if {"field", "message"} <= keys and "template" not in keys:
                    out.problems.append((rel, node.lineno, "hand-made {field, message} detail: use field_error"))
    return out
