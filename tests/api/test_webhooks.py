"""Webhooks to the shop, end to end over real HTTP: an order placed through the running API and
feedback/catalog changes written to the store become signed events that the outbox's worker
POSTs to a receiver on 127.0.0.1, which checks them the way a shop would (HMAC-SHA256 over
"<t>.<body>" with its secret, a recent timestamp, each event id once); failures are retried and
every POST is in the exchange log."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from erpbridge.cli import cli
from erpbridge.connectors.webhooks import sign, verify_signature
from erpbridge.exchange import ExchangeLog
from erpbridge.outbox.worker import Worker
from erpbridge.records import CreditMemo, Invoice, OrderStatusUpdate, Price, Product, Shipment, StockLevel
from erpbridge.services.webhook_events import publish_changes, run_publisher

from .conftest import order_payload

SECRET = "whsec-test-1"
TOLERANCE = 300


class ShopReceiver:
    """The shop's webhook endpoint: verifies like a shop, remembers event ids (replays are
    refused with 409), and answers 500 to the first ``fail_first`` deliveries."""

    def __init__(self, fail_first: int = 0):
        self.events: list[dict] = []
        self.raw: list[tuple[dict, bytes]] = []
        self.refused: list[str] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.receive(dict(self.headers), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def receive(self, headers: dict, body: bytes) -> int:
        if self.fail_first > 0:
            self.fail_first -= 1
            return 500
        reason = check_as_a_shop(headers.get("Erpbridge-Signature", ""), body, seen={e["id"] for e in self.events})
        if reason:
            self.refused.append(reason)
            return 409 if reason == "replayed" else 400
        self.raw.append((headers, body))
        self.events.append(json.loads(body))
        return 204

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def check_as_a_shop(header: str, body: bytes, *, seen: set, now: float | None = None) -> str | None:
    """The receiver's side, written from the documented format alone (not erpbridge's code)."""
    fields = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    if "t" not in fields or "v1" not in fields:
        return "unsigned"
    if abs((now or time.time()) - int(fields["t"])) > TOLERANCE:
        return "stale"
    expected = hmac.new(SECRET.encode(), fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["v1"]):
        return "bad signature"
    if json.loads(body)["id"] in seen:
        return "replayed"
    return None


@pytest.fixture
def receiver():
    r = ShopReceiver()
    yield r
    r.stop()


def hooks_config(tmp_path, receiver, events=("*",), scan_interval=0.2) -> dict:
    return {"systems": {"erp": {"connector": "files", "inbox": str(tmp_path / "in"), "outbox": str(tmp_path / "out")},
                        "shop_hooks": {"connector": "webhooks", "settle": 0, "scan_interval": scan_interval,
                                       "allow_private_targets": True,  # the receiver is on 127.0.0.1
                                       "subscribers": [{"name": "shop", "url": receiver.url, "secret": SECRET,
                                                        "events": list(events)}]}},
            "outbox": {"backoff_base": 0.05, "backoff_max": 0.1}}


def deliver(hub, until, timeout=10.0):
    """Run the outbox's worker until ``until()`` holds."""
    worker = Worker(hub)
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "webhooks were not delivered in time"
        worker.drain()
        time.sleep(0.05)
    worker.exchange_log.flush()


def test_an_order_placed_over_http_is_announced_signed(start_api, receiver, tmp_path):
    api = start_api(**hooks_config(tmp_path, receiver))
    with api.client("write:orders") as c:
        assert c.post("/api/v1/orders", json=order_payload()).status_code == 201
        assert c.post("/api/v1/orders", json=order_payload()).status_code == 200  # a repeat announces nothing
        assert c.post("/api/v1/orders/SO-1/cancellations", json={"reason": "no"}).status_code == 201
    deliver(api.hub, lambda: len(receiver.events) >= 2)
    assert [(e["type"], e["data"]["order"]) for e in receiver.events] == [("order.accepted", "SO-1"),
                                                                          ("order.cancelled", "SO-1")]
    headers, body = receiver.raw[0]
    assert headers["Erpbridge-Event"] == "order.accepted" and headers["Content-Type"] == "application/json"
    assert verify_signature(SECRET, headers["Erpbridge-Signature"], body)
    assert receiver.refused == []


def test_feedback_and_catalog_changes_become_events_once(start_api, receiver, tmp_path):
    # The server's own publisher makes one pass at start-up, then waits an hour: this test's
    # passes are the only ones after it.
    api = start_api(**hooks_config(tmp_path, receiver, scan_interval=3600))
    hub = api.hub
    time.sleep(0.3)
    assert publish_changes(hub)["shipments"] == 0  # the first pass only starts the cursors
    time.sleep(0.01)
    today = dt.date.today()
    hub.records.put([
        OrderStatusUpdate(order="SO-7", status="shipped", erp_id="SALE-7"),
        Shipment(id="SH-7", order="SO-7", carrier="DHL", tracking_numbers=["0034"], lines=[{"sku": "DRILL-1",
                                                                                             "quantity": 1}]),
        Invoice(id="INV-7", order="SO-7", shipment="SH-7", issued_at=today, currency="EUR", total=104),
        CreditMemo(id="CM-7", order="SO-7", issued_at=today, currency="EUR", total=10),
        Product(sku="NEW-1", name="New"), Price(sku="SAW-1", amount=Decimal("24.00"), currency="EUR"),
        StockLevel(sku="SAW-1", warehouse="MAIN", quantity=Decimal(9)),
    ])
    counts = publish_changes(hub)
    assert counts == {"order_statuses": 1, "shipments": 1, "invoices": 1, "credit_memos": 1, "products": 1,
                      "prices": 1, "stock": 1}
    assert set(publish_changes(hub).values()) == {0}  # nothing changed since: nothing announced again
    hub.records.put([Shipment(id="SH-7", order="SO-7", carrier="DHL", tracking_numbers=["0034"],
                              lines=[{"sku": "DRILL-1", "quantity": 1}])])  # unchanged content
    assert publish_changes(hub)["shipments"] == 0
    deliver(hub, lambda: len(receiver.events) >= 7)
    by_type = {e["type"]: e["data"] for e in receiver.events}
    assert by_type["order.status"]["record"]["status"] == "shipped"
    assert by_type["order.shipment"]["record"]["tracking_numbers"] == ["0034"]
    assert by_type["order.invoice"]["record"]["id"] == "INV-7"
    assert by_type["order.credit_memo"]["record"]["id"] == "CM-7"
    assert by_type["product.changed"] == {"skus": ["NEW-1"]}
    assert by_type["price.changed"] == {"skus": ["SAW-1"]} and by_type["stock.changed"] == {"skus": ["SAW-1"]}
    # One order's feedback arrives in the order it was published.
    assert [e["type"] for e in receiver.events if e["type"].startswith("order.")] == [
        "order.status", "order.shipment", "order.invoice", "order.credit_memo"]
    assert receiver.refused == [] and len(receiver.events) == 7


def test_the_running_server_publishes_changes_by_itself(start_api, receiver, tmp_path):
    api = start_api(**hooks_config(tmp_path, receiver, events=["stock.changed"]))
    time.sleep(0.5)  # the server's first pass starts the cursors
    api.hub.records.put([StockLevel(sku="DRILL-1", warehouse="MAIN", quantity=Decimal(1))])
    deliver(api.hub, lambda: len(receiver.events) >= 1)
    assert [(e["type"], e["data"]) for e in receiver.events] == [("stock.changed", {"skus": ["DRILL-1"]})]


def test_without_the_api_run_publishes_changes_in_its_own_thread(db_url, receiver, tmp_path):
    from erpbridge.bootstrap import bootstrap
    from erpbridge.config import Config

    hub = bootstrap(Config.model_validate({"store": {"url": db_url}, **hooks_config(tmp_path, receiver)}))
    stop = threading.Event()
    publisher = threading.Thread(target=run_publisher, args=(hub, stop))
    publisher.start()
    try:
        time.sleep(0.5)  # the first pass starts the cursors
        hub.records.put([StockLevel(sku="DRILL-2", warehouse="MAIN", quantity=Decimal(3))])
        deliver(hub, lambda: len(receiver.events) >= 1)
    finally:
        stop.set()
        publisher.join(timeout=10)
        hub.close()
    assert not publisher.is_alive()
    assert [(e["type"], e["data"]) for e in receiver.events] == [("stock.changed", {"skus": ["DRILL-2"]})]


def test_a_failing_receiver_is_retried_and_each_post_is_in_the_exchange_log(start_api, tmp_path):
    receiver = ShopReceiver(fail_first=2)
    try:
        api = start_api(**hooks_config(tmp_path, receiver, events=["order.accepted"]))
        with api.client("write:orders") as c:
            assert c.post("/api/v1/orders", json=order_payload()).status_code == 201
        deliver(api.hub, lambda: len(receiver.events) == 1)
    finally:
        receiver.stop()
    log = ExchangeLog.for_app(api.hub).query(system="shop_hooks")
    outcomes = [(e["point"], e["outcome"]) for e in reversed(log)]
    assert [p for p, _ in outcomes] == ["outbox.webhook"] * 3
    assert outcomes[-1][1] == "ok" and all(o != "ok" for _, o in outcomes[:2])
    assert "HTTP 500" in (list(reversed(log))[0]["error"] or "")


def test_signatures_refuse_tampering_stale_timestamps_and_replays(start_api, receiver, tmp_path):
    api = start_api(**hooks_config(tmp_path, receiver, events=["order.accepted"]))
    with api.client("write:orders") as c:
        c.post("/api/v1/orders", json=order_payload())
    deliver(api.hub, lambda: len(receiver.events) == 1)
    headers, body = receiver.raw[0]
    header = headers["Erpbridge-Signature"]
    t = int(header.split(",")[0].removeprefix("t="))
    # A captured request sent again is refused by its event id, and after the tolerance by its age.
    assert check_as_a_shop(header, body, seen={receiver.events[0]["id"]}) == "replayed"
    assert check_as_a_shop(header, body, seen=set(), now=t + TOLERANCE + 1) == "stale"
    assert not verify_signature(SECRET, header, body, now=t + TOLERANCE + 1)
    # Another body, another secret, or a re-dated header do not verify.
    assert check_as_a_shop(header, body.replace(b"SO-1", b"SO-2"), seen=set()) == "bad signature"
    assert not verify_signature("other-secret", header, body)
    redated = header.replace(f"t={t}", f"t={t + 1}")
    assert check_as_a_shop(redated, body, seen=set()) == "bad signature"
    assert sign(SECRET, body, t) == header


def test_webhooks_publish_cli(tmp_path, db_url, receiver):
    import yaml

    config = tmp_path / "erpbridge.yaml"
    config.write_text(yaml.safe_dump({"store": {"url": db_url}, **hooks_config(tmp_path, receiver)}))
    runner = CliRunner()
    first = runner.invoke(cli, ["-c", str(config), "webhooks", "publish", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["stock"] == 0
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump({"store": {"url": db_url}}))
    refused = runner.invoke(cli, ["-c", str(bare), "webhooks", "publish"])
    assert refused.exit_code == 2 and "no system with connector: webhooks" in refused.output
