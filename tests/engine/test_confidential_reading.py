"""The confidential keys are looked up once per reading (a request, a notification pass) and
afresh in the next one: a form marked x-confidential later is honoured from the next reading on."""
from __future__ import annotations

import json
import os

from engine.org import confidential


def write_form(folder, name, field, mtime):
    path = folder / name
    path.write_text(json.dumps({"type": "object", "properties": {field: {"type": "string", "x-confidential": True}}}))
    os.utime(path, (mtime, mtime))


def test_one_lookup_per_reading_and_a_fresh_one_in_the_next(tmp_path):
    write_form(tmp_path, "a.json", "accused", 1_000_000)
    with confidential.one_reading():
        assert "accused" in confidential.confidential_keys(tmp_path)
        write_form(tmp_path, "b.json", "informant", 1_000_100)
        keys = confidential.confidential_keys(tmp_path)
        assert "accused" in keys and "informant" not in keys  # as of the reading's first use
    assert "informant" in confidential.confidential_keys(tmp_path)  # outside a reading: every call looks
    with confidential.one_reading():
        assert {"accused", "informant"} <= confidential.confidential_keys(tmp_path)


def test_readings_nest_and_restore():
    token = confidential.begin_reading()
    try:
        with confidential.one_reading():
            pass
        assert confidential._READING.get().keys == {}
    finally:
        confidential.end_reading(token)
    assert confidential._READING.get() is None
