"""Checks a serving process makes before it takes traffic (web workers, the scheduler).

In production (`SANJI_ENV=production`) Sanji refuses to start

- with the default or a short `SECRET_KEY` (checked by `settings.validate`),
- with a shifted clock (`SANJI_CLOCK_OFFSET`, also refused by `settings.validate`),
- while any account's password is still the demo password `demo12345`,
- while the database schema is not at the revision this code needs (run `init-db` first).

Verifying a password hash costs ~50 ms (argon2id), so each hash is verified once and
remembered in `password_check` by its SHA-256; a changed password is verified again.
Maintenance commands (`init-db`, `create-user`, `backup`, `restore`) skip these checks so
that an operator can always repair what they complain about.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.infra.settings import DEMO_PASSWORD, ROOT, ConfigError, Settings
from engine.models import PasswordCheck, User
from engine.org.auth import verify_password

log = logging.getLogger("sanji.startup")
MIGRATIONS = ROOT / "migrations"


def _digest(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()


def demo_password_users(session: Session, now: datetime) -> list[str]:
    """Usernames of active accounts whose password is the demo password (sorted).

    Hashes found not to be the demo password are remembered (committed in `session`)."""
    checked = dict(session.execute(select(PasswordCheck.user_id, PasswordCheck.hash_sha256)).all())
    found: list[str] = []
    verdict: dict[str, bool] = {}  # demo accounts share one hash: verify each distinct hash once
    fresh: list[PasswordCheck] = []
    for user_id, username, password_hash in session.execute(
        select(User.id, User.username, User.password_hash).where(User.active.is_(True))
    ).all():
        digest = _digest(password_hash)
        if checked.get(user_id) == digest:
            continue
        if digest not in verdict:
            verdict[digest] = verify_password(password_hash, DEMO_PASSWORD)
        if verdict[digest]:
            found.append(username)
        else:
            fresh.append(PasswordCheck(user_id=user_id, hash_sha256=digest, checked_at=now))
    for row in fresh:
        session.merge(row)
    try:
        session.commit()
    except IntegrityError:  # another worker recorded the same users at the same moment
        session.rollback()
    return sorted(found)


def schema_revision(engine: Engine) -> tuple[str | None, set[str]]:
    """(the database's Alembic revision, the head revision(s) of this code)."""
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, heads


def check(settings: Settings, engine: Engine, now: datetime) -> None:
    """Raise ConfigError naming what to fix when this process must not serve."""
    if not settings.production:
        return
    if settings.clock_offset_s:
        raise ConfigError(
            "SANJI_CLOCK_OFFSET is set: a shifted clock is for rehearsals and load tests, refused in production"
        )
    current, heads = schema_revision(engine)
    if current not in heads:
        raise ConfigError(
            f"the database schema is at revision {current or 'none'}, this code needs "
            f"{', '.join(sorted(heads))}: run `flask --app app init-db` before starting Sanji"
        )
    with Session(engine) as session:
        users = demo_password_users(session, now)
    if users:
        shown = ", ".join(users[:10]) + (f" and {len(users) - 10} more" if len(users) > 10 else "")
        raise ConfigError(
            f"{len(users)} account(s) still have the demo password {DEMO_PASSWORD}: {shown}. "
            "Set real passwords (`flask --app app create-user NAME --password ...`) or deactivate "
            "these accounts before starting in production"
        )
    log.info("production start-up checks passed")
