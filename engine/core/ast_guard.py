"""One lock around every construction of Python AST objects by Sanji (scripts, expressions).

CPython 3.11 keeps the AST constructor's recursion depth in per-interpreter state: when two
threads parse at once — a garbage collection inside one parse runs a finaliser, and the GIL
passes to the other thread — they corrupt it and a parse fails with `SystemError: AST constructor
recursion depth mismatch` (python/cpython#106905). Under the quarter load test (4 threads per web
worker) this failed a branch's completion with a 422 and put an instance in error, twice in ≈ 30
runs. Scripts are compiled once per worker (`scripts._compile` caches them), so the lock is held
only while the caches warm."""

from __future__ import annotations

import ast
import threading
from typing import Any

LOCK = threading.RLock()


def parse(source: str, filename: str = "<unknown>", mode: str = "exec") -> Any:
    """`ast.parse` under the lock (a Module for "exec", an Expression for "eval")."""
    with LOCK:
        tree: Any = ast.parse(source, filename, mode)
    return tree
