"""Shopify's order webhooks at /connectors/shopify/webhooks (HMAC verified, deduplicated on
X-Shopify-Webhook-Id, an order once however it arrives), the cost-based rate limit (waited for,
never failed) and the errors a user reads."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from erpbridge.api import create_api
from erpbridge.errors import MessageError
from erpbridge.ingest import ingest_fetched
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.records import Product
from erpbridge.store.tables import bindings, orders

from shopify_apps import make_app, shopify_system
from shopify_double import ShopifyDouble

sys.path.insert(0, str(Path(__file__).parents[1] / "tryton"))
from shop import ApiServer  # noqa: E402  (uvicorn in a thread, on a free port)


@pytest.fixture
def served(shopify, tmp_path, db_url):
    app = make_app(tmp_path, db_url, {"erp": {"connector": "testerp"}, "shopify": shopify_system(shopify)},
                   catalog={"new_products_enabled": True})
    ingest_fetched(app, "erp", "products", [Product(sku="A-1", name="Drill")])
    server = ApiServer(create_api(app))
    yield app, f"{server.url}/connectors/shopify/webhooks"
    server.close()
    app.close()


def counts(app) -> tuple[int, int]:
    with app.engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(orders)).scalar_one(),
                conn.execute(select(func.count()).where(m.c.operation == "send_order")).scalar_one())


def order_reads(double) -> int:
    return sum(1 for query, _ in double.calls if "query Order(" in query)


def test_an_order_webhook_places_the_order_once_however_often_it_arrives(shopify, served):
    app, url = served
    order = shopify.add_order("1001", [("A-1", 2, "19.90")])
    first = shopify.webhook(url, "orders/create", order, webhook_id="wh-1")
    assert first.status_code == 200 and first.json()["new"] == 1, first.text
    again = shopify.webhook(url, "orders/create", order, webhook_id="wh-1")  # Shopify's retry: the same id
    assert again.json() == {"duplicate": "wh-1"} and order_reads(shopify) == 1
    updated = shopify.webhook(url, "orders/updated", order, webhook_id="wh-2")
    assert updated.status_code == 200 and updated.json()["new"] == 0
    assert counts(app) == (1, 1)
    with app.engine.connect() as conn:
        assert conn.execute(select(bindings.c.external_id).where(bindings.c.kind == "orders",
                                                                 bindings.c.key == "1001")).scalar() == order["id"]


def test_a_webhook_with_a_wrong_signature_is_refused_and_changes_nothing(shopify, served):
    app, url = served
    order = shopify.add_order("1002", [("A-1", 1, "19.90")])
    refused = shopify.webhook(url, "orders/create", order, webhook_id="wh-3", secret="not-the-secret")
    assert refused.status_code == 401 and "X-Shopify-Hmac-SHA256 does not match" in refused.json()["error"]
    assert counts(app) == (0, 0) and order_reads(shopify) == 0


def test_a_webhook_while_shopify_cannot_be_asked_is_answered_503_and_taken_on_its_retry(shopify, served):
    app, url = served
    order = shopify.add_order("1003", [("A-1", 1, "19.90")])
    shopify.stop()
    try:
        down = ShopifyDouble.webhook(shopify, url, "orders/create", order, webhook_id="wh-4")
    finally:
        shopify.start()
    assert down.status_code == 503 and "unreachable" in down.json()["error"]
    assert counts(app) == (0, 0)
    retried = shopify.webhook(url, "orders/create", order, webhook_id="wh-4")
    assert retried.status_code == 200 and counts(app) == (1, 1)


def test_calls_wait_for_the_cost_bucket_and_are_never_failed_by_it(tmp_path):
    double = ShopifyDouble(maximum=60, restore=40)
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'store.db'}",
                   {"erp": {"connector": "testerp"}, "shopify": shopify_system(double)})
    try:
        connector = app.connector("shopify")
        double.drain()  # an empty bucket: the first answer is THROTTLED, then the adapter waits
        records = [{"sku": f"T-{n}", "name": f"Tool {n}"} for n in range(12)]
        started = time.monotonic()
        connector.deliver("push_products", {"kind": "products", "records": records}, "k-1")
        elapsed = time.monotonic() - started
        assert sorted(v["sku"] for v in double.variants.values()) == sorted(r["sku"] for r in records)
        assert double.throttled >= 1 and connector.adapter.waited > 0
        assert elapsed >= (12 * 10 - 60) / 40 * 0.9  # 12 mutations of 10 points, 40 points a second
    finally:
        app.close()
        double.stop()


def test_new_products_are_drafts_and_a_later_push_keeps_the_status_the_merchant_set(shopify, tmp_path):
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'store.db'}",
                   {"erp": {"connector": "testerp"}, "shopify": shopify_system(shopify)})
    try:
        connector = app.connector("shopify")
        record = {"sku": "A-1", "name": "Drill", "list_price": "19.90", "ean": "4006381333931"}
        connector.deliver("push_products", {"kind": "products", "records": [record]}, "k-1")
        variant = shopify.by_sku("A-1")
        product = shopify.products[variant["product"]]
        assert (product["status"], product["title"], variant["price"], variant["barcode"]) == \
            ("DRAFT", "Drill", "19.90", "4006381333931")
        product["status"] = "ACTIVE"  # the merchant publishes it
        connector.deliver("push_products", {"kind": "products", "records": [{**record, "name": "Drill 2"}]}, "k-2")
        assert len(shopify.products) == 1 and (product["status"], product["title"]) == ("ACTIVE", "Drill 2")
        with pytest.raises(MessageError) as caught:
            connector.deliver("push_products", {"kind": "products", "records": [{"sku": "BAD-1", "name": "X"}]}, "k")
        assert str(caught.value) == ("shopify refused productSet for product BAD-1: input.variants.0.sku: "
                                     "SKU BAD-1 is not allowed")
    finally:
        app.close()
