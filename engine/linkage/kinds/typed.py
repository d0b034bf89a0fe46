"""Typed views of the record kinds the dashboards and reports read, so a reader names fields the
type checker knows instead of `.get("key")` on a raw dict.

New records are checked against their schema when written (`kinds.check`); rows stored before the
schemas existed may lack a field or hold another type, so `of()` reads each field defensively: a
field that is missing or of the wrong type reads as None (or empty), as the `.get` readers did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def _str(d: dict[str, Any], key: str) -> str | None:
    v = d.get(key)
    return v if isinstance(v, str) else None


def _int(d: dict[str, Any], key: str) -> int | None:
    v = d.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _bool(d: dict[str, Any], key: str) -> bool | None:
    v = d.get(key)
    return v if isinstance(v, bool) else None


def _dicts(d: dict[str, Any], key: str) -> list[dict[str, Any]]:
    v = d.get(key)
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


@dataclass(frozen=True)
class Stored(Generic[T]):
    """A record row's columns and its typed data."""

    id: int
    key: str
    node_id: str | None
    unit_id: str | None
    data: T


@dataclass(frozen=True)
class QuarterlyUnitStatus:
    """`quarterly_unit_status`: a unit's part of a quarterly task batch."""

    year: int | None
    quarter: int | None
    batch: str | None
    batch_key: str | None
    status: str | None
    branches_total: int
    branches_done: int

    @classmethod
    def of(cls, d: dict[str, Any]) -> QuarterlyUnitStatus:
        return cls(
            _int(d, "year"),
            _int(d, "quarter"),
            _str(d, "batch"),
            _str(d, "batch_key"),
            _str(d, "status"),
            _int(d, "branches_total") or 0,
            _int(d, "branches_done") or 0,
        )


@dataclass(frozen=True)
class MonthlyFinding:
    no: int | None
    classification: str | None  # None until the unit committee classified it
    state: str | None

    @classmethod
    def of(cls, d: dict[str, Any]) -> MonthlyFinding:
        return cls(_int(d, "no"), _str(d, "classification"), _str(d, "state"))


@dataclass(frozen=True)
class MonthlyReport:
    """`monthly_report`: a branch's monthly written report."""

    year: int | None
    month: int | None
    period: str | None  # YYYY-MM
    branch_id: str | None
    status: str | None
    on_time: bool | None
    findings: list[MonthlyFinding]

    @classmethod
    def of(cls, d: dict[str, Any]) -> MonthlyReport:
        return cls(
            _int(d, "year"),
            _int(d, "month"),
            _str(d, "period"),
            _str(d, "branch_id"),
            _str(d, "status"),
            _bool(d, "on_time"),
            [MonthlyFinding.of(f) for f in _dicts(d, "findings")],
        )


@dataclass(frozen=True)
class FormFindings:
    """`form_findings`: the findings a form field marked `x-record: findings` held (form_records.py)."""

    year: int | None
    month: int | None
    classifications: list[str | None]  # one per finding

    @classmethod
    def of(cls, d: dict[str, Any]) -> FormFindings:
        return cls(_int(d, "year"), _int(d, "month"), [_str(f, "classification") for f in _dicts(d, "findings")])


@dataclass(frozen=True)
class AdhocReport:
    """`adhoc_report`: a branch's ad-hoc report."""

    filed_at: str | None  # ISO timestamp
    severity: str | None
    classification: str | None
    status: str | None

    @classmethod
    def of(cls, d: dict[str, Any]) -> AdhocReport:
        return cls(_str(d, "filed_at"), _str(d, "severity"), _str(d, "classification"), _str(d, "status"))


@dataclass(frozen=True)
class Clue:
    """`clue`: a clue on a unit committee's register."""

    clue_no: str | None
    registered_at: str | None  # ISO timestamp
    status: str | None
    level: str | None
    reported_to_group: bool

    @classmethod
    def of(cls, d: dict[str, Any]) -> Clue:
        return cls(
            _str(d, "clue_no"),
            _str(d, "registered_at"),
            _str(d, "status"),
            _str(d, "level"),
            bool(d.get("reported_to_group")),
        )
