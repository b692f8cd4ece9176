"""Stock reconciliation reads Magento's source items back (issue 16): a quantity changed or
deleted in Magento's admin is a difference against the store (the ERP agreeing with the store),
and the repair sends the store's value to Magento again, once; values not yet pushed are in flight."""

from __future__ import annotations

import pytest
from erpbridge_testconnectors import peers

from erpbridge.flows import push
from erpbridge.flows.scheduler import run_flow
from erpbridge.ingest.reconcile_stock import reconcile_stock
from erpbridge.outbox.worker import Worker
from erpbridge.records import Product, StockLevel
from erpbridge.store.db import write_transaction
from erpbridge.store.records import prepare


def store(app, *records) -> None:
    with write_transaction(app.engine) as conn:
        for record in records:
            app.records.write_in(conn, record.kind, [prepare(record)])


@pytest.fixture
def app(magento_app, monkeypatch):
    monkeypatch.setattr(push, "SETTLE", 0)
    return magento_app()


def test_a_quantity_changed_or_removed_in_magento_is_found_and_pushed_again(app, magento):
    levels = [StockLevel(sku=sku, warehouse="main", quantity=3) for sku in ("LAMP", "CUP", "MUG")]
    store(app, *(Product(sku=level.sku, name=level.sku) for level in levels), *levels)
    peers.peer("erp").serve("stock", *levels)  # the ERP agrees with the store
    for flow in ("catalog", "stock"):
        assert run_flow(app, flow)["outcome"] == "ok"
    Worker(app).drain()
    with magento.lock:
        magento.source_items[("LAMP", "default")]["quantity"] = 1  # changed in Magento's admin
        del magento.source_items[("CUP", "default")]

    report = reconcile_stock(app, in_flight_minutes=0)
    assert (report.compared, report.shop_compared, report.shop_differing, report.differing) == (3, 3, 2, 2)
    assert report.shops_unchecked is None
    assert sorted((d["side"], d["system"], d["sku"], d["warehouse"], d["store"], d["shop"])
                  for d in report.differences) == [("shop", "magento", "CUP", "main", "3", None),
                                                   ("shop", "magento", "LAMP", "main", "3", "1")]

    repaired = reconcile_stock(app, repair=True, in_flight_minutes=0)
    assert repaired.resent == 2
    # the push is on its way: not compared again until it is delivered
    assert reconcile_stock(app, in_flight_minutes=0).shops_unchecked == \
        "a stock push to magento is on its way (compared once it is delivered)"
    Worker(app).drain()
    assert {sku: item["quantity"] for (sku, _), item in magento.source_items.items()} == {"LAMP": 3, "CUP": 3,
                                                                                         "MUG": 3}
    assert reconcile_stock(app, in_flight_minutes=0).differing == 0


def test_stock_the_push_flow_has_not_sent_yet_is_in_flight(app, magento):
    store(app, Product(sku="LAMP", name="Lamp"), StockLevel(sku="LAMP", warehouse="main", quantity=3))
    peers.peer("erp").serve("stock", StockLevel(sku="LAMP", warehouse="main", quantity=3))
    report = reconcile_stock(app, in_flight_minutes=0)
    assert (report.shop_compared, report.in_flight, report.differing) == (1, 1, 0)
