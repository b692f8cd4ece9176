"""Stock reconciliation against a real Tryton (issue 16): a stock change the store never heard of
is found by the full comparison, per SKU and warehouse, and repaired from Tryton's own figures."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from erpbridge.ingest import built
from erpbridge.ingest.reconcile_stock import reconcile_stock
from erpbridge.store.tables import stock


def test_a_stock_change_the_store_missed_is_found_and_repaired_from_tryton(app, connector, erp, prefix):
    lamp = erp.product(f"{prefix}-LAMP", "Lamp", "19.90")
    erp.receive(lamp, 12)
    erp.receive(lamp, 3, "WH2")
    app.records.put(built(connector.fetch("stock")))  # the store knows 12 and 3
    with app.engine.begin() as conn:
        conn.execute(update(stock).values(updated_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)))
    erp.receive(lamp, 5)  # and then never hears of these 5 (a missed delta)

    report = reconcile_stock(app, repair=True)
    ours = [d for d in report.differences if d["sku"] == f"{prefix}-LAMP"]
    assert [(d["warehouse"], d["erp"], d["store"]) for d in ours] == [("main", "17", "12")]
    assert report.unchecked is None and report.rejected == 0
    levels = {(s.warehouse, s.quantity) for s in app.records.find("stock", stock.c.sku == f"{prefix}-LAMP")}
    assert levels == {("main", 17), ("south", 3)}
    again = reconcile_stock(app, in_flight_minutes=0)
    assert not [d for d in again.differences if d["sku"] == f"{prefix}-LAMP"]
