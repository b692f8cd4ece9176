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

Each order belongs to the ERP of the shop it came from; every ERP is checked.

An order *with* its ERP id may still be unfinished in the ERP: Tryton confirmed the sale, then
stopped before processing it (no shipment, no invoice, ever). A connector that can tell offers
``stuck_orders(numbers)`` (the order numbers bound to it -> why each is stuck); :func:`find_stuck`
asks it about the accepted orders bound to the ERP, and :func:`reconcile` queues each stuck order
again (``requeued``, or ``already_queued``), whose delivery carries on where the ERP stopped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import orjson
from sqlalchemy import exists, false, select

from erpbridge.errors import GeneralError

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
    #: Orders with an ERP id whose ERP record stopped short (order -> why); each is in ``requeued``
    #: or ``already_queued`` too. None when they were not looked for (``stuck_unchecked`` says why).
    stuck: dict[str, str] | None = None
    stuck_unchecked: str | None = None

    @property
    def needs_repair(self) -> bool:
        """Something was wrong: an order had to be re-queued, or waits on a dead message."""
        return bool(self.requeued or self.dead)

    def as_dict(self) -> dict:
        return asdict(self)


def bound_orders(app, system: str) -> list[str]:
    """The accepted orders that have their id in ERP ``system``."""
    with app.engine.connect() as conn:
        return list(conn.execute(select(orders.c.key).where(orders.c.state == "accepted", _bound(system))).scalars())


def find_stuck(app, system: str, connector) -> dict[str, str] | None:
    """ERP ``system``'s connector's ``stuck_orders`` for the accepted orders bound to it (None
    when it has no such capability). A general error (the ERP is down) is the caller's to handle."""
    stuck_orders = getattr(connector, "stuck_orders", None)
    if stuck_orders is None:
        return None
    numbers = bound_orders(app, system)
    return stuck_orders(numbers) if numbers else {}


def reconcile(app, *, older_than_minutes: float | None = None, offline_is_an_error: bool = False) -> ReconcileReport:
    """For every ERP: queue again what never reached it, and the orders it left unfinished (if its
    connector can tell). An ERP that is down cannot say which are unfinished: the report says so
    and the rest is done from the store, unless ``offline_is_an_error`` (the scheduled flow, which
    runs again once the ERP is back) raises its GeneralError before anything is queued."""
    minutes = app.config.outbox.reconcile_after_minutes if older_than_minutes is None else older_than_minutes
    erps = list(app.config.systems_with("erp"))
    checked: dict[str, dict[str, str]] = {}
    unchecked: list[str] = []
    for system in erps:
        try:
            stuck = find_stuck(app, system, app.connector(system))
        except GeneralError as exc:
            if offline_is_an_error:
                raise
            unchecked.append(f"{system} is unavailable: {exc}")
            continue
        if stuck is None:
            unchecked.append(f"the {app.system(system).connector} connector of {system} cannot tell")
        else:
            checked[system] = stuck
    report = ReconcileReport(system=", ".join(erps), older_than_minutes=minutes,
                             stuck={n: why for stuck in checked.values() for n, why in stuck.items()} if checked else None,
                             stuck_unchecked="; ".join(unchecked) or None)
    cutoff = now() - dt.timedelta(minutes=minutes)
    for system in erps:
        _reconcile_erp(app, system, report, cutoff, checked.get(system, {}))
    return report


def _reconcile_erp(app, system: str, report: ReconcileReport, cutoff: dt.datetime, stuck: dict[str, str]) -> None:
    """The orders of one ERP (those of the shops whose ERP it is)."""
    shops = [s for s in app.config.systems_with("shop") if app.config.erp_for(s) == system]
    of_this_erp = orders.c.shop.in_(shops) | (orders.c.shop.is_(None) if app.config.erp_for() == system else false())
    with write_transaction(app.engine) as conn:  # reads, then queues: SQLite's write lock first
        lost = conn.execute(select(orders.c.key, orders.c.data)
                            .where(orders.c.state == "accepted", orders.c.created_at < cutoff, ~_bound(system),
                                   of_this_erp)
                            .order_by(orders.c.created_at)).all()
        unfinished = _orders(conn, sorted(stuck))
        states_of = _send_order_states(conn, system, [number for number, _ in lost + unfinished])

        def requeue(number: str, data: str) -> None:
            enqueue(conn, channel=system, operation=SEND_ORDER, business_key=number, payload=orjson.loads(data),
                    record_kind="orders", record_key=number)
            report.requeued.append(number)

        for number, data in lost:
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
                requeue(number, data)
        for number, data in unfinished:
            if states_of.get(number, set()) & {"pending", "running"}:
                report.already_queued.append(number)
            else:
                requeue(number, data)


def _bound(system: str):
    """The order has its id in ``system``."""
    return exists().where(bindings.c.kind == "orders", bindings.c.key == orders.c.key, bindings.c.system == system)


def _orders(conn, numbers: list[str]) -> list:
    """(number, data) of these orders, a chunk of keys per query."""
    rows = []
    for start in range(0, len(numbers), LOOKUP_CHUNK):
        rows += conn.execute(select(orders.c.key, orders.c.data)
                             .where(orders.c.key.in_(numbers[start:start + LOOKUP_CHUNK]))).all()
    return rows


def _send_order_states(conn, system: str, numbers: list[str]) -> dict[str, set[str]]:
    """The states of each order's send_order messages, a chunk of keys per query (not one query
    per order while SQLite's write lock is held)."""
    m = outbox_messages
    states_of: dict[str, set[str]] = {}
    for start in range(0, len(numbers), LOOKUP_CHUNK):
        for key, state in conn.execute(select(m.c.business_key, m.c.state).where(
                m.c.channel == system, m.c.operation == SEND_ORDER,
                m.c.business_key.in_(numbers[start:start + LOOKUP_CHUNK]))):
            states_of.setdefault(key, set()).add(state)
    return states_of
