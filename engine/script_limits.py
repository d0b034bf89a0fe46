"""Memory bounds of a script run (issue 13: a script allocated 1 GB and stored a 100 MB variable).

Two layers, both bounded by SANJI_SCRIPT_MAX_MB:
- `Meter`: while a script runs, tracemalloc counts what Python allocates; the script tracer
  (engine/scripts.py) checks the count at every line, so memory that grows over lines or loop
  iterations — whatever builds it — stops the run. Tracing is on only while a script runs.
- one-line amplifiers are refused *before* they allocate: sequence repetition (`s * n`,
  `s *= n`), `%` and f-string widths, and the str methods that grow text by a factor
  (ljust, rjust, center, zfill, expandtabs, replace, translate, join). Anything else grows by
  a bounded factor of memory that exists already, which the meter has counted.
"""
from __future__ import annotations

import ast
import re
import threading
import tracemalloc
from contextvars import ContextVar
from typing import Any, Callable

from RestrictedPython.Guards import safer_getattr
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations

from .errors import ScriptError

DEFAULT_MAX_BYTES = 64 << 20
MAX_FORMAT_WIDTH = 10_000  # widths in f-string specs, fixed at deploy
_LIMIT: ContextVar[int] = ContextVar("sanji_script_max_bytes", default=DEFAULT_MAX_BYTES)


class ScriptMemoryError(ScriptError):
    pass


def _refuse(what: str, size: int) -> ScriptMemoryError:
    return ScriptMemoryError(f"script memory bound: {what} would take about {size >> 20} MB; a script run may "
                             f"use {_LIMIT.get() >> 20} MB (SANJI_SCRIPT_MAX_MB)")


# ---- the meter -------------------------------------------------------------------------------------

_lock = threading.Lock()
_users = 0
_owned = False


class Meter:
    """Traced memory of one script run: `over()` is true once it holds more than its bound.
    tracemalloc is process-wide: the first running script starts it, the last one stops it
    (unless someone else had started it); allocations of other threads meanwhile count too."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.ceiling = 0

    def __enter__(self) -> "Meter":
        global _users, _owned
        with _lock:
            if _users == 0 and not tracemalloc.is_tracing():
                tracemalloc.start(1)
                _owned = True
            _users += 1
        self.ceiling = tracemalloc.get_traced_memory()[0] + self.max_bytes
        self._token = _LIMIT.set(self.max_bytes)
        return self

    def __exit__(self, *exc: Any) -> None:
        global _users, _owned
        _LIMIT.reset(self._token)
        with _lock:
            _users -= 1
            if _users == 0 and _owned:
                tracemalloc.stop()
                _owned = False

    def over(self) -> bool:
        return tracemalloc.get_traced_memory()[0] > self.ceiling

    def error(self) -> ScriptMemoryError:
        return ScriptMemoryError(f"the script holds more than {self.max_bytes >> 20} MB, the bound of a script "
                                 "run (SANJI_SCRIPT_MAX_MB)")


# ---- one-line amplifiers ----------------------------------------------------------------------------

def _unit(seq: Any) -> int:
    """Bytes per element: pointers for lists and tuples, up to 4 for non-ASCII text."""
    if isinstance(seq, str):
        return 1 if seq.isascii() else 4
    return 1 if isinstance(seq, (bytes, bytearray)) else 8


_SEQUENCES = (str, bytes, list, tuple)


def _check(what: str, size: int) -> None:
    if size > _LIMIT.get():
        raise _refuse(what, size)


def guarded_mul(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, _SEQUENCES):
        a, b = b, a
    if isinstance(a, _SEQUENCES) and isinstance(b, int):
        _check("repeating a sequence", len(a) * _unit(a) * b)
    elif isinstance(a, int) and isinstance(b, int):
        _check("multiplying integers", (a.bit_length() + b.bit_length()) // 8)
    return a * b


_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_widths(fmt: str | bytes) -> None:
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    for m in _PERCENT.finditer(text):
        for width in m.groups():
            if width == "*":
                raise ScriptMemoryError("a * width or precision in %-formatting is not allowed in scripts")
            if width and (len(width) > 9 or int(width) > MAX_FORMAT_WIDTH):
                raise ScriptMemoryError(f"a %-format width of {width} is larger than {MAX_FORMAT_WIDTH}")


def guarded_mod(a: Any, b: Any) -> Any:
    if isinstance(a, (str, bytes)):
        _check_widths(a)
    return a % b


def _width(s: Any, method: Callable[..., Any], name: str) -> Callable[..., Any]:
    def call(width: Any, *args: Any) -> Any:
        if isinstance(width, int):
            _check(f"{name}({width})", width * _unit(s))
        return method(width, *args)
    return call


def _expandtabs(s: Any, method: Callable[..., Any]) -> Callable[..., Any]:
    def call(tabsize: int = 8) -> Any:
        if isinstance(tabsize, int):
            _check("expandtabs()", len(s) + s.count("\t" if isinstance(s, str) else b"\t") * tabsize * _unit(s))
        return method(tabsize)
    return call


def _replace(s: Any, method: Callable[..., Any]) -> Callable[..., Any]:
    def call(old: Any, new: Any, count: int = -1) -> Any:
        if isinstance(old, type(s)) and isinstance(new, type(s)) and len(new) > len(old):
            n = s.count(old) if old else len(s) + 1
            if isinstance(count, int) and count >= 0:
                n = min(n, count)
            _check("replace()", (len(s) + n * (len(new) - len(old))) * max(_unit(s), _unit(new)))
        return method(old, new, count)
    return call


def _translate(s: Any, method: Callable[..., Any]) -> Callable[..., Any]:
    def call(table: Any) -> Any:
        if isinstance(s, str) and isinstance(table, dict):
            longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
            _check("translate()", len(s) * max(1, longest) * 4)
        return method(table)
    return call


def _join(s: Any, method: Callable[..., Any]) -> Callable[..., Any]:
    def call(items: Any) -> Any:
        items = list(items)
        _check("join()", len(s) * len(items) * _unit(s))
        return method(items)
    return call


_WRAPPERS: dict[str, Callable[[Any, Callable[..., Any]], Callable[..., Any]]] = {
    "ljust": lambda s, m: _width(s, m, "ljust"), "rjust": lambda s, m: _width(s, m, "rjust"),
    "center": lambda s, m: _width(s, m, "center"), "zfill": lambda s, m: _width(s, m, "zfill"),
    "expandtabs": _expandtabs, "replace": _replace, "translate": _translate, "join": _join,
}


def guarded_getattr(obj: Any, name: str, default: Any = None) -> Any:
    """RestrictedPython's safer_getattr, with the growing str/bytes methods bounded (also when
    called through the type: `str.ljust(s, n)`)."""
    value = safer_getattr(obj, name, default)
    wrap = _WRAPPERS.get(name)
    if wrap is None:
        return value
    if isinstance(obj, (str, bytes)):
        return wrap(obj, value)
    if obj in (str, bytes):
        return lambda s, *a, **kw: guarded_getattr(s, name)(*a, **kw)
    return value


GUARDS: dict[str, Any] = {"_mul_": guarded_mul, "_mod_": guarded_mod, "_getattr_": guarded_getattr}


# ---- the compiler's side ----------------------------------------------------------------------------

class BoundedPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: `a * b` and `a % b` go through `_mul_` / `_mod_`; an
    f-string format spec must be constant, with widths up to MAX_FORMAT_WIDTH."""

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = {ast.Mult: "_mul_", ast.Mod: "_mod_"}.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(guard, ast.Load()), args=[node.left, node.right], keywords=[])
        copy_locations(call, node)
        return call

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        spec = node.format_spec
        if spec is not None:
            parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
            if any(not isinstance(p, ast.Constant) for p in parts):
                self.error(node, "a computed format spec in an f-string is not allowed in scripts")
            text = "".join(str(p.value) for p in parts if isinstance(p, ast.Constant))
            if any(len(w) > 9 or int(w) > MAX_FORMAT_WIDTH for w in re.findall(r"\d+", text)):
                self.error(node, f"an f-string width above {MAX_FORMAT_WIDTH} is not allowed in scripts")
        return self.node_contents_visit(node)
