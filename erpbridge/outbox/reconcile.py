"""Reconciliation (seed 003): find accepted orders that never got an ERP id, and repair them.

The outbox makes a lost order unlikely, not impossible to imagine (an order accepted while
sending was switched off, a message discarded by mistake, a bug): this check is the safety net.
An order accepted more than ``outbox.reconcile_after_minutes`` ago with no binding in the ERP
system is

* ``already_queued`` when a message for it is pending or running (it is on its way),
* ``dead`` when its message is dead (an operator must replay or discard it; reported, not touched),
* ``unconfirmed`` when its message was delivered but the ERP has not told us its id yet
  (file exchange: the id comes with the ERP's feedback; not sent again),
* ``discarded`` when an operator gave its message up (not sent again),
* otherwise ``requeued``: a new ``send_order`` message is enqueued.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import orjson
from sqlalchemy import exists, false, select

from erpbridge.outbox.messages import enqueue, now
from erpbridge.outbox.tables import outbox_messages
from erpbridge.store.db import write_transaction
from erpbridge.store.records import LOOKUP_CHUNK
from erpbridge.store.tables import bindings, orders

SEND_ORDER = "send_order"


@dataclass
class ReconcileReport:
    system: str
    older_than_minutes: float
    found: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    already_queued: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)

    @property
    def needs_repair(self) -> bool:
        """Something was wrong: an order had to be re-queued, or waits on a dead message."""
        return bool(self.requeued or self.dead)

    def as_dict(self) -> dict:
        return asdict(self)


def reconcile(app, *, older_than_minutes: float | None = None) -> ReconcileReport:
    """Check the orders of every ERP (each order belongs to the ERP of the shop it came from)."""
    minutes = app.config.outbox.reconcile_after_minutes if older_than_minutes is None else older_than_minutes
    erps = list(app.config.systems_with("erp"))
    report = ReconcileReport(system=", ".join(erps), older_than_minutes=minutes)
    for system in erps:
        _reconcile_erp(app, system, report, now() - dt.timedelta(minutes=minutes))
    return report


def _reconcile_erp(app, system: str, report: ReconcileReport, cutoff: dt.datetime) -> None:
    m = outbox_messages
    has_binding = exists().where(bindings.c.kind == "orders", bindings.c.key == orders.c.key,
                                 bindings.c.system == system)
    shops = [s for s in app.config.systems_with("shop") if app.config.erp_for(s) == system]
    of_this_erp = orders.c.shop.in_(shops) | (orders.c.shop.is_(None) if app.config.erp_for() == system else false())
    with write_transaction(app.engine) as conn:  # reads, then queues: SQLite's write lock first
        candidates = conn.execute(
            select(orders.c.key, orders.c.data)
            .where(orders.c.state == "accepted", orders.c.created_at < cutoff, ~has_binding, of_this_erp)
            .order_by(orders.c.created_at)
        ).all()
        # The candidates' send_order states, a chunk of keys per query (not one query per order
        # while SQLite's write lock is held).
        states_of: dict[str, set[str]] = {}
        numbers = [number for number, _ in candidates]
        for start in range(0, len(numbers), LOOKUP_CHUNK):
            for key, state in conn.execute(select(m.c.business_key, m.c.state).where(
                    m.c.channel == system, m.c.operation == SEND_ORDER,
                    m.c.business_key.in_(numbers[start:start + LOOKUP_CHUNK]))):
                states_of.setdefault(key, set()).add(state)
        for number, data in candidates:
            report.found.append(number)
            states = states_of.get(number, set())
            if states & {"pending", "running"}:
                report.already_queued.append(number)
            elif "dead" in states:
                report.dead.append(number)
            elif "done" in states:
                report.unconfirmed.append(number)
            elif "discarded" in states:
                report.discarded.append(number)
            else:
                enqueue(conn, channel=system, operation=SEND_ORDER, business_key=number, payload=orjson.loads(data),
                        record_kind="orders", record_key=number)
                report.requeued.append(number)
