"""One ingest path for every source: what a pull flow fetches meets the rules a file import
meets, a bad record is rejected alone and named, a system's own declarative mapping adapts its
answers, and each ingest is in the exchange log."""

from __future__ import annotations

import pytest
from erpbridge_testconnectors import peers

from erpbridge.exchange import ExchangeLog
from erpbridge.flows import run_flow
from erpbridge.ingest import Raw
from erpbridge.records import Product, StockLevel


@pytest.fixture(autouse=True)
def _fresh_peers():
    peers.reset()
    yield
    peers.reset()


def test_one_bad_record_among_a_thousand_is_rejected_by_name_and_the_rest_stored(make_app):
    app = make_app({"catalog": {}}, systems={"erp": {"connector": "testerp"}})
    rows = [{"sku": f"A{i:04}", "name": f"Lamp {i}", "list_price": "9.90"} for i in range(1000)]
    rows[417]["list_price"] = "-1"
    peers.peer("erp").serve("products", *(Raw(row, f"item {i}") for i, row in enumerate(rows)))

    run = run_flow(app, "catalog")
    assert run["outcome"] == "rejected" and run["error"] is None  # it ran; a record was refused
    assert run["summary"]["kinds"]["products"]["new"] == 999
    assert run["summary"]["kinds"]["products"]["rejections"] == [
        "erp: products: item 417: list_price: input should be greater than or equal to 0, got '-1'"]
    assert app.records.get("products", "A0418").name == "Lamp 418" and app.records.get("products", "A0417") is None
    [entry] = ExchangeLog(app.engine).query(point="ingest.products")
    assert (entry["system"], entry["direction"], entry["outcome"]) == ("erp", "in", "message_error")
    assert entry["response"]["new"] == 999 and entry["response"]["rejections"][0]["location"] == "item 417"


def test_pull_flows_meet_the_business_rules_of_file_imports(make_app):
    """Stock for a warehouse the config does not list is rejected, from a flow as from a file."""
    app = make_app({"stock": {}}, systems={"erp": {"connector": "testerp"}},
                   catalog={"warehouses": [{"code": "MAIN"}]})
    peers.peer("erp").serve("stock", StockLevel(sku="A", warehouse="MAIN", quantity=3),
                            StockLevel(sku="A", warehouse="NORTH", quantity=5))
    run = run_flow(app, "stock")
    assert run["summary"]["kinds"]["stock"]["rejections"] == [
        "erp: stock: #2: warehouse: unknown warehouse 'NORTH', expected one of: MAIN"]
    assert app.records.get("stock", "A\x1fMAIN") is not None and app.records.get("stock", "A\x1fNORTH") is None


def test_a_systems_answers_are_adapted_by_its_own_declarative_mapping(make_app):
    app = make_app({"catalog": {}}, systems={"erp": {"connector": "testerp", "mappings": {"products": {"fields": {
        "sku": "ArtNr", "name": "Bezeichnung", "unit": {"from": "ME", "values": {"STK": "piece", "KAR": "box"}},
        "list_price": {"from": "Cent", "scale": 0.01}}}}}})
    peers.peer("erp").serve("products", Raw({"ArtNr": "B-1", "Bezeichnung": "Becher", "ME": "KAR", "Cent": 1990},
                                            "Artikel 1", external_id="4711"),
                            Raw({"ArtNr": "B-2", "Bezeichnung": "Teller", "ME": "PAL"}, "Artikel 2"))
    run = run_flow(app, "catalog")
    product = app.records.get("products", "B-1")
    assert (product.unit, str(product.list_price), product.currency) == ("box", "19.9", None)
    assert run["summary"]["kinds"]["products"]["rejections"] == [
        "erp: products: Artikel 2: unit (from ME): unknown code 'PAL', expected one of: KAR, STK"]
    from sqlalchemy import select

    from erpbridge.store.tables import bindings
    with app.engine.connect() as conn:
        assert conn.execute(select(bindings.c.system, bindings.c.external_id)
                            .where(bindings.c.key == "B-1")).all() == [("erp", "4711")]


def test_records_a_connector_cannot_build_are_rejected_without_stopping_the_flow(make_app):
    """The connector's own mapper fails on one row (a KeyError in its code, a field out of range):
    that row is named, the flow goes on."""
    app = make_app({"catalog": {}}, systems={"erp": {"connector": "testerp"}})
    build = lambda row: Product(sku=row["code"], name=row["name"])  # noqa: E731
    peers.peer("erp").serve("products", Raw({"code": "C-1", "name": "Cup"}, "row 1", build),
                            Raw({"name": "no code"}, "row 2", build), Raw({"code": "C-3", "name": ""}, "row 3", build))
    run = run_flow(app, "catalog")
    assert run["summary"]["kinds"]["products"]["rejections"] == [
        "erp: products: row 2: cannot be read: KeyError: 'code'",
        "erp: products: row 3: name: string should have at least 1 character, got ''"]
    assert app.records.get("products", "C-1").name == "Cup"


def test_a_file_import_is_in_the_exchange_log_with_its_rejections(make_app, tmp_path):
    """Seed 000's request log shows every message exchanged: an inbox file is one, inbound."""
    from erpbridge.connectors.files.inbox import process_inbox

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "products.jsonl").write_text('{"sku": "A1", "name": "Lamp"}\n{"sku": "", "name": "no sku"}\n')
    app = make_app(systems={"erp": {"connector": "files", "inbox": str(inbox), "settle_time": 0}})
    process_inbox(app)
    [entry] = ExchangeLog(app.engine).query(point="inbox.products")
    assert (entry["system"], entry["direction"], entry["outcome"]) == ("erp", "in", "message_error")
    assert entry["request"]["file"] == "products.jsonl" and len(entry["request"]["sha256"]) == 64
    assert (entry["response"]["new"], entry["response"]["rejected"]) == (1, 1)
    assert "line 2: sku: required" in entry["error"]
