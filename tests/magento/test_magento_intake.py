"""Taking Magento's orders in by ``updated_at``: an order Magento stamped before the last run
but that was not visible then (a late commit, a clock or time-zone shift) is found by the next
run within the overlap window; orders read again are not taken in twice."""

from __future__ import annotations

import datetime as dt

from erpbridge.flows.scheduler import run_flow
from erpbridge.records import Product
from erpbridge.services.products import set_enabled
from erpbridge.store.db import write_transaction
from erpbridge.store.records import prepare


def stamp(minutes_ago: float) -> str:
    moment = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes_ago)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def test_an_order_stamped_before_the_last_run_is_found_within_the_overlap(magento_app, magento):
    app = magento_app(shop={"order_overlap_minutes": 10})
    with write_transaction(app.engine) as conn:
        app.records.write_in(conn, "products", [prepare(Product(sku="A-1", name="Drill"))])
    set_enabled(app, enabled=True, skus=["A-1"])
    magento.place_order("100000001", [("A-1", 1)])
    assert run_flow(app, "orders")["summary"]["new"] == 1
    magento.place_order("100000002", [("A-1", 1)], updated_at=stamp(5))  # committed late, stamped 5 minutes ago
    magento.place_order("100000003", [("A-1", 1)], updated_at=stamp(30))  # older than the overlap
    run = run_flow(app, "orders")["summary"]
    assert (run["fetched"], run["new"]) == (1, 1)  # 100000001 is read again and skipped, 100000002 taken in
