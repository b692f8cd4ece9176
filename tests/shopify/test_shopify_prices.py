"""Volume and customer prices on Shopify's B2B price lists (quantity price breaks on a fixed
price), list prices on the variants; what Shopify cannot hold is refused by name, through the
push flow and the outbox, on the double that executes every document on the official schema."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from erpbridge.flows.push import push_kind
from erpbridge.ingest import ingest_fetched
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.outbox.worker import Worker
from erpbridge.records import Price, Product

from shopify_apps import make_app, shopify_system


def pushed(app, kind: str) -> dict:
    """Queue what changed of ``kind`` (the feed's settling skipped), deliver it: the last push message."""
    push_kind(app, "shopify", kind, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=10))
    Worker(app).drain()
    with app.engine.connect() as conn:
        return dict(conn.execute(select(m).where(m.c.operation == f"push_{kind}").order_by(m.c.id.desc())).first()
                    ._mapping)


def shop(shopify, tmp_path, db_url, **settings):
    app = make_app(tmp_path, db_url, {"erp": {"connector": "testerp"}, "shopify": shopify_system(shopify, **settings)})
    ingest_fetched(app, "erp", "products", [Product(sku="A-1", name="Drill"), Product(sku="B-2", name="Saw")])
    assert pushed(app, "products")["state"] == "done"
    return app


def price(sku: str, amount: str, minimum: str = "1", customer: str | None = None, currency: str = "EUR") -> Price:
    return Price(sku=sku, amount=amount, currency=currency, min_quantity=minimum, customer=customer)


def test_volume_and_customer_prices_go_to_their_price_lists_and_a_change_replaces_the_tiers(shopify, tmp_path,
                                                                                             db_url):
    volume, c1 = shopify.add_price_list("EUR"), shopify.add_price_list("EUR")
    app = shop(shopify, tmp_path, db_url, volume_price_list=volume, customer_price_lists={"C1": c1})
    try:
        ingest_fetched(app, "erp", "prices", [
            price("A-1", "10.00"), price("A-1", "9.00", "10"), price("A-1", "8.00", "50"),
            price("A-1", "9.50", customer="C1"), price("A-1", "8.50", "20", customer="C1"), price("B-2", "5.00"),
            price("A-1", "11.00", currency="USD")])  # a list price in another currency is no tier: not refused
        assert pushed(app, "prices")["state"] == "done"
        assert [Decimal(shopify.by_sku(s)["price"]) for s in ("A-1", "B-2")] == [10, 5]
        assert shopify.tiers(volume, "A-1") == (Decimal("10.00"), {10: Decimal("9.00"), 50: Decimal("8.00")})
        assert shopify.tiers(c1, "A-1") == (Decimal("9.50"), {20: Decimal("8.50")})
        assert shopify.tiers(volume, "B-2") == (None, {})  # a list price only: nothing on the price lists

        ingest_fetched(app, "erp", "prices", [price("A-1", "7.50", "50")])  # one tier changes, alone
        assert pushed(app, "prices")["state"] == "done"
        assert shopify.tiers(volume, "A-1") == (Decimal("10.00"), {10: Decimal("9.00"), 50: Decimal("7.50")})
        assert shopify.tiers(c1, "A-1") == (Decimal("9.50"), {20: Decimal("8.50")})
    finally:
        app.close()


def test_what_shopify_cannot_hold_is_refused_by_name_and_the_rest_go_through(shopify, tmp_path, db_url):
    usd = shopify.add_price_list("USD")
    app = shop(shopify, tmp_path, db_url, customer_price_lists={"C1": usd})
    try:
        ingest_fetched(app, "erp", "prices", [
            price("A-1", "10.00"), price("A-1", "9.00", "10"), price("B-2", "4.00", customer="C2"),
            price("B-2", "3.00", "2.5", customer="C1"), price("A-1", "9.50", customer="C1")])
        message = pushed(app, "prices")
        assert message["state"] == "pending" and message["attempts"] == 1  # a message error: retried, then dead
        error = message["last_error"]
        assert "shopify: volume price of A-1 from 10: no volume_price_list configured (Shopify has volume prices " \
            "only as quantity price breaks of a B2B price list)" in error
        assert "shopify: price of B-2 for customer C2: customer C2 has no price list" in error
        assert "shopify: customer price of B-2 for customer C1 from 2.5: min_quantity: Shopify's quantity breaks " \
            "take whole pieces" in error
        assert f"shopify: price of A-1 for customer C1: currency: EUR, but price list {usd} is in USD" in error
        assert Decimal(shopify.by_sku("A-1")["price"]) == 10  # the list price went through
        assert shopify.price_lists[usd]["fixed"] == {}
    finally:
        app.close()
