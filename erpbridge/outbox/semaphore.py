"""The semaphore (seed 000): a per-system breaker kept in the store, so every process sees it.

A general error (connection refused, timeout, 5xx, "ERP offline") trips it: the system is
offline for a short first lock (:data:`FIRST_LOCK_TIME`, 1 s). While offline, real-time requests
fail fast (:meth:`Semaphore.is_offline`) and workers leave the system's messages waiting,
attempts untouched. When the lock is up, exactly one worker wins :meth:`Semaphore.try_probe`
and sends one message: success resets the semaphore (and wakes every worker at once), another
general error locks the system again for a tenth longer (:data:`PROBE_GROWTH`), up to
``max_lock_time``. The lock so grows with the outage: the system is found back at most about a
tenth of the outage (plus the first lock) after it came back, so a 60 s outage costs some 7 s,
not the up to 30 s of doubling, and an hour-long one at most ``max_lock_time``. The probes this
costs are cheap: one message each, to a system that refuses it at once or times out. A probe holds the system
for a short window that its worker's heartbeat renews (:func:`renew_probes`): a prober killed
mid-probe frees the system within that window, not after a lease.

A system that says how long to wait ("429 Too Many Requests, Retry-After: 1") is paused that long
instead: a rate limit met is a reason to slow down, not an outage.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from erpbridge.outbox.messages import notify, now
from erpbridge.outbox.tables import semaphores
from erpbridge.store.db import as_utc, write_transaction

#: Seconds a system is offline after the first general error of an outage.
FIRST_LOCK_TIME = 1.0
#: What each failed probe multiplies the lock by: the lock grows to about a tenth of the outage so far.
PROBE_GROWTH = 1.1


class Semaphore:
    def __init__(self, engine: Engine, system: str, max_lock_time: float):
        self.engine = engine
        self.system = system
        self.max_lock_time = max_lock_time
        self.first_lock_time = min(FIRST_LOCK_TIME, max_lock_time)

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

    def trip(self, reason: str, *, seconds: float | None = None, probe: bool = False) -> None:
        """Take the system offline: for ``seconds`` when the system said how long, else for the
        current lock, grown by :data:`PROBE_GROWTH` (up to ``max_lock_time``) when this was a failed
        ``probe``. Several workers meeting the same outage do not grow it: only probes do."""
        at = now()
        s = semaphores
        with write_transaction(self.engine) as conn:
            row = conn.execute(select(s.c.offline_until, s.c.lock_seconds).where(s.c.system == self.system)).first()
            lock = row.lock_seconds if row is not None and row.offline_until is not None else None
            if seconds is None:
                grown = lock * PROBE_GROWTH if probe and lock is not None else lock
                lock = self.first_lock_time if lock is None else min(self.max_lock_time, grown)
            values = {"offline_until": at + dt.timedelta(seconds=lock if seconds is None else seconds),
                      "reason": reason, "tripped_at": at, "lock_seconds": lock, "prober": None}
            if row is not None:
                conn.execute(update(s).where(s.c.system == self.system).values(values))
            else:  # the write lock (SQLite) or the primary key (PostgreSQL) settles a race
                try:
                    with conn.begin_nested():
                        conn.execute(insert(s).values(system=self.system, **values))
                except IntegrityError:  # tripped by another process at the same moment
                    conn.execute(update(s).where(s.c.system == self.system).values(values))

    def reset(self) -> None:
        """The system is back: every worker may deliver again (on PostgreSQL they are woken at once)."""
        with self.engine.begin() as conn:
            conn.execute(delete(semaphores).where(semaphores.c.system == self.system))
            notify(conn, {self.system})

    def try_probe(self, owner: str, window: float) -> bool:
        """When the lock time is up, let exactly one caller probe: it gets True, and the system
        stays offline to everyone else for ``window`` seconds, renewed by the owner's heartbeat
        (:func:`renew_probes`) while the probe lasts; if the prober dies, the next probe comes
        when the window runs out (or at once when a worker on its host sees it gone:
        :func:`erpbridge.outbox.claims.release_dead`)."""
        s = semaphores
        with write_transaction(self.engine) as conn:  # read, then write: SQLite's lock first
            at = now()
            until = conn.execute(select(s.c.offline_until).where(s.c.system == self.system)).scalar()
            if until is None or as_utc(until) > at:
                return False
            # Compare-and-set on the value read: of several processes, one wins.
            return conn.execute(update(s).where(s.c.system == self.system, s.c.offline_until == until)
                                .values(offline_until=at + dt.timedelta(seconds=window), prober=owner)).rowcount == 1


def renew_probes(conn: Connection, owner: str, window: float) -> None:
    """Keep the probes ``owner`` is making open for another ``window`` seconds (its heartbeat)."""
    conn.execute(update(semaphores).where(semaphores.c.prober == owner)
                 .values(offline_until=now() + dt.timedelta(seconds=window)))
