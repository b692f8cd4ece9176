"""What erpbridge answers "accepted" to survives a power cut: orders, customers, cancellations and
returns commit with their outbox messages under SQLite ``synchronous=FULL`` (PostgreSQL:
``synchronous_commit`` on); the rest of the store's writes keep SQLite's faster ``NORMAL``."""

from __future__ import annotations

from sqlalchemy import event

from erpbridge.records import Product
from erpbridge.records.orders import CancelLine, ReturnLine
from erpbridge.services import customers, orders
from erpbridge.services.products import set_enabled
from erpbridge.store.db import durable_transaction, write_transaction

from .conftest import order

FULL, NORMAL = "2", "1"  # SQLite's PRAGMA synchronous levels


def commit_levels(engine) -> list[str]:
    """The durability level each commit of ``engine`` runs with, from now on (listed as they happen)."""
    levels: list[str] = []

    @event.listens_for(engine, "commit")
    def _commit(conn) -> None:  # runs just before the commit, on the committing connection
        raw = conn.connection.driver_connection
        if engine.dialect.name == "sqlite":
            levels.append(str(raw.execute("PRAGMA synchronous").fetchone()[0]))
        else:
            levels.append("2" if raw.execute("SHOW synchronous_commit").fetchone()[0] == "on" else "1")

    return levels


def test_accepted_orders_cancellations_returns_and_customers_commit_durably(make_app):
    app = make_app()
    app.records.put([Product(sku="SKU-1", name="Drill")])
    set_enabled(app, enabled=True, skus=["SKU-1"])
    levels = commit_levels(app.engine)
    orders.place_order(app, order("1001"))
    orders.cancel_order(app, "1001", "changed my mind", [CancelLine(sku="SKU-1", quantity=1)], None)
    orders.request_return(app, "1001", [ReturnLine(sku="SKU-1", quantity=1)], None)
    customers.create_customer(app, {"reference": "C-1", "name": "Jane Doe"})
    assert levels == [FULL] * 4


def test_the_store_runs_normal_outside_accepted_transactions(make_app):
    app = make_app()
    levels = commit_levels(app.engine)
    with durable_transaction(app.engine):
        pass
    with write_transaction(app.engine):
        pass
    sqlite = app.engine.dialect.name == "sqlite"
    assert levels == [FULL, NORMAL if sqlite else FULL]  # PostgreSQL's default: synchronous_commit on
