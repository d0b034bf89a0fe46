"""Passwords (argon2id), bearer tokens (random, stored as SHA-256), login throttling."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from . import events
from .errors import Forbidden, TooManyRequests, Unauthorized
from .models import ApiToken, LoginThrottle, OrgNode, RoleAssignment, User
from .org import Principal, RoleOn
from .settings import DEMO_PASSWORD, Settings

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def demo_hash() -> str:
    """One hash shared by all demo users: loading the demo organisation stays fast."""
    return _hasher.hash(DEMO_PASSWORD)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(session: Session, settings: Settings, now: datetime, username: str, password: str) -> User:
    """Check a password login, with throttling and audit events; raise on any failure."""
    throttle = session.get(LoginThrottle, username)
    if throttle and throttle.locked_until and throttle.locked_until > now:
        events.log(session, now, "login_throttled", actor=username, payload={"username": username})
        raise TooManyRequests("too many failed logins; try again later",
                              {"retry_after": int((throttle.locked_until - now).total_seconds())})
    user = session.scalars(select(User).where(User.username == username)).first()
    ok = user is not None and user.active and verify_password(user.password_hash, password)
    if ok and settings.production and password == DEMO_PASSWORD:
        events.log(session, now, "login_failed", actor=username, payload={"username": username, "reason": "demo password"})
        raise Forbidden("demo passwords are refused in production; set a real password")
    if not ok:
        _record_failure(session, settings, now, username, throttle)
        events.log(session, now, "login_failed", actor=username, payload={"username": username})
        raise Unauthorized("wrong username or password")
    if throttle is not None:
        session.delete(throttle)
    assert user is not None
    events.log(session, now, "login", actor=username, payload={"user_id": user.id})
    return user


def _record_failure(session: Session, settings: Settings, now: datetime, username: str,
                    throttle: LoginThrottle | None) -> None:
    window = timedelta(seconds=settings.login_lock_seconds)
    if throttle is None:
        session.add(LoginThrottle(username=username[:64], failures=1, first_failure_at=now))
        return
    if now - throttle.first_failure_at > window:
        throttle.failures, throttle.first_failure_at, throttle.locked_until = 1, now, None
        return
    throttle.failures += 1
    if throttle.failures >= settings.login_max_failures:
        throttle.locked_until = now + window


def issue_token(session: Session, user: User, now: datetime, ttl_hours: int) -> str:
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), created_at=now,
                         expires_at=now + timedelta(hours=ttl_hours)))
    return token


def user_for_token(session: Session, token: str, now: datetime) -> User:
    row = session.execute(
        select(User, ApiToken.expires_at, ApiToken.revoked_at).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_hash(token))).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now or not row.User.active:
        raise Unauthorized("the bearer token is invalid, expired or revoked")
    return row.User


@lru_cache(maxsize=1)
def _principal_query() -> Any:
    """Built once (statement construction costs more than running it); plain columns, no ORM
    entity to load (every authenticated request pays this statement)."""
    return (select(User.id, User.username, User.display_name, User.active, ApiToken.expires_at,
                   ApiToken.revoked_at, RoleAssignment.role, RoleAssignment.node_id, OrgNode.tier, OrgNode.path)
            .join(ApiToken, ApiToken.user_id == User.id)
            .outerjoin(RoleAssignment, RoleAssignment.user_id == User.id)
            .outerjoin(OrgNode, OrgNode.id == RoleAssignment.node_id)
            .where(ApiToken.token_hash == bindparam("token_hash")))


def principal_for_token(session: Session, token: str, now: datetime) -> Principal:
    """The token's Principal in one round trip: token, user and roles (with their nodes' tier
    and path) joined. Same checks as `user_for_token`; the User row itself is not loaded."""
    rows = session.connection().execute(_principal_query(), {"token_hash": token_hash(token)}).all()
    first = rows[0] if rows else None
    if first is None or first.revoked_at is not None or first.expires_at <= now or not first.active:
        raise Unauthorized("the bearer token is invalid, expired or revoked")
    roles = [RoleOn(r.role, r.node_id, r.tier, r.path) for r in rows if r.role is not None]
    return Principal(first.id, first.username, first.display_name, roles)


def revoke_token(session: Session, token: str, now: datetime) -> None:
    session.execute(update(ApiToken).where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))
                    .values(revoked_at=now))
