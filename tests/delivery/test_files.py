"""File exchange with the ERP, outbound: outbox messages written atomically as JSON or XML files
for the ERP to pick up, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os

import pytest
from lxml import etree

from erpbridge.connectors.base import GeneralError
from erpbridge.connectors.files import create
from erpbridge.connectors.files.outbound import FileOutbox, write_atomically
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
        write_atomically(target, b'{"new": "whole"}')
    assert target.read_bytes() == b'{"old": "whole"}'  # the reader sees the old file or the new, never a part
    assert [p.name for p in tmp_path.iterdir()] == ["order.json"]  # and no temporary file is left behind


def test_an_unwritable_outbox_is_a_general_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(GeneralError, match="cannot write"):
        FileOutbox(blocker / "outbox").deliver("send_order", {}, "k")


def test_relative_outbox_folders_follow_the_config_file(make_app, tmp_path):
    app = make_app(erp_connector={"outbox": "to-erp"})
    _, system = app.config.erp
    assert create(app, "erp", system).folder == tmp_path / "to-erp"
