"""Bad input, named: what Magento sends that cannot be taken in, and what it refuses of what is
sent to it, each with the system, the record, the field and the reason; the rest goes through.
And the auth: an integration's OAuth 1.0a signature over queries with brackets, spaces and SKUs
with '/' and non-ASCII letters, as Magento checks it."""

from __future__ import annotations

import pytest

from erpbridge.config import ConfigError
from erpbridge.errors import GeneralError, MessageError
from erpbridge.flows.scheduler import run_flow
from erpbridge.records import Product
from erpbridge.services.products import set_enabled
from erpbridge.store.db import write_transaction
from erpbridge.store.records import prepare

from magento_hub import make_app


def stored_products(app, *skus: str) -> None:
    with write_transaction(app.engine) as conn:
        app.records.write_in(conn, "products", [prepare(Product(sku=sku, name=sku)) for sku in skus])
    set_enabled(app, enabled=True, skus=list(skus))


def test_an_order_that_cannot_be_taken_in_is_named_by_field_and_the_others_go_in(magento_app, magento):
    app = magento_app()
    stored_products(app, "A-1")
    magento.place_order("100000010", [("A-1", 1)], method="pickup_pickup")  # not in shipping_methods
    magento.place_order("100000011", [("A-1", 1)], payment="banktransfer")  # not in payment_methods
    broken = magento.place_order("100000012", [("A-1", 1)])
    broken["grand_total"] = 99.0  # Magento's totals do not add up to its lines and freight
    magento.place_order("100000013", [("NO-SUCH", 1)])  # a product the store does not know
    magento.place_order("100000014", [("A-1", 2)])
    run = run_flow(app, "orders")
    assert (run["outcome"], run["summary"]["new"], run["summary"]["rejected"]) == ("rejected", 1, 4)
    reasons = run["summary"]["kinds"]["orders"]["rejections"]
    assert reasons[0] == ("magento: orders: order 100000010 (entity_id 1): shipping_method (from extension_attributes."
                          "shipping_assignments.0.shipping.method): Magento shipping method 'pickup_pickup' is not "
                          "mapped in systems.magento.shipping_methods")
    assert reasons[1].startswith("magento: orders: order 100000011 (entity_id ") and \
        "payment_method (from payment.method): Magento payment method 'banktransfer' is not mapped" in reasons[1]
    assert reasons[2].startswith("magento: orders: order 100000012 (entity_id ") and "grand_total 99" in reasons[2]
    assert reasons[3].startswith("magento: orders: order 100000013 (entity_id ") and \
        "lines.0.sku: no product with SKU 'NO-SUCH'" in reasons[3]


def test_what_magento_refuses_is_named_with_its_record_and_its_words(magento_app, magento):
    connector = magento_app().connector("magento")
    with pytest.raises(MessageError) as caught:
        connector.deliver("push_prices", {"kind": "prices", "records": [
            {"sku": "GONE", "amount": "5", "currency": "EUR"}]}, "k1")
    assert str(caught.value) == 'magento (magento) refused 1 prices: price base: The SKU "GONE" does not exist.'
    magento.place_order("100000020", [("A-1", 1)])
    with pytest.raises(MessageError) as caught:
        connector.deliver("send_shipment", {"id": "SH-9", "order": "100000020", "lines": [
            {"sku": "B-2", "quantity": 1}]}, "k2")
    assert str(caught.value) == ("magento (magento): shipment SH-9 of order 100000020: lines.sku B-2 not on Magento "
                                 "order 100000020")
    with pytest.raises(MessageError) as caught:
        connector.deliver("send_invoice", {"id": "INV-9", "order": "100000099", "issued_at": "2026-12-02",
                                           "currency": "EUR", "total": "1"}, "k3")
    assert "invoice INV-9 of order 100000099: Magento has no order '100000099' (increment_id)" in str(caught.value)
    with pytest.raises(MessageError) as caught:
        connector.deliver("send_shipment", {"id": "SH-8", "order": "100000020", "lines": []}, "k4")
    assert str(caught.value).startswith("magento (magento): send_shipment shipments SH-8: lines: ")


def test_a_config_without_credentials_is_named(tmp_path, magento, db_url):
    with pytest.raises(ConfigError) as caught:
        make_app(tmp_path / "c.yaml", db_url, magento, shop={"token": None})
    assert "systems.magento" in str(caught.value) and "give token, or all of consumer_key" in str(caught.value)


def test_an_integration_signs_each_call_with_oauth1_hmac_sha256(tmp_path, db_url):
    from magento_double import MagentoDouble

    magento = MagentoDouble(oauth=("ck", "cs", "at", "ats"))
    try:
        oauth = {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at", "access_token_secret": "ats"}
        app = make_app(tmp_path / "c.yaml", db_url, magento, shop={"token": None, **oauth})
        connector = app.connector("magento")
        for sku in ("A/1 B+C", "Äpfel-1"):
            connector.deliver("push_products", {"kind": "products", "records": [{"sku": sku, "name": "x"}]}, sku)
            connector.deliver("push_products", {"kind": "products", "records": [{"sku": sku, "name": "y"}]}, sku)
        assert {sku: p["name"] for sku, p in magento.products.items()} == {"A/1 B+C": "y", "Äpfel-1": "y"}
        assert ("PUT", "/V1/products/A%2F1%20B%2BC") in magento.calls  # the SKU quoted whole, '/' included
        app.close()
        wrong = make_app(tmp_path / "w.yaml", db_url, magento, shop={"token": None, **oauth, "consumer_secret": "no"})
        with pytest.raises(GeneralError) as caught:
            list(wrong.connector("magento").fetch("orders", None))
        assert "401" in str(caught.value) and "signature is invalid" in str(caught.value)
        wrong.close()
    finally:
        magento.stop()
    assert not magento.violations, magento.violations


def test_the_example_config_loads_as_a_merchant_runs_it(monkeypatch):
    from erpbridge.config import load_config
    from magento_hub import EXAMPLE

    for name in ("MAGENTO_CONSUMER_KEY", "MAGENTO_CONSUMER_SECRET", "MAGENTO_ACCESS_TOKEN",
                 "MAGENTO_ACCESS_TOKEN_SECRET", "TRYTON_PASSWORD"):
        monkeypatch.setenv(name, "x")
    shop = load_config(EXAMPLE).systems["magento"]
    assert (shop.role, shop.consumer_secret.get_secret_value(), shop.new_products_enabled) == ("shop", "x", False)
    assert shop.payment_methods["paypal_express"] == "paypal"
