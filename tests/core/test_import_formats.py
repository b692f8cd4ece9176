"""ERP exports in CSV, JSON, JSON Lines and XML become canonical records through the config's
mapping, as deltas (issue 2, bullet 4). Run on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import select

from erpbridge.store.tables import products
from erpbridge.services.products import set_enabled

from .conftest import messages

PRODUCT_MAPPING = {
    "fields": {
        "sku": "ARTNR", "name": "BEZ", "group": "WG",
        "list_price": {"from": "VK_CENT", "scale": "0.01"},
        "unit": {"from": "ME", "values": {"STK": "piece", "KAR": "box"}},
        "attributes.color": "FARBE",
    },
    "defaults": {"currency": "EUR"},
}


def test_the_same_products_in_all_four_formats_are_the_same_records(make_app, import_text):
    app = make_app(mappings={"products": PRODUCT_MAPPING})
    rows = [{"ARTNR": "A1", "BEZ": "Apple", "WG": "FRUIT", "VK_CENT": "150", "ME": "STK", "FARBE": "red"},
            {"ARTNR": "A2", "BEZ": "Pears", "WG": "FRUIT", "VK_CENT": "1999", "ME": "KAR", "FARBE": "green"}]
    csv = "ARTNR;BEZ;WG;VK_CENT;ME;FARBE\n" + "".join(";".join(r.values()) + "\n" for r in rows)
    jsonl = "".join(json.dumps(r) + "\n" for r in rows)
    xml = "<export>" + "".join(
        "<artikel>" + "".join(f"<{k}>{v}</{k}>" for k, v in r.items()) + "</artikel>" for r in rows) + "</export>"
    first = import_text(app, "products", "products.csv", csv)
    assert (first.format, first.new, first.rejected) == ("csv", 2, 0), messages(first)
    apple = app.records.get("products", "A1")
    assert (apple.name, apple.list_price, apple.unit, apple.currency, apple.attributes) == (
        "Apple", Decimal("1.5"), "piece", "EUR", {"color": "red"})
    assert app.records.get("products", "A2").unit == "box"
    for name, content in [("products.json", json.dumps({"data": {"items": rows}})),
                          ("products.jsonl", jsonl), ("products.xml", xml)]:
        report = import_text(app, "products", name, content)
        assert (report.unchanged, report.new, report.changed, report.rejected) == (2, 0, 0, 0), (name, messages(report))


def test_decimal_commas_of_european_exports(make_app, import_text):
    app = make_app(mappings={"products": {"decimal_separator": ",", "fields": {"list_price": "VK-Preis"}}})
    report = import_text(app, "products", "products.csv", 'sku;name;VK-Preis;weight\nA1;Apple;1.234,50;0,25\n')
    assert report.ok, messages(report)
    product = app.records.get("products", "A1")
    assert (product.list_price, product.weight) == (Decimal("1234.5"), Decimal("0.25"))


def test_customers_with_nested_addresses_and_contacts(make_app, import_text):
    app = make_app(mappings={"customers": {"fields": {
        "number": "kdnr",
        "status": {"from": "gesperrt", "values": {"N": "active", "J": "blocked"}},
        "invoice_address": {"from": "rechnung", "fields": {"street": "strasse", "city": "ort", "postcode": "plz",
                                                           "country": "land"}},
        "delivery_addresses": {"each": "liefer", "fields": {"street": "strasse", "city": "ort", "postcode": "plz",
                                                            "country": "land"}},
    }}})
    address = {"name": "Weber", "strasse": "Hauptstr. 1", "plz": "10115", "ort": "Berlin", "land": "de"}
    customers = [
        {"kdnr": "10001", "name": "Weber GmbH", "gesperrt": "N", "credit_limit": "5000", "group": "TRADE",
         "rechnung": address, "liefer": [address, {**address, "strasse": "Lagerweg 2"}],
         "contacts": [{"name": "Anna Weber", "email": "anna@weber.example"}]},
        {"kdnr": "10002", "name": "Huber KG", "gesperrt": "J", "liefer": [{**address, "plz": ""}]},
    ]
    report = import_text(app, "customers", "customers.json", json.dumps(customers))
    assert (report.new, report.rejected) == (1, 1)
    assert messages(report) == [
        "customers.json: $[1]: delivery_addresses.0.postcode (from liefer[0].plz): required, but missing or empty"]
    weber = app.records.get("customers", "10001")
    assert weber.invoice_address.country == "DE" and weber.credit_limit == Decimal("5000")
    assert [a.street for a in weber.delivery_addresses] == ["Hauptstr. 1", "Lagerweg 2"]
    assert weber.contacts[0].email == "anna@weber.example" and weber.status == "active"


def test_prices_list_volume_and_customer_from_xml_attributes(make_app, import_text):
    app = make_app(mappings={"prices": {"xml": {"record": "Preis"}, "fields": {
        "sku": "@artikel", "customer": "@kunde", "min_quantity": "Menge", "amount": {"from": "Cent", "scale": "0.01"}}}})
    report = import_text(app, "prices", "prices.xml", (
        '<Preisliste><Preis artikel="A1"><Menge>1</Menge><Cent>150</Cent></Preis>'
        '<Preis artikel="A1"><Menge>10</Menge><Cent>140</Cent></Preis>'
        '<Preis artikel="A1" kunde="10001"><Menge>1</Menge><Cent>120</Cent></Preis></Preisliste>'))
    assert report.new == 3, messages(report)
    kinds = sorted((p.price_kind, p.amount, p.currency) for p in app.records.find("prices"))
    assert kinds == [("customer", Decimal("1.2"), "EUR"), ("list", Decimal("1.5"), "EUR"),
                     ("volume", Decimal("1.4"), "EUR")]


def test_groups_and_stock_per_warehouse(app, import_text):
    groups = import_text(app, "product_groups", "product_groups.json",
                         '[{"code": "TOOLS", "name": "Tools"}, {"code": "HAND", "name": "Hand tools", "parent": "TOOLS"}]')
    stock = import_text(app, "stock", "stock.jsonl",
                        '{"sku": "A1", "warehouse": "MAIN", "quantity": 5}\n{"sku": "A1", "warehouse": "SOUTH", "quantity": -2}\n')
    assert (groups.new, stock.new) == (2, 2)
    assert app.records.get("product_groups", "HAND").parent == "TOOLS"
    assert sorted((s.warehouse, s.quantity) for s in app.records.find("stock")) == [
        ("MAIN", Decimal("5")), ("SOUTH", Decimal("-2"))]


def test_delta_writes_only_what_changed(app, import_text):
    import_text(app, "products", "products.csv", "sku,name,list_price\nA1,Apple,1.50\nA2,Pear,2.00\nA3,Plum,3\n")
    with app.engine.connect() as conn:
        before = dict(conn.execute(select(products.c.key, products.c.updated_at)).all())
    report = import_text(app, "products", "products-2.csv",
                         "sku,name,list_price\nA1,Apple,1.5\nA2,Pear,2.10\nA3,Plum,3.00\nA4,Fig,4\n")
    assert (report.new, report.changed, report.unchanged, report.rejected) == (1, 1, 2, 0)
    assert report.summary().startswith("products-2.csv: products: 4 read, 1 new, 1 changed, 2 unchanged, 0 rejected")
    with app.engine.connect() as conn:
        after = dict(conn.execute(select(products.c.key, products.c.updated_at)).all())
    assert after["A1"] == before["A1"] and after["A3"] == before["A3"]
    assert after["A2"] != before["A2"]


def test_new_erp_products_arrive_disabled_and_keep_the_shops_switch(app, import_text):
    import_text(app, "products", "products.csv", "sku,name\nA1,Apple\n")
    assert app.records.is_enabled("A1") is False
    set_enabled(app, enabled=True, skus=["A1"])
    import_text(app, "products", "products-2.csv", "sku,name\nA1,Green apple\n")
    assert app.records.is_enabled("A1") is True and app.records.get("products", "A1").name == "Green apple"


def test_new_products_enabled_when_the_config_says_so(make_app, import_text):
    app = make_app(catalog={"new_products_enabled": True})
    import_text(app, "products", "products.csv", "sku,name\nA1,Apple\n")
    assert app.records.is_enabled("A1") is True


def test_a_large_file_is_imported_in_batches_with_progress(app, import_text, tmp_path):
    from erpbridge.connectors.files.importer import BATCH_SIZE, Importer

    path = tmp_path / "products.jsonl"
    count = BATCH_SIZE * 2 + 7
    path.write_text("".join(f'{{"sku": "S{i}", "name": "Item {i}"}}\n' for i in range(count)))
    seen: list[int] = []
    report = Importer(app.config, app.records, "products").import_file(path, on_progress=seen.append)
    assert report.new == count and len(app.records.find("products", limit=count + 1)) == count
    assert seen == sorted(seen) and seen[-1] == path.stat().st_size and len(seen) >= 3
