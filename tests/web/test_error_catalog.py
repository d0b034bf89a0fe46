"""Every engine error is a catalog message (issue 14): its template is a literal at the place it
is raised (no f-string, no `%` or `.format` built text, no hand-made {field, message} detail),
and the catalog holds a Chinese translation of every template that uses only its parameters."""
from __future__ import annotations

import re

from api import error_templates, i18n

def test_every_error_template_is_a_literal():
    problems = [f"{f}:{line}: {what}" for f, line, what in error_templates.scan().problems]
    assert problems == []


def test_every_template_has_a_chinese_translation_with_its_own_parameters():
    catalog = {m.id: m.string for m in i18n.load() if m.id and isinstance(m.id, str)}
    missing, wrong = [], []
    for template, f, line in error_templates.scan().templates:
        zh = catalog.get(template)
        if not zh:
            missing.append(f"{f}:{line}: {template!r}")
        elif not set(re.findall(r"\{(\w+)", zh)) <= set(re.findall(r"\{(\w+)", template)):
            wrong.append(template)
    assert missing == [] and wrong == []


def test_the_scanner_sees_the_forms_of_a_message():
    scan = error_templates.scan()
    found = {t for t, _f, _l in scan.templates}
    assert {"unknown users: {missing}", "this field is required", "at least {n} characters",
            "import row {lineno}: {problem}", "the requested URL was not found on the server"} <= found
