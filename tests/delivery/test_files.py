"""File exchange with the ERP, outbound: outbox messages written atomically as JSON or XML files
for the ERP to pick up, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from lxml import etree

from erpbridge.connectors.base import GeneralError
from erpbridge.connectors.files.outbound import FileOutbox
from erpbridge.private_files import write_private
from erpbridge.outbox import enqueue
from erpbridge.outbox.worker import Worker

from .conftest import cancel_order, place_order
from .helpers import states


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_orders_and_cancellations_become_files_for_the_erp(make_app, tmp_path, fmt):
    app = make_app(erp_connector={"format": fmt})
    place_order(app, "1001")
    cancel_order(app, "1001")
    assert Worker(app).drain() == 2  # the configured `connector: files`, found by convention
    assert set(states(app).values()) == {"done"}
    folder = tmp_path / "erp" / "outbox"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"erp-cancel_order-1001-2.{fmt}", f"erp-send_order-1001-1.{fmt}"]
    data = (folder / names[1]).read_bytes()
    if fmt == "json":
        content = json.loads(data)
        assert (content["operation"], content["idempotency_key"]) == ("send_order", "erp:send_order:1001:1")
        assert content["payload"]["number"] == "1001" and content["payload"]["lines"][0]["sku"] == "SKU-1"
    else:
        root = etree.fromstring(data)
        assert (root.tag, root.get("idempotency_key")) == ("send_order", "erp:send_order:1001:1")
        assert root.findtext("number") == "1001" and root.findtext("lines/line/sku") == "SKU-1"


def test_delivering_a_message_again_rewrites_its_file_instead_of_adding_one(tmp_path):
    outbox = FileOutbox(tmp_path, "json")
    outbox.deliver("send_order", {"number": "1001"}, "erp:send_order:1001:1")
    outbox.deliver("send_order", {"number": "1001"}, "erp:send_order:1001:1")
    assert [p.name for p in tmp_path.iterdir()] == ["erp-send_order-1001-1.json"]


def test_a_file_is_never_seen_half_written(tmp_path, monkeypatch):
    target = tmp_path / "order.json"
    target.write_bytes(b'{"old": "whole"}')

    def crash(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_private(target, b'{"new": "whole"}')
    assert target.read_bytes() == b'{"old": "whole"}'  # the reader sees the old file or the new, never a part
    assert [p.name for p in tmp_path.iterdir()] == ["order.json"]  # and no temporary file is left behind


def test_an_unwritable_outbox_is_a_general_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(GeneralError, match="cannot write"):
        FileOutbox(blocker / "outbox").deliver("send_order", {}, "k")


def test_relative_outbox_folders_follow_the_config_file(make_app, tmp_path):
    app = make_app(erp_connector={"outbox": "to-erp"})
    assert app.connector("erp").outbox.folder == tmp_path / "to-erp"


@pytest.mark.slow
def test_an_erp_reading_the_folder_never_sees_a_half_written_file_even_when_the_worker_is_killed(make_app, tmp_path):
    """`erpbridge worker` writes large order files while a reader (the ERP's import job) keeps
    reading the folder; the worker is SIGKILLed mid-stream; afterwards every message is one whole file."""
    app = make_app(outbox={"lease_seconds": 2, "heartbeat_seconds": 0.5})
    lines = [{"sku": f"SKU-{i}", "quantity": "1", "unit_price": "9.50", "description": "x" * 1500} for i in range(300)]
    with app.engine.begin() as conn:
        for i in range(30):
            enqueue(conn, channel="erp", operation="send_order", business_key=f"{1000 + i}",
                    payload={"number": f"{1000 + i}", "lines": lines})
    folder = tmp_path / "erp" / "outbox"
    folder.mkdir(parents=True)
    seen, torn, stop = {}, [], threading.Event()

    def erp_import_job() -> None:
        while not stop.is_set():
            for path in folder.iterdir():
                if path.name.startswith("."):
                    continue  # a temporary name: ERP import jobs skip these
                try:
                    version = path.stat().st_mtime_ns
                    if seen.get(path.name) == version:
                        continue
                    content = json.loads(path.read_bytes())
                    assert len(content["payload"]["lines"]) == 300
                    seen[path.name] = version
                except FileNotFoundError:
                    pass
                except (ValueError, AssertionError) as exc:
                    torn.append(f"{path.name}: {exc}")
            time.sleep(0.002)

    reader = threading.Thread(target=erp_import_job)
    reader.start()
    command = [sys.executable, "-m", "erpbridge", "--config", str(app.config.source), "worker"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
        assert 3 <= len(seen) < 30, "the worker should be killed mid-stream"

        time.sleep(2.1)  # the killed worker's lease runs out
        subprocess.run(command + ["--once"], check=True, capture_output=True)
        assert set(states(app).values()) == {"done"}
    finally:
        stop.set()
        reader.join(10)
        process.kill()
    assert torn == []
    visible = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert visible == [f"erp-send_order-{1000 + i}-1.json" for i in range(30)]
    for name in visible:
        assert len(json.loads((folder / name).read_bytes())["payload"]["lines"]) == 300
