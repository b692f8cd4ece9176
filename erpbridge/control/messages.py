"""The messages page's reads and actions: find outbox messages by state, channel (the system it
delivers to), operation, business key and error text, and retry, discard or set done the ones
an operator chose, after a preview.

Why a preview: a peer's "retry all failed" silently re-sent hundreds of old jobs (research notes,
section 7.2). Here every action is two steps. :func:`preview` says exactly how many messages and
which (their ids) the action would touch; :func:`apply` then touches those ids only, those still
in a state the action applies to, never "whatever matches now". The change, its
``outbox_actions`` rows and its ``control_audit`` row commit in one transaction, so a message
never changes without the record of who changed it and why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Connection, Engine, func, insert, select, update

from erpbridge.control.tables import control_audit
from erpbridge.outbox.tables import STATES, outbox_actions, outbox_messages
from erpbridge.store.db import write_transaction

m = outbox_messages

#: action -> (the states it applies to, the name kept in outbox_actions, the verb shown)
ACTIONS = {
    "retry": (("dead",), "replay", "retried"),
    "discard": (("dead", "pending"), "discard", "discarded"),
    "done": (("dead",), "set_done", "set done"),
}
#: At most this many messages per action: a larger selection must be narrowed first.
MAX_BULK = 5000
PAGE = 50


@dataclass(frozen=True)
class Filter:
    state: str = ""
    channel: str = ""
    operation: str = ""
    key: str = ""
    error: str = ""

    @classmethod
    def of(cls, values) -> "Filter":
        f = cls(**{name: (values.get(name) or "").strip()[:200] for name in cls.__dataclass_fields__})
        if f.state and f.state not in STATES:
            raise ValueError(f"state: expected one of {', '.join(STATES)}, got {f.state!r}")
        return f

    def where(self) -> list:
        clauses = []
        for column, value in ((m.c.state, self.state), (m.c.channel, self.channel), (m.c.operation, self.operation),
                              (m.c.business_key, self.key)):
            if value:
                clauses.append(column == value)
        if self.error:
            clauses.append(m.c.last_error.contains(self.error, autoescape=True))
        return clauses

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v}


def page_of(engine: Engine, flt: Filter, before_id: int | None = None, limit: int = PAGE) -> list[dict]:
    """A page of matching messages, newest first (walks the primary key: fast on any size)."""
    stmt = select(m.c.id, m.c.channel, m.c.business_key, m.c.sequence, m.c.operation, m.c.state, m.c.attempts,
                  m.c.next_run_at, m.c.last_error, m.c.updated_at).where(*flt.where()).order_by(m.c.id.desc())
    if before_id is not None:
        stmt = stmt.where(m.c.id < before_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt.limit(limit)).mappings()]


def choices(engine: Engine) -> dict[str, list[str]]:
    """The channels and operations to filter by (few: one channel per system)."""
    with engine.connect() as conn:
        channels = conn.execute(select(m.c.channel).distinct().order_by(m.c.channel)).scalars().all()
        operations = conn.execute(select(m.c.operation).distinct().order_by(m.c.operation)).scalars().all()
    return {"channels": channels, "operations": operations, "states": list(STATES)}


def message(engine: Engine, message_id: int) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(select(m).where(m.c.id == message_id)).mappings().first()
        if row is None:
            return None
        history = conn.execute(select(outbox_actions).where(outbox_actions.c.message_id == message_id)
                               .order_by(outbox_actions.c.id)).mappings().all()
    found = dict(row)
    found["history"] = [dict(h) for h in history]
    return found


@dataclass
class Preview:
    action: str
    filter: Filter
    ids: list[int]
    sample: list[dict] = field(default_factory=list)
    too_many: int = 0  # how many matched when more than MAX_BULK did

    @property
    def states(self) -> tuple[str, ...]:
        return ACTIONS[self.action][0]


def preview(engine: Engine, action: str, flt: Filter, ids: list[int] | None = None) -> Preview:
    """What ``action`` would touch: the messages matching ``flt`` (and, when given, among ``ids``)
    in a state the action applies to."""
    if action not in ACTIONS:
        raise ValueError(f"action: expected one of {', '.join(ACTIONS)}, got {action!r}")
    where = [*flt.where(), m.c.state.in_(ACTIONS[action][0])]
    if ids is not None:
        where.append(m.c.id.in_(ids[:MAX_BULK]))
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(m).where(*where)).scalar_one()
        if count > MAX_BULK:
            return Preview(action, flt, [], too_many=count)
        chosen = conn.execute(select(m.c.id).where(*where).order_by(m.c.id)).scalars().all()
    return Preview(action, flt, list(chosen), _rows(engine, chosen[:PAGE]))


def _rows(engine: Engine, ids: list[int]) -> list[dict]:
    if not ids:
        return []
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(m.c.id, m.c.channel, m.c.business_key, m.c.operation, m.c.state, m.c.attempts, m.c.last_error)
            .where(m.c.id.in_(ids)).order_by(m.c.id)).mappings()]


@dataclass
class Applied:
    action: str
    touched: list[int]
    skipped: list[int]  # previewed, but no longer in a state the action applies to

    @property
    def verb(self) -> str:
        return ACTIONS[self.action][2]


def apply(engine: Engine, action: str, ids: list[int], *, actor: str, reason: str, selection: dict) -> Applied:
    """Do ``action`` to the previewed ``ids`` that are still in a state it applies to; record
    each message's history and the audit row in the same transaction."""
    if action not in ACTIONS:
        raise ValueError(f"action: expected one of {', '.join(ACTIONS)}, got {action!r}")
    if not reason.strip():
        raise ValueError("reason: say why (it is kept in the audit and each message's history)")
    if len(ids) > MAX_BULK:
        raise ValueError(f"at most {MAX_BULK} messages per action, got {len(ids)}")
    states, history_name, _ = ACTIONS[action]
    at = dt.datetime.now(dt.timezone.utc)
    values = {"retry": {"state": "pending", "attempts": 0, "next_run_at": at},
              "discard": {"state": "discarded", "done_at": at},
              "done": {"state": "done", "done_at": at}}[action]
    with write_transaction(engine) as conn:
        touched = conn.execute(select(m.c.id).where(m.c.id.in_(ids), m.c.state.in_(states))
                               .order_by(m.c.id)).scalars().all()
        if touched:
            conn.execute(update(m).where(m.c.id.in_(touched), m.c.state.in_(states)).values(updated_at=at, **values))
            conn.execute(insert(outbox_actions), [{"message_id": i, "action": history_name, "actor": actor,
                                                   "reason": reason, "at": at} for i in touched])
        audit(conn, actor, action, "messages", selection={**selection, "previewed": len(ids)}, ids=touched,
              reason=reason, at=at)
    return Applied(action, list(touched), sorted(set(ids) - set(touched)))


def audit(conn: Connection, actor: str, action: str, target: str, *, selection: dict | None = None,
          ids: list | None = None, reason: str | None = None, at: dt.datetime | None = None) -> None:
    """One ``control_audit`` row, in the caller's transaction."""
    conn.execute(insert(control_audit).values(
        at=at or dt.datetime.now(dt.timezone.utc), actor=actor, action=action, target=target,
        selection=orjson.dumps(selection).decode() if selection else None, count=len(ids or []),
        ids=",".join(map(str, ids)) if ids else None, reason=reason))


def audit_page(engine: Engine, before_id: int | None = None, limit: int = PAGE) -> list[dict]:
    a = control_audit
    stmt = select(a).order_by(a.c.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(a.c.id < before_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]
