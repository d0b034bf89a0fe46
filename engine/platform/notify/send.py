"""Sending the outbox outside any transaction: robot webhooks (WeCom, DingTalk) and SMTP, with retries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.infra.clock import Clock
from engine.infra.db import rowcount, write_intent
from engine.infra.settings import Settings
from engine.org import confidential
from engine.platform.models import NotificationChannel, Outbox
from engine.platform.notify.collect import collect
from engine.platform.notify.messages import MAX_BACKOFF

log = logging.getLogger("sanji.notify")


# ---- sending ------------------------------------------------------------------------------------------


class SendError(Exception):
    pass


def dingtalk_signed(url: str, secret: str, now: datetime) -> str:
    """DingTalk's signature: timestamp (ms) + base64(HMAC-SHA256("timestamp\\nsecret")), url-encoded."""
    timestamp = str(int(now.timestamp() * 1000))
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"


def post_json(url: str, body: dict[str, Any], timeout: float) -> None:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        raise SendError(f"HTTP {exc.code} from the webhook") from None
    except (urllib.error.URLError, OSError) as exc:
        raise SendError(f"webhook unreachable: {getattr(exc, 'reason', exc)}") from None
    try:
        answer = json.loads(text or b"{}")
    except ValueError:
        return  # a 2xx without JSON: taken as delivered
    if isinstance(answer, dict) and answer.get("errcode") not in (None, 0):
        raise SendError(f"the robot refused the message: errcode {answer.get('errcode')} {answer.get('errmsg', '')}")


def send_email(settings: Settings, to: str, subject: str, body: str, message_id: str, now: datetime) -> None:
    if not settings.smtp_host:
        raise SendError("no mail server is configured (SANJI_SMTP_HOST)")
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    msg.set_content(body, cte="base64")
    try:
        if settings.smtp_tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=settings.notify_timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.notify_timeout_s)
        with smtp:
            if settings.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise SendError(f"SMTP: {type(exc).__name__}: {exc}") from None


@dataclass
class Claimed:
    id: int
    kind: str
    recipient: str
    payload: dict[str, Any]
    attempts: int
    channel_kind: str
    url: str | None
    secret: str | None


def send_one(row: Claimed, settings: Settings, now: datetime) -> None:
    if row.channel_kind in ("wecom", "dingtalk"):
        if not row.url:
            raise SendError("the channel has no webhook URL")
        url = dingtalk_signed(row.url, row.secret, now) if row.channel_kind == "dingtalk" and row.secret else row.url
        post_json(url, row.payload, settings.notify_timeout_s)
    else:
        send_email(
            settings,
            row.recipient,
            str(row.payload.get("subject", "")),
            str(row.payload.get("body", "")),
            make_msgid(idstring=f"outbox{row.id}", domain="sanji.local"),
            now,
        )


def backoff(settings: Settings, attempts: int) -> timedelta:
    return min(timedelta(seconds=settings.notify_backoff_s * (2 ** max(attempts - 1, 0))), MAX_BACKOFF)


def send_due(
    session_factory: sessionmaker[Session], clock: Clock, settings: Settings, limit: int = 100
) -> dict[str, int]:
    """Claim due outbox rows, send them with no transaction open, record the outcome."""
    now = clock.now()
    due = (Outbox.status.in_(("pending", "sending"))) & (Outbox.next_attempt_at <= now)
    with write_intent(), session_factory() as s:
        ids = s.scalars(select(Outbox.id).where(due).order_by(Outbox.next_attempt_at, Outbox.id).limit(limit)).all()
        lease = now + timedelta(seconds=settings.notify_timeout_s * (len(ids) + 1) + 60)
        claimed: list[Claimed] = []
        for row_id in ids:
            took = rowcount(
                s.execute(
                    update(Outbox)
                    .where(Outbox.id == row_id, due)
                    .values(status="sending", attempts=Outbox.attempts + 1, next_attempt_at=lease)
                    .execution_options(synchronize_session=False)
                )
            )
            if took != 1:
                continue  # another dispatcher has it
            row, ch = s.execute(
                select(Outbox, NotificationChannel)
                .join(NotificationChannel, NotificationChannel.id == Outbox.channel_id)
                .where(Outbox.id == row_id)
                .execution_options(populate_existing=True)
            ).one()
            claimed.append(
                Claimed(
                    row.id, row.kind, row.recipient, dict(row.payload or {}), row.attempts, ch.kind, ch.url, ch.secret
                )
            )
        s.commit()
    result = {"sent": 0, "retry": 0, "failed": 0}
    for job in claimed:
        error = None
        try:
            send_one(job, settings, clock.now())
        except SendError as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("sending outbox row %s failed unexpectedly", job.id)
            error = f"{type(exc).__name__}: {exc}"
        done = clock.now()
        with write_intent(), session_factory() as s:
            if error is None:
                values: dict[str, Any] = {"status": "sent", "sent_at": done, "last_error": None}
                result["sent"] += 1
            elif job.attempts >= settings.notify_max_attempts:
                values = {"status": "failed", "last_error": error[:2000]}
                result["failed"] += 1
                log.warning("outbox row %s failed for good after %s attempts: %s", job.id, job.attempts, error)
            else:
                values = {
                    "status": "pending",
                    "last_error": error[:2000],
                    "next_attempt_at": done + backoff(settings, job.attempts),
                }
                result["retry"] += 1
            s.execute(
                update(Outbox)
                .where(Outbox.id == job.id, Outbox.status == "sending")
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            s.commit()
    return result


def dispatch(session_factory: sessionmaker[Session], clock: Clock, settings: Settings) -> dict[str, int]:
    """One pass: collect new notifications (one transaction), then send what is due.

    The scheduler's tick calls this; `flask --app app notify-dispatch` runs one pass by hand.
    Never raises: a failure is logged, counted in `errors`, and the next pass tries again
    (the cursor moved only if its transaction committed).
    """
    totals = {"events": 0, "notifications": 0, "outbox": 0, "reminders": 0}
    errors = 0
    try:  # the confidential keys read once for the pass, not once per message
        with confidential.one_reading(), write_intent(), session_factory() as s:
            totals = collect(s, clock, settings)
            s.commit()
    except Exception:
        log.exception("collecting notifications failed; the next pass retries")
        errors += 1
    try:
        totals.update(send_due(session_factory, clock, settings))
    except Exception:
        log.exception("sending the outbox failed; the next pass retries")
        totals.update({"sent": 0, "retry": 0, "failed": 0})
        errors += 1
    if errors:
        totals["errors"] = errors
    return totals
