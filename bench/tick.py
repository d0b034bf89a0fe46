"""The scheduler-tick benchmark of bench/bench_tick.py inside the suite (`--only tick`; not in
the default run): one tick firing 100 due timers among N waiting instances, N = 1,000 and
100,000 (10,000 in quick mode), on SQLite. Flat means the due query reads only due rows."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .bench_tick import run_size


def run(args: Any, workdir: Path) -> list[dict[str, Any]]:
    big = 10_000 if args.quick else 100_000
    small, large = (run_size(n, 100, 3, None, workdir) for n in (1000, big))
    ratio = large["fire_ms"] / small["fire_ms"]
    return [
        {"name": "tick_100_due_1k", "value": round(small["fire_ms"], 1), "unit": "ms median", "target": "reference",
         "pass": None},
        {"name": f"tick_100_due_{big // 1000}k", "value": round(large["fire_ms"], 1), "unit": "ms median",
         "target": "reference", "pass": None, "plan": large["plan"]},
        {"name": f"tick_{big // 1000}k_vs_1k", "value": round(ratio, 2), "unit": "×", "target": "≤ 1.5× (flat)",
         "pass": ratio <= 1.5},
    ]
