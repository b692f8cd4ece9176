"""Stock reconciliation reads Shopify's inventory levels back (issue 16): a quantity changed in
Shopify's admin is a difference against the store, stock of a warehouse mapped to no location is
not compared (it is never pushed), and the repair sets the store's value in Shopify again."""

from __future__ import annotations

import pytest
from erpbridge_testconnectors import peers

from erpbridge.flows import push
from erpbridge.flows.scheduler import run_flow
from erpbridge.ingest import ingest_fetched
from erpbridge.ingest.reconcile_stock import reconcile_stock
from erpbridge.outbox.worker import Worker
from erpbridge.records import Product, StockLevel

from shopify_apps import LOCATION, make_app, shopify_system


@pytest.fixture
def app(shopify, tmp_path, db_url, monkeypatch):
    monkeypatch.setattr(push, "SETTLE", 0)
    peers.reset()
    app = make_app(tmp_path, db_url, {"erp": {"connector": "testerp"},
                                      "shopify": shopify_system(shopify, locations={"main": LOCATION})},
                   catalog={"new_products_enabled": True})
    yield app
    app.close()
    peers.reset()


def test_a_quantity_changed_in_shopify_is_found_and_set_again(app, shopify):
    levels = [StockLevel(sku="LAMP", warehouse="main", quantity=3), StockLevel(sku="CUP", warehouse="main", quantity=4),
              StockLevel(sku="LAMP", warehouse="south", quantity=9)]  # south: no Shopify location
    ingest_fetched(app, "erp", "products", [Product(sku="LAMP", name="Lamp"), Product(sku="CUP", name="Cup")])
    ingest_fetched(app, "erp", "stock", levels)
    peers.peer("erp").serve("stock", *levels)  # the ERP agrees with the store
    for flow in ("catalog", "stock"):
        assert run_flow(app, flow)["outcome"] == "ok"
    Worker(app).drain()
    assert shopify.stock("LAMP", LOCATION) == 3
    lamp = shopify.by_sku("LAMP")["inventoryItem"]
    with shopify.lock:
        shopify.inventory[(lamp, LOCATION)] = 1  # sold in the shop's POS, say, and never told to the ERP

    report = reconcile_stock(app, in_flight_minutes=0)
    assert (report.compared, report.shop_compared, report.shop_differing, report.shops_unchecked) == (3, 2, 1, None)
    [difference] = report.differences
    assert (difference["side"], difference["system"], difference["sku"], difference["store"], difference["shop"]) == \
        ("shop", "shopify", "LAMP", "3", "1")

    assert reconcile_stock(app, repair=True, in_flight_minutes=0).resent == 1
    Worker(app).drain()
    assert shopify.stock("LAMP", LOCATION) == 3
    assert reconcile_stock(app, in_flight_minutes=0).differing == 0
