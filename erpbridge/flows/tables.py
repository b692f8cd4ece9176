"""The scheduler's table: one row per run of a flow (see :mod:`.scheduler`)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text, UniqueConstraint

from erpbridge.store.tables import metadata

flow_runs = Table(
    "flow_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flow", String(64), nullable=False),
    # The cron slot this run serves; NULL for a run started on demand. Unique per flow, so of
    # many processes that reach the same slot exactly one gets to insert the row and run it.
    Column("slot", DateTime(timezone=True)),
    Column("trigger", String(16), nullable=False),
    Column("owner", String(128), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    # running, ok, rejected (ran, but some records were rejected), failed (raised), offline (its system was
    # unavailable: a general error), died (no heartbeat)
    Column("outcome", String(16), nullable=False),
    Column("summary", Text),
    Column("error", Text),
    UniqueConstraint("flow", "slot"),
)
Index(None, flow_runs.c.flow, flow_runs.c.started_at)
Index(None, flow_runs.c.flow, flow_runs.c.outcome)  # the live-run check before each claim

#: How far a push flow has sent a kind of record to a system: the ``(updated_at, key)`` of the
#: last row sent, in the order the store's change feed reads them (see :mod:`erpbridge.flows.push`).
flow_cursors = Table(
    "flow_cursors",
    metadata,
    Column("system", String(64), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("key", String(512), nullable=False),
)
