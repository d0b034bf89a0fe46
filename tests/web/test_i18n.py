"""Every page string has a Chinese translation and the compiled catalog matches its source."""
from __future__ import annotations

from api import i18n


def test_catalog_is_complete_and_compiled():
    assert i18n.check() == []


def test_extraction_finds_the_page_strings():
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in i18n.extract() if m.id}
    assert {"My tasks", "Sign in", "Send back", "Urge", "This field is required."} <= ids
    catalog = {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in i18n.load() if m.id}
    assert catalog["My tasks"] == "待办" and catalog["Urge"] == "催办" and catalog["Done"] == "已办"
