"""Sanji's benchmark suite (issue 6): `make bench`, or

    .venv/bin/python -m bench.run                          # everything (PostgreSQL parts skip without a server)
    .venv/bin/python -m bench.run --only completion,worklist --quick
    .venv/bin/python -m bench.run --throughput-seconds 60  # the issue's full 60 s per throughput run

Prints one table and writes bench/results.json: machine load (os.getloadavg) before and after,
CPU count, UTC timestamp, git sha, and each figure with its target and pass/fail. Benchmarks
measure; the test suite asserts behaviour only. docs/performance.md explains each figure.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

SECTIONS = ("completion", "cycle", "worklist", "throughput", "tick")
DEFAULT = ("completion", "cycle", "worklist", "throughput")


def git_sha() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def pg_available(url: str | None) -> str | None:
    """None when PostgreSQL answers at `url`, else the reason it is skipped."""
    if not url:
        return "no --pg-url / TEST_DATABASE_URL"
    try:
        from sqlalchemy import text

        from engine.infra.db import make_engine

        engine = make_engine(common.pg_base(url))
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means: skip the PostgreSQL parts
        return f"PostgreSQL at {url} does not answer ({type(exc).__name__})"


def table(figures: list[dict[str, Any]]) -> str:
    rows = [("figure", "value", "p95", "target", "ok")]
    for f in figures:
        ok = {True: "PASS", False: "FAIL", None: "-"}[f.get("pass")]
        p95 = f"{f['p95_ms']:.2f} ms" if isinstance(f.get("p95_ms"), (int, float)) else ""
        value = f"{f['value']:.2f} {f['unit']}" if isinstance(f.get("value"), (int, float)) else str(f.get("value"))
        rows.append((f["name"], value, p95, str(f.get("target", "")), ok))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(DEFAULT),
                    help=f"comma-separated sections of {', '.join(SECTIONS)} (default: all but tick)")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, smaller worklist database")
    ap.add_argument("--pg-url", default=os.environ.get("TEST_DATABASE_URL", "postgresql://127.0.0.1:5432/test"),
                    help="PostgreSQL for the worklist and throughput parts (default $TEST_DATABASE_URL or local test)")
    ap.add_argument("--throughput-seconds", type=float, default=20.0, help="length of each throughput run (issue: 60)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients of the throughput runs")
    ap.add_argument("--worklist-instances", type=int, default=100_000, help="instances of the large worklist database")
    ap.add_argument("--no-cache", action="store_true", help="re-seed the SQLite worklist database under bench/.data/")
    ap.add_argument("--output", type=Path, default=ROOT / "bench" / "results.json")
    args = ap.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        ap.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    args.pg_skip = pg_available(args.pg_url)

    started = datetime.now(timezone.utc)
    result: dict[str, Any] = {
        "timestamp": started.isoformat(timespec="seconds"), "git_sha": git_sha(), "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "load_before": common.load(), "quick": args.quick,
        "sections": only, "postgresql": args.pg_skip or "available", "figures": [], "errors": {},
    }
    print(f"sanji bench {result['git_sha']} · {result['cpu_count']} CPUs · load {result['load_before']}"
          f"{' · quick' if args.quick else ''} · PostgreSQL: {result['postgresql']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="sanji-bench-") as tmp:
        workdir = Path(tmp)
        for name in only:
            t0 = time.perf_counter()
            print(f"[{name}] running… (load {common.load()})", flush=True)
            try:
                module = __import__(f"bench.{name}", fromlist=["run"])
                figures = module.run(args, workdir)
            except Exception as exc:  # noqa: BLE001 - one section failing must not hide the others
                traceback.print_exc()
                result["errors"][name] = f"{type(exc).__name__}: {exc}"
                figures = []
            for f in figures:
                f["section"] = name
                f["load"] = common.load()
            result["figures"].extend(figures)
            print(f"[{name}] {time.perf_counter() - t0:.0f} s", flush=True)
            for f in figures:
                print("   ", table([f]).splitlines()[-1], flush=True)
    result["load_after"] = common.load()
    result["duration_s"] = round((datetime.now(timezone.utc) - started).total_seconds(), 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print()
    print(table(result["figures"]))
    print(f"\nload {result['load_before']} → {result['load_after']} · {result['duration_s']} s · "
          f"written to {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    for name, err in result["errors"].items():
        print(f"ERROR in {name}: {err}")
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
