"""Memory bounds of a script run (issue 13: a script allocated 1 GB and stored a 100 MB variable).

Two layers, both bounded by SANJI_SCRIPT_MAX_MB:
- `Meter`: the worker's resident memory may grow by at most the bound while a script runs.
  The script tracer (engine/core/scripts.py) reads it once a millisecond, so memory that grows over
  lines or loop iterations — whatever builds it, the helpers included — stops the run. Reading
  /proc/self/statm costs a system call; tracemalloc, tried first, made allocation-heavy scripts
  and the helpers' database work 3-10× slower. A script that reuses memory the worker already
  holds does not grow it, and is not counted: the bound protects the machine.
- one-line amplifiers are refused *before* they allocate: sequence repetition (`s * n`,
  `s *= n`), `%` and f-string widths, and the str methods that grow text by a factor
  (ljust, rjust, center, zfill, expandtabs, replace, translate, join). Anything else grows by
  a bounded factor of memory that exists already, which the meter sees.
"""

from __future__ import annotations

import ast
import os
import re
import resource
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from RestrictedPython.Guards import safer_getattr
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations

from engine.errors import ScriptError

DEFAULT_MAX_BYTES = 64 << 20
MAX_FORMAT_WIDTH = 10_000  # widths in f-string specs, fixed at deploy
_LIMIT: ContextVar[int] = ContextVar("sanji_script_max_bytes", default=DEFAULT_MAX_BYTES)


class ScriptMemoryError(ScriptError):
    pass


def _refuse(what: str, size: int) -> ScriptMemoryError:
    return ScriptMemoryError(
        "script memory bound: {what} would take about {size} MB; a script run may use {limit} MB (SANJI_SCRIPT_MAX_MB)",
        what=what,
        size=size >> 20,
        limit=_LIMIT.get() >> 20,
    )


# ---- the meter -------------------------------------------------------------------------------------

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_statm_lock = threading.Lock()
_statm: tuple[int, int] = (-1, -1)  # (pid, descriptor of /proc/self/statm, -1 without one)


def resident_bytes() -> int:
    """The process's resident memory (Linux: /proc/self/statm, one pread); elsewhere its peak."""
    global _statm
    pid, fd = _statm
    if pid != os.getpid():  # first use, or a forked worker: /proc/self was resolved at open
        with _statm_lock:
            try:
                fd = os.open("/proc/self/statm", os.O_RDONLY)
            except OSError:
                fd = -1
            _statm = (os.getpid(), fd)
    if fd < 0:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return int(os.pread(fd, 64, 0).split()[1]) * _PAGE


class Meter:
    """Growth of the worker's resident memory during one script run: `over()` is true once it
    exceeds the bound. The first reading (the tracer's, a millisecond into the run) is the
    baseline, so that the many scripts shorter than that make no system call; what a script
    allocates in its first millisecond (each operation bounded by the guards below) is not
    counted. Other threads' growth meanwhile counts too (rare; it errs towards stopping)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.ceiling: int | None = None

    def __enter__(self) -> Meter:
        self._token = _LIMIT.set(self.max_bytes)
        return self

    def __exit__(self, *exc: Any) -> None:
        _LIMIT.reset(self._token)

    def over(self) -> bool:
        if self.ceiling is None:
            self.ceiling = resident_bytes() + self.max_bytes
            return False
        return resident_bytes() > self.ceiling

    def error(self) -> ScriptMemoryError:
        return ScriptMemoryError(
            "the script made the worker's memory grow by more than {max_bytes} MB, the bound "
            "of a script run (SANJI_SCRIPT_MAX_MB)",
            max_bytes=self.max_bytes >> 20,
        )


# ---- one-line amplifiers ----------------------------------------------------------------------------


def _unit(seq: Any) -> int:
    """Bytes per element: pointers for lists and tuples, up to 4 for non-ASCII text."""
    if isinstance(seq, str):
        return 1 if seq.isascii() else 4
    return 1 if isinstance(seq, (bytes, bytearray)) else 8


_SEQUENCES = (str, bytes, list, tuple)
# Unchecked below these: a sequence of ≤ 1024 items repeated ≤ 1024 times is ≤ 8 MB, a product
# of ints of ≤ 65,536 bits is ≤ 8 kB.
_SMALL, _SMALL_BITS = 1024, 1 << 16


def _check(what: str, size: int) -> None:
    if size > _LIMIT.get():
        raise _refuse(what, size)


def guarded_mul(a: Any, b: Any) -> Any:
    """`a * b`, refused before it allocates more than the bound (a repeated sequence, a huge int).
    Cheap exits first: under the script tracer every bytecode of a guard costs more."""
    if type(b) is int:
        n, other = b, a
    elif type(a) is int:
        n, other = a, b
    else:
        return a * b  # floats, or no int: neither repetition nor a growing int
    if type(other) is int:
        if (
            n.bit_length() + other.bit_length() > _SMALL_BITS
            and (n.bit_length() + other.bit_length()) >> 3 > _LIMIT.get()
        ):
            raise _refuse("multiplying integers", (n.bit_length() + other.bit_length()) >> 3)
        return a * b
    if (n > _SMALL and isinstance(other, _SEQUENCES)) or (
        n > 1 and isinstance(other, _SEQUENCES) and len(other) > _SMALL
    ):
        unit = 8 if isinstance(other, (list, tuple)) else 1 if isinstance(other, bytes) or other.isascii() else 4
        if len(other) * n * unit > _LIMIT.get():
            raise _refuse("repeating a sequence", len(other) * n * unit)
    return a * b


_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_widths(fmt: str | bytes) -> None:
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    for m in _PERCENT.finditer(text):
        for width in m.groups():
            if width == "*":
                raise ScriptMemoryError("a * width or precision in %-formatting is not allowed in scripts")
            if width and (len(width) > 9 or int(width) > MAX_FORMAT_WIDTH):
                raise ScriptMemoryError(
                    "a %-format width of {width} is larger than {limit}", width=width, limit=MAX_FORMAT_WIDTH
                )


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
    "ljust": lambda s, m: _width(s, m, "ljust"),
    "rjust": lambda s, m: _width(s, m, "rjust"),
    "center": lambda s, m: _width(s, m, "center"),
    "zfill": lambda s, m: _width(s, m, "zfill"),
    "expandtabs": _expandtabs,
    "replace": _replace,
    "translate": _translate,
    "join": _join,
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
