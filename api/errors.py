"""One error handler: every failure leaves as JSON `{"error", "code", "template", "message",
"params", "details"}`, the message in the caller's language (api/messages.py)."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from engine.errors import Conflict, Invalid, SanjiError, Unavailable, field_error

from .messages import api_language, to_json

log = logging.getLogger("sanji.api")


def _json(err: SanjiError, status: int | None = None):
    response = jsonify(to_json(err, api_language()))
    response.status_code = status or err.status
    if err.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="sanji"'
    if isinstance(err.details, dict) and "retry_after" in err.details:
        response.headers["Retry-After"] = str(err.details["retry_after"])
    return response


def _rollback() -> None:
    from flask import g

    session = g.get("_sanji_session")
    if session is not None:
        try:
            session.rollback()
        except Exception as exc:
            log.warning("rollback failed: %s", type(exc).__name__)


def _audit_refusal(err: SanjiError) -> None:
    """Every refused access (401, 403) is an `access_refused` event, in its own transaction
    (the request's changes are rolled back). Login failures are logged by the engine."""
    from flask import g

    from engine.infra import events
    from engine.infra.db import write_intent

    from .extensions import state

    if getattr(err, "audited", False):
        return
    try:
        st = state()
        principal = g.get("principal")
        with write_intent(), st.sessions() as session:
            events.log(
                session,
                st.clock.now(),
                "access_refused",
                actor=principal or "anonymous",
                payload={
                    "status": err.status,
                    "method": request.method,
                    "path": request.path[:300],
                    "reason": err.message[:300],
                },
            )
            session.commit()
    except Exception:
        log.warning("could not record access_refused", exc_info=True)


HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    400: "bad_request",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def http_message(status: int) -> SanjiError:
    """Werkzeug's own refusals (no route, wrong method…) as catalog messages."""
    if status == 404:
        return SanjiError("the requested URL was not found on the server")
    if status == 405:
        return SanjiError("the method is not allowed for the requested URL")
    if status == 413:
        return SanjiError("the request is larger than the server accepts")
    if status == 415:
        return SanjiError("the request's content type is not supported here")
    if status == 429:
        return SanjiError("too many requests; try again later")
    if status == 400:
        return SanjiError("the request could not be understood")
    return SanjiError("the request could not be handled")


def register(app: Flask) -> None:
    @app.errorhandler(SanjiError)
    def sanji_error(err: SanjiError):
        _rollback()
        if err.status in (401, 403):
            _audit_refusal(err)
        return _json(err)

    @app.errorhandler(StaleDataError)
    def stale(_err: StaleDataError):
        _rollback()
        return _json(Conflict("the object was changed by someone else at the same time; reload and try again"))

    @app.errorhandler(IntegrityError)
    def integrity(_err: IntegrityError):
        _rollback()
        return _json(Conflict("a concurrent change conflicted with this request; try again"))

    @app.errorhandler(DataError)
    def bad_value(_err: DataError):
        _rollback()  # e.g. a NUL character or an out-of-range number the database refuses
        return _json(
            Invalid(
                "a value in the request cannot be stored or compared by the database",
                [field_error("", "value refused by the database")],
            )
        )

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(PendingRollbackError)
    def pool_exhausted(err: Exception):
        _rollback()
        log.error("database error: %s", type(err).__name__)
        return _json(Unavailable("the database is unavailable; try again shortly"))

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_down(err: DBAPIError):
        _rollback()
        text = str(getattr(err, "orig", err)).lower()
        if "deadlock" in text or "could not serialize" in text or "database is locked" in text:
            return _json(Conflict("a concurrent change conflicted with this request; try again"))
        log.error("database error: %s", type(err).__name__)
        return _json(Unavailable("the database is unavailable; try again shortly"))

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        _rollback()
        code = HTTP_CODES.get(err.code or 500, "error")
        if not request.path.startswith("/api/") and err.code == 404 and request.accept_mimetypes.accept_html:
            from api.web.base import not_found_page  # the pages' 404, not Werkzeug's English one

            return not_found_page()
        e = http_message(err.code or 500)
        e.code = code
        return _json(e, err.code)

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        _rollback()
        log.exception("unexpected error on %s %s", request.method, request.path)
        e = SanjiError("internal error; it has been logged")
        e.code = "internal"
        return _json(e, 500)
