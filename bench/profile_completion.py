"""Where a completion's time goes, in-process: cProfile of POST /api/v1/tasks/{id}/complete
through the Flask test client on a SQLite file, grouped by library, plus the top functions.

    .venv/bin/python -m bench.profile_completion             # 300 completions profiled
    .venv/bin/python -m bench.profile_completion --top 40 --sort tottime

The same diagram and form data as the completion benchmark (bench/completion.py). cProfile
slows Python code about twofold, so read the shares, not the milliseconds; the in-process
median printed first is measured without the profiler. docs/performance.md quotes it.
"""
from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import ROOT, database
from .completion import FORM_DATA, prepare


def group(filename: str, name: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/")[1].split("/")[0]
    if filename.startswith(str(ROOT)):
        return "sanji " + filename[len(str(ROOT)) + 1:].split("/")[0] + "/"
    if filename.startswith("~"):
        return "builtin " + name[:40]
    return "stdlib " + filename.rsplit("/", 1)[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=300, help="completions profiled (as many again are timed)")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--sort", default="cumulative")
    ap.add_argument("--callers", default="", help="also print the callers of functions matching this regex")
    args = ap.parse_args()
    warm = 50
    with tempfile.TemporaryDirectory() as tmp, database("sqlite", Path(tmp), "profile") as db:
        ids = prepare(db.url, warm + 2 * args.n)
        from app import create_app

        app = create_app({"database_url": db.url, "env": "test", "scheduler": "off"})
        client = app.test_client()
        token = client.post("/api/v1/auth/login", json={"username": "u00_b00", "password": "demo12345"}).get_json()["token"]
        headers = {"Authorization": f"Bearer {token}"}

        def complete(task_id: int) -> None:
            r = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": FORM_DATA}, headers=headers)
            if r.status_code != 200:
                raise RuntimeError(f"completion {task_id}: {r.status_code} {r.get_data(as_text=True)[:300]}")

        for task_id in ids[:warm]:
            complete(task_id)
        timed: list[float] = []
        for task_id in ids[warm:warm + args.n]:
            t0 = time.perf_counter()
            complete(task_id)
            timed.append((time.perf_counter() - t0) * 1000)
        print(f"in-process (Flask test client) median {statistics.median(timed):.2f} ms over {len(timed)}, "
              "without the profiler")
        profiler = cProfile.Profile()
        profiler.enable()
        for task_id in ids[warm + args.n:]:
            complete(task_id)
        profiler.disable()
    stats = pstats.Stats(profiler)
    by: collections.Counter[str] = collections.Counter()
    raw: Any = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        by[group(filename, name)] += tottime
    total = sum(by.values())
    print(f"\nown time by library ({total / args.n * 1000:.2f} ms per completion under the profiler):")
    for key, value in by.most_common(args.top):
        print(f"  {key:45s} {value / total * 100:5.1f} %")
    print()
    stats.sort_stats(args.sort).print_stats(args.top)
    if args.callers:
        stats.print_callers(args.callers)


if __name__ == "__main__":
    main()
