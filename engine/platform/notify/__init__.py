"""Notifications: in-app messages and the outbox of group robots (WeCom, DingTalk) and e-mail.

Where they come from
- The append-only `event_log`: `task_created` (a task is offered; `escalation` when the
  task's BPMN property `notifyKind` says so) and `task_urged` (催办). A durable cursor row
  (`notification_cursor`) holds the last event id read; it is advanced in the same
  transaction that writes the notifications and outbox rows of the events it passed, so a
  crash loses nothing and a re-run repeats nothing. On PostgreSQL an id can become visible
  after a higher one (transactions commit out of order): ids skipped over are remembered as
  `gaps` and looked for again for `GAP_TTL`.
- A periodic check of open tasks: due within `DUE_SOON` (and offered before that window
  began) and overdue, each notified once per task (`task_reminder`, unique per task and kind).

Who is told: the task's assignee, else its candidates (`routing.candidates`); for an urge,
the people the urge named. What they are told never quotes a confidential value (engine/org/confidential.py:
an instance title such as "问题线索：<person>" is sent as "问题线索：【已隐去】"); the task page shows the rest
to those who may read it. Every (user, cause) pair is unique, and so is every outbox row
(cause, channel, recipient): nothing is queued twice.

Channels (`notification_channel`) belong to an org node: a unit's channels get the events of
the unit and of its branches, the group's get the group's (and everyone's with
`cover_subtree`), each only for the event kinds it lists.

Sending (`dispatch`) happens outside any request transaction: due outbox rows are claimed
(status `sending`, with a lease), sent with no transaction open, then marked `sent`, or
retried with exponential backoff until `notify_max_attempts`, then `failed`.

Modules: `messages` (what is said, to whom, on which channels; delivery into the tables),
`collect` (cursor and reminders), `send` (transports and the outbox), `channels` (in-app
notifications and channel administration).
"""

# The package's parts, by concern; every name stays importable from `engine.platform.notify`.
from engine.platform.notify.channels import (
    channel_json,
    enqueue_test,
    get_channel,
    managed_nodes,
    mark_all_read,
    mark_read,
    outbox_json,
    retry_outbox,
    save_channel,
    unread_count,
    url_hint,
)
from engine.platform.notify.collect import _cursor, collect, due_tasks
from engine.platform.notify.messages import (
    BATCH,
    CHANNEL_KINDS,
    CHANNEL_MANAGERS,
    CURSOR,
    DUE_SOON,
    EMAIL_RE,
    FORMATS,
    GAP_TTL,
    KIND_NAMES,
    KINDS,
    MAX_BACKOFF,
    MAX_GAPS,
    SOURCE_EVENTS,
    TITLE_PREFIX,
    Message,
    _absolute,
    _insert_ignore,
    _local,
    _names,
    _task_props,
    _users_by_name,
    channels_for,
    deliver,
    email_payload,
    messages_for_event,
    task_message,
    webhook_body,
)
from engine.platform.notify.send import (
    Claimed,
    SendError,
    backoff,
    dingtalk_signed,
    dispatch,
    log,
    post_json,
    send_due,
    send_email,
    send_one,
)

__all__ = [
    "BATCH",
    "CHANNEL_KINDS",
    "CHANNEL_MANAGERS",
    "CURSOR",
    "DUE_SOON",
    "EMAIL_RE",
    "FORMATS",
    "GAP_TTL",
    "KINDS",
    "KIND_NAMES",
    "MAX_BACKOFF",
    "MAX_GAPS",
    "SOURCE_EVENTS",
    "TITLE_PREFIX",
    "Claimed",
    "Message",
    "SendError",
    "_absolute",
    "_cursor",
    "_insert_ignore",
    "_local",
    "_names",
    "_task_props",
    "_users_by_name",
    "backoff",
    "channel_json",
    "channels_for",
    "collect",
    "deliver",
    "dingtalk_signed",
    "dispatch",
    "due_tasks",
    "email_payload",
    "enqueue_test",
    "get_channel",
    "log",
    "managed_nodes",
    "mark_all_read",
    "mark_read",
    "messages_for_event",
    "outbox_json",
    "post_json",
    "retry_outbox",
    "save_channel",
    "send_due",
    "send_email",
    "send_one",
    "task_message",
    "unread_count",
    "url_hint",
    "webhook_body",
]
