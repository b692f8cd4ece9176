"""The watched inbox (issue 2, bullet 4): files are imported as they arrive, moved to done/ or
failed/ with a report, never imported twice; half-written files wait. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from erpbridge.connectors.files.inbox import process_inbox
from erpbridge.services.products import set_enabled


def inbox(app) -> Path:
    path = app.config.resolve(app.system("erp").inbox)
    path.mkdir(parents=True, exist_ok=True)
    return path


def names(folder: Path) -> list[str]:
    return sorted(p.name.split("-", 1)[1] for p in folder.iterdir()) if folder.exists() else []


def test_files_are_imported_once_and_moved_to_done_or_failed_with_a_report(app):
    folder = inbox(app)
    (folder / "products-2026-11-23.csv").write_text("sku,name\nA1,Apple\nA2,Pear\n")
    (folder / "stock.jsonl").write_text('{"sku": "A1", "warehouse": "MAIN", "quantity": 3}\n'
                                        '{"sku": "A1", "warehouse": "NORTH", "quantity": 1}\n')
    reports = {r.file: r for r in process_inbox(app)}
    assert (reports["products-2026-11-23.csv"].new, reports["stock.jsonl"].new) == (2, 1)
    assert names(folder / "done") == ["products-2026-11-23.csv", "products-2026-11-23.csv.report.json"]
    assert names(folder / "failed") == ["stock.jsonl", "stock.jsonl.report.json"]
    report = json.loads(next((folder / "failed").glob("*.report.json")).read_text())
    assert report["rejections"][0]["message"] == (
        "stock.jsonl: line 2: warehouse: unknown warehouse 'NORTH', expected one of: MAIN, SOUTH")
    assert [p.name for p in folder.iterdir() if p.is_file()] == []
    assert process_inbox(app) == []


def test_the_same_content_dropped_again_is_not_imported_again(app):
    folder = inbox(app)
    (folder / "products.csv").write_text("sku,name\nA1,Apple\n")
    process_inbox(app)
    set_enabled(app, enabled=True, skus=["A1"])
    (folder / "products-again.csv").write_text("sku,name\nA1,Apple\n")
    [report] = process_inbox(app)
    assert report.read == 0 and "same content as products.csv" in report.rejections[0].reason
    assert len(list((folder / "done").glob("*-products-again.csv"))) == 1


def test_files_still_being_written_wait(make_app, db_url, tmp_path):
    app = make_app(systems={"erp": {"connector": "files", "inbox": str(tmp_path / "inbox"), "settle_time": 30}})
    folder = inbox(app)
    (folder / "products.csv.part").write_text("sku,name\nA1,Apple\n")
    (folder / "products.csv").write_text("sku,name\nA1,Apple\n")
    assert process_inbox(app) == []
    assert [r.file for r in process_inbox(app, now=time.time() + 60)] == ["products.csv"]
    assert (folder / "products.csv.part").exists()


def test_a_file_of_no_known_kind_fails_with_the_names_expected(app):
    folder = inbox(app)
    (folder / "readme.txt").write_text("hello")
    [report] = process_inbox(app)
    assert not report.ok and report.rejections[0].reason.startswith("no record kind matches this file name")
    assert names(folder / "failed") == ["readme.txt", "readme.txt.report.json"]


def test_feedback_files_are_read_from_the_inbox(app):
    folder = inbox(app)
    (folder / "shipments.json").write_text(json.dumps([
        {"id": "S1", "order": "1001", "carrier": "DHL", "tracking_numbers": ["JJD01"],
         "lines": [{"sku": "A1", "quantity": "1"}]}]))
    [report] = process_inbox(app)
    assert (report.kind, report.new) == ("shipments", 1)
    assert app.records.get("shipments", "S1").tracking_numbers == ["JJD01"]


def test_a_claim_left_by_a_dead_process_is_imported_by_the_next_pass(app):
    folder = inbox(app)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # that process has exited
    import socket
    host = socket.gethostname().replace(".", "_")
    (folder / "processing").mkdir(exist_ok=True)
    (folder / "processing" / f"{host}~{pid}.products.csv").write_text("sku,name\nA1,Apple\n")
    (folder / "processing" / f"{host}~{os.getppid()}.products-2.csv").write_text("sku,name\nA2,Pear\n")  # alive
    reports = process_inbox(app)
    assert [r.file for r in reports] == ["products.csv"]
    assert app.records.get("products", "A1") is not None and app.records.get("products", "A2") is None


def test_watch_imports_files_as_they_arrive(make_app, tmp_path):
    app = make_app(systems={"erp": {"connector": "files", "inbox": str(tmp_path / "inbox"), "settle_time": 0,
                                    "poll_interval": 0.05}})
    folder = inbox(app)
    stop = threading.Event()
    watcher = threading.Thread(target=app.connector("erp").watch, args=(stop,))
    watcher.start()
    try:
        (folder / "products.tmp").write_text("sku,name\nA1,Apple\n")
        os.rename(folder / "products.tmp", folder / "products.csv")  # how an ERP hands over a finished file
        deadline = time.monotonic() + 10
        while app.records.get("products", "A1") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.records.get("products", "A1") is not None
    finally:
        stop.set()
        watcher.join(timeout=10)
