"""The translation catalog of the web pages and of engine error messages: English message ids,
Chinese (zh) translations. Error templates (api/error_templates.py) are msgids like page strings.

    python -m api.i18n update    add new messages of api/*.py and api/templates to the zh catalog
    python -m api.i18n compile   write messages.mo from messages.po (both are committed)
    python -m api.i18n check     exit 1 if a message is missing, untranslated or the .mo is stale

tests/web/test_i18n.py runs `check`, so a page string without a Chinese translation fails the suite.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from api.error_templates import scan

API = Path(__file__).resolve().parent
CATALOG = API / "translations" / "zh" / "LC_MESSAGES"
PO, MO = CATALOG / "messages.po", CATALOG / "messages.mo"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "lazy_ngettext": (1, 2)}
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]


def extract() -> Catalog:
    catalog = Catalog(locale="zh", project="sanji", charset="utf-8")
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(API), METHODS, keywords=KEYWORDS, options_map={"**/templates/**.html": {"trimmed": "true"}}
    ):
        catalog.add(message, None, [(filename, lineno)], context=context)
    for template, filename, lineno in scan().templates:
        if template and template not in catalog:
            catalog.add(template, None, [(f"../{filename}", lineno)], flags=("python-brace-format",))
    return catalog


def load() -> Catalog:
    with PO.open("rb") as f:
        return read_po(f, locale="zh")


def update() -> int:
    template = extract()
    if PO.exists():
        catalog = load()
        catalog.update(template, no_fuzzy_matching=True)
    else:
        catalog = Catalog(locale="zh", project="sanji", charset="utf-8")
        catalog.update(template)
    CATALOG.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as f:
        write_po(f, catalog, width=120, sort_output=True, ignore_obsolete=True, include_previous=False)
    return sum(1 for m in catalog if m.id and not _translated(m))


def compiled() -> bytes:
    buf = io.BytesIO()
    write_mo(buf, load(), use_fuzzy=False)
    return buf.getvalue()


def compile_mo() -> None:
    MO.write_bytes(compiled())


def _translated(message: Any) -> bool:
    s = message.string
    return all(s) if isinstance(s, (list, tuple)) else bool(s)


def check() -> list[str]:
    problems = []
    catalog = load()
    known = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    for m in extract():
        key = m.id if isinstance(m.id, str) else m.id[0]
        if m.id and key not in known:
            problems.append(f"not in the catalog: {key!r} ({m.locations[0][0]}:{m.locations[0][1]})")
    for m in catalog:
        if m.id and not _translated(m):
            problems.append(f"no Chinese translation: {m.id!r}")
        if m.id and m.fuzzy:
            problems.append(f"fuzzy translation: {m.id!r}")
    if not MO.exists() or MO.read_bytes() != compiled():
        problems.append("messages.mo is stale: run python -m api.i18n compile")
    return problems


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "update":
        missing = update()
        print(f"{PO.relative_to(API.parent)}: {missing} message(s) without translation")
        return 0
    if command == "compile":
        compile_mo()
        print(f"wrote {MO.relative_to(API.parent)}")
        return 0
    problems = check()
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
