"""Master data from Odoo as the shop needs it: a customer with her delivery addresses and her own
pricelist's prices, and the delta of a customer whose child address changed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from erpbridge.ingest import built


def test_customers_with_delivery_addresses_and_their_own_prices(odoo, odoo_app, tmp_path):
    connector = odoo_app("json2", odoo, f"sqlite:///{tmp_path / 'store.db'}").connector("erp")
    odoo.add_product("A-1", "Drill", "19.90")
    odoo.add_pricelist("Gold")
    odoo.set_price("A-1", "15.00", pricelist="Gold")
    odoo.set_price("A-1", "13.00", min_qty=10, pricelist="Gold")
    odoo.add_customer("K-1", "Acme", pricelist="Gold",
                      deliveries=({"street": "Dock 7", "zip": "20095", "city": "Hamburg"},))
    odoo.add_customer("K-2", "Other")

    customer, other = sorted(built(connector.fetch("customers", None)), key=lambda c: c.number)
    assert (customer.number, customer.invoice_address.street) == ("K-1", "Main St 1")
    assert [(a.street, a.city) for a in customer.delivery_addresses] == [("Dock 7", "Hamburg")]
    assert other.delivery_addresses == [other.invoice_address]  # no delivery contact: the partner's own address

    prices = {(p.sku, p.customer, p.min_quantity): p.amount for p in built(connector.fetch("prices", None))}
    assert prices == {("A-1", None, 1): Decimal("19.9"), ("A-1", "K-1", 1): Decimal("15"),
                      ("A-1", "K-1", 10): Decimal("13")}
    assert connector.get_customer("K-1").name == "Acme" and connector.get_customer("NOPE") is None


def test_a_changed_delivery_address_is_a_change_of_its_customer(odoo, odoo_app, tmp_path):
    connector = odoo_app("jsonrpc", odoo, f"sqlite:///{tmp_path / 'store.db'}").connector("erp")
    partner = odoo.add_customer("K-1", "Acme", deliveries=({"street": "Dock 7", "zip": "20095", "city": "Hamburg"},),
                                stamp="2020-01-01 00:00:00")
    odoo.add_customer("K-2", "Other", stamp="2020-01-01 00:00:00")
    odoo.run(lambda env: env.write("res.partner", env.search("res.partner", [["parent_id", "=", partner]]),
                                   {"street": "Dock 8"}))
    since = dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc)
    changed = list(built(connector.fetch("customers", since)))
    assert [(c.number, [a.street for a in c.delivery_addresses]) for c in changed] == [("K-1", ["Dock 8"])]
