"""Clear errors from the oscar connector: each names the shop, the record, the field and the reason
(in the shop's own words where the shop refused)."""

from __future__ import annotations

import datetime as dt

import pytest

from erpbridge.errors import GeneralError, MessageError
from erpbridge.ingest import Raw, ingest_fetched
from erpbridge.records.catalog import Product

import oscar_shop_people as people


@pytest.fixture
def app(oscar_shop, oscar_app, rest_erp, tmp_path):
    return oscar_app(oscar_shop, f"sqlite:///{tmp_path / 'store.db'}", rest_erp)


def test_feedback_the_shop_refuses_names_the_order_the_field_and_the_reason(oscar_shop, app):
    connector = app.connector("shop")
    people.add_product(oscar_shop, "E-1")
    number = people.place_order(oscar_shop, {"E-1": 1})
    shipment = {"id": "SH-1", "order": number, "tracking_numbers": ["T-1"], "lines": [{"sku": "E-9", "quantity": "1"}]}
    with pytest.raises(MessageError) as caught:
        connector.deliver("send_shipment", shipment, "k1")
    assert f"order {number} has no line of SKU 'E-9'" in str(caught.value) and "shop" in str(caught.value)
    with pytest.raises(MessageError) as caught:
        connector.deliver("send_shipment", {**shipment, "order": "NO-SUCH", "lines": [{"sku": "E-1", "quantity": 1}]},
                          "k2")
    assert "no order NO-SUCH" in str(caught.value)
    too_many = {**shipment, "lines": [{"sku": "E-1", "quantity": "2"}]}
    with pytest.raises(MessageError) as caught:
        connector.deliver("send_shipment", too_many, "k3")
    assert f"order {number}: SKU E-1: 0 of 1 shipped, 2 more are too many" in str(caught.value)
    assert people.shipments(oscar_shop, number) == []  # nothing half-done
    connector.deliver("send_order_status", {"order": number, "status": "cancelled"}, "k4")
    with pytest.raises(MessageError) as caught:
        connector.deliver("send_order_status", {"order": number, "status": "processing"}, "k5")
    assert f"order {number} cannot go from 'cancelled' to 'processing'" in str(caught.value)


def test_a_product_the_shop_refuses_fails_its_message_by_name_and_the_others_go_in(oscar_shop, app):
    records = [{"sku": "OK-1", "name": "Fine", "enabled": False}, {"sku": "BAD-1", "name": "x" * 300, "enabled": False}]
    with pytest.raises(MessageError) as caught:
        app.connector("shop").deliver("push_products", {"kind": "products", "records": records}, "k")
    text = str(caught.value)
    assert "shop refused 1 of 2 products: product BAD-1:" in text and "title" in text, text
    assert people.product(oscar_shop, "OK-1")["title"] == "Fine"


def test_a_wrong_password_is_a_general_error_naming_the_shop(oscar_shop, oscar_app, rest_erp, tmp_path):
    app = oscar_app(oscar_shop, f"sqlite:///{tmp_path / 'store.db'}", rest_erp, shop_settings={"password": "wrong"})
    with pytest.raises(GeneralError) as caught:
        list(app.connector("shop").fetch("orders", dt.datetime.now(dt.timezone.utc)))
    assert "shop" in str(caught.value) and ("401" in str(caught.value) or "403" in str(caught.value)), caught.value


def test_an_order_that_cannot_be_read_is_rejected_by_number_and_field(oscar_shop, app):
    people.add_product(oscar_shop, "E-2")
    app.records.put([Product(sku="E-2", name="Product E-2")])  # the store sells it too
    number = people.place_order(oscar_shop, {"E-2": 1})
    data = people.order(oscar_shop, number)
    broken = {**data, "shipping_address": None, "number": "X-1"}
    connector = app.connector("shop")
    items = [Raw(broken, location="order X-1", build=connector._order, external_id="X-1"),
             Raw(data, location=f"order {number}", build=connector._order, external_id=number)]
    report = ingest_fetched(app, "shop", "orders", items)
    assert (report.new, report.rejected) == (1, 1)
    rejection, = report.rejections
    assert str(rejection).startswith("shop: orders: order X-1:")
    assert "shipping_address: the order has none" in str(rejection)
