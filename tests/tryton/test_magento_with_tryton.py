"""The seed's acceptance run (issue 12, item 4) with the real Tryton as the ERP and the Magento
double (every request and answer checked against Adobe's schema) as the shop, on SQLite and
PostgreSQL: a product made in Tryton reaches Magento disabled; the merchant enables it; an
order placed in Magento reaches Tryton once, is shipped in two parts with tracking, and Magento
shows both shipments and two invoices with the freight on the first; Tryton's new price and
stock reach Magento and the product stays enabled."""

from __future__ import annotations

import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config
from erpbridge.flows import push, run_flow
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.outbox.worker import Worker

sys.path.insert(0, str(Path(__file__).parents[1] / "magento"))
from magento_double import MagentoDouble  # noqa: E402


@pytest.fixture
def magento():
    double = MagentoDouble()
    yield double
    double.stop()
    assert not double.violations, "requests or answers broke Magento's schema:\n" + "\n".join(double.violations)


@pytest.fixture
def hub(db_url, tryton_server, magento, monkeypatch):
    monkeypatch.setattr(push, "SETTLE", 0)  # one thread writes here: nothing is still committing
    tryton = {"connector": "tryton", "url": tryton_server.url, "database": tryton_server.database,
              "user": tryton_server.user, "warehouses": {"WH": "main"}, "shipping_methods": {"standard": "FREIGHT"},
              "payment_methods": {"invoice": "Net 30"}}
    app = bootstrap(Config.model_validate({
        "store": {"url": db_url},
        "systems": {
            "erp": tryton | {"password": tryton_server.password},
            "magento": {"connector": "magento", "url": magento.url, "token": magento.token, "erp": "erp",
                        "new_products_enabled": False, "sources": {"main": "default"},
                        "shipping_methods": {"flatrate_flatrate": "standard"},
                        "payment_methods": {"checkmo": "invoice"}, "semaphore": {"max_lock_time": 1}},
        },
        "catalog": {"new_products_enabled": True},
        "outbox": {"lease_seconds": 3, "heartbeat_seconds": 0.5, "poll_interval": 0.05, "backoff_base": 0.1,
                   "backoff_max": 0.5},
    }))
    yield app
    app.close()


def ok(app, name: str) -> dict:
    run = run_flow(app, name)
    assert run["outcome"] == "ok", run
    return run["summary"]


def settle(app, seconds: float = 30) -> None:
    """Deliver until nothing is pending or running; no message may be dead."""
    deadline = time.monotonic() + seconds
    while True:
        Worker(app).drain()
        with app.engine.connect() as conn:
            left = conn.execute(select(m.c.state, m.c.operation, m.c.last_error)
                                .where(m.c.state.in_(("pending", "running", "dead")))).all()
        assert not [r for r in left if r.state == "dead"], left
        if not left:
            return
        assert time.monotonic() < deadline, left
        time.sleep(0.2)


def test_magento_sells_trytons_catalog(hub, erp, magento, prefix):
    sku = f"{prefix}-M"
    product = erp.product(sku, "Drill", "19.90")
    erp.receive(product, 20)
    for flow in ("erp.catalog", "erp.prices", "erp.stock", "magento.catalog", "magento.prices", "magento.stock"):
        ok(hub, flow)
    settle(hub)
    assert magento.products[sku]["status"] == 2  # disabled until the merchant enables it
    assert magento.base_prices[sku] == 19.9 and magento.source_items[(sku, "default")]["quantity"] == 20
    magento.enable(sku)

    # An order placed in Magento reaches Tryton once, even when the intake reads it again.
    number = f"M{prefix}"
    magento.place_order(number, [(sku, 3)])
    assert ok(hub, "orders")["new"] == 1
    assert ok(hub, "orders")["new"] == 0
    settle(hub)
    assert erp.count_sales(number) == 1 and erp.sale(number)["state"] == "processing"

    # Two part deliveries with tracking and an invoice each; Magento shows both, freight on the first.
    erp.ship(number, "TRACK-1", {product: 2})
    erp.post_invoices(number)
    erp.ship(number, "TRACK-2")
    erp.post_invoices(number)
    ok(hub, "erp.feedback")
    ok(hub, "magento.feedback")
    settle(hub)
    shipments = magento.documents("shipments", number)
    assert sorted(t["track_number"] for s in shipments for t in s["tracks"]) == ["TRACK-1", "TRACK-2"]
    assert sorted(sum(i["qty"] for i in s["items"]) for s in shipments) == [1, 2]
    invoices = magento.documents("invoices", number)
    assert len(invoices) == 2 and [i["shipping_amount"] for i in invoices] == [4.9, 0]
    assert ok(hub, "magento.feedback")["sent"] == 0  # nothing new: nothing sent again

    # Tryton changes the price and the stock: Magento shows them, the product stays enabled.
    template, = erp.rpc.model("product.product", "read", [product], ["template"])
    erp.rpc.model("product.template", "write", [template["template"]], {"list_price": Decimal("24.50")})
    erp.receive(product, 5)
    for flow in ("erp.catalog", "erp.prices", "erp.stock", "magento.catalog", "magento.prices", "magento.stock"):
        ok(hub, flow)
    settle(hub)
    assert magento.base_prices[sku] == 24.5
    assert magento.source_items[(sku, "default")]["quantity"] == 22  # 20 received - 3 shipped + 5
    assert magento.products[sku]["status"] == 1
