"""Claiming messages and recording what became of them: the outbox's concurrency, in SQL.

A claim is one short transaction that picks due messages of a channel and leases them to a
worker. On PostgreSQL the picked rows are locked with ``FOR UPDATE SKIP LOCKED``, so workers in
several processes and hosts pick disjoint messages without waiting on each other; on SQLite the
claim runs under ``BEGIN IMMEDIATE`` (one writer at a time), which serves one host.

A message is claimable when it is ``pending`` and due, or ``running`` with an expired lease (its
worker died: at least once), and no message of the same ``(channel, business_key)`` with a
lower sequence is pending, running or dead (per-key order). Of the claimable messages the
earliest accepted go first (by id: first come, first served across keys), so after an outage
the messages that met it go before those accepted while it lasted. A channel with a capacity or a rate
limit also locks its row in ``outbox_channels`` for the claim, so the in-flight count and the
pacing hold across all workers.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import dataclass
from typing import Callable

import orjson
from sqlalchemy import Connection, Engine, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from erpbridge.outbox.binder import bind
from erpbridge.outbox.config import ChannelConfig, OutboxConfig
from erpbridge.outbox.messages import now
from erpbridge.outbox.semaphore import renew_probes
from erpbridge.outbox.tables import BLOCKING, outbox_channels, outbox_messages, semaphores
from erpbridge.store.db import write_transaction
from erpbridge.store.records import prepare

m = outbox_messages
_earlier = outbox_messages.alias("earlier")
# First in line: the lowest sequence of the key still pending, running or dead is this message's
# own. Written as a correlated scalar subquery on purpose: PostgreSQL turns NOT EXISTS into an
# anti-join, which for a table it has no statistics of yet (a fresh backlog) it ran as a nested
# loop over the whole channel: 0.6 s per claim at 1,000 messages, quadratic beyond. This one is
# one index probe per candidate on (channel, business_key, sequence), on both stores.
_FIRST_IN_LINE = select(func.min(_earlier.c.sequence)).where(
    _earlier.c.channel == m.c.channel, _earlier.c.business_key == m.c.business_key,
    _earlier.c.state.in_(BLOCKING)).scalar_subquery() == m.c.sequence


_CLAIMABLE = select(m.c.id, m.c.channel, m.c.business_key, m.c.sequence, m.c.operation, m.c.payload,
                    m.c.idempotency_key, m.c.attempts, m.c.record_kind, m.c.record_key)


@dataclass(slots=True)
class Message:
    """A claimed message, as a worker delivers it (not frozen: frozen dataclasses are slow to build)."""

    id: int
    channel: str
    business_key: str
    sequence: int
    operation: str
    payload: dict
    idempotency_key: str
    attempts: int
    record_kind: str | None
    record_key: str | None


@dataclass(frozen=True, slots=True)
class Claim:
    messages: list[Message]
    #: When nothing could be claimed because of the rate limit: seconds until the next slot.
    retry_in: float | None = None
    #: Under a rate limit, the time (``time.time()``) each message's slot begins: a batch claimed at
    #: once is still sent at the channel's rate, never as a burst a per-second limit would refuse.
    slots: list[float] | None = None


def _insert(conn: Connection, table):
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def claim(engine: Engine, channel: str, owner: str, *, limit: int, lease_seconds: float,
          limits: ChannelConfig | None = None) -> Claim:
    limits = limits or ChannelConfig()
    with write_transaction(engine) as conn:
        at = now()
        if limits.capacity is not None or limits.rate_limit is not None:
            slot = _lock_channel(conn, channel)
        if limits.capacity is not None:
            in_flight = conn.execute(select(func.count()).select_from(m).where(
                m.c.channel == channel, m.c.state == "running", m.c.lease_until >= at)).scalar_one()
            limit = min(limit, limits.capacity - in_flight)
        if limits.rate_limit is not None:
            clock = time.time()  # one instant for the check and the new slot: the claim's own time is not lost
            allowed, retry_in = _paced(slot, clock, limits.rate_limit, limits.batch_size)
            if not allowed:
                return Claim([], retry_in)
            limit = min(limit, allowed)
        if limit <= 0:
            return Claim([])
        # Each state on its own, in id order: one index range scan on (channel, state, id) that stops
        # at the limit. As one query with OR, PostgreSQL (without statistics yet: a fresh backlog)
        # checked first-in-line for every due message and sorted them all: 130-230 ms per claim at
        # 10,000, which held the channel's row and drained the first minute at 60 messages/s, not 90.
        rows = []
        for due in (and_(m.c.state == "pending", m.c.next_run_at <= at),
                    and_(m.c.state == "running", m.c.lease_until < at)):  # its worker died
            stmt = _CLAIMABLE.where(m.c.channel == channel, due, _FIRST_IN_LINE).order_by(m.c.id).limit(limit)
            if conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True, of=m)
            rows += conn.execute(stmt).all()
        rows = sorted(rows, key=lambda row: row.id)[:limit]  # the rest stay locked only until the commit
        if not rows:
            return Claim([])
        ids = [r.id for r in rows]
        conn.execute(update(m).where(m.c.id.in_(ids)).values(
            state="running", lease_owner=owner, lease_until=at + dt.timedelta(seconds=lease_seconds),
            attempts=m.c.attempts + 1, updated_at=at))
        slots = None
        if limits.rate_limit is not None:
            start = max(slot, clock)
            slots = [start + i / limits.rate_limit for i in range(len(rows))]
            conn.execute(update(outbox_channels).where(outbox_channels.c.channel == channel)
                         .values(next_slot_at=start + len(rows) / limits.rate_limit))
    return Claim([Message(id_, channel_, key, sequence, operation, orjson.loads(payload), idempotency_key,
                          attempts + 1, record_kind, record_key)  # rows unpacked: a hot path at 10,000/s
                  for id_, channel_, key, sequence, operation, payload, idempotency_key, attempts, record_kind,
                  record_key in rows], slots=slots)


def _lock_channel(conn: Connection, channel: str) -> float:
    """Lock the channel's pacing row for this transaction (creating it); returns its next slot."""
    conn.execute(_insert(conn, outbox_channels).values(channel=channel, next_slot_at=0.0)
                 .on_conflict_do_nothing(index_elements=["channel"]))
    stmt = select(outbox_channels.c.next_slot_at).where(outbox_channels.c.channel == channel)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return conn.execute(stmt).scalar_one()


def _paced(next_slot: float, at: float, rate: float, burst: int) -> tuple[int, float | None]:
    """How many messages may go now under ``rate`` per second with bursts of ``burst`` (a
    generic cell rate algorithm); when none, the seconds until one may."""
    interval = 1.0 / rate
    tolerance = (burst - 1) * interval
    tat = max(next_slot, at)
    allowed = 0
    while allowed < burst and tat - tolerance <= at:
        tat += interval
        allowed += 1
    return allowed, (None if allowed else max(0.0, tat - tolerance - at))


def heartbeat(engine: Engine, owner: str, lease_seconds: float, probe_window: float) -> int:
    """Renew the leases of every message the owner is delivering, and the window of any probe it
    is making; returns how many messages."""
    at = now()
    with engine.begin() as conn:
        renew_probes(conn, owner, probe_window)
        return conn.execute(update(m).where(m.c.lease_owner == owner, m.c.state == "running")
                            .values(lease_until=at + dt.timedelta(seconds=lease_seconds))).rowcount


def release_dead(engine: Engine, channels: list[str], is_dead: Callable[[str], bool]) -> int:
    """End the leases (and probes) of the channels' workers that ``is_dead`` finds gone, so their
    messages are claimable now rather than a lease later; returns how many messages.

    Reads the distinct owners of the channels' running messages through the (channel, state, id)
    index and writes only when one is dead: a heartbeat's cheap check, not a scan of the outbox.
    """
    at = now()
    with engine.begin() as conn:
        owners = conn.execute(select(m.c.lease_owner).distinct().where(
            m.c.channel.in_(channels), m.c.state == "running", m.c.lease_until >= at)).scalars().all()
        probers = conn.execute(select(semaphores.c.prober).where(
            semaphores.c.system.in_(channels), semaphores.c.prober.is_not(None))).scalars().all()
        gone = [owner for owner in {*owners, *probers} if owner and is_dead(owner)]
        if not gone:
            return 0
        conn.execute(update(semaphores).where(semaphores.c.prober.in_(gone)).values(offline_until=at, prober=None))
        return conn.execute(update(m).where(m.c.lease_owner.in_(gone), m.c.state == "running")
                            .values(lease_until=at)).rowcount


def backoff(attempts: int, config: OutboxConfig) -> float:
    """Exponential backoff with jitter: between half and all of ``base * 2**(attempts-1)``,
    capped at ``backoff_max``, so failing messages do not retry in lockstep."""
    ceiling = min(config.backoff_max, config.backoff_base * 2 ** (attempts - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass(slots=True)
class Outcome:
    """What became of one delivered message."""

    message: Message
    external_id: str | None = None
    records: tuple = ()
    message_error: str | None = None
    general_error: str | None = None
    #: With a general error: the seconds the system asked us to wait (e.g. 429 Retry-After), if it said.
    retry_after: float | None = None


def record_outcomes(app, owner: str, outcomes: list[Outcome]) -> None:
    """Write what became of a batch of deliveries in one transaction.

    Done messages get their bindings and the records the system answered; message errors are
    retried after a backoff or go dead after ``max_attempts``; general errors give the attempt
    back and stay due: the semaphore holds them back while the system is offline, and when it is
    back they keep their place in acceptance order (a time of their own would put them behind
    the messages accepted during the outage).
    Only messages still leased to ``owner`` are touched: if this worker was too slow and lost the
    lease, the message belongs to the worker that claimed it since.
    """
    config: OutboxConfig = app.config.outbox
    at = now()
    mine = and_(m.c.lease_owner == owner, m.c.state == "running")
    released = {"lease_owner": None, "lease_until": None, "updated_at": at}
    with app.engine.begin() as conn:
        done = [o for o in outcomes if o.message_error is None and o.general_error is None]
        if done:
            conn.execute(update(m).where(m.c.id.in_([o.message.id for o in done]), mine).values(
                state="done", done_at=at, last_error=None, **released))
            bind(conn, [(o.message.record_kind, o.message.record_key, o.message.channel, o.external_id)
                        for o in done if o.external_id and o.message.record_kind and o.message.record_key])
            _store_records(app, conn, done)
        for o in outcomes:
            if o.general_error is not None:
                conn.execute(update(m).where(m.c.id == o.message.id, mine).values(
                    state="pending", attempts=m.c.attempts - 1,
                    last_error=f"general error: {o.general_error}", **released))
            elif o.message_error is not None:
                dead = o.message.attempts >= config.max_attempts
                conn.execute(update(m).where(m.c.id == o.message.id, mine).values(
                    state="dead" if dead else "pending",
                    next_run_at=at if dead else at + dt.timedelta(seconds=backoff(o.message.attempts, config)),
                    last_error=o.message_error, **released))


def _store_records(app, conn: Connection, done: list[Outcome]) -> None:
    by_kind: dict[str, list] = {}
    for o in done:
        for record in o.records:
            by_kind.setdefault(record.kind, []).append(prepare(record))
    for kind, rows in by_kind.items():
        app.records.write_in(conn, kind, rows)
