"""Multi-variant products: a parent and the variants naming it by ``parent_sku`` become one
Shopify product with options, through the push flow and the outbox, on the double that executes
every document on Shopify's official schema."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from erpbridge.flows.push import push_kind
from erpbridge.ingest import ingest_fetched
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.outbox.worker import Worker
from erpbridge.records import Product

from shopify_apps import make_app, shopify_system


@pytest.fixture
def app(shopify, tmp_path, db_url):
    app = make_app(tmp_path, db_url, {"erp": {"connector": "testerp"}, "shopify": shopify_system(shopify)})
    yield app
    app.close()


def shirt(sku: str, color: str, size: str = "M", price: str = "25.00") -> Product:
    return Product(sku=sku, name=f"Shirt {color} {size}", parent_sku="SHIRT", list_price=price,
                   attributes={"color": color, "size": size})


def push_products(app) -> list[dict]:
    """Queue what changed of the products (the feed's settling skipped) and deliver it; the push messages."""
    push_kind(app, "shopify", "products", now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=10))
    Worker(app).drain()
    with app.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(m).where(m.c.operation == "push_products")
                                                        .order_by(m.c.id))]


def test_a_parent_and_its_variants_are_one_draft_product_whose_status_is_kept(shopify, app):
    ingest_fetched(app, "erp", "products", [Product(sku="SHIRT", name="Shirt", description="<p>Cotton</p>",
                                                    group="WEAR"),
                                            shirt("SHIRT-R", "red"), shirt("SHIRT-B", "blue")])
    assert [msg["state"] for msg in push_products(app)] == ["done"]
    assert len(shopify.products) == 1
    product = next(iter(shopify.products.values()))
    assert (product["title"], product["status"], product["productType"]) == ("Shirt", "DRAFT", "WEAR")
    assert product["options"] == {"color": ["blue", "red"], "size": ["M"]}
    red, blue = shopify.by_sku("SHIRT-R"), shopify.by_sku("SHIRT-B")
    assert red["options"] == {"color": "red", "size": "M"} and Decimal(red["price"]) == Decimal("25.00")
    assert shopify.by_sku("SHIRT") is None  # the parent is the product, not a variant of it

    # The merchant publishes it; a new variant and a changed one come later, alone.
    product["status"] = "ACTIVE"
    ingest_fetched(app, "erp", "products", [shirt("SHIRT-G", "green", "L"), shirt("SHIRT-R", "red", price="22.00")])
    assert [msg["state"] for msg in push_products(app)] == ["done", "done"]
    assert len(shopify.products) == 1 and product["status"] == "ACTIVE"
    assert sorted(shopify.variants[v]["sku"] for v in product["variants"]) == ["SHIRT-B", "SHIRT-G", "SHIRT-R"]
    assert shopify.by_sku("SHIRT-R")["id"] == red["id"]
    assert Decimal(shopify.by_sku("SHIRT-R")["price"]) == Decimal("22.00")
    assert shopify.by_sku("SHIRT-B")["id"] == blue["id"]  # the sibling sent along is kept, not made again
    # the values in the order the variants, by SKU, use them
    assert product["options"] == {"color": ["blue", "green", "red"], "size": ["M", "L"]}


def test_a_parent_pushed_alone_before_it_had_variants_becomes_their_product(shopify, app):
    ingest_fetched(app, "erp", "products", [Product(sku="SHIRT", name="Shirt")])
    push_products(app)
    single = shopify.by_sku("SHIRT")
    shopify.products[single["product"]]["status"] = "ACTIVE"
    ingest_fetched(app, "erp", "products", [shirt("SHIRT-R", "red")])
    assert push_products(app)[-1]["state"] == "done"
    assert len(shopify.products) == 1
    assert shopify.by_sku("SHIRT") is None and shopify.by_sku("SHIRT-R")["product"] == single["product"]
    assert shopify.products[single["product"]]["status"] == "ACTIVE"


def test_a_variant_whose_parent_is_unknown_is_refused_by_name_and_the_rest_go_through(shopify, app):
    ingest_fetched(app, "erp", "products", [
        Product(sku="CAP-R", name="Cap red", parent_sku="CAP", attributes={"color": "red"}),
        Product(sku="DRILL", name="Drill"),
        Product(sku="SHIRT", name="Shirt"), shirt("SHIRT-R", "red"),
        Product(sku="SHIRT-X", name="Shirt without size", parent_sku="SHIRT", attributes={"color": "black"}),
    ])
    message, = push_products(app)
    assert message["state"] == "pending" and message["attempts"] == 1  # a message error: retried, then dead
    assert "its parent CAP (parent_sku) is unknown: not in the store" in message["last_error"]
    assert "product CAP-R" in message["last_error"]
    assert ("product SHIRT-X: attributes: a variant of SHIRT needs a value of each of its axes color, size, "
            "it has color") in message["last_error"]
    assert shopify.by_sku("DRILL") is not None and shopify.by_sku("CAP-R") is None
    assert shopify.by_sku("SHIRT-R") is None  # its family is refused whole: Shopify would drop the sibling


def test_two_variants_with_the_same_values_are_refused(shopify, app):
    ingest_fetched(app, "erp", "products", [Product(sku="SHIRT", name="Shirt"), shirt("SHIRT-R", "red"),
                                            shirt("SHIRT-R2", "red")])
    message, = push_products(app)
    assert message["state"] == "pending" and "product SHIRT-R2: attributes: the same values (red, M) as SHIRT-R, " \
        "another variant of SHIRT" in message["last_error"]
    assert shopify.products == {}
