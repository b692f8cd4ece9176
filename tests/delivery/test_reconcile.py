"""Reconciliation (seed 003): accepted orders without an ERP id, found and repaired once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from erpbridge.outbox import discard
from erpbridge.outbox.reconcile import reconcile
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.outbox.worker import Worker
from erpbridge.store.records import prepare
from erpbridge.store.tables import orders

from .conftest import order, place_order
from .erp_connector import ErpConnector
from .helpers import binding, states


def age(app, minutes: float) -> None:
    with app.engine.begin() as conn:
        conn.execute(update(orders).values(created_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes)))


def test_an_order_that_never_reached_the_erp_is_requeued_once_and_delivered(make_app, erp):
    app = make_app()
    app.records.write("orders", [prepare(order("1001"))])  # accepted, but no message
    age(app, 11)
    report = reconcile(app)
    assert (report.found, report.requeued, report.needs_repair) == (["1001"], ["1001"], True)
    again = reconcile(app)
    assert (again.requeued, again.already_queued) == ([], ["1001"])  # queued once, not twice
    Worker(app, connectors={"erp": ErpConnector(erp.port)}).drain()
    assert binding(app, "orders", "1001") == "SO00001"
    assert reconcile(app).found == []  # it has its ERP id now


def test_only_accepted_orders_older_than_the_threshold_count(make_app):
    app = make_app(outbox={"reconcile_after_minutes": 10})
    app.records.write("orders", [prepare(order("1001")), prepare(order("1002")), prepare(order("1003"))])
    with app.engine.begin() as conn:
        conn.execute(update(orders).where(orders.c.key == "1002").values(state="awaiting_payment"))
        conn.execute(update(orders).where(orders.c.key == "1003").values(state="cancelled"))
    age(app, 9)
    assert reconcile(app).found == []
    assert reconcile(app, older_than_minutes=5).found == ["1001"]


def test_dead_and_discarded_orders_are_reported_not_requeued(make_app):
    app = make_app()
    dead, gone = place_order(app, "1001"), place_order(app, "1002")
    with app.engine.begin() as conn:
        conn.execute(update(m).where(m.c.id == dead).values(state="dead"))
    discard(app.engine, [gone], actor="alice", reason="entered by phone")
    age(app, 20)
    report = reconcile(app)
    assert (report.dead, report.discarded, report.requeued, report.needs_repair) == (["1001"], ["1002"], [], True)
    assert list(states(app).values()) == ["dead", "discarded"]
