"""Nothing dropped into the inbox stops it or gets read that should not be (issue 10, items 3, 4,
5 and 7): links, FIFOs and sockets are refused unread, by name; a file whose import fails goes
to failed/ with the reason and the next files go through; a file its process died importing is
not retried for ever; any file name is claimed, reported and logged without forging a line; and
`erpbridge status` says when the inbox is failing. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from erpbridge.connectors.files import importer as importer_module
from erpbridge.connectors.files.importer import Importer
from erpbridge.connectors.files.inbox import process_inbox
from erpbridge.connectors.files.inbox_passes import inbox_state


@pytest.fixture
def inbox(app):
    folder = app.config.resolve(app.system("erp").inbox)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def ended(inbox, outcome: str) -> dict[str, dict]:
    """The files in ``done/`` or ``failed/``, by their name, with their reports."""
    folder = inbox / outcome
    return {p.name.split("-", 1)[1]: json.loads(p.with_name(p.name + ".report.json").read_text())
            for p in folder.iterdir() if not p.name.endswith(".report.json")} if folder.exists() else {}


def test_links_fifos_and_sockets_are_refused_unread_by_name_and_never_quoted(app, inbox, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("sku,name\nTOPSECRET,the shop's database password\n")
    os.symlink(secret, inbox / "products-link.csv")
    os.symlink(tmp_path, inbox / "products-folder-link.csv")
    os.mkfifo(inbox / "products-fifo.csv")
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(inbox / "products-socket.csv"))
        (inbox / "products-good.csv").write_text("sku,name\nA1,Apple\n")
        reports = {r.file: r for r in process_inbox(app)}
    assert reports["products-good.csv"].new == 1
    failed = ended(inbox, "failed")
    assert set(failed) == {"products-link.csv", "products-folder-link.csv", "products-fifo.csv", "products-socket.csv"}
    reasons = {name: report["rejections"][0]["reason"] for name, report in failed.items()}
    assert reasons["products-link.csv"] == "refused: a symbolic link: erpbridge reads regular files only"
    assert "a named pipe (FIFO)" in reasons["products-fifo.csv"] and "a socket" in reasons["products-socket.csv"]
    assert "TOPSECRET" not in json.dumps(failed) and app.records.get("products", "TOPSECRET") is None
    assert os.path.islink(next((inbox / "failed").glob("*-products-link.csv")))  # moved as itself, unread
    assert secret.read_text().startswith("sku,name")


def test_a_hardlink_of_the_store_file_is_refused_by_identity(app, inbox, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL keeps no store file on this machine")
    store = db_url.removeprefix("sqlite:///")
    os.link(store, inbox / "products-store.jsonl")
    os.link(store, inbox / "stock.csv")
    process_inbox(app)
    failed = ended(inbox, "failed")
    assert {n: r["rejections"][0]["reason"] for n, r in failed.items()} == {
        n: "refused: the store's own file store.db (the same file, by device and inode): erpbridge never reads its own "
           "files" for n in ("products-store.jsonl", "stock.csv")}


def test_a_file_in_erpbridges_own_folders_is_not_imported_by_hand_either(app, inbox):
    (inbox / "products.csv").write_text("sku,name\nA1,Apple\n")
    process_inbox(app)
    [done] = (inbox / "done").glob("*-products.csv")
    report = Importer(app.config, app.records, "products").import_file(done)
    assert report.rejections[0].reason.startswith(f"refused: it lies in erpbridge's own folder {inbox / 'done'}")


def test_any_exception_importing_one_file_sends_it_to_failed_and_the_next_files_go_through(app, inbox, monkeypatch,
                                                                                          caplog):
    """A failure nobody foresaw (here an error the importer raises for one file) fails that file only."""
    steps = importer_module.RecordSteps.finish

    def finish(self, raw, source):
        if raw.get("sku") == "BOOM":
            raise ZeroDivisionError("something nobody foresaw")
        return steps(self, raw, source)

    monkeypatch.setattr(importer_module.RecordSteps, "finish", finish)
    (inbox / "products-1.csv").write_text("sku,name\nBOOM,x\n")
    (inbox / "products-2.csv").write_text("sku,name\nA2,Pear\n")
    with caplog.at_level(logging.ERROR):
        reports = process_inbox(app)
    assert [(r.file, r.ok) for r in reports] == [("products-1.csv", False), ("products-2.csv", True)]
    [reason] = [r["reason"] for r in ended(inbox, "failed")["products-1.csv"]["rejections"]]
    assert reason == "the import failed: ZeroDivisionError: something nobody foresaw"
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [ZeroDivisionError]  # the traceback, once
    assert app.records.get("products", "A2") is not None and process_inbox(app) == []
    state = inbox_state(app.engine, "erp")
    assert (state["failing"], state["files"], state["failed"]) == (True, 2, 1)
    assert state["failures"] == [{"file": "products-1.csv", "reason": f"products-1.csv: file: {reason}"}]


def test_deep_nesting_and_cr_only_csv_no_longer_wedge_the_inbox(app, inbox):
    (inbox / "products-deep.json").write_text('[{"sku": "D1", "attributes": {"a": %s}}]' % ("[" * 300 + "]" * 300))
    (inbox / "products-mac.csv").write_bytes(b"sku,name\rM1,Mac\r")
    (inbox / "stock.jsonl").write_text('{"sku": "M1", "warehouse": "MAIN", "quantity": 3}\n')
    reports = {r.file: r for r in process_inbox(app)}
    assert reports["products-deep.json"].rejections[0].reason == "nested more than 64 levels deep"
    assert reports["products-mac.csv"].new == 1 and reports["stock.jsonl"].new == 1
    assert process_inbox(app) == []


def test_odd_file_names_are_claimed_reported_and_logged_escaped(app, inbox, caplog):
    names = {
        "products-\n2026-11-23 12:00:00 INFO erpbridge: all is well.csv":
            "products-\\n2026-11-23 12:00:00 INFO erpbridge: all is well.csv",
        os.fsdecode(b"products-caf\xe9.csv"): "products-caf\\xe9.csv",
        "products-\x1b[31mred.csv": "products-\\x1b[31mred.csv",
        "-products.csv": "-products.csv",
        "products-" + "x" * 240 + ".csv": None,
    }
    for i, name in enumerate(names):
        (inbox / name).write_text(f"sku,name\nN{i},Name {i}\n")
    with caplog.at_level(logging.INFO):
        reports = process_inbox(app)
    assert len(reports) == 5 and all(r.file.isprintable() for r in reports)
    shown = {r.file for r in reports}
    assert {s for s in names.values() if s} <= shown
    long = next(r.file for r in reports if r.file.startswith("products-xxx"))
    assert long.endswith("xx.csv") and "~" in long and len(long) <= 150
    assert all(app.records.get("products", f"N{i}") is not None for i in (0, 1, 2, 4))  # "-products" is no kind
    assert all("\n" not in r.getMessage() and "\x1b" not in r.getMessage() for r in caplog.records)
    assert len(list((inbox / "done").iterdir())) + len(list((inbox / "failed").iterdir())) == 10


def test_a_file_its_process_died_importing_twice_goes_to_failed_once(app, inbox, tmp_path):
    """Each time, a real process claims the file and is killed with SIGKILL in the middle of
    importing it; the next pass after the second time gives it up, with a report saying so."""
    script = tmp_path / "die_importing.py"
    script.write_text(textwrap.dedent("""
        import os, signal, sys
        from erpbridge.bootstrap import bootstrap
        from erpbridge.config import Config
        from erpbridge.connectors.files import importer
        from erpbridge.connectors.files.inbox import process_inbox

        def die(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)

        importer.Importer.import_file = die
        process_inbox(bootstrap(Config.model_validate_json(sys.argv[1])))
    """))
    (inbox / "products.csv").write_text("sku,name\nA1,Apple\n")
    config = app.config.model_dump_json()
    for attempt in (1, 2):
        killed = subprocess.run([sys.executable, str(script), config], capture_output=True, text=True, timeout=120)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        [claim] = (inbox / "processing").iterdir()
        assert claim.name.endswith(f"~{attempt}.products.csv")
    [report] = process_inbox(app)
    assert report.rejections[0].reason.startswith("its import was under way when the process importing it died, "
                                                  "2 times (killed, or crashed on this file): not tried again")
    assert list((inbox / "processing").iterdir()) == [] and "products.csv" in ended(inbox, "failed")
    assert process_inbox(app) == []


def test_status_says_when_the_inbox_is_failing(app, inbox, tmp_path, db_url):
    (inbox / "products.csv").write_text("sku,name\nA1,Apple\n")
    (inbox / "stock.jsonl").write_text('{"sku": "A1", "warehouse": "NORTH", "quantity": 1}\n')
    process_inbox(app)
    config = tmp_path / "erpbridge.yaml"
    config.write_text(app.config.model_dump_json())
    status = subprocess.run([sys.executable, "-m", "erpbridge", "-c", str(config), "status"], capture_output=True,
                            text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    assert "inbox     erp: FAILING: last pass " in status.stdout and "2 files, 1 failed" in status.stdout
    assert "failed  stock.jsonl: line 1: warehouse: unknown warehouse 'NORTH'" in status.stdout
