"""Engine errors in the reader's language: the template of an error (engine/errors.py) is the
msgid of the gettext catalog in api/translations, its params fill in the translation.

The engine stays language-free; this is the one place that renders its messages. Pages render
in the page's language, the JSON API in the caller's (`api_language`: the language chosen in
the web session, else Accept-Language, else zh).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from flask import has_request_context, request, session

from engine.errors import Msg, SanjiError, is_msgs

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANGUAGES = ("zh", "en")
DEFAULT = "zh"


@cache
def translations(lang: str) -> NullTranslations:
    if lang == "en":
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), [lang])


def api_language() -> str:
    """The JSON API's language: the one chosen on the pages, else Accept-Language, else zh."""
    if not has_request_context():
        return DEFAULT
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    if request.headers.get("Accept-Language"):
        best = request.accept_languages.best_match(["zh", "zh-CN", "en", "en-US", "en-GB"])
        if best:
            return best.split("-")[0]
    return DEFAULT


def _value(v: Any, lang: str) -> Any:
    if isinstance(v, Msg):
        return text(v.template, v.params, lang)
    if is_msgs(v):
        return ("；" if lang == "zh" else "; ").join(text(m.template, m.params, lang) for m in v)
    return v


def text(template: str, params: dict[str, Any] | None, lang: str) -> str:
    """`template` translated into `lang` and filled with `params` (nested `Msg`s too)."""
    values = {k: _value(v, lang) for k, v in (params or {}).items()}
    translated = translations(lang).gettext(template)
    try:
        return translated.format(**values) if values else translated
    except (KeyError, IndexError, ValueError):  # a translation that names a parameter the template lacks
        return template.format(**values) if values else template


def known(template: str, lang: str) -> bool:
    """Whether the catalog has `template` in `lang` (a message still built with an f-string in a
    file not converted yet has none: pages then show only their translated lead sentence)."""
    return lang == "en" or template in getattr(translations(lang), "_catalog", {})


def page_message(err: SanjiError, lang: str) -> str | None:
    """The sentence for a page (no field id), None when the catalog does not know it."""
    return message(err, lang, with_field=False) if known(err.template, lang) else None


def message(err: SanjiError, lang: str, with_field: bool = True) -> str:
    """The error's sentence in `lang`; pages leave out the field id (`with_field=False`).
    The API falls back to the English text for a message the catalog does not know yet."""
    out = text(err.template, err.params, lang)
    return f"{err.field}: {out}" if with_field and err.field else out


def json_params(params: dict[str, Any] | None, lang: str) -> dict[str, Any]:
    """Params as JSON values (nested messages rendered, other objects as text)."""
    out: dict[str, Any] = {}
    for k, v in (params or {}).items():
        if isinstance(v, Msg):
            out[k] = text(v.template, v.params, lang)
        elif is_msgs(v):
            out[k] = [text(m.template, m.params, lang) for m in v]
        elif v is None or isinstance(v, (bool, int, float, str)):
            out[k] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (bool, int, float, str)) for x in v):
            out[k] = list(v)
        elif isinstance(v, (date, datetime)):
            out[k] = v.isoformat()
        else:
            out[k] = str(v)
    return out


def detail(d: Any, lang: str) -> Any:
    """One details entry with its message in `lang` (entries without a template stay as they are)."""
    if not isinstance(d, dict) or "template" not in d:
        return d
    out = {k: v for k, v in d.items() if k != "template"}
    out["message"] = text(str(d["template"]), d.get("params"), lang)
    out["params"] = json_params(d.get("params"), lang)
    return out


def details(value: Any, lang: str) -> Any:
    if isinstance(value, list):
        return [detail(d, lang) for d in value]
    return value


def to_json(err: SanjiError, lang: str) -> dict[str, Any]:
    """The API's error body: `error` (category), `code` (= error), `template` (the message's
    identity), `message` in `lang`, `params`, `details` (field errors rendered the same way)."""
    return {
        "error": err.code,
        "code": err.code,
        "template": err.template,
        "message": message(err, lang),
        "params": json_params(err.params, lang),
        "details": details(err.details, lang),
    }


def field_messages(err: SanjiError, lang: str) -> dict[str, str]:
    """{field: message} of an error's field details in `lang`; `_` when none names a field."""
    out: dict[str, str] = {}
    for d in err.details if isinstance(err.details, list) else []:
        if isinstance(d, dict) and d.get("field"):
            if "template" in d and known(str(d["template"]), lang):
                out.setdefault(str(d["field"]), text(str(d["template"]), d.get("params"), lang))
            elif "template" not in d and known(str(d.get("message")), lang):  # a literal of a file not converted yet
                out.setdefault(str(d["field"]), text(str(d.get("message")), None, lang))
            else:
                out.setdefault(str(d["field"]), page_message(err, lang) or text(NOT_VALID, None, lang))
    if not out:
        out["_"] = page_message(err, lang) or text(NOT_VALID, None, lang)
    return out


NOT_VALID = "this value is not valid"  # a template of engine/core/forms.py
