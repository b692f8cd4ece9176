"""Identifiers (issue 10, item 10): control and invisible characters are refused in every record,
by field and reason, wherever the record comes from; and every identifier the API accepts can be
addressed again afterwards (a property test over arbitrary text: an order number with ``/`` used
to be accepted and then answer 404 to GET, payment and cancel forever)."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from erpbridge.records import Customer, Price, Product, StockLevel
from erpbridge.services.products import set_enabled

from .conftest import address, order_payload

#: Arbitrary text, with the characters that break URLs, tables and files drawn often.
IDENTIFIERS = st.text(st.one_of(
    st.sampled_from(list("/.%?#&+;=:@ -_\t\r\n\x00\x1b\x1f\x7f\u0085\u00a0\u200b\u202e\ufeff\\'\"<>ü€")),
    st.characters(exclude_categories=("Cs",))), max_size=12)  # (httpx cannot send a lone surrogate)
#: Tried every time, whatever the generation draws.
KNOWN = ("SO/2026/1", "M8/40", "/", "a/../b", "%2F", "x?y#z", " a ", ".", "..", "a\x00b", "a\u200bb")


def for_every(name: str):
    """A hypothesis test over identifiers, the known ones first, as its ``name`` argument."""
    def decorate(test):
        for value in KNOWN:
            test = example(value)(test)
        test = settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))(test)
        return given(**{name: IDENTIFIERS})(test)
    return decorate


@pytest.mark.parametrize("number, found", [("SO-1\x00", "U+0000 at position 5"), ("SO\r\n1", "U+000D at position 3"),
                                           ("SO-\x1b[31m1", "U+001B at position 4"), ("SO\t1", "U+0009 at position 3"),
                                           ("SO-1\x7f", "U+007F at position 5"), ("SO\u202e1", "U+202E at position 3")])
def test_control_characters_in_an_order_number_are_refused_by_field_and_reason(api, number, found):
    with api.client("write:orders") as c:
        refused = c.post("/api/v1/orders", json=order_payload(number))
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["path"] == "number"
    assert error["message"].endswith(f"must not contain control or invisible characters, found {found}")


def test_a_slash_is_refused_where_the_api_addresses_the_identifier_by_path(api):
    with api.client("write:orders") as c:
        order = c.post("/api/v1/orders", json=order_payload("SO/2026/1"))
        assert order.status_code == 422 and order.json()["errors"][0]["path"] == "number"
        assert "must not contain '/'" in order.json()["errors"][0]["message"]
        customer = c.post("/api/v1/customers", json={"reference": "web/42", "name": "Max"})
        assert customer.status_code == 422 and customer.json()["errors"][0]["path"] == "reference"
        text = c.post("/api/v1/orders", json=order_payload(billing_address=address(name="Erika\x01Muster")))
        assert text.status_code == 422 and text.json()["errors"][0]["path"] == "billing_address.name"
    with pytest.raises(ValidationError, match="must not contain '/'"):
        Customer(number="K/1001", name="Acme")  # an ERP customer is asked for by number in the URL too


def test_ean_document_numbers_and_skus_keep_their_slash_and_are_served(api):
    api.hub.records.put([Product(sku="M8/40", name="Screw"), Price(sku="M8/40", amount=Decimal(1), currency="EUR"),
                         StockLevel(sku="M8/40", warehouse="MAIN", quantity=Decimal(5))])
    set_enabled(api.hub, enabled=True, skus=["M8/40"])
    with api.client("admin") as c:
        for path in ("products", "prices", "stock"):
            answer = c.get(f"/api/v1/{path}/{quote('M8/40', safe='')}")
            assert answer.status_code == 200 and answer.json()["sku"] == "M8/40", path
        document = c.get("/openapi.json").json()
    assert {"/api/v1/products/{sku}", "/api/v1/prices/{sku}", "/api/v1/stock/{sku}"} <= set(document["paths"])


def accepted(answer) -> bool:
    assert answer.status_code < 500, answer.text
    return answer.status_code in (200, 201, 202)


def test_every_order_number_the_api_accepts_can_be_addressed_again(api):
    with api.client("write:orders") as c:
        @for_every("number")
        def check(number):
            placed = c.post("/api/v1/orders", json=order_payload(number))
            if not accepted(placed):
                return
            location = placed.headers["Location"]
            shown = c.get(location)
            assert shown.status_code == 200 and shown.json()["number"] == placed.json()["number"], location
            for action, body in (("payment", {"transaction_id": "T-1"}), ("returns", {"lines": [
                    {"sku": "SAW-1", "quantity": "1"}]}), ("cancellations", {"reason": "r"})):
                answer = c.post(f"{location}/{action}", json=body)
                assert answer.status_code in (200, 201, 409), (location, action, answer.text)

        check()


def test_every_customer_reference_and_number_accepted_can_be_addressed_again(api):
    with api.client("admin") as c:
        @for_every("reference")
        def check(reference):
            created = c.post("/api/v1/customers", json={"reference": reference, "name": "Max"})
            if accepted(created):
                assert c.get(created.headers["Location"]).status_code == 200, created.headers["Location"]
            try:  # a customer number as the ERP's import brings it
                customer = Customer(number=reference, name="Max")
            except ValidationError:
                return
            api.hub.records.put([customer])
            path = f"/api/v1/customers/{quote(customer.number, safe='')}"
            assert c.get(path).json()["number"] == customer.number, path
            assert c.get(f"{path}/documents").status_code == 200, path

        check()


def test_every_sku_accepted_can_be_addressed_again(api):
    with api.client("admin") as c:
        @for_every("sku")
        def check(sku):
            try:
                product = Product(sku=sku, name="P")
            except ValidationError:
                return
            api.hub.records.put([product, Price(sku=product.sku, amount=Decimal(2), currency="EUR")])
            set_enabled(api.hub, enabled=True, skus=[product.sku])
            for path in ("products", "prices", "stock"):
                answer = c.get(f"/api/v1/{path}/{quote(product.sku, safe='')}")
                assert answer.status_code == 200 and answer.json()["sku"] == product.sku, (path, product.sku)

        check()
