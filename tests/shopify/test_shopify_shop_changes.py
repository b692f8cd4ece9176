"""Cancellations and refunds the merchant makes in Shopify's admin reach the ERP through the
outbox once each, by poll or by the orders/updated webhook; erpbridge's own (the ERP's cancel, its
credit memos' refunds) are not sent back; what the store refuses is named in the report."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from erpbridge.api import create_api
from erpbridge.ingest import ingest_fetched
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.records import Product
from erpbridge.services.orders import cancel_order

from shopify_apps import make_app, shopify_system

sys.path.insert(0, str(Path(__file__).parents[1] / "tryton"))
from shop import ApiServer  # noqa: E402  (uvicorn in a thread, on a free port)


@pytest.fixture
def app(shopify, tmp_path, db_url):
    app = make_app(tmp_path, db_url, {"erp": {"connector": "testerp"}, "shopify": shopify_system(shopify)},
                   catalog={"new_products_enabled": True})
    ingest_fetched(app, "erp", "products", [Product(sku="A-1", name="Drill"), Product(sku="B-2", name="Saw")])
    yield app
    app.close()


def poll(app):
    return ingest_fetched(app, "shopify", "orders", app.connector("shopify").fetch("orders", None), flow="orders")


def sent(app, operation: str) -> list[dict]:
    import orjson

    with app.engine.connect() as conn:
        return [orjson.loads(p) for p in conn.execute(select(m.c.payload).where(m.c.operation == operation)
                                                      .order_by(m.c.id)).scalars()]


def test_an_order_cancelled_in_shopify_is_cancelled_in_the_erp_once(shopify, app):
    shopify.add_order("1001", [("A-1", 2, "19.90")])
    assert poll(app).new == 1
    shopify.cancel_in_shop("1001")
    for _ in range(3):  # the overlap window reads it again: still one cancellation
        assert poll(app).rejections == []
    cancel, = sent(app, "cancel_order")
    assert cancel["order"] == "1001" and cancel["lines"] == [] and cancel["id"].startswith("shopify-cancel-")


def test_a_refund_made_in_shopify_is_a_return_or_a_cancellation_of_its_lines_by_its_restock_type(shopify, app):
    shopify.add_order("1002", [("A-1", 2, "19.90"), ("B-2", 1, "9.90")])
    poll(app)
    shopify.refund_in_shop("1002", [("A-1", 1, "RETURN")])
    shopify.refund_in_shop("1002", [("B-2", 1, "CANCEL")])
    shopify.refund_in_shop("1002", [("A-1", 1, "NO_RESTOCK")])  # money back, the goods stay: nothing for the ERP
    poll(app)
    poll(app)
    ret, = sent(app, "send_return")
    assert [(line["sku"], line["quantity"]) for line in ret["lines"]] == [("A-1", "1")]
    cancel, = sent(app, "cancel_order")
    assert [(line["sku"], line["quantity"]) for line in cancel["lines"]] == [("B-2", "1")]


def test_the_erps_own_cancellation_and_refunds_are_not_sent_back(shopify, app):
    shopify.add_order("1003", [("A-1", 1, "19.90")])
    poll(app)
    shopify.refund_in_shop("1003", [("A-1", 1, "RETURN")], note="erpbridge credit memo CM-1")  # the ERP's memo
    poll(app)
    assert sent(app, "send_return") == []
    shopify.cancel_in_shop("1003", staff_note="erpbridge: cancelled by the ERP")
    poll(app)
    assert sent(app, "cancel_order") == []


def test_a_cancellation_the_store_cannot_take_is_named_and_the_rest_goes_through(shopify, app):
    shopify.add_order("1004", [("A-1", 1, "19.90")])
    shopify.add_order("1005", [("A-1", 1, "19.90")])
    poll(app)
    cancel_order(app, "1004", "by the shop's API", [], "api-cancel-1004")  # cancelled through erpbridge meanwhile
    shopify.refund_in_shop("1004", [("A-1", 1, "RETURN")])  # and refunded as returned in Shopify's admin
    shopify.cancel_in_shop("1005")
    report = poll(app)
    refused, = report.rejections
    assert "credit memo" in str(refused) and "order 1004" in str(refused) and "cancelled" in str(refused)
    assert [c["order"] for c in sent(app, "cancel_order")] == ["1004", "1005"]


def test_the_orders_updated_webhook_takes_a_cancellation_made_in_shopify(shopify, app):
    server = ApiServer(create_api(app))
    try:
        url = f"{server.url}/connectors/shopify/webhooks"
        order = shopify.add_order("1006", [("A-1", 1, "19.90")])
        assert shopify.webhook(url, "orders/create", order, webhook_id="wh-1").json()["new"] == 1
        shopify.cancel_in_shop("1006")
        answer = shopify.webhook(url, "orders/updated", order, webhook_id="wh-2")
        assert answer.status_code == 200 and answer.json()["rejected"] == [], answer.text
        assert shopify.webhook(url, "orders/updated", order, webhook_id="wh-3").status_code == 200
    finally:
        server.close()
    cancel, = sent(app, "cancel_order")
    assert cancel["order"] == "1006"
