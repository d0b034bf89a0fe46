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
from engine.platform.notify.messages import (
    KINDS,
    KIND_NAMES,
    CHANNEL_KINDS,
    FORMATS,
    CURSOR,
    SOURCE_EVENTS,
    BATCH,
    GAP_TTL,
    MAX_GAPS,
    DUE_SOON,
    MAX_BACKOFF,
    CHANNEL_MANAGERS,
    EMAIL_RE,
    TITLE_PREFIX,
    Message,
    _local,
    _names,
    _task_props,
    task_message,
    _users_by_name,
    messages_for_event,
    channels_for,
    _absolute,
    webhook_body,
    email_payload,
    _insert_ignore,
    deliver,
)
from engine.platform.notify.collect import (
    _cursor,
    collect,
    due_tasks,
)
from engine.platform.notify.send import (
    log,
    SendError,
    dingtalk_signed,
    post_json,
    send_email,
    Claimed,
    send_one,
    backoff,
    send_due,
    dispatch,
)
from engine.platform.notify.channels import (
    unread_count,
    mark_read,
    mark_all_read,
    managed_nodes,
    get_channel,
    _bad,
    save_channel,
    url_hint,
    channel_json,
    enqueue_test,
    outbox_json,
    retry_outbox,
)

__all__ = [
    "log", "KINDS", "KIND_NAMES", "CHANNEL_KINDS", "FORMATS", "CURSOR", "SOURCE_EVENTS", "BATCH", "GAP_TTL",
    "MAX_GAPS", "DUE_SOON", "MAX_BACKOFF", "CHANNEL_MANAGERS", "EMAIL_RE", "TITLE_PREFIX", "Message",
    "_local", "_names", "_task_props", "task_message", "_users_by_name", "messages_for_event", "channels_for",
    "_absolute", "webhook_body", "email_payload", "_insert_ignore", "deliver", "_cursor", "collect",
    "due_tasks", "SendError", "dingtalk_signed", "post_json", "send_email", "Claimed", "send_one", "backoff",
    "send_due", "dispatch", "unread_count", "mark_read", "mark_all_read", "managed_nodes", "get_channel",
    "_bad", "save_channel", "url_hint", "channel_json", "enqueue_test", "outbox_json", "retry_outbox",
]
