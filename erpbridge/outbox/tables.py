"""The outbox's tables: messages, what operators did to them, and each system's semaphore.

A message is written in the same transaction as the record change that caused it
(:func:`erpbridge.outbox.enqueue`), so a committed order always has its message. Its state moves
``pending -> running -> done``; a message error after the last attempt makes it ``dead``; an
operator may replay a dead message (back to ``pending``) or discard it (``discarded``), and both
are kept in ``outbox_actions``. Within one ``(channel, business_key)`` the ``sequence`` orders the
messages: only the lowest one not done or discarded can be claimed.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from erpbridge.store.tables import metadata

#: ``discarded`` is terminal like ``done``, but says an operator gave the message up.
STATES = ("pending", "running", "done", "dead", "discarded")
#: States that hold back later messages of the same key.
BLOCKING = ("pending", "running", "dead")

outbox_messages = Table(
    "outbox_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("business_key", String(512), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("idempotency_key", String(640), nullable=False, unique=True),
    Column("operation", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_run_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(128)),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("record_kind", String(32)),
    Column("record_key", String(512)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True)),
    UniqueConstraint("channel", "business_key", "sequence"),
)
# The claim: messages of a channel in a state that may be claimed, in acceptance order.
Index(None, outbox_messages.c.channel, outbox_messages.c.state, outbox_messages.c.id)
# Reconciliation: the messages of a record.
Index(None, outbox_messages.c.record_kind, outbox_messages.c.record_key)
# The control center (migration 0002b): the overview's pending/running/dead counts and oldest
# pending message per channel; the KPIs' latencies of messages done since a time; the backlog's
# normal, counted over a day of a channel's messages by their creation time.
Index(None, outbox_messages.c.state, outbox_messages.c.channel, outbox_messages.c.created_at)
Index(None, outbox_messages.c.state, outbox_messages.c.done_at)
Index(None, outbox_messages.c.channel, outbox_messages.c.created_at)

#: Replays and discards: who did what to which message, when and why.
outbox_actions = Table(
    "outbox_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", Integer, ForeignKey("outbox_messages.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("action", String(16), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", Text),
    Column("at", DateTime(timezone=True), nullable=False),
)

#: One row per system that has been tripped; kept in the store so every process sees it.
semaphores = Table(
    "semaphores",
    metadata,
    Column("system", String(64), primary_key=True),
    Column("offline_until", DateTime(timezone=True)),
    Column("reason", Text),
    Column("tripped_at", DateTime(timezone=True)),
    #: How long the system is locked this time: grown by each failed probe, up to max_lock_time.
    Column("lock_seconds", Float),
    #: The worker probing right now; its heartbeat keeps the probe's short window open.
    Column("prober", String(128)),
)

#: Shared pacing of a channel with a rate limit: the earliest time its next message may go.
outbox_channels = Table(
    "outbox_channels",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("next_slot_at", Float, nullable=False),
)
