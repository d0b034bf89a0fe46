"""Shared oracle helpers."""
from __future__ import annotations

from typing import Any


def fields(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The field and message of each error detail (details also carry the catalog's code, template
    and params, which the catalog tests check)."""
    return [{"field": d["field"], "message": d["message"]} for d in details]
