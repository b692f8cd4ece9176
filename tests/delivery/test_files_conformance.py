"""The files connector passes the conformance suite (erpbridge.connectors.kit.conformance)
against its real peer: an outbox folder the ERP reads."""

from __future__ import annotations

import json
import shutil

import pytest

from erpbridge.connectors.kit.conformance import ConnectorConformance

from .conftest import order


class FilesPeer:
    def __init__(self, app, folder):
        self.connector = app.connector("erp")
        self.capabilities = app.capabilities("erp")
        self.folder = folder

    def payload(self, operation, number):
        if operation == "send_order":
            return order(number).model_dump(mode="json")
        return {"id": number, "order": number, "number": number, "name": "Jane Doe"}

    def count(self, operation, number):
        """The files the ERP would import for this number (each is one record to it)."""
        found = [json.loads(p.read_text()) for p in self.folder.glob("*.json")]
        return sum(1 for f in found if f["operation"] == operation
                   and str(f["payload"].get("number") or f["payload"].get("id")) == number)

    def go_down(self):
        """The share is gone: where the folder was, something that is not one."""
        self.folder.rename(self.folder.with_name("away"))
        self.folder.write_text("")

    def come_back(self):
        self.folder.unlink()
        self.folder.with_name("away").rename(self.folder)

    def refuse(self, operation, number):
        return None  # the ERP reads the files later: nothing is refused at delivery

    def lose_next_answer(self):
        return False

    def serve(self, kind, count, changed_at):
        return None


class TestTheFilesConnectorConforms(ConnectorConformance):
    @pytest.fixture
    def peer(self, make_app, tmp_path):
        app = make_app()
        folder = tmp_path / "erp" / "outbox"
        folder.mkdir(parents=True, exist_ok=True)
        yield FilesPeer(app, folder)
        shutil.rmtree(folder.with_name("away"), ignore_errors=True)
