"""A hub with two shops and two ERPs: the shop that calls erpbridge's API sells Tryton's catalog,
a shop platform (the test connector package's `testshop`) sells the files ERP's; each shop's
orders reach its own ERP, and each shop is sent only its selection and its own orders' feedback.
On SQLite and PostgreSQL, against the real Tryton."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from erpbridge_testconnectors import peers

from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config
from erpbridge.connectors.files.inbox import process_inbox
from erpbridge.flows import run_flow
from erpbridge.outbox.worker import Worker
from erpbridge.records import Order
from erpbridge.services.orders import order_view, place_order
from erpbridge.services.products import set_enabled

from tryton_config import system_config
from test_order_to_cash import order


@pytest.fixture
def hub(db_url, tmp_path, tryton_server):
    peers.reset()
    config = Config.model_validate({
        "store": {"url": db_url},
        "systems": {
            "tryton": system_config(tryton_server).model_dump(mode="json") | {"password": tryton_server.password},
            "files": {"connector": "files", "inbox": str(tmp_path / "in"), "outbox": str(tmp_path / "out"),
                      "settle_time": 0},
            "web2": {"connector": "testshop", "erp": "files", "receives": {"groups": ["GB"]}},
        },
        "api": {"erp": "tryton"},
        "flows": {"tryton.catalog": {"system": "tryton", "mode": "full"}},
    })
    app = bootstrap(config)
    yield app
    app.close()
    peers.reset()


def test_each_shop_reaches_its_own_erp_and_gets_only_its_selection(hub, erp, prefix, tmp_path, monkeypatch):
    from erpbridge.flows import push

    monkeypatch.setattr(push, "SETTLE", 0)  # one thread writes here: nothing is still committing
    group_a = f"GA{prefix}"
    category = erp.category(group_a, "Tryton's goods")
    erp.receive(erp.product(f"{prefix}-A", "From Tryton", "10.00", category=category), 10)
    assert run_flow(hub, "tryton.catalog")["outcome"] == "ok"
    inbox = tmp_path / "in"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "product_groups.jsonl").write_text('{"code": "GB", "name": "Files goods"}\n')
    (inbox / "products.jsonl").write_text(f'{{"sku": "{prefix}-B", "name": "From files", "group": "GB"}}\n')
    process_inbox(hub, "files")
    assert hub.records.get("products", f"{prefix}-A").group == group_a
    set_enabled(hub, enabled=True, skus=[f"{prefix}-A", f"{prefix}-B"])

    # The API's shop orders Tryton's product: a sale in Tryton, nothing in the files ERP's outbox.
    api_order = Order.model_validate(order(f"API-{prefix}", None, [(f"{prefix}-A", 1, "10.00")]))
    place_order(hub, api_order)
    # The shop platform's order for the files ERP's product, taken in by its orders flow.
    peers.peer("web2").serve("orders", Order.model_validate(order(f"W2-{prefix}", None, [(f"{prefix}-B", 2, "5.00")])))
    intake = run_flow(hub, "orders")
    assert (intake["outcome"], intake["summary"]["new"]) == ("ok", 1)
    assert run_flow(hub, "orders")["summary"]["new"] == 0  # fetched again: the same order, not a second one
    Worker(hub).drain()
    assert erp.count_sales(f"API-{prefix}") == 1 and erp.count_sales(f"W2-{prefix}") == 0
    written = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")]
    assert [w["payload"]["number"] for w in written] == [f"W2-{prefix}"]
    assert order_view(hub, f"API-{prefix}")["erp_id"] and order_view(hub, f"W2-{prefix}")["messages"][0]["state"] == "done"

    # The shop platform is sent its selection only: group GB, not Tryton's goods.
    pushed = run_flow(hub, "web2.catalog")
    assert pushed["summary"]["kinds"]["products"]["sent"] == 1
    Worker(hub).drain()
    shop = peers.peer("web2")
    sent = [r["sku"] for op, _, payload in shop.deliveries if op == "push_products" for r in payload["records"]]
    assert sent == [f"{prefix}-B"]
    assert run_flow(hub, "web2.catalog")["summary"]["messages"] == 0  # nothing changed: no call

    # Feedback from the files ERP reaches the shop whose order it is, once.
    shipped = dt.datetime.now(dt.timezone.utc).isoformat()
    (inbox / "shipments.jsonl").write_text(json.dumps({"id": f"SH-{prefix}", "order": f"W2-{prefix}", "shipped_at": shipped,
                                                       "tracking_numbers": ["TRK1"],
                                                       "lines": [{"sku": f"{prefix}-B", "quantity": 2}]}) + "\n")
    process_inbox(hub, "files")
    assert run_flow(hub, "web2.feedback")["summary"]["kinds"]["shipments"]["sent"] == 1
    Worker(hub).drain()
    assert [p["id"] for op, _, p in shop.deliveries if op == "send_shipment"] == [f"SH-{prefix}"]
