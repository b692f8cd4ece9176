"""Full catalog pushes above ``bulk_from`` as one Shopify bulk operation: the JSONL file
uploaded to the staged target, ``productSet`` per line, ``bulkOperation`` polled until
COMPLETED, per-line results read from the result file; on the double, which serves the upload
target and validates the bulk mutation and every line's variables on the official schema."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from erpbridge.connectors.shopify import documents
from erpbridge.errors import MessageError
from erpbridge.flows.push import push_kind
from erpbridge.ingest import ingest_fetched
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.outbox.worker import Worker
from erpbridge.records import Product

from shopify_apps import make_app, shopify_system


@pytest.fixture
def app(shopify, tmp_path, db_url):
    app = make_app(tmp_path, db_url, {"erp": {"connector": "testerp"}, "shopify": shopify_system(
        shopify, bulk_from=5, push_batch=1000, bulk_poll_seconds=0.05)})
    yield app
    app.close()


def calls(double, text: str) -> int:
    return sum(1 for query, _ in double.calls if text in query)


def records(*skus: str) -> list[dict]:
    return [{"sku": sku, "name": f"Tool {sku}", "list_price": "9.90", "enabled": False} for sku in skus]


def test_a_full_push_goes_as_one_bulk_operation_and_keeps_the_merchants_status(shopify, app):
    ingest_fetched(app, "erp", "products", [Product(sku="T-0", name="Tool T-0")])
    connector = app.connector("shopify")
    connector.deliver("push_products", {"kind": "products", "records": records("T-0")}, "k-0")  # below: one by one
    assert calls(shopify, "bulkOperationRunMutation") == 0 and calls(shopify, "productSet(") == 1
    shopify.products[shopify.by_sku("T-0")["product"]]["status"] = "ACTIVE"  # the merchant publishes it

    catalog = [Product(sku=f"T-{n}", name=f"Tool T-{n}", list_price="9.90") for n in range(8)]
    catalog += [Product(sku="SHIRT", name="Shirt"),
                Product(sku="SHIRT-R", name="Shirt red", parent_sku="SHIRT", attributes={"color": "red"}),
                Product(sku="SHIRT-B", name="Shirt blue", parent_sku="SHIRT", attributes={"color": "blue"})]
    ingest_fetched(app, "erp", "products", catalog)
    shopify.bulk_seconds = 0.3  # so the connector has to poll
    push_kind(app, "shopify", "products", full=True, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=10))
    Worker(app).drain()
    with app.engine.connect() as conn:
        states = conn.execute(select(m.c.state).where(m.c.operation == "push_products")).scalars().all()
    assert states == ["done"]
    assert calls(shopify, "bulkOperationRunMutation") == 1 and calls(shopify, "productSet(") == 1
    assert calls(shopify, "query BulkOperation(") >= 2  # polled while it ran
    assert len(shopify.products) == 9 and len(shopify.variants) == 10  # 8 tools and one shirt of 2 variants
    statuses = {shopify.by_sku(f"T-{n}")["sku"]: shopify.products[shopify.by_sku(f"T-{n}")["product"]]["status"]
                for n in range(8)}
    assert statuses == {"T-0": "ACTIVE", **{f"T-{n}": "DRAFT" for n in range(1, 8)}}
    assert shopify.products[shopify.by_sku("SHIRT-R")["product"]]["options"] == {"color": ["blue", "red"]}
    uploaded, = shopify.staged.values()
    lines = [json.loads(line) for line in uploaded.splitlines()]  # productSet's variables, a product a line
    assert len(lines) == 9 and all(set(line) == {"input", "identifier"} for line in lines)
    assert [h for h in shopify.upload_headers if "x-shopify-access-token" in map(str.lower, h)] == []


def test_a_line_shopify_refuses_is_named_by_sku_and_the_other_lines_go_through(shopify, app):
    connector = app.connector("shopify")
    payload = {"kind": "products", "records": records("A-1", "A-2", "BAD-1", "A-3", "A-4")}
    with pytest.raises(MessageError) as caught:
        connector.deliver("push_products", payload, "k-1")
    assert str(caught.value).startswith("shopify refused productSet for product BAD-1 (bulk operation "
                                        "gid://shopify/BulkOperation/")
    assert str(caught.value).endswith("input.variants.0.sku: SKU BAD-1 is not allowed")
    assert sorted(v["sku"] for v in shopify.variants.values()) == ["A-1", "A-2", "A-3", "A-4"]
    assert calls(shopify, "bulkOperationRunMutation") == 1 and calls(shopify, "productSet(") == 0

    # Delivered again (the outbox retries a message error): the look-ups find what the bulk operation made.
    payload["records"] = records("A-1", "A-2", "B-1", "A-3", "A-4")  # the ERP's record put right
    result = connector.deliver("push_products", payload, "k-1")
    assert sorted(v["sku"] for v in shopify.variants.values()) == ["A-1", "A-2", "A-3", "A-4", "B-1"]
    assert result.response["products"]["A-1"] == shopify.by_sku("A-1")["product"]


def test_a_bulk_operation_left_running_by_an_earlier_try_is_waited_for_first(shopify, app):
    connector = app.connector("shopify")
    payload = {"kind": "products", "records": records(*(f"D-{n}" for n in range(6)))}
    shopify.bulk_seconds = 0.5
    # An earlier try started a bulk operation of the same products and its worker died: it still runs.
    key = "tmp/earlier/bulk/erpbridge-products.jsonl"
    shopify.staged[key] = b"".join(json.dumps({"input": {"title": f"Tool D-{n}", "variants": [
        {"sku": f"D-{n}", "optionValues": [{"optionName": "Title", "name": "Default Title"}]}], "productOptions": [
        {"name": "Title", "values": [{"name": "Default Title"}]}]}}).encode() + b"\n" for n in range(6))
    shopify.bulkOperationRunMutation(None, documents.BULK_PRODUCT_SET, key)
    connector.deliver("push_products", payload, "k-1")
    assert sorted(v["sku"] for v in shopify.variants.values()) == [f"D-{n}" for n in range(6)]  # none twice
    assert calls(shopify, "query CurrentBulk") == 1 and calls(shopify, "bulkOperationRunMutation") == 1
