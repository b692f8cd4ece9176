"""Customer-specific prices reach Magento as tier prices of the customer's group
(``customer_groups``: ERP customer -> Magento customer group id, sent by the group's code as the
price-storage endpoint takes it); customers of one group with different prices are refused by
name rather than one silently overwriting the other."""

from __future__ import annotations

import pytest

from erpbridge.errors import MessageError
from erpbridge.flows import push
from erpbridge.flows.scheduler import run_flow
from erpbridge.outbox.worker import Worker
from erpbridge.records import Price, Product

GROUPS = {"C-1": 2, "C-2": 2, "C-3": 3, "C-7": 7}


@pytest.fixture
def app(magento_app, monkeypatch):
    monkeypatch.setattr(push, "SETTLE", 0)
    app = magento_app(shop={"customer_groups": GROUPS})
    app.records.put([Product(sku="A-1", name="Drill"), Product(sku="B-2", name="Saw")])
    assert run_flow(app, "catalog")["outcome"] == "ok"
    Worker(app).drain()
    return app


def price(sku: str, amount: str, customer: str | None = None, **more) -> Price:
    return Price(sku=sku, amount=amount, currency="EUR", customer=customer, **more)


def deliver(app, *prices: Price) -> None:
    app.connector("magento").deliver("push_prices", {"kind": "prices", "records": [
        p.model_dump(mode="json") for p in prices]}, "k1")


def test_customer_prices_become_tier_prices_of_their_magento_groups(app, magento):
    app.records.put([price("A-1", "19.90"), price("A-1", "12.00", "C-1"), price("A-1", "12.00", "C-2"),
                     price("A-1", "11.00", "C-3"), price("A-1", "10.00", "C-3", min_quantity=10),
                     price("A-1", "9.00", "C-99")])  # C-99 has no group in Magento: not sent
    assert run_flow(app, "prices")["outcome"] == "ok"
    Worker(app).drain()
    assert sorted((k[1], k[2], row["price"]) for k, row in magento.tier_prices.items()) == [
        ("Retailer", 1.0, 11.0), ("Retailer", 10.0, 10.0), ("Wholesale", 1.0, 12.0)]
    assert magento.base_prices == {"A-1": 19.9}


def test_two_customers_of_one_group_with_different_prices_are_refused_by_name(app, magento):
    with pytest.raises(MessageError) as caught:
        deliver(app, price("A-1", "12.00", "C-1"), price("A-1", "11.50", "C-2"), price("B-2", "8.00", "C-1"))
    assert str(caught.value) == ("magento (magento) refused 1 prices: price A-1 (quantity 1) of customer group "
                                 "Wholesale (2): its customers' prices differ (C-1 12, C-2 11.5); Magento holds "
                                 "one price per group")
    assert [(k[0], k[1]) for k in magento.tier_prices] == [("B-2", "Wholesale")]  # the rest goes through


def test_a_group_member_priced_differently_in_the_store_is_found_though_in_another_message(app, magento):
    app.records.put([price("A-1", "12.00", "C-1"), price("A-1", "11.50", "C-2")])
    with pytest.raises(MessageError, match=r"price A-1 .*\(C-1 12, C-2 11.5\)"):
        deliver(app, price("A-1", "12.00", "C-1"))
    assert magento.tier_prices == {}


def test_a_group_id_magento_does_not_have_is_named(app, magento):
    with pytest.raises(MessageError) as caught:
        deliver(app, price("A-1", "12.00", "C-7"))
    assert str(caught.value) == ("magento (magento) refused 1 prices: price A-1 of customer C-7: customer_groups maps "
                                 "it to group 7, which Magento does not have")
