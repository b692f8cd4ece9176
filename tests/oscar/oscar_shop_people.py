"""What people do in the oscar test shop, over its own HTTP API: a merchant switches a product on,
a guest buys through the basket and checkout (oscarapi's storefront calls, as a shop frontend
makes them); and what the tests read back through oscarapi's admin API and erpbridge_oscar."""

from __future__ import annotations

import uuid
from decimal import Decimal

from oscar_shop_server import OscarShop

ADDRESS = {"title": "Ms", "first_name": "Erika", "last_name": "Muster", "line1": "Hauptstr. 1", "line4": "Berlin",
           "postcode": "10115", "phone_number": "+49 30 1234567"}


def product(shop: OscarShop, sku: str) -> dict | None:
    """oscarapi's admin view of the product with UPC ``sku`` (an empty PATCH by UPC reads it)."""
    response = shop.http.patch("/api/admin/products/", json={"upc": sku})
    return None if response.status_code == 404 else response.json()


def enable(shop: OscarShop, sku: str) -> None:
    """The merchant switches the product on (oscar's ``is_public``)."""
    response = shop.http.patch("/api/admin/products/", json={"upc": sku, "is_public": True})
    assert response.status_code == 200, response.text


def stock_record(shop: OscarShop, sku: str) -> dict:
    record, = product(shop, sku)["stockrecords"]
    return record


def add_product(shop: OscarShop, sku: str, price: str = "10.00", stock: int = 100) -> None:
    """A product that is on sale at once (its partner and class made on first use)."""
    partners = shop.http.get("/api/admin/partners/").json()
    partner = next((p["url"] for p in partners if p["name"] == "erpbridge"), None) or \
        shop.http.post("/api/admin/partners/", json={"name": "erpbridge"}).json()["url"]
    if shop.http.get("/api/admin/productclasses/goods/").status_code == 404:
        shop.http.post("/api/admin/productclasses/", json={"name": "Goods", "slug": "goods", "track_stock": True,
                                                           "requires_shipping": True})
    response = shop.http.post("/api/admin/products/", json={
        "upc": sku, "title": f"Product {sku}", "slug": sku.lower(), "product_class": "goods", "structure": "standalone",
        "is_public": True, "stockrecords": [{"partner": partner, "partner_sku": sku, "price": price,
                                             "price_currency": "EUR", "num_in_stock": stock}]})
    assert response.status_code == 201, response.text


def place_order(shop: OscarShop, lines: dict[str, int], email: str = "erika@example.com") -> str:
    """A guest's order through the basket and the checkout; its number."""
    session = {"Session-Id": f"SID:ANON:127.0.0.1:{uuid.uuid4().hex}"}
    guest = shop.http.__class__(base_url=shop.url, headers=session, timeout=30)
    try:
        basket = guest.get("/api/basket/").json()
        for sku, quantity in lines.items():
            pk = product(shop, sku)["id"]
            added = guest.post("/api/basket/add-product/", json={"url": f"{shop.url}/api/products/{pk}/",
                                                                "quantity": quantity})
            assert added.status_code == 200, added.text
        method = guest.get("/api/basket/shipping-methods/").json()[0]["code"]
        order = guest.post("/api/checkout/", json={
            "basket": basket["url"], "guest_email": email, "shipping_method_code": method,
            "shipping_address": {**ADDRESS, "country": f"{shop.url}/api/countries/DE/"}})
        assert order.status_code == 200, order.text
        return order.json()["number"]
    finally:
        guest.close()


def order(shop: OscarShop, number: str) -> dict:
    """The order as erpbridge_oscar shows it: status, lines, shipments, payment events."""
    response = shop.http.get(f"/api/erpbridge/orders/{number}/")
    assert response.status_code == 200, response.text
    return response.json()


def shipments(shop: OscarShop, number: str) -> list[dict]:
    return [s for s in order(shop, number)["shipments"] if s["id"]]


def payments(shop: OscarShop, number: str, kind: str = "invoiced") -> list[tuple[str, Decimal]]:
    return [(p["reference"], Decimal(p["amount"])) for p in order(shop, number)["payments"] if p["type"] == kind]
