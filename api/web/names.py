"""Names for identifiers the pages would otherwise show: process keys, form files."""

from __future__ import annotations

from sqlalchemy import select

from engine.models import ProcessDefinition

from ..extensions import db, state


def process_names(keys: list[str]) -> dict[str, str]:
    """Key → name of the newest version, for links that should read as names."""
    if not keys:
        return {}
    rows = db().execute(
        select(ProcessDefinition.key, ProcessDefinition.name)
        .where(ProcessDefinition.key.in_(keys))
        .order_by(ProcessDefinition.version)
    )
    return {k: n for k, n in rows}


def form_titles(names: list[str]) -> dict[str, str]:
    """Form file → its title (what a reader knows the form by)."""
    out = {}
    for name in names:
        try:
            title = state().forms.schema(name).get("title")
        except Exception:  # a missing or broken form shows its file name
            continue
        if isinstance(title, str):
            out[name] = title
    return out
