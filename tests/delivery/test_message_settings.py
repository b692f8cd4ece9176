"""Per-message settings (`systems.<name>.messages.<operation>`): a connector honours the ones it
declares, e.g. the files connector writes a message to a folder of its own under the name the
ERP expects; the ones it cannot honour are refused when the config loads (test_systems.py)."""

from __future__ import annotations

import json

from .conftest import place_order


def test_the_files_connector_writes_each_message_where_its_settings_say(make_app, tmp_path):
    app = make_app(erp_connector={"messages": {"send_order": {"endpoint": "orders", "operation": "SalesOrderCreate"}}})
    place_order(app, "1001")
    from erpbridge.outbox.worker import Worker

    assert Worker(app).drain() == 1
    written = tmp_path / "erp" / "outbox" / "orders" / "erp-send_order-1001-1.json"
    assert json.loads(written.read_text())["operation"] == "SalesOrderCreate"
