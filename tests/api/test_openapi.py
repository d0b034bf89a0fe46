"""The OpenAPI document and the Flask routes describe the same API."""
from __future__ import annotations

import re

from jsonschema import Draft202012Validator


def flask_paths(app) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule == "/api/v1/openapi.json":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: "{" + ("id" if m.group(1).endswith("_id") else m.group(1)) + "}",
                      rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            out.add((path, method.lower()))
    return out


def test_every_route_is_documented_and_nothing_else(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert flask_paths(app) == documented


def test_schemas_are_valid_json_schema(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
