"""Bad input in ERP exports (issue 2, bullet 5): each bad record is rejected with file, line or
element path, field and reason; every other record still imports; nothing already in the store
is damaged. Run on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from .conftest import messages

GOOD = "sku,name,list_price\nA1,Apple,1.50\n"


def test_a_mixed_file_imports_the_good_rows_and_names_each_bad_one(app, import_text):
    report = import_text(app, "products", "products.csv", (
        "sku,name,list_price\n"
        "A1,Apple,1.50\n"
        "A2,Pear,abc\n"         # not a number
        ",No SKU,2.00\n"        # missing SKU
        "A3,Plum,-3\n"          # negative price
        "A4,Fig,2.00,extra\n"   # malformed row
        "A5,Kiwi,0.99\n"
    ))
    assert (report.new, report.rejected) == (2, 4)
    assert messages(report) == [
        "products.csv: line 3: list_price: not a number, got 'abc'",
        "products.csv: line 4: sku: required, but missing or empty",
        "products.csv: line 5: list_price: input should be greater than or equal to 0, got '-3'",
        "products.csv: line 6: malformed row: 4 fields, the header has 3",
    ]
    assert [p.sku for p in app.records.find("products")] == ["A1", "A5"]


def test_messages_name_the_erps_own_column(make_app, import_text):
    app = make_app(mappings={"products": {"fields": {"sku": "ARTNR", "name": "BEZ", "list_price": "VK"}}})
    report = import_text(app, "products", "artikel.csv", "ARTNR;BEZ;VK\nA1;Apple;x\n;Pear;1\n")
    assert messages(report) == [
        "artikel.csv: line 2: list_price (from VK): not a number, got 'x'",
        "artikel.csv: line 3: sku (from ARTNR): required, but missing or empty",
    ]


def test_a_rejected_record_leaves_what_the_store_holds_untouched(app, import_text):
    assert import_text(app, "products", "products.csv", GOOD).new == 1
    report = import_text(app, "products", "products-2.csv", "sku,name,list_price\nA1,Apple,-1\n")
    assert report.rejected == 1
    assert app.records.get("products", "A1").list_price == Decimal("1.5")


def test_broken_encoding_rejects_only_its_line(app, import_text):
    content = GOOD.encode() + b"A2,Caf\xe9,2.00\nA3,Tea,3.00\n"
    report = import_text(app, "products", "products.csv", content)
    assert (report.new, report.rejected) == (2, 1)
    assert messages(report) == ["products.csv: line 3: not valid utf-8: byte 0xe9 at column 7"]


def test_a_declared_encoding_reads_legacy_exports(make_app, import_text):
    app = make_app(mappings={"products": {"csv": {"encoding": "cp1252"}}})
    report = import_text(app, "products", "products.csv", "sku,name\nA1,Caf\xe9\n".encode("cp1252"))
    assert report.ok and app.records.get("products", "A1").name == "Café"


def test_a_truncated_xml_file_keeps_the_records_before_the_break(app, import_text):
    report = import_text(app, "products", "products.xml", (
        "<products><product><sku>A1</sku><name>Apple</name></product>"
        "<product><sku>A2</sku><name>Pear</name></product>"
        "<product><sku>A3</sku><na"
    ))
    assert (report.new, report.rejected) == (2, 1)
    assert messages(report) == ["products.xml: line 1: XML is not well-formed (truncated?), the rest cannot be "
                                "read: Couldn't find end of Start Tag na, line 1, column 135"]


def test_a_bad_xml_element_is_named_by_its_path(app, import_text):
    report = import_text(app, "prices", "prices.xml", (
        "<prices>\n"
        "  <price><sku>A1</sku><amount>1.00</amount></price>\n"
        "  <price><sku>A1</sku><amount>2.00</amount><min_quantity>0</min_quantity></price>\n"
        "</prices>\n"
    ))
    assert messages(report) == [
        "prices.xml: line 3 /prices/price[2]: min_quantity: input should be greater than 0, got '0'"]


def test_a_truncated_json_file_keeps_the_records_before_the_break(app, import_text):
    report = import_text(app, "products", "products.json",
                         '[{"sku": "A1", "name": "Apple"}, {"sku": "A2", "name": "Pear"}, {"sku": "A3", "na')
    assert (report.new, report.rejected) == (2, 1)
    assert messages(report) == ["products.json: $[2]: file ends or breaks off here, the rest cannot be read: "
                                "parse error: premature EOF"]


def test_a_bad_json_line_is_named_by_its_line(app, import_text):
    report = import_text(app, "stock", "stock.jsonl", (
        '{"sku": "A1", "warehouse": "MAIN", "quantity": 5}\n'
        '{"sku": "A1", "warehouse": "MAIN", "quantity": \n'
        '{"sku": "A1", "warehouse": "SOUTH", "quantity": "many"}\n'
        '{"sku": "A1", "warehouse": "SOUTH", "quantity": 2}\n'
    ))
    assert (report.new, report.rejected) == (2, 2)
    assert messages(report)[0].startswith("stock.jsonl: line 2: not valid JSON: ")
    assert messages(report)[1] == "stock.jsonl: line 3: quantity: not a number, got 'many'"


def test_stock_for_an_unknown_warehouse_is_rejected(app, import_text):
    report = import_text(app, "stock", "stock.csv", "sku,warehouse,quantity\nA1,MAIN,5\nA1,NORTH,3\n")
    assert (report.new, report.rejected) == (1, 1)
    assert messages(report) == [
        "stock.csv: line 3: warehouse: unknown warehouse 'NORTH', expected one of: MAIN, SOUTH"]


def test_an_unknown_value_code_names_the_codes_the_mapping_knows(make_app, import_text):
    app = make_app(mappings={"products": {"fields": {"unit": {"from": "ME", "values": {"STK": "piece", "KG": "kg"}}}}})
    report = import_text(app, "products", "products.csv", "sku,name,ME\nA1,Apple,STK\nA2,Rice,SACK\n")
    assert messages(report) == ["products.csv: line 3: unit (from ME): unknown code 'SACK', expected one of: KG, STK"]


@pytest.mark.parametrize("payload, entity", [
    # billion laughs: entities are never expanded
    ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
     '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
     "<products><product><sku>A1</sku><name>&lol3;</name></product>"
     "<product><sku>A2</sku><name>Pear</name></product></products>", "&lol3;"),
    # XXE: an external entity is never read
    ('<?xml version="1.0"?><!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
     "<products><product><sku>A1</sku><name>&xxe;</name></product>"
     "<product><sku>A2</sku><name>Pear</name></product></products>", "&xxe;"),
])
def test_untrusted_xml_is_read_without_entity_expansion_or_external_access(app, import_text, payload, entity):
    report = import_text(app, "products", "products.xml", payload)
    assert messages(report) == [f"products.xml: line 1 /products/product[1]: entity reference {entity} is not "
                                "expanded: entities are off for untrusted XML"]
    assert app.records.get("products", "A1") is None
    assert app.records.get("products", "A2").name == "Pear"


def test_an_unreadable_file_is_one_clear_rejection(app, import_text):
    report = import_text(app, "products", "products.xml", "not xml at all")
    assert (report.rejected, report.new) == (1, 0)
    assert messages(report) == ["products.xml: line 1: XML is not well-formed (truncated?), the rest cannot be "
                                "read: Start tag expected, '<' not found, line 1, column 1"]
