"""Confidential content and its redaction: 三员分立 (the system administrator runs the system
without reading case content) and the security auditor's view of the audit log.

What is confidential is declared here and in the forms, nowhere else:
- a form property marked `"x-confidential": true` in forms/*.json (at any depth; on the form's
  root, every property of the form): its name is a confidential key;
- `VARIABLES`: instance variables that scripts fill from such fields (the clue contract of the
  message `clue_reported`, the lists of findings a process collects);
- a record saved with `confidential=True` (clues, 明察暗访 findings, sensitive reports): all its data
  but the operational keys of `RECORD_KEEP` (number, unit, status, dates, disposal kind).

A value under a confidential key — in instance variables, task data, event payloads, records —
is replaced by `MARK`. A text that quotes such a value (an instance title such as
"问题线索：<person>", an incident message, a traceback) has the quoted value replaced.

Who sees it redacted (`for_principal`): every account holding the `admin` role (the system
administrator, whatever else it holds). The audit log is always shown redacted (`for_audit`).
Notifications leave the system (robots, e-mail), so their texts are always redacted
(engine/platform/notify.py). Everyone else reads what the visibility rules (engine/org/routing.py,
engine/linkage/records.py) let them read, unredacted.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.org.nodes import Principal

MARK = "【已隐去】"
# Instance variables set by scripts from confidential form fields (see processes/*.bpmn).
VARIABLES = frozenset(
    {
        "clue_person",
        "clue_facts",
        "clue_reporter",  # the clue contract (clue_reported)
        "report_findings",
        "finding",  # monthly_report: findings with persons and facts
        "visit_reports",
        "my_findings",
        "rectify_items",  # special_inspection: visit and check findings
    }
)
# Keys of a confidential record's data that an operator may read (everything else is redacted).
RECORD_KEEP = frozenset(
    {
        "clue_no",
        "key",
        "no",
        "inspection_id",
        "finding_key",
        "report_key",
        "unit_id",
        "unit_name",
        "branch_id",
        "branch_name",
        "node_id",
        "source",
        "origin",
        "status",
        "state",
        "level",
        "disposal",
        "outcome",
        "reported_to_group",
        "registered_at",
        "recorded_at",
        "reported_at",
        "filed_at",
        "classified_at",
        "closed_at",
        "transferred_at",
        "checked_at",
        "acknowledged_at",
        "at",
        "step",
        "handling",
        "severity",
        "classification",
        "topic",
        "mode",
        "year",
        "month",
        "period",
        "escalated",
        "history",
    }
)
MIN_QUOTE = 2  # shorter confidential values are not searched for inside texts


# ---- the declared keys ---------------------------------------------------------------------------------


def _schema_keys(schema: Any, inherited: bool = False) -> set[str]:
    """Property names marked x-confidential in one JSON schema (a marked object or array marks
    its whole value; a marked root marks every top-level property)."""
    keys: set[str] = set()
    if not isinstance(schema, Mapping):
        return keys
    root = inherited or schema.get("x-confidential") is True
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, Mapping):
            continue
        if root or sub.get("x-confidential") is True:
            keys.add(str(name))
            continue
        keys |= _schema_keys(sub)
        keys |= _schema_keys(sub.get("items"))
    return keys


class _KeyCache:
    """Confidential keys per forms directory, re-read when a form file changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, tuple[tuple[tuple[str, float], ...], frozenset[str]]] = {}

    def get(self, forms_dir: Path | str | None) -> frozenset[str]:
        if forms_dir is None:
            return VARIABLES
        folder = str(forms_dir)
        reading = _READING.get()
        if reading is not None and folder in reading.keys:
            return reading.keys[folder]
        deployed = DEPLOYED.get(folder)  # issue 15: the forms deployed in the database, too
        keys = self._files(folder) | deployed() if deployed is not None else self._files(folder)
        if reading is not None:
            reading.keys[folder] = keys
        return keys

    def _files(self, folder: str) -> frozenset[str]:
        try:
            with os.scandir(folder) as it:
                files = tuple(sorted((e.name, e.stat().st_mtime) for e in it if e.name.endswith(".json")))
        except OSError:
            return VARIABLES
        with self._lock:
            hit = self._data.get(folder)
            if hit is not None and hit[0] == files:
                return hit[1]
        keys = set(VARIABLES)
        for name, _mtime in files:
            try:
                schema = json.loads(Path(folder, name).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # a broken form is refused where it is used; it declares nothing here
            keys |= _schema_keys(schema)
        result = frozenset(keys)
        with self._lock:
            self._data[folder] = (files, result)
        return result


KEYS = _KeyCache()


# Within one reading (a request, one pass of the notifications) the keys are looked up once: the
# forms folder's listing and the deployed forms' fingerprint (a query on a session of its own)
# cost ≈ 1–3 ms, and the notifications of one pass asked for them once per message.
@dataclass
class _Reading:
    keys: dict[str, frozenset[str]] = field(default_factory=dict)
    session: Callable[[], Any] | None = None  # the request's session: the deployed forms' fingerprint reads through it


_READING: ContextVar[_Reading | None] = ContextVar("sanji_confidential_reading", default=None)


def begin_reading(session: Callable[[], Any] | None = None) -> Token[_Reading | None]:
    """Start a reading (a request's: a before-request hook, ended by `end_reading` at teardown);
    `session` gives the request's session, so that the lookup needs no connection of its own."""
    return _READING.set(_Reading(session=session))


@contextmanager
def one_reading() -> Iterator[None]:
    """The confidential keys are read once inside this block (as of their first use in it)."""
    token = begin_reading()
    try:
        yield
    finally:
        end_reading(token)


def reading_session() -> Any | None:
    """The session of the current reading, if it named one."""
    reading = _READING.get()
    return reading.session() if reading is not None and reading.session is not None else None


def end_reading(token: Token[_Reading | None]) -> None:
    _READING.reset(token)


# forms directory → the confidential keys of the forms deployed in the database (issue 15): the
# app's FormStore registers itself for its `forms_dir`, so every caller that names the folder
# also honours the x-confidential fields of forms deployed with the form editor.
DEPLOYED: dict[str, Callable[[], frozenset[str]]] = {}


def register_deployed(forms_dir: Path | str, source: Callable[[], frozenset[str]]) -> None:
    DEPLOYED[str(forms_dir)] = source


def schema_keys(schema: Any) -> set[str]:
    return _schema_keys(schema)


def confidential_keys(forms_dir: Path | str | None) -> frozenset[str]:
    return KEYS.get(forms_dir)


# ---- the redactor ----------------------------------------------------------------------------------------


class Redactor:
    """The one redaction function. `active` False (the usual reader): every method is the identity."""

    def __init__(self, keys: frozenset[str], active: bool) -> None:
        self.keys = keys
        self.active = active

    def data(self, value: Any, context: Any = None) -> Any:
        """A copy of `value` with the value of every confidential key, at any depth, replaced, and
        every other text quoting such a value (a `title` variable) with the quote replaced; the
        values searched for come from `value` and from `context` (e.g. the instance's data)."""
        if not self.active:
            return value
        return self._walk(value, self.secrets([value, context]))

    def _walk(self, value: Any, secrets: list[str]) -> Any:
        if isinstance(value, Mapping):
            return {k: (MARK if k in self.keys and not _blank(v) else self._walk(v, secrets)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, secrets) for v in value]
        if isinstance(value, str) and secrets:
            return _replace(value, secrets)
        return value

    def record(self, data: Any, confidential: bool) -> Any:
        """A record's data: a confidential record keeps only its operational keys."""
        if not self.active:
            return data
        return self._keep(data) if confidential else self.data(data)

    def _keep(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, Mapping):
            return {
                k: (self._keep(v, k) if k in RECORD_KEEP or isinstance(v, (Mapping, list)) else _mask(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._keep(v, key) for v in value]
        return value if key in RECORD_KEEP else _mask(value)

    def secrets(self, data: Any) -> list[str]:
        """The confidential strings of instance data (to be searched for in texts), longest first."""
        found: set[str] = set()

        def collect(value: Any, inside: bool) -> None:
            if isinstance(value, Mapping):
                for k, v in value.items():
                    collect(v, inside or k in self.keys)
            elif isinstance(value, list):
                for v in value:
                    collect(v, inside)
            elif inside and isinstance(value, str) and len(value.strip()) >= MIN_QUOTE:
                found.add(value.strip())

        collect(data, False)
        return sorted(found, key=len, reverse=True)

    def text(self, text: str | None, data: Any) -> str | None:
        """`text` with every confidential value of `data` it quotes replaced (titles, incidents)."""
        if not self.active or not text:
            return text
        return _replace(text, self.secrets(data))

    def payload(self, event_type: str, payload: Any, data: Any = None) -> Any:
        """An event's payload: confidential keys redacted, texts quoting a confidential value of the
        payload or of the instance's data (`data`) — an incident's message — with the quote replaced."""
        if not self.active or not isinstance(payload, Mapping):
            return payload
        return self.data(payload, data)


def _replace(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MARK)
    return text


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _mask(value: Any) -> Any:
    return MARK if isinstance(value, str) and value else value


def redacts(p: Principal | None) -> bool:
    """三员分立: an account holding the system administrator's role reads no confidential content."""
    return p is not None and p.is_admin


def for_principal(p: Principal | None, forms_dir: Path | str | None) -> Redactor:
    active = redacts(p)
    return Redactor(confidential_keys(forms_dir) if active else frozenset(), active)


def for_audit(forms_dir: Path | str | None) -> Redactor:
    """The audit log's payloads: always redacted (the auditor reads who did what, not the case)."""
    return Redactor(confidential_keys(forms_dir), True)


def always(forms_dir: Path | str | None) -> Redactor:
    """For texts that leave the system (notifications): redacted whoever reads them."""
    return Redactor(confidential_keys(forms_dir), True)


def holds_confidential(keys: Iterable[str], data: Any) -> bool:
    """True when `data` holds a non-blank value under a confidential key (a read worth auditing)."""
    wanted = set(keys)

    def walk(value: Any) -> bool:
        if isinstance(value, Mapping):
            return any((k in wanted and not _blank(v)) or walk(v) for k, v in value.items())
        if isinstance(value, list):
            return any(walk(v) for v in value)
        return False

    return walk(data)
