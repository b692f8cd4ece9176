"""Accepting orders into the outbox on SQLite: each order and its message in one durable transaction.

  baseline  one transaction (one commit) per order with synchronous=FULL (durable_transaction:
            the commit survives a power cut): store the order, enqueue its message
  grouped   the same work for GROUP orders per durable transaction (group commit: what the API
            under load does with the orders that arrived together)
  normal    for reference, one order per commit under the store's synchronous=NORMAL (what
            accepting cost before it was made durable against a power cut)

All include turning the order into its stored row and its message payload. Prints orders/s and
the ratios to the baseline (target: grouped >= 5,000/s and >= 3x baseline).

Run: .venv/bin/python bench/outbox_accept.py [N] [GROUP]
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from decimal import Decimal

from erpbridge.outbox import NewMessage, enqueue, enqueue_many
from erpbridge.records import Address, Order, OrderLine
from erpbridge.store import make_engine, upgrade
from erpbridge.store.db import durable_transaction
from erpbridge.store.records import RecordStore, prepare

ADDRESS = Address(name="Jane Doe", street="Hauptstr. 1", postcode="10115", city="Berlin", country="DE")


def make_order(number: str) -> Order:
    lines = [OrderLine(sku=f"SKU-{i}", quantity=Decimal(2), unit_price=Decimal("19.9"), total=Decimal("39.8"))
             for i in range(3)]
    return Order(number=number, placed_at=dt.datetime.now(dt.timezone.utc), currency="EUR", billing_address=ADDRESS,
                 shipping_address=ADDRESS, lines=lines, shipping_method="dhl", payment_method="invoice",
                 grand_total=Decimal("119.4"))


def accept(store: RecordStore, conn, orders: list[Order]) -> None:
    """What the shop API does for the orders that arrived together."""
    store.write_in(conn, "orders", [prepare(o) for o in orders])
    if len(orders) == 1:
        o = orders[0]
        enqueue(conn, channel="erp", operation="send_order", business_key=o.number, payload=o.model_dump(mode="json"),
                record_kind="orders", record_key=o.number)
        return
    enqueue_many(conn, [NewMessage("erp", "send_order", o.number, o.model_dump(mode="json"), record_kind="orders",
                                   record_key=o.number) for o in orders])


def run(n: int, group: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        rates = {}
        for label, size, transaction in (("baseline", 1, durable_transaction), ("grouped", group, durable_transaction),
                                         ("normal", 1, lambda engine: engine.begin())):
            engine = make_engine(f"sqlite:///{folder}/{label}.db")
            upgrade(engine)
            store = RecordStore(engine)
            orders = [make_order(f"{label}-{i}") for i in range(n)]
            started = time.perf_counter()
            for start in range(0, n, size):
                with transaction(engine) as conn:
                    accept(store, conn, orders[start:start + size])
            rates[label] = n / (time.perf_counter() - started)
            engine.dispose()
    print(f"outbox accept, SQLite, {n} orders (3 lines each), load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores (shared machine)")
    print(f"  baseline  1 order/commit, FULL       {rates['baseline']:>9,.0f} orders/s")
    print(f"  grouped   {group} orders/commit, FULL   {rates['grouped']:>9,.0f} orders/s   "
          f"{rates['grouped'] / rates['baseline']:.1f}x baseline   target >= 5,000/s and >= 3x: "
          f"{'ok' if rates['grouped'] >= 5000 and rates['grouped'] >= 3 * rates['baseline'] else 'MISSED'}")
    print(f"  normal    1 order/commit, NORMAL     {rates['normal']:>9,.0f} orders/s   "
          f"{rates['normal'] / rates['baseline']:.1f}x baseline (not durable against a power cut)")


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000, int(sys.argv[2]) if len(sys.argv) > 2 else 100)
