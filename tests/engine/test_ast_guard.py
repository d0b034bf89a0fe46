"""Scripts compile safely from several threads at once (engine/core/ast_guard.py): CPython 3.11's AST
constructor state is per interpreter, and a garbage collection inside one thread's parse let another
thread's parse corrupt it (`SystemError: AST constructor recursion depth mismatch`). The stress
below — cyclic garbage with finalisers, a GIL switch every microsecond, eight threads — raised that
error dozens of times in a few seconds on Python 3.11.7 through `ast.parse`; through Sanji's
compile path it must raise nothing."""
from __future__ import annotations

import gc
import sys
import threading

from engine.core import ast_guard, scripts

SOURCE = "\n".join(f"x{i} = [{{'a': (1, 2, {i})}} for n in range(3) if n > {i}]" for i in range(40))


class Cyclic:
    def __del__(self) -> None:
        sum(range(200))


def test_parallel_script_compiles_never_corrupt_the_ast_state():
    errors: list[str] = []
    compiled: list[int] = []

    def work(thread: int) -> None:
        for k in range(20):
            for _ in range(20):
                junk = Cyclic()
                junk.me = junk  # collected by the GC, inside somebody's parse
            try:
                ast_guard.parse(SOURCE + f"\ny = {k}")
                scripts._compile.__wrapped__(SOURCE + f"\ny = {thread * 100 + k}", "exec")
                compiled.append(1)
            except SystemError as exc:
                errors.append(str(exc))

    switch, threshold = sys.getswitchinterval(), gc.get_threshold()
    sys.setswitchinterval(1e-6)
    gc.set_threshold(50, 1, 1)
    try:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
        gc.set_threshold(*threshold)
        gc.collect()
    assert errors == []
    assert len(compiled) == 8 * 20
