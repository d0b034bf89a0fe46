"""The change-password page (`/password`): the signed-in user changes their own password.

It is also where a session that may only change its password lands (api/auth.py): after an
org import, with demo data in production, or when the password no longer meets the policy.
The rules are engine/org/passwords.py's; this page only shows their Chinese (or English) text.
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext, lazy_gettext

from engine.errors import Invalid, TooManyRequests
from engine.org import auth as engine_auth
from engine.org import passwords

from ..auth import bearer_token, client_address, current_principal
from ..extensions import clock, db, settings
from .base import page_blueprint, safe_next, signed_in

bp = page_blueprint("password")

# The policy's codes (engine/org/passwords.py MESSAGES) and the page's own, as the user reads them.
MESSAGES = {
    "too_short": lazy_gettext("At least %(n)s characters.", n=passwords.MIN_LENGTH),
    "too_long": lazy_gettext("At most %(n)s characters.", n=passwords.MAX_LENGTH),
    "control": lazy_gettext("No control characters."),
    "classes": lazy_gettext(
        "Use at least three of: upper-case letters, lower-case letters, digits, symbols (or %(n)s characters or more).",
        n=passwords.PASSPHRASE_LENGTH,
    ),
    "common": lazy_gettext("This is one of the most common passwords; choose another."),
    "guessable": lazy_gettext(
        "Too easy to guess (common words, names, dates, repeats or keyboard patterns); "
        "choose a longer or less predictable one."
    ),
    "username": lazy_gettext("The password must not contain your username."),
    "same": lazy_gettext("The new password must differ from the current one."),
    "wrong": lazy_gettext("The current password is wrong."),
    "mismatch": lazy_gettext("The two new passwords differ."),
    "required": lazy_gettext("Required."),
}


@bp.route("/password", methods=["GET", "POST"])
def change_password() -> Any:
    nxt = safe_next(request.values.get("next"))
    if signed_in() is None:
        return redirect(url_for("web.login", next=url_for("password.change_password")))
    p = current_principal()
    forced = bool(g.get("password_change_only"))
    if request.method == "GET":
        return render_template("password.html", next=nxt, forced=forced, errors={}, form_error=None)
    old = request.form.get("old_password") or ""
    new = request.form.get("new_password") or ""
    confirm = request.form.get("confirm_password") or ""
    errors: dict[str, list[str]] = {}
    for name, value in (("old_password", old), ("new_password", new), ("confirm_password", confirm)):
        if not value:
            errors.setdefault(name, []).append(str(MESSAGES["required"]))
    if new and confirm and new != confirm:
        errors.setdefault("confirm_password", []).append(str(MESSAGES["mismatch"]))
    status, form_error = 422, None
    if not errors:
        try:
            engine_auth.change_password(
                db(),
                settings(),
                clock().now(),
                p,
                old,
                new,
                client=client_address(),
                keep_token=bearer_token() or session.get("sid"),
            )
            db().commit()
            flash(gettext("Your password has been changed."), "info")
            return redirect(nxt or url_for("tasks.tasks"))
        except Invalid as exc:
            if exc.details and exc.details[0].get("field") == "old_password":
                db().commit()  # a wrong current password counts as a failed login
            else:
                db().rollback()
            for d in exc.details or []:
                errors.setdefault(d["field"], []).append(str(MESSAGES.get(d.get("code", ""), d["message"])))
        except TooManyRequests as exc:
            db().commit()
            status = 429
            minutes = max(1, -(-int((exc.details or {}).get("retry_after", 60)) // 60))
            form_error = gettext("Too many failed attempts. Try again in %(n)s minute(s).", n=minutes)
    return render_template("password.html", next=nxt, forced=forced, errors=errors, form_error=form_error), status
