"""ERP -> store: catalog, prices, stock and customers fetched from a real Tryton, full and delta."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from erpbridge.connectors.base import PriceQuery
from erpbridge.ingest import built


def _now():
    return dt.datetime.now(dt.timezone.utc)


def test_catalog_prices_and_stock_full_then_delta(app, connector, erp, prefix):
    shirts = erp.category(f"{prefix}-SHIRTS", "Shirts")
    polos = erp.category(f"{prefix}-POLOS", "Polos", parent=shirts)
    polo = erp.product(f"{prefix}-POLO", "Polo", "29.90", category=polos, description="Pique polo\nCotton, 220 g")
    tee = erp.product(f"{prefix}-TEE", "Tee", "9.50", category=shirts)
    erp.product(f"{prefix}-HIDDEN", "Not for sale", "1.00", salable=False)
    erp.receive(polo, 12)
    erp.receive(polo, 3, "WH2")
    erp.receive(tee, 7)

    for kind in ("product_groups", "products", "prices", "stock"):
        app.records.put(built(connector.fetch(kind)))

    group = app.records.get("product_groups", f"{prefix}-POLOS")
    assert (group.name, group.parent) == ("Polos", f"{prefix}-SHIRTS")
    product = app.records.get("products", f"{prefix}-POLO")
    assert (product.name, product.group, product.list_price, product.currency) == ("Polo", f"{prefix}-POLOS", Decimal("29.9"), "EUR")
    assert product.short_description == "Pique polo" and product.description == "Pique polo\nCotton, 220 g"
    assert app.records.get("products", f"{prefix}-HIDDEN") is None
    assert app.records.get("products", "FREIGHT") is None  # the freight product is billing, not catalog
    assert app.records.get("prices", f"{prefix}-TEE\x1f\x1fEUR\x1f1\x1f").amount == Decimal("9.5")
    stock = {(s.sku, s.warehouse): s.quantity for s in app.records.find("stock") if s.sku.startswith(prefix)}
    assert stock == {(f"{prefix}-POLO", "main"): 12, (f"{prefix}-POLO", "south"): 3,
                     (f"{prefix}-TEE", "main"): 7, (f"{prefix}-TEE", "south"): 0}

    since = _now()
    template = erp.rpc.model("product.product", "read", [tee], ["template"])[0]["template"]
    erp.rpc.model("product.template", "write", [template], {"name": "Tee (organic)", "list_price": Decimal("11.00")})
    erp.receive(polo, 1, "WH2")

    changed_products = list(built(connector.fetch("products", since)))
    assert [p.sku for p in changed_products] == [f"{prefix}-TEE"]
    changed_stock = list(built(connector.fetch("stock", since)))
    assert {(s.sku, s.warehouse, s.quantity) for s in changed_stock} == {(f"{prefix}-POLO", "main", 12),
                                                                        (f"{prefix}-POLO", "south", 4)}
    result = app.records.put([*changed_products, *changed_stock, *built(connector.fetch("prices", since))])
    assert app.records.get("products", f"{prefix}-TEE").name == "Tee (organic)"
    assert result.changed >= 3  # product, its list price, the polo's stock in WH2


def test_customer_price_lists_become_customer_and_volume_prices(app, connector, erp, prefix, tryton_server):
    product = erp.product(f"{prefix}-MUG", "Mug", "10.00")
    price_list, = erp.rpc.model("product.price_list", "create", [{
        "name": f"{prefix} dealers", "price": "list_price",
        "lines": [["create", [{"product": product, "quantity": 10, "formula": "unit_price * 0.8"},
                               {"formula": "unit_price * 0.9"}]]]}])
    number = connector.deliver("create_customer", {"number": f"W{prefix}", "name": "Dealer GmbH"}, "k").external_id
    party, = erp.rpc.model("party.party", "search", [["code", "=", number]], 0, 1, None)
    erp.rpc.model("party.party", "write", [party], {"sale_price_list": price_list})

    prices = [p for p in built(connector.fetch("prices")) if p.sku == f"{prefix}-MUG"]
    assert {(p.customer, p.min_quantity, p.amount) for p in prices} == {
        (None, 1, Decimal(10)), (number, 1, Decimal(9)), (number, 10, Decimal(8))}
    app.records.put(prices)

    assert connector.get_price(PriceQuery(sku=f"{prefix}-MUG", customer=number, quantity=12)).amount == Decimal(8)
    assert connector.get_price(PriceQuery(sku=f"{prefix}-MUG", customer=number, quantity=1)).amount == Decimal(9)
    assert connector.get_price(PriceQuery(sku=f"{prefix}-MUG")).amount == Decimal(10)
    assert connector.get_price(PriceQuery(sku=f"{prefix}-NOPE")) is None


def test_customers_with_addresses_and_contacts(app, connector, erp, prefix):
    address = {"name": "Jane Doe", "street": "Main St 1", "postcode": "10115", "city": "Berlin", "country": "DE"}
    delivery = {**address, "street": "Dock 7", "city": "Hamburg", "postcode": "20457"}
    result = connector.deliver("create_customer", {
        "number": f"W{prefix}", "name": "Jane Doe", "email": "jane@example.com", "invoice_address": address,
        "delivery_addresses": [delivery], "contacts": [{"name": "Buyer", "phone": "+49 30 1234"}]}, "key-1")
    number = result.external_id
    assert result.records[0].number == number

    since = _now() - dt.timedelta(seconds=1)
    customers = {c.number: c for c in built(connector.fetch("customers", since))}
    customer = customers[number]
    assert customer.email == "jane@example.com"
    assert customer.invoice_address.city == "Berlin" and [a.city for a in customer.delivery_addresses] == ["Hamburg"]
    assert [(c.name, c.phone) for c in customer.contacts] == [("Buyer", "+49 30 1234")]
    app.records.put(customers.values())
    assert connector.get_customer(number) == customer
    assert connector.get_customer("NO-SUCH-CUSTOMER") is None

    # Delivered again (the outbox delivers at least once): the same party, no second one.
    assert connector.deliver("create_customer", {"number": f"W{prefix}", "name": "Jane Doe"}, "key-1").external_id == number
    assert erp.rpc.model("party.party", "search_count", [["name", "=", "Jane Doe"], ["code", "=", number]], 0, None) == 1

    # Deactivated in Tryton: the shop learns the customer is blocked (at login and in the delta).
    since = _now() - dt.timedelta(seconds=1)
    party, = erp.rpc.model("party.party", "search", [["code", "=", number]], 0, 1, None)
    erp.rpc.model("party.party", "write", [party], {"active": False})
    assert connector.get_customer(number).status == "blocked"
    assert [c.status for c in built(connector.fetch("customers", since)) if c.number == number] == ["blocked"]
