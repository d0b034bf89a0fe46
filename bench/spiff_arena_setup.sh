#!/usr/bin/env bash
# The recipe for the spiff-arena side of bench/vs_spiff_arena.py (docs/performance.md, "Side by side
# with spiff-arena"). Makes a virtualenv for spiff-arena's backend from PyPI only:
#
#   bench/spiff_arena_setup.sh SPIFF_ARENA_CHECKOUT CONNECTOR_COMMAND_CHECKOUT [PYTHON]
#
#   SPIFF_ARENA_CHECKOUT        a git checkout of sartography/spiff-arena (measured: d7678cf)
#   CONNECTOR_COMMAND_CHECKOUT  a git checkout of sartography/spiffworkflow-connector-command at the commit
#                               spiff-arena's uv.lock pins (7e20603; it is not on PyPI)
#   PYTHON                      an interpreter >= 3.11 (default python3.12)
#
# The venv goes to SPIFF_ARENA_CHECKOUT/spiffworkflow-backend/.bench-venv. Versions: every package
# spiff-arena's backend declares, constrained to the versions its uv.lock pins from PyPI. Departures
# from the lock, all because only PyPI is reachable here:
#   - SpiffWorkflow: the lock pins a git commit of the main branch (85f7a43, "3.1.2"); PyPI's 3.2.0
#     is used (the backend asks for >= 3.1.3a1) — the same SpiffWorkflow release Sanji runs on.
#   - spiffworkflow-connector-command and spiff-arena-common: installed from the checkouts (--no-deps).
#   - mysqlclient, psycopg2 (database drivers for MySQL/PostgreSQL; the bench uses SQLite) and
#     sqlalchemy-stubs (type stubs, from a git fork) are left out.
set -o errexit -o nounset -o pipefail
arena="$(cd "${1:?spiff-arena checkout}" && pwd)"
connector="$(cd "${2:?spiffworkflow-connector-command checkout}" && pwd)"
python="${3:-python3.12}"
backend="$arena/spiffworkflow-backend"
venv="$backend/.bench-venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" - "$backend" "$work" <<'PY'
import re, sys, tomllib
from pathlib import Path
backend, work = Path(sys.argv[1]), Path(sys.argv[2])
skip = {"mysqlclient", "psycopg2", "sqlalchemy-stubs", "spiffworkflow-connector-command", "spiff-arena-common",
        "spiffworkflow"}
lock = tomllib.loads((backend / "uv.lock").read_text())
pins = [f"{p['name']}=={p['version']}" for p in lock["package"]
        if "registry" in p.get("source", {}) and p["name"] not in skip]
(work / "constraints.txt").write_text("\n".join(pins) + "\n")
deps = tomllib.loads((backend / "pyproject.toml").read_text())["project"]["dependencies"]
keep = [d for d in deps if re.split(r"[\s<>=!~\[;]", d, maxsplit=1)[0].lower().replace("_", "-") not in skip]
(work / "requirements.txt").write_text("\n".join(keep + ["SpiffWorkflow==3.2.0"]) + "\n")
PY
"$venv/bin/python" -m pip install -q -c "$work/constraints.txt" -r "$work/requirements.txt"
"$venv/bin/python" -m pip install -q --no-deps -e "$arena/spiff-arena-common" -e "$connector" -e "$backend"
echo "spiff-arena venv ready: $venv (spiff-arena $(git -C "$arena" rev-parse --short HEAD))"
