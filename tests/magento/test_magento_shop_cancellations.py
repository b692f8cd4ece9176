"""Cancellations and credit memos made in Magento's admin reach the ERP through the outbox as the
API's do, each exactly once however often order intake reads them again (deduplicated on the
Magento entity id); the ERP's own cancel and credit memos, which erpbridge wrote into Magento,
are not sent back; what cannot be taken is named in the run's report."""

from __future__ import annotations

import datetime as dt

import pytest
from erpbridge_testconnectors import peers
from sqlalchemy import select

from erpbridge.flows import push
from erpbridge.flows.scheduler import run_flow
from erpbridge.outbox.worker import Worker
from erpbridge.records import CreditMemo, OrderStatusUpdate, Product
from erpbridge.services.orders import cancel_order
from erpbridge.services.products import set_enabled
from erpbridge.store.tables import orders


@pytest.fixture
def app(magento_app, monkeypatch):
    monkeypatch.setattr(push, "SETTLE", 0)
    app = magento_app()
    app.records.put([Product(sku="A-1", name="Drill"), Product(sku="B-2", name="Saw")])
    set_enabled(app, enabled=True, skus=["A-1", "B-2"])
    return app


def intake(app) -> dict:
    run = run_flow(app, "orders")
    Worker(app).drain()
    return run


def sent(operation: str) -> list[dict]:
    return [payload for op, _, payload in peers.peer("erp").deliveries if op == operation]


def order_state(app, number: str) -> str:
    with app.engine.connect() as conn:
        return conn.execute(select(orders.c.state).where(orders.c.key == number)).scalar_one()


def test_an_order_canceled_in_magento_is_cancelled_in_the_erp_once(app, magento):
    magento.place_order("100000001", [("A-1", 2)])
    intake(app)
    magento.cancel("100000001")
    for _ in range(3):  # read again through the overlap window each time
        assert intake(app)["outcome"] == "ok"
    cancels = sent("cancel_order")
    assert [(c["id"], c["order"], c["reason"], c["lines"]) for c in cancels] == [
        ("magento-cancel-1", "100000001", "canceled in Magento", [])]
    assert order_state(app, "100000001") == "cancelled"


def test_an_order_awaiting_payment_canceled_in_magento_never_reaches_the_erp(app, magento):
    magento.place_order("100000002", [("A-1", 1)], payment="paypal_express", state="pending_payment")
    intake(app)
    magento.cancel("100000002")
    intake(app)
    assert sent("send_order") == sent("cancel_order") == []
    assert order_state(app, "100000002") == "cancelled"


def test_credit_memos_made_in_magento_are_returns_to_the_erp_each_once(app, magento):
    magento.place_order("100000003", [("A-1", 2), ("B-2", 1)])
    intake(app)
    magento.invoice("100000003")
    first = magento.refund("100000003", [("A-1", 1)])
    intake(app)
    second = magento.refund("100000003", [("A-1", 1), ("B-2", 1)])
    intake(app)
    intake(app)
    returns = sent("send_return")
    assert [(r["id"], [(line["sku"], line["quantity"]) for line in r["lines"]]) for r in returns] == [
        (f"magento-creditmemo-{first}", [("A-1", "1")]),
        (f"magento-creditmemo-{second}", [("A-1", "1"), ("B-2", "1")])]


def test_the_erps_own_cancel_and_credit_memo_are_not_sent_back(app, magento):
    magento.place_order("100000004", [("A-1", 1)])
    magento.place_order("100000005", [("A-1", 1)])
    intake(app)
    magento.invoice("100000005")
    connector = app.connector("magento")
    connector.deliver("send_order_status", OrderStatusUpdate(order="100000004", status="cancelled")
                      .model_dump(mode="json"), "k1")
    connector.deliver("send_credit_memo", CreditMemo(
        id="CM-1", order="100000005", issued_at=dt.date.today(), currency="EUR",
        lines=[{"sku": "A-1", "quantity": 1, "amount": "10"}], total="10").model_dump(mode="json"), "k2")
    assert magento.order("100000004")["state"] == "canceled" and len(magento.documents("creditmemos", "100000005")) == 1
    assert intake(app)["outcome"] == "ok"
    assert sent("cancel_order") == sent("send_return") == []


def test_a_credit_memo_the_store_cannot_take_is_named(app, magento):
    magento.place_order("100000006", [("A-1", 1)])
    intake(app)
    magento.invoice("100000006")
    cancel_order(app, "100000006", "by phone", [], "API-1")  # cancelled through the hub's API meanwhile
    memo = magento.refund("100000006", [("A-1", 1)])
    run = intake(app)
    assert run["outcome"] == "rejected"
    assert run["summary"]["kinds"]["orders"]["rejections"] == [
        f"magento: orders: credit memo {memo} of order 100000006: order 100000006 is cancelled; only an accepted "
        "order can be returned"]
    assert sent("send_return") == []
