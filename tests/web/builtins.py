"""Helpers for the page tests that run the real built-in procedures of processes/."""
from __future__ import annotations

from typing import Any

from api.extensions import state
from engine.core import repository
from engine.infra.db import write_intent
from engine.core.runtime import Runtime
from engine.infra.settings import ROOT

PROCESSES = ROOT / "processes"


def deploy_builtins(app: Any) -> list[str]:
    """Deploy every processes/*.bpmn as `init-db` does; returns "key vN" of what was created."""
    st = state(app)
    with write_intent(), st.sessions() as s:
        results = repository.deploy_directory(s, PROCESSES, "init-db", st.clock.now(), st.forms,
                                              st.settings.max_bpmn_bytes)
        s.commit()
        return [f"{d.key} v{d.version}" for r in results for d in r.definitions]


def start_by_timer(app: Any, key: str, variables: dict[str, Any] | None = None,
                   start_event: str = "start_timer") -> int:
    """Start a process as its timer start event would (what the scheduler does at the due time)."""
    st = state(app)
    with write_intent(), st.sessions() as s:
        inst = Runtime(s, st.clock, st.settings, st.forms).start(key, variables or {}, None, start_event=start_event)
        s.commit()
        return inst.id
