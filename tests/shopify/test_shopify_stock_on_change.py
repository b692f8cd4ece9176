"""A stock level the ERP sends reaches Shopify in seconds: the shop's `stock` flow runs on change
(its default), not only at its five-minute slot. Real scheduler and worker threads against the
Shopify double."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from erpbridge.flows.scheduler import Scheduler, flow_status, run_flow
from erpbridge.flows.tables import flow_runs
from erpbridge.ingest import ingest_fetched
from erpbridge.outbox.worker import Worker
from erpbridge.records import Product, StockLevel

from shopify_apps import LOCATION, make_app, shopify_system


def test_a_stock_change_reaches_shopify_in_seconds_through_the_on_change_stock_flow(shopify, tmp_path, db_url):
    app = make_app(tmp_path, db_url, {"erp": {"connector": "testerp"},
                                      "shopify": shopify_system(shopify, locations={"MAIN": LOCATION})},
                   catalog={"new_products_enabled": True})
    try:
        flows = {f["flow"]: f for f in flow_status(app)}  # what `erpbridge flows` shows
        assert (flows["stock"]["schedule"], flows["stock"]["on_change"]) == ("*/5 * * * *", True)
        ingest_fetched(app, "erp", "products", [Product(sku="A-1", name="Drill")])
        ingest_fetched(app, "erp", "stock", [StockLevel(sku="A-1", warehouse="MAIN", quantity=7)])
        time.sleep(2.1)  # the change feed settles (push.SETTLE)
        for flow in ("catalog", "stock"):
            run_flow(app, flow)
        Worker(app).drain()
        assert shopify.stock("A-1", LOCATION) == 7
        stop = threading.Event()
        threads = [threading.Thread(target=Scheduler(app).run, args=(stop,), daemon=True),
                   threading.Thread(target=Worker(app).run, args=(stop,), daemon=True)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1.5)  # the slot due at start runs; then nothing changed: no run
            ingest_fetched(app, "erp", "stock", [StockLevel(sku="A-1", warehouse="MAIN", quantity=3)])
            changed = time.monotonic()
            while shopify.stock("A-1", LOCATION) != 3:
                assert time.monotonic() - changed < 8, "the stock change waited for the flow's schedule"
                time.sleep(0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join(15)
        with app.engine.connect() as conn:
            triggers = conn.execute(select(flow_runs.c.trigger).where(flow_runs.c.flow == "stock")
                                    .order_by(flow_runs.c.id)).scalars().all()
        # The scheduler's first look runs the slot due at its start; then one run for the one change,
        # none while nothing changed.
        assert triggers[0] == "manual" and triggers[-1] == "change" and triggers.count("change") == 1
    finally:
        app.close()
