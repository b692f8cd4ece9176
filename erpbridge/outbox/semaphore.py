"""The semaphore (seed 000): a per-system breaker kept in the store, so every process sees it.

A general error (connection refused, timeout, 5xx, "ERP offline") trips it: the system is
offline for ``max_lock_time`` seconds. While offline, real-time requests fail fast
(:meth:`Semaphore.is_offline`) and workers leave the system's messages waiting, attempts
untouched. When the time is up, exactly one worker wins :meth:`Semaphore.try_probe` and sends
one message: success resets the semaphore, another general error trips it again. A system that
says how long to wait ("429 Too Many Requests, Retry-After: 1") is paused that long instead: a
rate limit met is a reason to slow down, not an outage.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from erpbridge.outbox.messages import now
from erpbridge.outbox.tables import semaphores
from erpbridge.store.db import as_utc, write_transaction


class Semaphore:
    def __init__(self, engine: Engine, system: str, max_lock_time: float):
        self.engine = engine
        self.system = system
        self.max_lock_time = max_lock_time

    def state(self) -> dict:
        """``offline_until`` (None when the system is not tripped) and the ``reason``."""
        s = semaphores
        with self.engine.connect() as conn:
            row = conn.execute(select(s.c.offline_until, s.c.reason, s.c.tripped_at)
                               .where(s.c.system == self.system)).first()
        if row is None:
            return {"offline_until": None, "reason": None, "tripped_at": None}
        return {"offline_until": as_utc(row.offline_until), "reason": row.reason, "tripped_at": as_utc(row.tripped_at)}

    def is_offline(self) -> bool:
        until = self.state()["offline_until"]
        return until is not None and until > now()

    def is_tripped(self) -> bool:
        """Offline, or past its lock time but not yet probed successfully."""
        return self.state()["offline_until"] is not None

    def trip(self, reason: str, *, seconds: float | None = None) -> None:
        at = now()
        values = {"offline_until": at + dt.timedelta(seconds=self.max_lock_time if seconds is None else seconds), "reason": reason,
                  "tripped_at": at}
        s = semaphores
        with self.engine.begin() as conn:
            if conn.execute(update(s).where(s.c.system == self.system).values(values)).rowcount:
                return
            try:
                with conn.begin_nested():
                    conn.execute(insert(s).values(system=self.system, **values))
            except IntegrityError:  # tripped by another process at the same moment
                conn.execute(update(s).where(s.c.system == self.system).values(values))

    def reset(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(semaphores).where(semaphores.c.system == self.system))

    def try_probe(self, window: float) -> bool:
        """When the lock time is up, let exactly one caller probe: it gets True, and the system
        stays offline to everyone else for ``window`` seconds (if the prober dies, the next
        probe comes after that)."""
        s = semaphores
        with write_transaction(self.engine) as conn:  # read, then write: SQLite's lock first
            at = now()
            until = conn.execute(select(s.c.offline_until).where(s.c.system == self.system)).scalar()
            if until is None or as_utc(until) > at:
                return False
            # Compare-and-set on the value read: of several processes, one wins.
            return conn.execute(update(s).where(s.c.system == self.system, s.c.offline_until == until)
                                .values(offline_until=at + dt.timedelta(seconds=window))).rowcount == 1
