"""The server-rendered web application: layout, sign-in, language, CSRF, security headers.

`init_app(app)` (one line in `create_app`) sets up what every page needs:

- sign-in: the signed Flask session cookie holds the user id and a random session id whose
  SHA-256 is an `api_token` row of kind "web" (logout and expiry are enforced server-side; the id
  is no bearer token and no bearer token is ever put in the cookie, see api/auth.py); the session
  is cleared and re-issued at every sign-in; the cookie is HttpOnly, SameSite=Lax, and Secure
  whenever the request came over HTTPS (directly or, with SANJI_PROXY_FIX, through a proxy's
  X-Forwarded-Proto);
- CSRF (Flask-WTF's CSRFProtect) on every state-changing page request and on API requests that
  authenticate with the session cookie; bearer-token API calls carry no cookies and are exempt;
- zh-CN by default, English on request (Flask-Babel, catalog in api/translations);
- a navigation registry (`nav_item`) that later pages extend, and the open-task badge.

Task pages live in `api/web/tasks.py` on the same blueprint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    g,
    has_request_context,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel, get_locale, gettext, lazy_gettext
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WzResponse

from engine.errors import Forbidden, NotFound, PasswordChangeRequired, SanjiError, TooManyRequests, Unauthorized
from engine.infra import events
from engine.models import HumanTask
from engine.org import auth as engine_auth
from engine.org.nodes import Principal
from engine.org.routing import offered_clause

from .. import messages
from ..auth import bearer_token, client_address, current_principal
from ..extensions import SAFE_METHODS, clock, db, settings

bp = Blueprint("web", __name__)
csrf = CSRFProtect()
babel = Babel()

LANGUAGES = {"zh": "中文", "en": "English"}
HTML_LANG = {"zh": "zh-CN", "en": "en"}
DEFAULT_LANGUAGE = "zh"
TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"  # api/translations


# ---- set-up ------------------------------------------------------------------------------------------


class SessionInterface(SecureCookieSessionInterface):
    """The signed cookie session, Secure whenever the request itself came over HTTPS."""

    def open_session(self, app: Flask, request: Any) -> Any:
        # No cookie (every bearer-token API call): an empty session without building the
        # signing serializer, which Flask otherwise does on each request (≈ 0.1 ms here).
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config.get("SESSION_COOKIE_SECURE"):
            return True
        return has_request_context() and request.is_secure


def init_app(app: Flask) -> None:
    st = settings_of(app)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=st.token_ttl_hours),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked below, with the bearer-token exemption
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the session (whose token expires server-side)
        BABEL_DEFAULT_LOCALE=DEFAULT_LANGUAGE,
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
    )
    app.session_interface = SessionInterface()
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_language)

    @app.before_request
    def _csrf_protect() -> None:
        if request.method in SAFE_METHODS:
            return
        if request.path.startswith("/api/") and (
            bearer_token() or not session.get("uid") or request.path == "/api/v1/auth/login"
        ):
            # bearer calls carry no cookies; without a session the API answers 401 anyway; the API
            # login only returns a token in its body and does not touch the session
            return
        csrf.protect()

    @app.errorhandler(CSRFError)
    def _csrf_failed(err: CSRFError) -> Any:
        from api.errors import _rollback

        _rollback()
        if request.path.startswith("/api/"):
            refusal = SanjiError(
                "the CSRF token is missing or invalid: send the X-CSRFToken header (the page's csrf-token meta)"
            )
            refusal.code = "csrf_failed"
            return jsonify(messages.to_json(refusal, messages.api_language())), 400
        return render_template(
            "error.html",
            status=400,
            title=gettext("The page has expired"),
            message=gettext(
                "The form was open too long or the session changed. Go back, reload the page and try again."
            ),
        ), 400

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Cache-Control", "no-store")
            if request.blueprint in CSP_BLUEPRINTS:
                response.headers.setdefault("Content-Security-Policy", CSP)
        return response

    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["localdate"] = localdate
    app.jinja_env.globals["nav_items"] = visible_nav
    app.jinja_env.globals["languages"] = LANGUAGES
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["html_lang"] = lambda: HTML_LANG.get(current_language(), "zh-CN")
    app.jinja_env.policies["ext.i18n.trimmed"] = True

    app.register_blueprint(bp)


def page_blueprint(name: str) -> Blueprint:
    """A blueprint of pages: engine errors render as the error page (not JSON), and its pages get
    the Content-Security-Policy. `create_app` registers each page blueprint explicitly."""
    page_bp = Blueprint(name, __name__.rsplit(".", 1)[0] + "." + name)
    page_bp.register_error_handler(SanjiError, _page_error)
    CSP_BLUEPRINTS.add(name)
    return page_bp


# No inline scripts; styles may be inline (diagram viewers set style attributes). Sent with the
# pages of the blueprints named here: a blueprint whose templates keep every script in a file under
# static/ adds its name (pages that mount bpmn-js with an inline <script> do not, yet).
CSP_BLUEPRINTS = {"web"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def settings_of(app: Flask) -> Any:
    return app.extensions["sanji"].settings


def select_language() -> str:
    lang = session.get("lang") if has_request_context() else None
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def current_language() -> str:
    return str(get_locale() or DEFAULT_LANGUAGE)


# ---- time formatting ----------------------------------------------------------------------------------


def localtime(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        value = parsed
    if value.tzinfo is not None:
        value = value.astimezone(settings().zone)
    return value.strftime(fmt)


def localdate(value: datetime | str | None) -> str:
    return localtime(value, "%Y-%m-%d")


# ---- who is signed in ----------------------------------------------------------------------------------


def signed_in() -> Principal | None:
    """The signed-in user, or None (an expired or revoked session is cleared)."""
    if "web_principal" in g:
        return g.web_principal
    p: Principal | None = None
    if session.get("uid") or bearer_token():
        try:
            p = current_principal()
        except PasswordChangeRequired:  # signed in, but this page is not the change-password page
            g.password_change_required = True
        except Unauthorized:
            keep = session.get("lang")
            session.clear()
            if keep:
                session["lang"] = keep
    g.web_principal = p
    return p


def signin_required(fn: Callable[..., Any]) -> Callable[..., Any]:
    from functools import wraps

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if signed_in() is None:
            if g.get("password_change_required"):
                return redirect(url_for("password.change_password", next=return_path()))
            return redirect(url_for("web.login", next=return_path()))
        return fn(*args, **kwargs)

    return wrapper


def return_path() -> str | None:
    """Where to come back after signing in: this page, or for a form post the page it belongs to."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    try:
        current_app.url_map.bind("").match(request.path, method="GET")
    except HTTPException:
        return None
    return request.path


def safe_next(target: str | None) -> str | None:
    """Only a path on this site (no scheme, host or protocol-relative //, no control characters:
    a CR/LF would split the Location header)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(c) < 33 or ord(c) == 127 for c in target) or len(target) > 2000:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def back(default: str) -> WzResponse:
    """Redirect to the form's `next` field when it is a path of this site, else to `default`."""
    return redirect(safe_next(request.form.get("next")) or default)


def open_task_count(p: Principal) -> int:
    if "open_task_count" not in g:
        g.open_task_count = (
            db().scalar(
                select(func.count()).select_from(HumanTask).where(HumanTask.status == "open", offered_clause(p))
            )
            or 0
        )
    return int(g.open_task_count)


@bp.app_context_processor
def _layout() -> dict[str, Any]:
    if not has_request_context() or request.path.startswith("/api/"):
        return {}
    p = signed_in()
    if g.get("password_change_only"):  # a session that may only change its password sees no counts
        return {"me": p, "open_count": None}
    return {"me": p, "open_count": open_task_count(p) if p is not None else None}


# ---- navigation registry -----------------------------------------------------------------------------


@dataclass
class NavItem:
    endpoint: str
    label: Any  # a lazy_gettext string
    visible: Callable[[Principal], bool]
    order: int
    badge: bool | Callable[[Principal], int] = False  # True: the open-task count; or a count of its own
    prefix: str | None = None  # URL prefix that marks the item active (default: the endpoint's URL)
    badge_id: str = "task-badge"
    badge_title: Any = None


NAV: list[NavItem] = []


def nav_item(
    endpoint: str,
    label: Any,
    visible: Callable[[Principal], bool] = lambda p: True,
    order: int = 100,
    badge: bool | Callable[[Principal], int] = False,
    prefix: str | None = None,
    badge_id: str = "task-badge",
    badge_title: Any = None,
) -> NavItem:
    """An entry of the header navigation; a page module lists its own in `NAV`."""
    return NavItem(endpoint, label, visible, order, badge, prefix, badge_id, badge_title)


def register_nav(items: list[NavItem]) -> None:
    """Add a page module's entries to the header (called by `create_app`, once per module)."""
    for item in items:
        if not any(known.endpoint == item.endpoint for known in NAV):
            NAV.append(item)
    NAV.sort(key=lambda i: i.order)


def visible_nav() -> list[dict[str, Any]]:
    p = g.get("web_principal")
    if p is None or g.get("password_change_only"):
        return []
    out = []
    for item in NAV:
        if not item.visible(p):
            continue
        url = url_for(item.endpoint)
        active = request.endpoint == item.endpoint or (item.prefix is not None and request.path.startswith(item.prefix))
        badge = None if not item.badge else item.badge(p) if callable(item.badge) else open_task_count(p)
        out.append(
            {
                "url": url,
                "label": str(item.label),
                "active": active,
                "badge": badge,
                "badge_id": item.badge_id,
                "badge_title": str(item.badge_title or gettext("Open tasks")),
            }
        )
    return out


# ---- errors on pages -----------------------------------------------------------------------------------

ERROR_TITLES = {
    400: lazy_gettext("The request could not be handled"),
    403: lazy_gettext("Not allowed"),
    404: lazy_gettext("Not found"),
    409: lazy_gettext("Changed in the meantime"),
    422: lazy_gettext("Invalid input"),
    429: lazy_gettext("Too many requests"),
    503: lazy_gettext("Temporarily unavailable"),
}


def error_message(err: SanjiError) -> str:
    """A translated sentence for an engine error (its English text is shown as the detail)."""
    if isinstance(err, NotFound):
        return gettext("It does not exist, or you may not see it.")
    if isinstance(err, Forbidden):
        return gettext("Your roles do not allow this.")
    if err.status == 409:
        return gettext("Someone changed it in the meantime, or its state does not allow this.")
    if isinstance(err, TooManyRequests):
        return gettext("Too many attempts; try again later.")
    if err.status == 503:
        return gettext("The database is unavailable; try again shortly.")
    return gettext("The request could not be handled.")


def not_found_page() -> Any:
    """A page address no route knows: the site's own 404 page in the reader's language."""
    return render_template(
        "error.html", status=404, title=str(ERROR_TITLES[404]), message=gettext("This page does not exist.")
    ), 404


@bp.errorhandler(SanjiError)
def _page_error(err: SanjiError) -> Any:
    from api.errors import _audit_refusal, _rollback

    _rollback()
    if isinstance(err, Unauthorized):
        return redirect(url_for("web.login", next=return_path()))
    if isinstance(err, PasswordChangeRequired):
        return redirect(url_for("password.change_password", next=return_path()))
    if err.status == 403:
        _audit_refusal(err)  # refused on a page as on the API: an access_refused event for the auditor
    return render_template(
        "error.html",
        status=err.status,
        title=str(ERROR_TITLES.get(err.status, ERROR_TITLES[400])),
        message=error_message(err),
        detail=messages.page_message(err, current_language()),
    ), err.status


# ---- sign-in, sign-out, language ---------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    nxt = safe_next(request.values.get("next"))
    if request.method == "GET":
        if signed_in() is not None:
            return redirect(nxt or url_for("tasks.tasks"))
        if g.get("password_change_required"):
            return redirect(url_for("password.change_password", next=nxt))
        return render_template("login.html", next=nxt, username="")
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    if not username or not password:
        return render_template(
            "login.html", next=nxt, username=username, error=gettext("Enter your username and password.")
        ), 400
    now = clock().now()
    try:
        result = engine_auth.authenticate(db(), settings(), now, username[:64], password, client_address())
    except SanjiError as exc:
        db().commit()  # keep the failure counts and the audit event
        if isinstance(exc, TooManyRequests):
            minutes = max(1, -(-int((exc.details or {}).get("retry_after", 60)) // 60))
            error = gettext("Too many failed sign-ins. Try again in %(n)s minute(s).", n=minutes)
        elif isinstance(exc, Forbidden) and (exc.details or {}).get("reason") == "demo_password":
            error = gettext("Demo passwords are refused in production; ask an administrator to set a real password.")
        elif isinstance(exc, Forbidden):
            error = gettext("This password is too easy to guess to be accepted; ask an administrator to set a new one.")
        else:
            error = gettext("Wrong username or password.")
        response = make_response(render_template("login.html", next=nxt, username=username, error=error), exc.status)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str((exc.details or {}).get("retry_after", 60))
        return response
    sid = engine_auth.issue_token(
        db(), result.user, now, settings().token_ttl_hours, kind="web", password_change_only=result.password_change_only
    )
    db().commit()
    lang = session.get("lang")
    session.clear()  # a new session at every sign-in (and with it a new CSRF token)
    session["uid"], session["sid"] = result.user.id, sid
    if lang:
        session["lang"] = lang
    if result.password_change_only:
        return redirect(url_for("password.change_password", next=nxt))
    return redirect(nxt or url_for("tasks.tasks"))


@bp.post("/logout")
def logout() -> Any:
    sid = session.get("sid")
    p = signed_in()
    if sid:
        engine_auth.revoke_token(db(), sid, clock().now())
        events.log(db(), clock().now(), "logout", actor=p, payload={"channel": "web"})
        db().commit()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(gettext("You have signed out."), "info")
    return redirect(url_for("web.login"))


@bp.post("/lang")
def set_language() -> Any:
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
    return back(url_for("tasks.tasks"))
