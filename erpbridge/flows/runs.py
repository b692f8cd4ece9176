"""The record of flow runs, and the claim that makes each cron slot run once.

Every run is a row of ``flow_runs``. A scheduled run carries its slot (the cron time it serves),
and ``(flow, slot)`` is unique: whichever process inserts the row first runs the slot, every
other insert is ignored (``INSERT ... ON CONFLICT DO NOTHING``, on SQLite and PostgreSQL alike).

A running run renews ``heartbeat_at`` every quarter of its lease. A run whose heartbeat is
older than the lease belongs to a process that died (killed, host lost): :meth:`FlowRuns.reap`
marks it ``died`` so it no longer holds the flow, and the flow's later slots run as usual.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, select, union, update
from sqlalchemy.dialects import postgresql, sqlite

from erpbridge.flows.tables import flow_runs
from erpbridge.store.db import as_utc

logger = logging.getLogger(__name__)

#: Seconds without a heartbeat after which a run counts as died.
LEASE = 60.0
#: ``offline``: the run met a general error (its system unavailable); ``failed``: any other error.
RUNNING, OK, REJECTED, FAILED, OFFLINE, DIED = "running", "ok", "rejected", "failed", "offline", "died"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class FlowRun:
    id: int
    flow: str
    slot: dt.datetime | None
    trigger: str
    owner: str
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str
    summary: dict | None
    error: str | None

    @classmethod
    def from_row(cls, row) -> "FlowRun":
        values = dict(row._mapping)
        for key in ("slot", "started_at", "heartbeat_at", "finished_at"):
            values[key] = as_utc(values[key])
        values["summary"] = json.loads(values["summary"]) if values["summary"] else None
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FlowBusy(Exception):
    """The flow is already running in a live process."""


class FlowRuns:
    def __init__(self, engine: Engine, *, lease: float = LEASE, owner: str | None = None):
        self.engine = engine
        self.lease = lease
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"

    # -- starting runs --------------------------------------------------------------------

    def claim_slot(self, flow: str, slot: dt.datetime) -> FlowRun | None:
        """Insert the run of a slot; None if any process (this one included) already did."""
        now = utcnow()
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = (dialect.insert(flow_runs)
                .values(flow=flow, slot=slot, trigger="schedule", owner=self.owner, started_at=now,
                        heartbeat_at=now, outcome=RUNNING)
                .on_conflict_do_nothing(index_elements=["flow", "slot"])
                .returning(*flow_runs.c))
        with self.engine.begin() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else FlowRun.from_row(row)

    def start(self, flow: str, trigger: str = "manual") -> FlowRun:
        """Insert a run started on demand (it serves no slot)."""
        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(insert(flow_runs).values(flow=flow, slot=None, trigger=trigger, owner=self.owner,
                                                        started_at=now, heartbeat_at=now, outcome=RUNNING)
                               .returning(*flow_runs.c)).one()
        return FlowRun.from_row(row)

    def beat(self, run_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(flow_runs).where(flow_runs.c.id == run_id, flow_runs.c.outcome == RUNNING)
                         .values(heartbeat_at=utcnow()))

    def finish(self, run_id: int, outcome: str, summary: dict | None = None, error: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(flow_runs).where(flow_runs.c.id == run_id).values(
                outcome=outcome, finished_at=utcnow(), error=error,
                summary=json.dumps(summary, default=str) if summary is not None else None))

    # -- the state of a flow --------------------------------------------------------------

    def reap(self, flow: str | None = None, *, now: dt.datetime | None = None) -> int:
        """Mark runs whose process stopped beating as died; returns how many. A caller that
        asks :meth:`live` next passes both the same ``now``: else a run whose heartbeat ages
        past the lease between the two calls is neither reaped nor live, and stays running."""
        stale = (now or utcnow()) - dt.timedelta(seconds=self.lease)
        where = [flow_runs.c.outcome == RUNNING, flow_runs.c.heartbeat_at < stale]
        if flow is not None:
            where.append(flow_runs.c.flow == flow)
        with self.engine.begin() as conn:
            return conn.execute(update(flow_runs).where(*where).values(
                outcome=DIED, finished_at=flow_runs.c.heartbeat_at,
                error=f"no heartbeat for {self.lease:g}s: the process running it stopped (killed or lost)")).rowcount

    def live(self, flow: str, *, now: dt.datetime | None = None) -> FlowRun | None:
        """The flow's run in progress in a live process, if any."""
        stale = (now or utcnow()) - dt.timedelta(seconds=self.lease)
        with self.engine.connect() as conn:
            row = conn.execute(select(flow_runs).where(flow_runs.c.flow == flow, flow_runs.c.outcome == RUNNING,
                                                       flow_runs.c.heartbeat_at >= stale)
                               .order_by(flow_runs.c.id.desc()).limit(1)).first()
        return None if row is None else FlowRun.from_row(row)

    def last(self, flow: str, outcome: str | None = None) -> FlowRun | None:
        where = [flow_runs.c.flow == flow] + ([flow_runs.c.outcome == outcome] if outcome else [])
        with self.engine.connect() as conn:
            row = conn.execute(select(flow_runs).where(*where).order_by(flow_runs.c.id.desc()).limit(1)).first()
        return None if row is None else FlowRun.from_row(row)

    def last_slot(self, flow: str) -> dt.datetime | None:
        with self.engine.connect() as conn:
            return as_utc(conn.execute(select(func.max(flow_runs.c.slot)).where(flow_runs.c.flow == flow)).scalar())

    def history(self, flow: str | None = None, limit: int = 20) -> list[FlowRun]:
        stmt = select(flow_runs).order_by(flow_runs.c.id.desc()).limit(limit)
        if flow is not None:
            stmt = stmt.where(flow_runs.c.flow == flow)
        with self.engine.connect() as conn:
            return [FlowRun.from_row(row) for row in conn.execute(stmt)]

    def prune(self, retention_days: float) -> int:
        """Delete finished runs older than the retention, keeping each flow's latest run, latest
        slot and latest ok run (the next delta starts from it)."""
        cutoff = utcnow() - dt.timedelta(days=retention_days)
        t = flow_runs
        keep = union(select(func.max(t.c.id)).group_by(t.c.flow),
                     select(func.max(t.c.id)).where(t.c.slot.is_not(None)).group_by(t.c.flow),
                     select(func.max(t.c.id)).where(t.c.outcome == OK).group_by(t.c.flow))
        with self.engine.begin() as conn:
            return conn.execute(delete(t).where(and_(t.c.finished_at < cutoff, t.c.id.not_in(keep)))).rowcount


class Heartbeat:
    """Renews a run's heartbeat from a background thread while the run's work goes on."""

    def __init__(self, runs: FlowRuns, run_id: int):
        self._runs, self._run_id = runs, run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._runs.lease / 4):
            try:
                self._runs.beat(self._run_id)
            except Exception:  # a missed beat is retried; the lease allows three more
                logger.warning("could not renew the heartbeat of flow run %s", self._run_id, exc_info=True)
