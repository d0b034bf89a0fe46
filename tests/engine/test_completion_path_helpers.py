"""Helpers on the completion's hot path keep their behaviour after being made cheaper (issue 20):
log redaction with its per-key verdict cache, and the metered script-helper wrapper."""

from __future__ import annotations

from engine.core.scripts import _metered
from engine.infra.logs import redact


def test_redact_same_answer_when_keys_repeat() -> None:
    line = {
        "Password": "x",
        "data": {"a": 1},
        "user": "u00_b00",
        "payload": {"data": {"b": 2}, "api_token": "t", "long": "s" * 600, 7: ["y", {"secret_x": 1, "ok": 2}]},
    }
    expected = {
        "data": "[omitted]",
        "user": "u00_b00",
        "payload": {"data": {"b": 2}, "long": "s" * 500 + "…", "7": ["y", {"ok": 2}]},
    }
    assert redact(line) == expected
    assert redact(line) == expected  # second time from the verdict cache


def test_metered_wrapper_keeps_name_doc_and_result() -> None:
    def org_units(unit: str = "u00") -> list[str]:
        """The units."""
        return [unit]

    wrapped = _metered(org_units)
    assert wrapped("u01") == ["u01"]
    assert wrapped.__name__ == "org_units"
    assert wrapped.__doc__ == "The units."
    assert wrapped.__wrapped__ is org_units  # type: ignore[attr-defined]
