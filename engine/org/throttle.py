"""Login throttling that slows attackers down without locking the account's owner out.

Each failed login (wrong password, unknown or inactive user: all alike) is counted three times in
`login_counter`, a table every worker shares: for the account (the username as typed, known or
not), for the client (its address; an IPv6 client by its /64, which one host usually holds), and
for the (client, account) pair. Before any password is checked, an attempt is refused with 429
and a Retry-After when

- the client failed `login_ip_max_failures` times, on any accounts, within the window that began
  at its first failure: a password sprayer gets that many guesses per window, whatever it targets;
- the client itself failed on this account within the window, and the account has failed
  `login_max_failures` times or more (from anywhere): the account's delay since its last failure
  must have passed — 1 s, doubling with each further failure, at most `login_lock_seconds` — but
  never more than the client's own failures warrant (2^(n-1) s after its n-th).

A client that has not failed on the account is not slowed by the failures of others: the owner
signs in from their own device at once while someone hammers the account from elsewhere (the old
rule locked the account for everyone, the right password included), and an owner who mistypes
once meanwhile waits a second, not the attacker's five minutes. A success forgets only the pair:
the account's count keeps growing for whoever is still guessing. Counters are forgotten after
`login_window_seconds` without failures (the client's: after the window since its first one).
Nothing sleeps in a request: the answer is 429 until the injectable clock has passed the delay.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, case, delete, literal, or_, select, update
from sqlalchemy.orm import Session

from engine.infra.db import UTCDateTime
from engine.infra.settings import Settings
from engine.models import LoginCounter

ACCOUNT, CLIENT, PAIR = "account", "client", "pair"
_T = cast(Table, LoginCounter.__table__)


@dataclass(frozen=True)
class Refusal:
    reason: str  # "client" (too many failures from this address) | "account" (the account's delay)
    retry_after: int  # whole seconds, at least 1


def client_key(address: str | None) -> str:
    """The client's address as counted: IPv4 as is, IPv6 by its /64 network."""
    raw = (address or "unknown").strip()[:100]
    try:
        ip = ipaddress.ip_address(raw)
    except ValueError:
        return raw or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _keys(client: str, username: str) -> dict[str, str]:
    return {ACCOUNT: username[:200], CLIENT: client[:200], PAIR: f"{client}|{username}"[:200]}


def account_delay(settings: Settings, failures: int) -> int:
    """Seconds an account waits after its last failure, for clients that have been failing."""
    if failures < settings.login_max_failures:
        return 0
    return min(2 ** min(failures - settings.login_max_failures, 30), settings.login_lock_seconds)


def check(session: Session, settings: Settings, now: datetime, client: str, username: str) -> Refusal | None:
    """Whether this attempt must wait (None: go ahead and check the password)."""
    keys = _keys(client, username)
    rows = {
        r.scope: r
        for r in session.execute(
            select(_T.c.scope, _T.c.failures, _T.c.first_at, _T.c.last_at).where(
                or_(*(and_(_T.c.scope == s, _T.c.key == k) for s, k in keys.items()))
            )
        ).all()
    }
    window = timedelta(seconds=settings.login_window_seconds)
    own = rows.get(CLIENT)
    if own is not None and own.first_at > now - window and own.failures >= settings.login_ip_max_failures:
        return Refusal(CLIENT, _seconds(own.first_at + window - now))
    pair, account = rows.get(PAIR), rows.get(ACCOUNT)
    if pair is None or pair.last_at <= now - window or account is None or account.last_at <= now - window:
        return None  # this client has not been failing on this account: others' failures do not slow it
    own = min(2 ** min(pair.failures - 1, 30), settings.login_lock_seconds)
    until = account.last_at + timedelta(seconds=min(account_delay(settings, account.failures), own))
    return Refusal(ACCOUNT, _seconds(until - now)) if until > now else None


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def record_failure(session: Session, settings: Settings, now: datetime, client: str, username: str) -> None:
    """Count one failure for the account, the client and the pair (atomic upserts: concurrent
    workers add up instead of overwriting each other or failing on the primary key)."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    window = timedelta(seconds=settings.login_window_seconds)
    at = literal(now, UTCDateTime())
    for scope, key in _keys(client, username).items():
        session.execute(
            insert(_T).values(scope=scope, key=key, failures=0, first_at=now, last_at=now).on_conflict_do_nothing()
        )
        # a stale counter starts again at 1; the client's window runs from its first failure
        stale = (_T.c.first_at if scope == CLIENT else _T.c.last_at) <= now - window
        session.execute(
            update(_T)
            .where(_T.c.scope == scope, _T.c.key == key)
            .values(
                failures=case((stale, 1), else_=_T.c.failures + 1),
                first_at=case((stale, at), else_=_T.c.first_at),
                last_at=at,
            )
        )


def record_success(session: Session, settings: Settings, now: datetime, client: str, username: str) -> None:
    """The owner got in from this client: its own failures on the account are forgiven. Counters
    without a failure for a whole window are deleted at the same time (the table stays small)."""
    cutoff = now - timedelta(seconds=settings.login_window_seconds)
    session.execute(
        delete(_T).where(
            or_(and_(_T.c.scope == PAIR, _T.c.key == _keys(client, username)[PAIR]), _T.c.last_at <= cutoff)
        )
    )
