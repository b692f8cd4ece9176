"""Writing messages into the outbox, and what operators do with them (replay, discard).

:func:`enqueue` runs in the caller's transaction: the order and its message commit together or
not at all, so an accepted order can never lack its message (DESIGN: nothing lost).
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Sequence

import orjson
from sqlalchemy import Connection, Engine, func, insert, select, text, update

from erpbridge.outbox.tables import outbox_actions, outbox_messages

#: PostgreSQL NOTIFY channel that wakes idle workers when a message is enqueued.
NOTIFY_CHANNEL = "erpbridge_outbox"


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
    m = outbox_messages
    last = conn.execute(select(func.max(m.c.sequence)).where(m.c.channel == channel,
                                                             m.c.business_key == business_key)).scalar()
    sequence = (last or 0) + 1
    at = now()
    message_id = conn.execute(insert(m).values(
        channel=channel, business_key=business_key, sequence=sequence,
        idempotency_key=idempotency_key or f"{channel}:{operation}:{business_key}:{sequence}",
        operation=operation, payload=orjson.dumps(payload, default=str).decode(), state="pending", attempts=0,
        next_run_at=at, record_kind=record_kind, record_key=record_key, created_at=at, updated_at=at,
    ).returning(m.c.id)).scalar_one()
    if conn.dialect.name == "postgresql":
        # Delivered at commit, and only then: a worker woken by it sees the message.
        conn.execute(text("SELECT pg_notify(:name, :channel)"), {"name": NOTIFY_CHANNEL, "channel": channel})
    return message_id


def replay(engine: Engine, ids: Sequence[int] = (), *, channel: str | None = None, all_dead: bool = False,
           actor: str, reason: str | None = None) -> list[int]:
    """Give dead messages (by id, or all dead ones, optionally of one channel) a fresh set of
    attempts, due now; returns the ids replayed. Each replay is recorded with its actor."""
    m = outbox_messages
    where = [m.c.state == "dead"]
    if channel is not None:
        where.append(m.c.channel == channel)
    if not all_dead:
        where.append(m.c.id.in_(list(ids)))
    with engine.begin() as conn:
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
    m = outbox_messages
    with engine.begin() as conn:
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
                  limit: int = 100) -> list[dict]:
    """Messages newest first, for `erpbridge messages`."""
    m = outbox_messages
    stmt = select(m).order_by(m.c.id.desc()).limit(limit)
    if state is not None:
        stmt = stmt.where(m.c.state == state)
    if channel is not None:
        stmt = stmt.where(m.c.channel == channel)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]


def counts(engine: Engine) -> dict[tuple[str, str], int]:
    """Messages per (channel, state)."""
    m = outbox_messages
    with engine.connect() as conn:
        rows = conn.execute(select(m.c.channel, m.c.state, func.count()).group_by(m.c.channel, m.c.state)).all()
    return {(channel, state): n for channel, state, n in rows}


def actions_of(engine: Engine, message_id: int) -> list[dict]:
    a = outbox_actions
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(a).where(a.c.message_id == message_id).order_by(a.c.id)).mappings()]
