"""Configurable products: an ERP product with variants (``parent_sku`` and the variants' values of
the parent's axes in ``attributes``) becomes a Magento configurable product with simple children,
parent and children created disabled, the axes as the parent's options and every child linked
once however often the catalog is pushed; a variant whose parent is nowhere is refused by name.
Every request and answer is checked against Adobe's schema by the double."""

from __future__ import annotations

import pytest

from erpbridge.errors import MessageError
from erpbridge.flows import push
from erpbridge.flows.scheduler import run_flow
from erpbridge.outbox.worker import Worker
from erpbridge.records import Product

SHIRT = [Product(sku="TS", name="T-shirt", list_price="19.90"),
         Product(sku="TS-RED-M", name="T-shirt red M", parent_sku="TS", attributes={"color": "Red", "size": "M"}),
         Product(sku="TS-GREEN-M", name="T-shirt green M", parent_sku="TS", attributes={"color": "Green", "size": "M"})]


@pytest.fixture
def app(magento_app, monkeypatch):
    monkeypatch.setattr(push, "SETTLE", 0)
    return magento_app()


def option_id(magento, code: str, label: str) -> str:
    return next(o["value"] for o in magento.attributes[code]["options"] if o["label"] == label)


def attribute(product: dict, code: str):
    return next((a["value"] for a in product.get("custom_attributes") or [] if a["attribute_code"] == code), None)


def push_catalog(app, *, full: bool = False) -> None:
    if full:  # a resync on demand
        push.push_kind(app, "magento", "products", full=True)
    else:
        assert run_flow(app, "catalog")["outcome"] == "ok"
    Worker(app).drain()


def test_a_product_with_variants_becomes_a_disabled_configurable_product_with_its_children_linked(app, magento):
    app.records.put(SHIRT)
    push_catalog(app)
    parent, red, green = (magento.products[sku] for sku in ("TS", "TS-RED-M", "TS-GREEN-M"))
    assert (parent["type_id"], parent["status"], parent["visibility"]) == ("configurable", 2, 4)
    assert [(c["type_id"], c["status"], c["visibility"]) for c in (red, green)] == [("simple", 2, 1)] * 2
    assert attribute(red, "color") == option_id(magento, "color", "Red")
    assert attribute(green, "color") == option_id(magento, "color", "Green")  # a colour Magento lacked: added
    assert attribute(green, "size") == option_id(magento, "size", "M")
    family = magento.configurable["TS"]
    assert sorted((int(o["attribute_id"]), len(o["values"])) for o in family["options"]) == [(93, 2), (144, 1)]
    assert family["children"] == ["TS-GREEN-M", "TS-RED-M"]
    assert magento.calls.index(("POST", "/V1/products")) < magento.calls.index(
        ("POST", "/V1/configurable-products/TS/child"))


def test_a_new_variant_later_is_linked_and_nothing_is_linked_twice_or_re_enabled(app, magento):
    app.records.put(SHIRT)
    push_catalog(app)
    magento.enable("TS")
    app.records.put([Product(sku="TS-BLUE-M", name="T-shirt blue M", parent_sku="TS",
                             attributes={"color": "Blue", "size": "M"}),
                     Product(sku="TS-RED-M", name="T-shirt red M (new cut)", parent_sku="TS",
                             attributes={"color": "Red", "size": "M"})])
    push_catalog(app)
    push_catalog(app, full=True)  # the whole catalog again: every link and option is found, none made twice
    assert magento.configurable["TS"]["children"] == ["TS-GREEN-M", "TS-RED-M", "TS-BLUE-M"]
    assert len(magento.configurable["TS"]["options"]) == 2
    assert magento.products["TS"]["status"] == 1  # the merchant's switch stays
    assert magento.products["TS-BLUE-M"]["status"] == 2
    assert magento.products["TS-RED-M"]["name"] == "T-shirt red M (new cut)"


def test_a_variant_alone_in_its_message_brings_its_parent_from_the_store(app, magento):
    app.records.put(SHIRT[:2])
    connector = app.connector("magento")
    connector.deliver("push_products", {"kind": "products", "records": [SHIRT[1].model_dump(mode="json")]}, "k1")
    assert magento.products["TS"]["type_id"] == "configurable"
    assert magento.configurable["TS"]["children"] == ["TS-RED-M"]


def test_a_variant_whose_parent_is_unknown_is_refused_by_name_and_the_rest_goes_through(app, magento):
    connector = app.connector("magento")
    records = [Product(sku="JK-S", name="Jacket S", parent_sku="JK", attributes={"size": "S"}),
               Product(sku="HAT-X", name="Hat", parent_sku="HAT", attributes={"shade": "dark"}),
               Product(sku="A-1", name="Drill")]
    with pytest.raises(MessageError) as caught:
        connector.deliver("push_products", {"kind": "products", "records": [
            r.model_dump(mode="json") for r in records]}, "k1")
    assert str(caught.value) == (
        "magento (magento) refused 2 products: product JK-S: its parent JK (parent_sku) is unknown: neither in the "
        "store nor in Magento; product HAT-X: its parent HAT (parent_sku) is unknown: neither in the store nor in "
        "Magento")
    assert sorted(magento.products) == ["A-1"]


def test_a_variant_of_a_simple_product_or_with_an_attribute_magento_lacks_is_refused_by_name(app, magento):
    app.records.put([Product(sku="A-1", name="Drill")])
    push_catalog(app)  # A-1 is a simple product in Magento now
    connector = app.connector("magento")
    records = [Product(sku="A-1", name="Drill"),
               Product(sku="A-1-BLUE", name="Drill blue", parent_sku="A-1", attributes={"color": "Blue"}),
               Product(sku="TS", name="T-shirt"),
               Product(sku="TS-X", name="T-shirt", parent_sku="TS", attributes={"fabric": "linen"})]
    with pytest.raises(MessageError) as caught:
        connector.deliver("push_products", {"kind": "products", "records": [
            r.model_dump(mode="json") for r in records]}, "k1")
    assert str(caught.value) == (
        "magento (magento) refused 3 products: product A-1: has variants, but Magento has it as a simple product "
        "(a configurable parent is only made on creation: delete it in Magento to have it created again); "
        "product A-1-BLUE: its parent A-1 (parent_sku) is a simple product in Magento, not a configurable one; "
        "product TS-X: attributes.fabric: Magento has no product attribute 'fabric' (create it as a dropdown in the "
        "attribute set, or map it in variant_attributes)")
    assert "TS-X" not in magento.products and "A-1-BLUE" not in magento.products


def test_variant_attributes_map_the_erps_axes_to_magentos_attribute_codes(magento_app, magento, monkeypatch):
    monkeypatch.setattr(push, "SETTLE", 0)
    app = magento_app(shop={"variant_attributes": {"colour": "color"}})
    app.records.put([Product(sku="TS", name="T-shirt"),
                     Product(sku="TS-R", name="T-shirt red", parent_sku="TS", attributes={"colour": "Red"})])
    push_catalog(app)
    assert attribute(magento.products["TS-R"], "color") == option_id(magento, "color", "Red")
    assert magento.configurable["TS"]["children"] == ["TS-R"]


def test_through_the_bulk_api_the_variants_are_linked_once_the_bulk_is_done(magento_app, magento, monkeypatch):
    monkeypatch.setattr(push, "SETTLE", 0)
    app = magento_app(shop={"bulk_from": 1})
    app.records.put(SHIRT)
    push_catalog(app)
    assert ("POST", "/async/bulk/V1/products") in magento.calls and ("POST", "/V1/products") not in magento.calls
    assert (magento.products["TS"]["type_id"], magento.products["TS"]["status"]) == ("configurable", 2)
    assert magento.configurable["TS"]["children"] == ["TS-GREEN-M", "TS-RED-M"]
