"""File exchange with the ERP, feedback: order status, shipments with tracking and part
deliveries, invoices with freight and fee on the first, credit memos and documents read into the
store, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from erpbridge.connectors.files.feedback import feedback_kind, import_feedback_file
from erpbridge.records import Invoice, Shipment

from .conftest import place_order
from .helpers import binding


def test_feedback_kinds_follow_the_file_name():
    assert feedback_kind("order_status-2026-11-23.json") == "order_statuses"
    assert feedback_kind("Shipments.xml") == "shipments"
    assert feedback_kind("credit-memos.jsonl") == "credit_memos"
    assert feedback_kind("products.csv") is None


def write(path: Path, value) -> Path:
    path.write_text(json.dumps(value))
    return path


def test_status_feedback_with_an_erp_id_binds_the_order(make_app, tmp_path):
    app = make_app()
    place_order(app, "1001")
    report = import_feedback_file(app, write(tmp_path / "order_status.json", [
        {"order": "1001", "status": "received", "erp_id": "SO-77"},
        {"order": "1002", "status": "lost-in-space"},
    ]))
    assert (report.new, report.rejected) == (1, 1)
    [rejection] = report.rejections
    assert (rejection.location, rejection.field) == ("$[1]", "status")
    assert binding(app, "orders", "1001") == "SO-77"
    assert app.records.get("order_statuses", "1001").status == "received"


def test_part_deliveries_with_tracking_and_invoices_with_freight_on_the_first(make_app, tmp_path):
    app = make_app()
    (tmp_path / "shipments.xml").write_text("""<?xml version="1.0"?>
<shipments>
  <shipment id="S1"><order>1001</order><carrier>DHL</carrier>
    <tracking_numbers><tracking_number>JJD01</tracking_number></tracking_numbers>
    <lines><line><sku>SKU-1</sku><quantity>1</quantity></line></lines></shipment>
  <shipment id="S2"><order>1001</order>
    <tracking_numbers><tracking_number>JJD02</tracking_number><tracking_number>JJD03</tracking_number></tracking_numbers>
    <lines><line><sku>SKU-1</sku><quantity>1</quantity></line><line><sku>SKU-2</sku><quantity>3</quantity></line></lines>
  </shipment>
</shipments>""")
    report = import_feedback_file(app, tmp_path / "shipments.xml")
    assert (report.new, report.rejected) == (2, 0), report.rejections
    first, second = app.records.get("shipments", "S1"), app.records.get("shipments", "S2")
    assert isinstance(first, Shipment) and first.tracking_numbers == ["JJD01"] and len(first.lines) == 1
    assert second.tracking_numbers == ["JJD02", "JJD03"] and [line.sku for line in second.lines] == ["SKU-1", "SKU-2"]

    report = import_feedback_file(app, write(tmp_path / "invoices.jsonl.json", [
        {"id": "I1", "order": "1001", "shipment": "S1", "issued_at": "2026-11-23", "currency": "EUR",
         "freight_amount": "4.90", "fee_amount": "1.50", "total": "25.90",
         "lines": [{"sku": "SKU-1", "amount": "19.50"}]},
        {"id": "I2", "order": "1001", "shipment": "S2", "issued_at": "2026-11-24", "currency": "EUR", "total": "49"},
    ]))
    assert (report.new, report.rejected) == (2, 0)
    invoice = app.records.get("invoices", "I1")
    assert isinstance(invoice, Invoice) and (str(invoice.freight_amount), str(invoice.fee_amount)) == ("4.9", "1.5")
    assert str(app.records.get("invoices", "I2").freight_amount) == "0"

    assert import_feedback_file(app, write(tmp_path / "invoices-again.json", [
        {"id": "I1", "order": "1001", "issued_at": "2026-11-23", "currency": "EUR", "total": "25.90"}])).changed == 1


def test_credit_memos_and_documents_are_read(make_app, tmp_path):
    app = make_app()
    (tmp_path / "credit_memos.jsonl").write_text(
        '{"id": "CM1", "order": "1001", "invoice": "I1", "issued_at": "2026-11-30", "currency": "EUR", "total": "9.50"}\n'
        '{"id": "CM2", "order": "1001", "issued_at": "not a date", "currency": "EUR", "total": "1"}\n')
    report = import_feedback_file(app, tmp_path / "credit_memos.jsonl")
    assert (report.new, report.rejected) == (1, 1)
    assert report.rejections[0].location == "line 2" and report.rejections[0].field == "issued_at"
    (tmp_path / "erp" / "inbox" / "docs").mkdir(parents=True)
    (tmp_path / "erp" / "inbox" / "docs" / "I1.pdf").write_bytes(b"%PDF-1.4 I1")
    report = import_feedback_file(app, write(tmp_path / "documents.json", [
        {"type": "invoice", "number": "I1", "order": "1001", "customer": "C1", "path": "docs/I1.pdf"}]))
    assert report.new == 1
    # The document's file (a path inside the inbox) is copied; the record names the copy by its content.
    assert app.records.find("documents")[0].content == hashlib.sha256(b"%PDF-1.4 I1").hexdigest()


def test_a_shipments_file_dropped_into_the_inbox_ends_in_the_store_and_in_done(make_app, tmp_path):
    from erpbridge.connectors.files.inbox import process_inbox

    app = make_app()
    place_order(app, "1001")
    inbox = tmp_path / "erp" / "inbox"
    inbox.mkdir(parents=True)
    write(inbox / "shipments-2026-11-24.json", [
        {"id": "S1", "order": "1001", "carrier": "DHL", "tracking_numbers": ["JJD01"],
         "lines": [{"sku": "SKU-1", "quantity": "1"}]},
        {"id": "S2", "order": "1001", "lines": []},  # a shipment without lines is refused, named
    ])
    [report] = process_inbox(app, now=time.time() + 60)  # past the settle time
    assert (report.kind, report.new, report.rejected) == ("shipments", 1, 1)
    assert (report.rejections[0].location, report.rejections[0].field) == ("$[1]", "lines")
    assert app.records.get("shipments", "S1").tracking_numbers == ["JJD01"]
    # A file with a rejected record goes to failed/ with its report; the good record is stored.
    assert sorted(p.name.split("-", 1)[1] for p in (inbox / "failed").iterdir()) == [
        "shipments-2026-11-24.json", "shipments-2026-11-24.json.report.json"]

    write(inbox / "shipments-2026-11-25.json", [
        {"id": "S2", "order": "1001", "tracking_numbers": ["JJD02"], "lines": [{"sku": "SKU-1", "quantity": "1"}]}])
    [report] = process_inbox(app, now=time.time() + 60)
    assert (report.new, report.rejected) == (1, 0)
    done = sorted(p.name.split("-", 1)[1] for p in (inbox / "done").iterdir())
    assert done == ["shipments-2026-11-25.json", "shipments-2026-11-25.json.report.json"]
    assert list(inbox.glob("*.json")) == [] and list((inbox / "processing").iterdir()) == []
    assert app.records.get("shipments", "S2").tracking_numbers == ["JJD02"]
