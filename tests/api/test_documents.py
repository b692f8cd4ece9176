"""Order-history documents over real HTTP (issue 10, item 1): a documents feedback file names
its files inside the inbox only; they are copied into erpbridge's own documents folder by
content hash and served by that id, as downloads with a safe media type, whatever the feedback
file or the ERP says. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from pathlib import Path

import pytest

from erpbridge.connectors.files.inbox import process_inbox

from .erp_stub import StubErp, StubRealTime


@pytest.fixture
def local(start_api, tmp_path):
    """A running API serving local documents, its inbox (``tmp_path/in``) and documents folder."""
    return start_api(order_history={"use_local_documents": True, "documents_folder": str(tmp_path / "documents")})


def drop(api, tmp_path: Path, records: list[dict]):
    """Drop a documents feedback file into the inbox and import it; its report."""
    inbox = tmp_path / "in"
    inbox.mkdir(exist_ok=True)
    (inbox / "documents.json").write_text(json.dumps(records))
    [report] = process_inbox(api.hub, now=time.time() + 60)
    return report


def test_a_documents_file_is_copied_into_erpbridges_folder_and_served_by_id_as_a_download(local, tmp_path):
    docs = tmp_path / "in" / "docs"
    docs.mkdir(parents=True)
    (docs / "INV-1.pdf").write_bytes(b"%PDF-1.4 invoice INV-1")
    (docs / "DN-1.html").write_bytes(b"<script>alert(document.cookie)</script>")
    report = drop(local, tmp_path, [
        {"type": "invoice", "number": "INV-1", "customer": "C100", "path": "docs/INV-1.pdf"},
        {"type": "delivery_note", "number": "DN-1\"; x=?#", "customer": "C100", "media_type": "text/html",
         "path": "./docs//DN-1.html"},
    ])
    assert (report.new, report.rejected) == (2, 0), report.rejections
    (docs / "INV-1.pdf").unlink()  # the ERP may clean up: the copy is erpbridge's own
    with local.client("read:customers") as c:
        r = c.get("/api/v1/documents/invoice/INV-1")
        assert r.status_code == 200 and r.content == b"%PDF-1.4 invoice INV-1"
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["content-disposition"] == 'attachment; filename="invoice-INV-1.pdf"'
        assert r.headers["x-content-type-options"] == "nosniff"
        listed = c.get("/api/v1/customers/C100/documents").json()["items"]
        html = next(d for d in listed if d["type"] == "delivery_note")
        r = c.get(html["href"])
        assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
        assert r.headers["content-disposition"] == 'attachment; filename="delivery_note-DN-1___x___.bin"'
        assert html["media_type"] == "application/octet-stream"
    digest = hashlib.sha256(b"%PDF-1.4 invoice INV-1").hexdigest()
    assert local.hub.records.get("documents", "invoice\x1fINV-1").content == digest
    copy = tmp_path / "documents" / digest
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600 and stat.S_IMODE(copy.parent.stat().st_mode) == 0o700


def test_a_documents_file_cannot_name_any_file_but_a_regular_one_inside_the_inbox(local, tmp_path, db_url):
    inbox = tmp_path / "in"
    (inbox / "docs").mkdir(parents=True)
    (inbox / "docs" / "ok.pdf").write_bytes(b"%PDF-1.4 ok")
    secret = tmp_path / "secret.txt"
    secret.write_text("the shop's database password")
    os.symlink(secret, inbox / "docs" / "link.pdf")
    os.symlink(tmp_path, inbox / "docs" / "outside")
    os.mkfifo(inbox / "docs" / "pipe.pdf")
    (inbox / "done").mkdir()
    (inbox / "done" / "old-report.json").write_text("{}")
    paths = [str(secret), "../secret.txt", "docs/../../secret.txt", "docs/link.pdf", "docs/outside/secret.txt",
             "docs/pipe.pdf", "done/old-report.json", "docs", "docs/missing.pdf", 42]
    if db_url.startswith("sqlite"):
        store = Path(db_url.removeprefix("sqlite:///"))
        os.link(store, inbox / "docs" / "store.pdf")  # the store itself, under another name
        paths.append("docs/store.pdf")
    report = drop(local, tmp_path, [{"type": "invoice", "number": "OK-1", "path": "docs/ok.pdf"}] + [
        {"type": "invoice", "number": f"BAD-{i}", "path": path} for i, path in enumerate(paths)])
    assert (report.new, report.rejected) == (1, len(paths))
    reasons = {r.location: r.reason for r in report.rejections}
    assert all(r.field == "path" and r.reason.startswith("cannot copy the document: ") for r in report.rejections)
    expected = {0: "expected a path relative to the inbox", 1: "expected a path relative to the inbox",
                2: "expected a path relative to the inbox", 3: "a symbolic link", 4: "'outside' is not a folder",
                5: "a named pipe (FIFO)", 6: "erpbridge's own folder", 7: "a folder",
                8: "No such file or directory", 9: "expected a path relative to the inbox, got int",
                10: "the store's own file"}
    for i, _ in enumerate(paths):
        assert expected[i] in reasons[f"$[{i + 1}]"], (paths[i], reasons[f"$[{i + 1}]"])
    assert "password" not in json.dumps(report.as_dict())
    copies = sorted(p.name for p in (tmp_path / "documents").iterdir())
    assert copies == [hashlib.sha256(b"%PDF-1.4 ok").hexdigest()]  # nothing else was copied
    with local.client("read:customers") as c:
        assert c.get("/api/v1/documents/invoice/OK-1").content == b"%PDF-1.4 ok"
        assert c.get("/api/v1/documents/invoice/BAD-0").status_code == 404


def test_a_document_whose_copy_is_missing_answers_404_naming_it(local, tmp_path):
    (tmp_path / "in" / "docs").mkdir(parents=True)
    (tmp_path / "in" / "docs" / "INV-2.pdf").write_bytes(b"%PDF-1.4 INV-2")
    drop(local, tmp_path, [{"type": "invoice", "number": "INV-2", "path": "docs/INV-2.pdf"}])
    digest = hashlib.sha256(b"%PDF-1.4 INV-2").hexdigest()
    (tmp_path / "documents" / digest).unlink()
    with local.client("read:customers") as c:
        r = c.get("/api/v1/documents/invoice/INV-2")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert "invoice 'INV-2'" in r.json()["detail"] and digest in r.json()["detail"]


def test_documents_from_the_erp_in_real_time_are_downloads_with_a_safe_media_type(start_api):
    stub = StubErp()
    stub.documents[("invoice", "INV-1")] = b"%PDF-1.4 from the ERP"
    stub.documents[("invoice", "INV-H")] = b"<html><script>steal()</script></html>"
    stub.media_types[("invoice", "INV-H")] = "text/html; charset=utf-8"
    try:
        api = start_api(erp=StubRealTime(stub.url))
        with api.client("read:customers") as c:
            pdf = c.get("/api/v1/documents/invoice/INV-1")
            html = c.get("/api/v1/documents/invoice/INV-H")
    finally:
        stub.stop()
    assert pdf.headers["content-type"] == "application/pdf" and pdf.headers["x-erpbridge-source"] == "erp"
    assert pdf.headers["content-disposition"] == 'attachment; filename="invoice-INV-1.pdf"'
    assert html.status_code == 200 and html.headers["content-type"] == "application/octet-stream"
    assert html.headers["content-disposition"] == 'attachment; filename="invoice-INV-H.bin"'
    assert html.headers["x-content-type-options"] == "nosniff"
