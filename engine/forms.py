"""JSON-schema forms for user tasks, validated on the server.

A user task names its form with the SpiffWorkflow property `formJsonSchemaFilename`; the
schema lives in `forms/`. Schemas are loaded once per file version (mtime) and checked
against their metaschema; completion data is validated with one message per field.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from .errors import Invalid, NotFound

_FORMAT_CHECKER = FormatChecker()


class FormStore:
    def __init__(self, forms_dir: Path) -> None:
        self.forms_dir = Path(forms_dir)
        self._cache: dict[str, tuple[float, dict[str, Any], Draft202012Validator]] = {}
        self._lock = threading.Lock()

    def path(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise NotFound(f"form {name!r} does not exist")
        return self.forms_dir / name

    def exists(self, name: str) -> bool:
        try:
            return self.path(name).is_file()
        except NotFound:
            return False

    def _entry(self, name: str) -> tuple[dict[str, Any], Draft202012Validator]:
        path = self.path(name)
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            raise NotFound(f"form {name!r} does not exist in {self.forms_dir.name}/") from None
        with self._lock:
            cached = self._cache.get(name)
            if cached and cached[0] == mtime:
                return cached[1], cached[2]
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        validator = Draft202012Validator(schema, format_checker=_FORMAT_CHECKER)
        with self._lock:
            self._cache[name] = (mtime, schema, validator)
        return schema, validator

    def schema(self, name: str) -> dict[str, Any]:
        return self._entry(name)[0]

    def problems(self, name: str) -> list[str]:
        """Why a form cannot be used (deploy-time check); empty when fine."""
        try:
            self._entry(name)
        except NotFound as exc:
            return [exc.message]
        except json.JSONDecodeError as exc:
            return [f"form {name!r} is not valid JSON: {exc}"]
        except SchemaError as exc:
            return [f"form {name!r} is not a valid JSON Schema: {exc.message}"]
        return []

    def validate(self, name: str | None, data: Any) -> None:
        """Raise Invalid (422) listing every field error; nothing is changed on failure."""
        if not isinstance(data, dict):
            raise Invalid("data must be a JSON object", [{"field": "", "message": "expected an object"}])
        if not name:
            return
        _schema, validator = self._entry(name)
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        if not errors:
            return
        details = []
        for err in errors:
            path = "/".join(str(p) for p in err.absolute_path)
            if err.validator == "required" and isinstance(err.instance, dict):
                missing = [r for r in err.validator_value if r not in err.instance]
                for field in missing:
                    details.append({"field": f"{path}/{field}" if path else field, "message": f"{field} is required"})
                continue
            details.append({"field": path, "message": err.message})
        # jsonschema reports a `required` error per missing property, each listing all of them: once each
        unique = list({(d["field"], d["message"]): d for d in details}.values())
        raise Invalid(f"form data is invalid: {len(unique)} problem(s)", unique)
