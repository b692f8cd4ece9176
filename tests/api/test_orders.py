"""Order and customer writes over real HTTP: durable (order and message in one commit) before the
answer, validated with field paths, idempotent on the shop's numbers, and shown with their state."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import datetime as dt

import pytest
from sqlalchemy import insert, select

from erpbridge.connectors.base import DeliveryResult
from erpbridge.outbox.tables import outbox_messages
from erpbridge.outbox.worker import Worker
from erpbridge.records import CreditMemo, Invoice, OrderStatusUpdate, Shipment
from erpbridge.store.tables import bindings, orders

from .conftest import order_payload


def messages(hub, key=None):
    m = outbox_messages
    stmt = select(m.c.channel, m.c.operation, m.c.business_key, m.c.sequence, m.c.state).order_by(m.c.id)
    if key is not None:
        stmt = stmt.where(m.c.business_key == key)
    with hub.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(stmt)]


def test_an_accepted_order_is_committed_with_its_message_before_the_answer(api):
    with api.client("write:orders") as c:
        r = c.post("/api/v1/orders", json=order_payload())
    assert r.status_code == 201 and r.headers["location"] == "/api/v1/orders/SO-1"
    view = r.json()
    assert view["state"] == "accepted" and view["erp_id"] is None
    assert [(m["operation"], m["state"]) for m in view["messages"]] == [("send_order", "pending")]
    assert messages(api.hub) == [("erp", "send_order", "SO-1", 1, "pending")]
    assert api.hub.records.get("orders", "SO-1").grand_total == 228


def test_same_order_twice_is_one_order_other_content_is_409(api):
    with api.client("write:orders") as c:
        assert c.post("/api/v1/orders", json=order_payload()).status_code == 201
        again = c.post("/api/v1/orders", json=order_payload())
        assert again.status_code == 200 and again.headers["idempotent-replay"] == "true"
        other = c.post("/api/v1/orders", json=order_payload(shipping_method="ups"))
        assert other.status_code == 409 and other.headers["content-type"] == "application/problem+json"
    assert messages(api.hub) == [("erp", "send_order", "SO-1", 1, "pending")]


def test_concurrent_duplicates_make_one_order(api):
    def place(_):
        with api.client("write:orders") as c:
            return c.post("/api/v1/orders", json=order_payload("SO-RACE")).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(place, range(8)))
    assert codes == [200] * 7 + [201], str(codes)
    assert messages(api.hub, "SO-RACE") == [("erp", "send_order", "SO-RACE", 1, "pending")]


@pytest.mark.parametrize("change, path", [
    ({"lines": [{"sku": "NOPE", "quantity": "1", "unit_price": "1", "total": "1"}], "grand_total": "6"}, "lines.0.sku"),
    ({"lines": [{"sku": "OLD-1", "quantity": "1", "unit_price": "1", "total": "1"}], "grand_total": "6"}, "lines.0.sku"),
    ({"lines": [{"sku": "SAW-1", "quantity": "0", "unit_price": "1", "total": "0"}], "grand_total": "5"},
     "lines.0.quantity"),
    ({"lines": [{"sku": "SAW-1", "quantity": "2", "unit_price": "25", "total": "40"}], "grand_total": "45"}, "lines.0"),
    ({"grand_total": "1000.00"}, ""),
    ({"lines": []}, "lines"),
    ({"shipping_address": {"name": "X", "street": "S", "postcode": "1", "city": "C", "country": "Germany"}},
     "shipping_address.country"),
])
def test_invalid_orders_name_the_field(api, change, path):
    with api.client("write:orders") as c:
        r = c.post("/api/v1/orders", json=order_payload(**change))
    assert r.status_code == 422, r.text
    assert path in [e["path"] for e in r.json()["errors"]]
    assert messages(api.hub) == []


def test_electronic_payment_waits_for_the_acknowledgement(start_api):
    api = start_api(orders={"wait_for_payment": ["paypal"]})
    with api.client("write:orders") as c:
        r = c.post("/api/v1/orders", json=order_payload(payment_method="paypal"))
        assert r.json()["state"] == "awaiting_payment" and r.json()["messages"] == []
        assert messages(api.hub) == []
        paid = c.post("/api/v1/orders/SO-1/payment", json={"transaction_id": "PAY-9", "provider": "paypal"})
        assert paid.status_code == 200 and paid.json()["state"] == "accepted"
        assert c.post("/api/v1/orders/SO-1/payment", json={"transaction_id": "PAY-9"}).status_code == 200
        assert c.post("/api/v1/orders/NOPE/payment", json={"transaction_id": "PAY-9"}).status_code == 404
        assert c.post("/api/v1/orders/SO-1/payment", json={"transaction_id": "P", "tip": 1}).status_code == 422
    assert messages(api.hub) == [("erp", "send_order", "SO-1", 1, "pending")]


def test_cancel_items_then_the_rest_queues_behind_the_order(api):
    with api.client("write:orders") as c:
        c.post("/api/v1/orders", json=order_payload())
        part = c.post("/api/v1/orders/SO-1/cancellations", json={"id": "CX-1", "lines": [{"sku": "SAW-1", "quantity": "1"}]})
        assert part.status_code == 201 and part.json()["state"] == "accepted"
        assert c.post("/api/v1/orders/SO-1/cancellations",
                      json={"id": "CX-1", "lines": [{"sku": "SAW-1", "quantity": "1"}]}).status_code == 200
        too_many = c.post("/api/v1/orders/SO-1/cancellations", json={"lines": [{"sku": "DRILL-1", "quantity": "3"}]})
        assert too_many.status_code == 422 and too_many.json()["errors"][0]["path"] == "lines.0.quantity"
        whole = c.post("/api/v1/orders/SO-1/cancellations", json={"reason": "changed my mind"})
        assert whole.status_code == 201 and whole.json()["state"] == "cancelled"
        assert len(whole.json()["cancellations"]) == 2
        assert c.post("/api/v1/orders/SO-1/cancellations", json={"reason": "again"}).status_code == 409
    assert [(op, seq) for _, op, _, seq, _ in messages(api.hub, "SO-1")] == [
        ("send_order", 1), ("cancel_order", 2), ("cancel_order", 3)]


def test_cancelling_an_unpaid_order_sends_nothing(start_api):
    api = start_api(orders={"wait_for_payment": ["card"]})
    with api.client("write:orders") as c:
        c.post("/api/v1/orders", json=order_payload(payment_method="card"))
        assert c.post("/api/v1/orders/SO-1/cancellations", json={}).json()["state"] == "cancelled"
        assert c.post("/api/v1/orders/SO-1/payment", json={"transaction_id": "T"}).status_code == 409
    assert messages(api.hub) == []


def test_return_request(api):
    with api.client("write:orders") as c:
        c.post("/api/v1/orders", json=order_payload())
        r = c.post("/api/v1/orders/SO-1/returns", json={"id": "RMA-1", "lines": [{"sku": "DRILL-1", "quantity": "1",
                                                                                   "reason": "broken"}]})
        assert r.status_code == 201 and r.json()["returns"][0]["id"] == "RMA-1"
        assert c.post("/api/v1/orders/SO-1/returns", json={"lines": [{"sku": "X", "quantity": "1"}]}).status_code == 422
        assert c.post("/api/v1/orders/SO-1/returns", json={"lines": []}).status_code == 422
    assert messages(api.hub, "SO-1")[-1][1] == "send_return"


def test_order_view_shows_erp_id_status_feedback_and_messages(api):
    with api.client("write:orders") as c:
        c.post("/api/v1/orders", json=order_payload())
        assert c.get("/api/v1/orders/NOPE").status_code == 404
    now = dt.datetime.now(dt.timezone.utc)
    with api.hub.engine.begin() as conn:
        conn.execute(insert(bindings).values(kind="orders", key="SO-1", system="erp", external_id="SALE-77",
                                             created_at=now, updated_at=now))
    api.hub.records.put([
        OrderStatusUpdate(order="SO-1", status="partially_shipped", erp_id="SALE-77"),
        Shipment(id="SH-1", order="SO-1", carrier="DHL", tracking_numbers=["00340434"], lines=[{"sku": "DRILL-1", "quantity": 1}]),
        Invoice(id="INV-1", order="SO-1", shipment="SH-1", issued_at=dt.date.today(), currency="EUR", total=104,
                freight_amount=5),
        CreditMemo(id="CM-1", order="SO-1", issued_at=dt.date.today(), currency="EUR", total=10),
    ])
    with api.client("write:orders") as c:
        view = c.get("/api/v1/orders/SO-1").json()
    assert (view["erp_id"], view["status"]) == ("SALE-77", "partially_shipped")
    assert view["shipments"][0]["tracking_numbers"] == ["00340434"]
    assert [i["id"] for i in view["invoices"]] == ["INV-1"] and [m["id"] for m in view["credit_memos"]] == ["CM-1"]
    assert view["messages"][0]["operation"] == "send_order"


class NumberingErp:
    """An ERP connector that creates customers and answers their number."""

    def deliver(self, operation, payload, idempotency_key):
        return DeliveryResult(external_id=f"ERP-{payload['number']}")


def test_customer_created_with_the_erp_number_when_it_answers_in_time(api):
    stop = threading.Event()
    worker = Worker(api.hub, connectors={"erp": NumberingErp()})
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        with api.client("write:orders") as c:
            r = c.post("/api/v1/customers", json={"reference": "web-42", "name": "Erika Muster",
                                                 "email": "erika@example.com"})
    finally:
        stop.set()
        thread.join(10)
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["number"]) == ("created", "ERP-web-42")


def test_customer_pending_with_a_poll_link_when_the_erp_is_slow(start_api):
    api = start_api(api={"realtime": {"customer_create_wait": 0.2}})
    body = {"reference": "web-43", "name": "Max Muster"}
    with api.client("write:orders") as c:
        r = c.post("/api/v1/customers", json=body)
        assert r.status_code == 202 and r.json()["status"] == "pending" and r.json()["number"] is None
        poll = r.headers["location"]
        assert poll == "/api/v1/customer-requests/web-43"
        assert c.post("/api/v1/customers", json=body).json()["message"]["id"] == r.json()["message"]["id"]
        assert c.post("/api/v1/customers", json={**body, "name": "Other"}).status_code == 409
        assert c.post("/api/v1/customers", json={**body, "nickname": "M"}).status_code == 422
        Worker(api.hub, connectors={"erp": NumberingErp()}).drain()
        done = c.get(poll).json()
        assert (done["status"], done["number"]) == ("created", "ERP-web-43")
        assert c.get("/api/v1/customer-requests/unknown").status_code == 404


def test_concurrent_orders_share_commits_but_fail_alone(api):
    """Orders arriving together may share one commit (SQLite group commit): a refused or
    conflicting order among them is answered alone, every accepted one is stored with its message."""
    def place(i):
        body = order_payload(f"SO-MIX-{i}")
        if i % 4 == 1:
            body["lines"][0]["sku"] = "NOPE"
        with api.client("write:orders") as c:
            first = c.post("/api/v1/orders", json=body).status_code
            conflict = c.post("/api/v1/orders", json={**body, "shipping_method": "ups"}).status_code
            return i, first, conflict

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(place, range(32)))
    for i, first, conflict in results:
        assert (first, conflict) == ((422, 422) if i % 4 == 1 else (201, 409)), (i, first, conflict)
    accepted = sorted(f"SO-MIX-{i}" for i in range(32) if i % 4 != 1)
    with api.hub.engine.connect() as conn:
        stored = sorted(conn.execute(select(orders.c.key).where(orders.c.key.like("SO-MIX-%"))).scalars())
    assert stored == accepted
    assert sorted(key for _, op, key, seq, _ in messages(api.hub) if op == "send_order") == accepted


def test_sqlite_writes_arriving_together_share_a_commit(api):
    from erpbridge.services.transaction import retrying

    if api.hub.engine.dialect.name != "sqlite":
        pytest.skip("group commit is for SQLite's single writer")
    transactions = []

    def work(conn):
        transactions.append(conn.get_transaction())
        time.sleep(0.01)
        return len(transactions)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: retrying(api.hub.engine, work), range(32)))
    assert sorted(answers) == list(range(1, 33))
    assert len({id(t) for t in transactions}) < 32 / 2, "writes that arrived together did not share commits"
