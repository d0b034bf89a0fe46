"""Passwords (argon2id), logins, password changes, and tokens: bearer tokens and web session ids
(random, stored as SHA-256). Throttling is engine/org/throttle.py; the policy engine/org/passwords.py."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from engine.errors import Forbidden, Invalid, TooManyRequests, Unauthorized, field_error
from engine.infra import events
from engine.infra.settings import DEMO_PASSWORD, Settings
from engine.models import ApiToken, OrgNode, RoleAssignment, User
from engine.org import passwords, throttle
from engine.org.nodes import Principal, RoleOn

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


@dataclass(frozen=True)
class Login:
    user: User
    password_change_only: bool  # the session may only change the password (must_change_password)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash no password matches, verified for unknown and inactive users so that they take as
    long to refuse as a wrong password for an active one (no user enumeration by timing)."""
    return _hasher.hash(secrets.token_urlsafe(24))


def authenticate(
    session: Session, settings: Settings, now: datetime, username: str, password: str, client: str = "unknown"
) -> Login:
    """Check a password login from `client` (engine.org.throttle.client_key), with throttling and
    audit events; raise on any failure. Every attempt that is not throttled verifies one argon2
    hash, whether the username exists or not."""
    refusal = throttle.check(session, settings, now, client, username)
    if refusal is not None:
        events.log(
            session,
            now,
            "login_throttled",
            actor=username,
            payload={
                "username": username,
                "client": client,
                "reason": refusal.reason,
                "retry_after": refusal.retry_after,
            },
        )
        raise TooManyRequests(
            "too many failed logins; try again later", {"retry_after": refusal.retry_after, "reason": refusal.reason}
        )
    user = session.scalars(select(User).where(User.username == username)).first()
    matches = verify_password(user.password_hash if user is not None else dummy_hash(), password)
    if not (matches and user is not None and user.active):
        throttle.record_failure(session, settings, now, client, username)
        events.log(session, now, "login_failed", actor=username, payload={"username": username, "client": client})
        raise Unauthorized("wrong username or password")
    demo = password == DEMO_PASSWORD
    objections = (
        set(passwords.problems(password, username, user.display_name)) if settings.production and not demo else set()
    )
    if settings.production and (demo or objections & {"common", "guessable"}):
        # a password anyone could guess grants nothing in production, not even a change of itself
        events.log(
            session,
            now,
            "login_failed",
            actor=username,
            payload={"username": username, "client": client, "reason": "demo password" if demo else "weak password"},
        )
        if demo:
            raise Forbidden(
                "demo passwords are refused in production; set a real password", {"reason": "demo_password"}
            )
        raise Forbidden(
            "this password is too easy to guess to be accepted in production; ask an administrator to set a new one",
            {"reason": "weak_password"},
        )
    throttle.record_success(session, settings, now, client, username)
    # someone else chose the password (import, demo data), or it no longer meets the policy: the
    # session can only change it. Development keeps the demo password usable as it is.
    change_only = bool(objections) or (user.must_change_password and not (demo and not settings.production))
    events.log(
        session,
        now,
        "login",
        actor=username,
        payload={"user_id": user.id, "client": client, **({"password_change_only": True} if change_only else {})},
    )
    return Login(user, change_only)


def set_password(
    session: Session, user: User, password: str, *, must_change: bool = False, field: str = "password"
) -> None:
    """Give `user` a new password that meets the policy (engine/org/passwords.py); `must_change`
    when someone other than its owner chose it."""
    passwords.require(password, field, user.username, user.display_name)
    user.password_hash = hash_password(password)
    user.must_change_password = must_change


def change_password(
    session: Session,
    settings: Settings,
    now: datetime,
    actor: Principal,
    old: str,
    new: str,
    *,
    client: str,
    keep_token: str | None,
) -> None:
    """The owner changes their own password, proving the old one. A wrong old password counts as
    a failed login (the same throttle); success ends every other session and token of the user
    and lifts the current one's password-change-only restriction."""
    user = session.get(User, actor.id)
    if user is None:
        raise Unauthorized("the user no longer exists")
    refusal = throttle.check(session, settings, now, client, user.username)
    if refusal is not None:
        events.log(
            session,
            now,
            "login_throttled",
            actor=actor,
            payload={
                "username": user.username,
                "client": client,
                "reason": refusal.reason,
                "retry_after": refusal.retry_after,
                "channel": "password_change",
            },
        )
        raise TooManyRequests(
            "too many failed attempts; try again later", {"retry_after": refusal.retry_after, "reason": refusal.reason}
        )
    if not verify_password(user.password_hash, old):
        throttle.record_failure(session, settings, now, client, user.username)
        events.log(session, now, "password_change_failed", actor=actor, payload={"client": client})
        raise Invalid(
            "old_password is not the current password",
            [field_error("old_password", "not the current password", "wrong")],
        )
    if new == old:
        raise Invalid("new_password is the same as the current password", passwords.details(["same"], "new_password"))
    set_password(session, user, new, field="new_password")
    kept = token_hash(keep_token) if keep_token else ""
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.token_hash != kept)
        .values(revoked_at=now)
    )
    session.execute(update(ApiToken).where(ApiToken.token_hash == kept).values(password_change_only=False))
    throttle.record_success(session, settings, now, client, user.username)
    events.log(session, now, "password_changed", actor=actor, payload={"client": client})


def issue_token(
    session: Session,
    user: User,
    now: datetime,
    ttl_hours: int,
    *,
    kind: str = "api",
    password_change_only: bool = False,
) -> str:
    """A new random secret, stored as its SHA-256. kind "api": a bearer token for the API;
    kind "web": the session id the cookie carries (never accepted as a bearer token)."""
    token = secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + timedelta(hours=ttl_hours),
            kind=kind,
            password_change_only=password_change_only,
        )
    )
    return token


def user_for_token(session: Session, token: str, now: datetime, kind: str = "api") -> User:
    row = session.execute(
        select(User, ApiToken.expires_at, ApiToken.revoked_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_hash(token), ApiToken.kind == kind)
    ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now or not row.User.active:
        raise Unauthorized("the bearer token is invalid, expired or revoked")
    return row.User


@lru_cache(maxsize=1)
def _principal_query() -> Any:
    """Built once (statement construction costs more than running it); plain columns, no ORM
    entity to load (every authenticated request pays this statement)."""
    return (
        select(
            User.id,
            User.username,
            User.display_name,
            User.active,
            ApiToken.expires_at,
            ApiToken.revoked_at,
            ApiToken.password_change_only,
            RoleAssignment.role,
            RoleAssignment.node_id,
            OrgNode.tier,
            OrgNode.path,
        )
        .join(ApiToken, ApiToken.user_id == User.id)
        .outerjoin(RoleAssignment, RoleAssignment.user_id == User.id)
        .outerjoin(OrgNode, OrgNode.id == RoleAssignment.node_id)
        .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.kind == bindparam("kind"))
    )


def resolve_token(session: Session, token: str, now: datetime, kind: str = "api") -> tuple[Principal, bool]:
    """The token's Principal in one round trip (token, user and roles with their nodes' tier and
    path joined; the User row itself is not loaded), and whether the token may only change the
    password. A token of another kind is unknown here: a cookie's session id is no bearer token."""
    rows = session.connection().execute(_principal_query(), {"token_hash": token_hash(token), "kind": kind}).all()
    first = rows[0] if rows else None
    if first is None or first.revoked_at is not None or first.expires_at <= now or not first.active:
        raise Unauthorized(
            "the bearer token is invalid, expired or revoked" if kind == "api" else "the session is no longer valid"
        )
    roles = [RoleOn(r.role, r.node_id, r.tier, r.path) for r in rows if r.role is not None]
    return Principal(first.id, first.username, first.display_name, roles), bool(first.password_change_only)


def principal_for_token(session: Session, token: str, now: datetime, kind: str = "api") -> Principal:
    """Same checks as `resolve_token`; for callers that do not care about the restriction."""
    return resolve_token(session, token, now, kind)[0]


def revoke_token(session: Session, token: str, now: datetime) -> None:
    session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def import_org(session: Session, rows: list[dict[str, str]], now: datetime) -> dict[str, int]:
    """`org.import_rows` with the password policy checked on every user row first (the whole file
    is refused, naming the row), and `must_change_password` set on the users it creates: their
    initial passwords were chosen by whoever wrote the file."""
    from engine.org import nodes as org

    for lineno, row in enumerate(rows, start=2):
        if row.get("kind", "").lower() == "user" and row.get("password"):
            codes = passwords.problems(row["password"], row.get("username", ""), row.get("display_name", ""))
            if codes:
                text = [passwords.MESSAGES[c] for c in codes]
                raise Invalid(
                    "import row {lineno}: the password does not meet the password policy: {text}",
                    passwords.details(codes, f"row {lineno} password"),
                    lineno=lineno,
                    text=text,
                )
    existing = set(session.scalars(select(User.username)))
    counts = org.import_rows(session, rows, hash_password, now)
    created = {r["username"] for r in rows if r.get("kind", "").lower() == "user" and r.get("username")} - existing
    if created:
        session.execute(update(User).where(User.username.in_(created)).values(must_change_password=True))
    return counts
