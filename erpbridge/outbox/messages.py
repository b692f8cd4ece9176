"""Writing messages into the outbox, and what operators do with them (replay, discard).

:func:`enqueue` runs in the caller's transaction: the order and its message commit together or
not at all, so an accepted order can never lack its message (DESIGN: nothing lost).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Sequence

import orjson
from sqlalchemy import Connection, Engine, bindparam, func, insert, select, text, update

from erpbridge.outbox.tables import outbox_actions, outbox_messages
from erpbridge.store.db import write_transaction
from erpbridge.store.records import LOOKUP_CHUNK

#: PostgreSQL NOTIFY channel that wakes idle workers when a message is enqueued.
NOTIFY_CHANNEL = "erpbridge_outbox"

m = outbox_messages


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def enqueue(conn: Connection, *, channel: str, operation: str, business_key: str, payload: dict,
            idempotency_key: str | None = None, record_kind: str | None = None,
            record_key: str | None = None) -> int:
    """Add a pending message in the caller's transaction; returns its id.

    Its sequence is the next within ``(channel, business_key)``, so a cancellation enqueued after
    its order is delivered after it. Two transactions enqueuing for the same key at the same
    moment cannot both take the same sequence: the unique constraint fails one of them rather
    than letting them race for the order.
    """
    last = conn.execute(_LAST_SEQUENCE, {"channel": channel, "key": business_key}).scalar()
    row = _row(channel, operation, business_key, payload, idempotency_key, record_kind, record_key, (last or 0) + 1)
    message_id = conn.execute(_INSERT_RETURNING_ID, row).scalar_one()
    notify(conn, {channel})
    return message_id


@dataclass(frozen=True, slots=True)
class NewMessage:
    channel: str
    operation: str
    business_key: str
    payload: dict
    idempotency_key: str | None = None
    record_kind: str | None = None
    record_key: str | None = None


def enqueue_many(conn: Connection, messages: Sequence[NewMessage]) -> list[int]:
    """:func:`enqueue` for many messages at once (one look-up of the last sequences, one insert),
    for accepting a group of orders in one transaction; returns the ids in the given order."""
    last: dict[tuple[str, str], int] = {}
    pairs = {(n.channel, n.business_key) for n in messages}
    for channel in {c for c, _ in pairs}:
        keys = [k for c, k in pairs if c == channel]
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start:start + LOOKUP_CHUNK]
            last.update(((channel, k), seq) for k, seq in conn.execute(
                _LAST_SEQUENCES, {"channel": channel, "keys": chunk}))
    rows = []
    for n in messages:
        sequence = last.get((n.channel, n.business_key), 0) + 1
        last[(n.channel, n.business_key)] = sequence
        rows.append(_row(n.channel, n.operation, n.business_key, n.payload, n.idempotency_key, n.record_kind,
                         n.record_key, sequence))
    if not rows:
        return []
    # A plain executemany, then the ids read back by the unique idempotency key: RETURNING with the
    # parameters' order kept makes SQLite insert row by row (a third of accepting's time).
    conn.execute(insert(m), rows)
    keys = [row["idempotency_key"] for row in rows]
    ids: dict[str, int] = {}
    for start in range(0, len(keys), LOOKUP_CHUNK):
        ids.update((key, i) for i, key in conn.execute(_IDS_BY_KEY, {"keys": keys[start:start + LOOKUP_CHUNK]}))
    notify(conn, {n.channel for n in messages})
    return [ids[key] for key in keys]


_LAST_SEQUENCE = select(func.max(m.c.sequence)).where(m.c.channel == bindparam("channel"),
                                                       m.c.business_key == bindparam("key"))
_LAST_SEQUENCES = (select(m.c.business_key, func.max(m.c.sequence))
                   .where(m.c.channel == bindparam("channel"), m.c.business_key.in_(bindparam("keys", expanding=True)))
                   .group_by(m.c.business_key))
_INSERT_RETURNING_ID = insert(m).returning(m.c.id)
_IDS_BY_KEY = select(m.c.id, m.c.idempotency_key).where(m.c.idempotency_key.in_(bindparam("keys", expanding=True)))


def _row(channel, operation, business_key, payload, idempotency_key, record_kind, record_key, sequence) -> dict:
    at = now()
    return {"channel": channel, "business_key": business_key, "sequence": sequence,
            "idempotency_key": idempotency_key or f"{channel}:{operation}:{business_key}:{sequence}",
            "operation": operation, "payload": orjson.dumps(payload, default=str).decode(), "state": "pending",
            "attempts": 0, "next_run_at": at, "record_kind": record_kind, "record_key": record_key,
            "created_at": at, "updated_at": at}


def notify(conn: Connection, channels: set[str]) -> None:
    """Wake idle workers of these channels when the caller's transaction commits (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        # Delivered at commit, and only then: a worker woken by it sees the message.
        for channel in channels:
            conn.execute(_NOTIFY, {"name": NOTIFY_CHANNEL, "channel": channel})


_NOTIFY = text("SELECT pg_notify(:name, :channel)")


def replay(engine: Engine, ids: Sequence[int] = (), *, channel: str | None = None, all_dead: bool = False,
           actor: str, reason: str | None = None) -> list[int]:
    """Give dead messages (by id, or all dead ones, optionally of one channel) a fresh set of
    attempts, due now; returns the ids replayed. Each replay is recorded with its actor."""
    where = [m.c.state == "dead"]
    if channel is not None:
        where.append(m.c.channel == channel)
    if not all_dead:
        where.append(m.c.id.in_(list(ids)))
    with write_transaction(engine) as conn:
        chosen = conn.execute(select(m.c.id).where(*where).order_by(m.c.id)).scalars().all()
        if chosen:
            at = now()
            conn.execute(update(m).where(m.c.id.in_(chosen), m.c.state == "dead").values(
                state="pending", attempts=0, next_run_at=at, updated_at=at))
            _record(conn, chosen, "replay", actor, reason, at)
    return list(chosen)


def discard(engine: Engine, ids: Iterable[int], *, actor: str, reason: str) -> list[int]:
    """Give up dead or pending messages for good (the ERP will never see them), which unblocks
    later messages of their key; returns the ids discarded. A reason is required."""
    if not reason or not reason.strip():
        raise ValueError("discard needs a reason: say why this message will never be delivered")
    with write_transaction(engine) as conn:
        chosen = conn.execute(select(m.c.id).where(m.c.id.in_(list(ids)), m.c.state.in_(("dead", "pending")))
                              .order_by(m.c.id)).scalars().all()
        if chosen:
            at = now()
            conn.execute(update(m).where(m.c.id.in_(chosen)).values(state="discarded", updated_at=at, done_at=at))
            _record(conn, chosen, "discard", actor, reason, at)
    return list(chosen)


def _record(conn: Connection, ids: Sequence[int], action: str, actor: str, reason: str | None, at: dt.datetime) -> None:
    conn.execute(insert(outbox_actions), [
        {"message_id": i, "action": action, "actor": actor, "reason": reason, "at": at} for i in ids])


def list_messages(engine: Engine, *, state: str | None = None, channel: str | None = None,
                  limit: int = 100, before_id: int | None = None) -> list[dict]:
    """Messages newest first, for `erpbridge messages`; page on with ``before_id`` = the last id
    of the previous page."""
    stmt = select(m).order_by(m.c.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(m.c.id < before_id)
    if state is not None:
        stmt = stmt.where(m.c.state == state)
    if channel is not None:
        stmt = stmt.where(m.c.channel == channel)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]


def counts(engine: Engine) -> dict[tuple[str, str], int]:
    """Messages per (channel, state)."""
    with engine.connect() as conn:
        rows = conn.execute(select(m.c.channel, m.c.state, func.count()).group_by(m.c.channel, m.c.state)).all()
    return {(channel, state): n for channel, state, n in rows}


def actions_of(engine: Engine, message_id: int) -> list[dict]:
    a = outbox_actions
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(a).where(a.c.message_id == message_id).order_by(a.c.id)).mappings()]
