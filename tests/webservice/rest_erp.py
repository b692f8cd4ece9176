"""A Commerceup-shaped custom ERP over REST and JSON, on 127.0.0.1: the test peer of the webservice
connector's REST example (``examples/webservice-rest/``).

It follows seed 002 ("How to integrate any ERP with Commerceup"): a create-customer API that
"must return new Customer ID created in ERP" (its sample is a ``GET /createcustomer`` whose JSON
request body holds the customer under ``body``), a create-order API that "must return new Order
ID", a cancel API that "must return success flag", and bearer-token authorization ("You can
also use bearer token authorization"). Like many custom ERPs it answers business errors inside
an HTTP 200 (``{"status": "failed", "message": ...}``) and refuses a second order with the same
shop number (HTTP 409). Master data and feedback are read with ``GET`` lists that take
``updated_since`` (ISO 8601) and, for products and customers, ``page``/``per_page`` with a
``total``. ``/health`` answers without a token. What is not in the seed (those lists, the
lookups by shop number, returns, invoice PDFs, ``POST /updatecustomer`` for a changed customer)
is the smallest REST shape such an ERP has.

The people working in the ERP are :class:`RestErp`'s methods (add products, ship part of an
order with a tracking number, receive a return); switches stop it (connections refused), make
it lose the next answer (processed, then the connection closed unanswered) or add a fixed
latency per call (the benchmark), or hold the answers of creating calls after processing
them (a worker killed in between).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import socket
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "cu-test-token-0123456789"
VAT = Decimal("0.19")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def after(stamp: str, since: str | None) -> bool:
    return since is None or dt.datetime.fromisoformat(stamp) > dt.datetime.fromisoformat(since.replace("Z", "+00:00"))


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


class RestErp:
    """The ERP's data and the people working in it."""

    def __init__(self, token: str = TOKEN):
        self.token = token
        self.lock = threading.Lock()
        self.ids = itertools.count(5001)
        self.products: dict[str, dict] = {}
        self.categories: dict[str, dict] = {}
        self.prices: dict[tuple, dict] = {}
        self.inventory: dict[tuple, dict] = {}
        self.customers: dict[str, dict] = {}
        self.updated_customers: list[str] = []  # the number of each customer changed, once per change
        self.orders: dict[str, dict] = {}
        self.shipments: dict[str, dict] = {}
        self.invoices: dict[str, dict] = {}
        self.returns: dict[str, dict] = {}
        self.credit_memos: dict[str, dict] = {}
        self.created = {"customers": 0, "orders": 0, "returns": 0}
        self.latency = 0.0
        self.hold_answers = 0.0  # seconds a creating call's answer waits after it was processed
        self.lose_next = threading.Event()
        self.server: ThreadingHTTPServer | None = None
        self.connections: set[socket.socket] = set()
        self.port = 0
        self.start()

    # -- the server -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def environment(self) -> dict[str, str]:
        """The variables the example config reads its secrets from."""
        return {"ERP_TOKEN": self.token}

    def start(self) -> None:
        """Serve (again) on the same port."""
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        """Stop serving: connections are refused until :meth:`start`, kept-alive ones are closed."""
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            connections, self.connections = list(self.connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- the people in the ERP --------------------------------------------------------------

    def add_product(self, sku: str, title: str, price: str, *, group: str | None = None, stamp: str | None = None,
                    stock: dict[str, int] | None = None) -> None:
        with self.lock:
            self.products[sku] = {"sku": sku, "title": title, "category": group, "price": price, "currency": "EUR",
                                  "uom": "PCE", "description": f"{title} from the ERP", "updated_at": stamp or now()}
            self.prices[(sku, None, 1)] = {"sku": sku, "price": price, "currency": "EUR", "min_qty": 1,
                                           "customer_id": None, "updated_at": stamp or now()}
            for warehouse, quantity in (stock or {}).items():
                self.inventory[(sku, warehouse)] = {"sku": sku, "warehouse": warehouse, "qty": quantity,
                                                    "updated_at": stamp or now()}

    def add_category(self, code: str, name: str, parent: str | None = None) -> None:
        with self.lock:
            self.categories[code] = {"code": code, "name": name, "parent": parent, "updated_at": now()}

    def set_price(self, sku: str, price: str, *, min_qty: int = 1, customer: str | None = None) -> None:
        with self.lock:
            self.prices[(sku, customer, min_qty)] = {"sku": sku, "price": price, "currency": "EUR", "min_qty": min_qty,
                                                     "customer_id": customer, "updated_at": now()}

    def set_stock(self, sku: str, warehouse: str, quantity: int) -> None:
        with self.lock:
            self.inventory[(sku, warehouse)] = {"sku": sku, "warehouse": warehouse, "qty": quantity, "updated_at": now()}

    def add_customer(self, reference: str | None, name: str, stamp: str | None = None) -> str:
        with self.lock:
            return self._customer({"reference": reference, "name": name, "email": None}, stamp)

    def _customer(self, body: dict, stamp: str | None = None) -> str:
        number = f"C{next(self.ids)}"
        self.customers[number] = {"customer_id": number, "reference": body.get("reference"), "name": body["name"],
                                  "email": body.get("email"), "phone": body.get("phone"),
                                  "address": body.get("address"), "state": "ACTIVE", "updated_at": stamp or now()}
        self.created["customers"] += 1
        return number

    def _update_customer(self, body: dict) -> tuple[int, Any]:
        """A changed customer, named by the ERP's number or, before the shop knew it, its own reference."""
        wanted = body.get("customer_id")
        customer = self.customers.get(wanted) or next(
            (c for c in self.customers.values() if wanted and c["reference"] == wanted), None)
        if customer is None:
            return 200, {"status": "failed", "message": f"Unknown customer {wanted}"}
        customer.update({k: body[k] for k in ("name", "email", "address", "ship_to") if k in body},
                        updated_at=now())
        self.updated_customers.append(customer["customer_id"])
        return 200, {"status": "success", "customer_id": customer["customer_id"]}

    def order(self, number: str) -> dict | None:
        return next((o for o in self.orders.values() if o["order_no"] == number), None)

    def count(self, what: str, number: str) -> int:
        """How many records of ``what`` the ERP holds for a shop number."""
        with self.lock:
            if what == "customers":
                return sum(1 for c in self.customers.values() if c["reference"] == number)
            if what == "orders":
                return sum(1 for o in self.orders.values() if o["order_no"] == number)
            if what == "cancelled":
                return sum(1 for o in self.orders.values() if o["order_no"] == number and o["status"] == "CANCELLED")
            return sum(1 for r in self.returns.values() if r["rma_no"] == number)

    def ship(self, number: str, tracking: str, quantities: dict[str, int] | None = None) -> str:
        """Ship (part of) an order: a shipment with its tracking number, and its invoice (freight on
        the first one, as seed 002 wants)."""
        with self.lock:
            order = self.order(number)
            open_ = {i["sku"]: i["qty"] - i["shipped"] for i in order["items"] if i["qty"] > i["shipped"]}
            shipping = {sku: q for sku, q in (quantities or open_).items() if q}
            stamp = now()
            shipment = f"SH-{next(self.ids)}"
            self.shipments[shipment] = {"shipment_id": shipment, "order_no": number, "shipped_at": stamp,
                                        "carrier": "DHL", "tracking": [tracking],
                                        "items": [{"sku": s, "qty": q} for s, q in shipping.items()], "updated_at": stamp}
            prices = {i["sku"]: Decimal(str(i["price"])) for i in order["items"]}
            for item in order["items"]:
                item["shipped"] += shipping.get(item["sku"], 0)
            first = not any(i["order_no"] == number for i in self.invoices.values())
            freight = Decimal(str(order["shipping_amount"])) if first else Decimal(0)
            net = sum((prices[s] * q for s, q in shipping.items()), Decimal(0)) + freight
            invoice = f"INV-{next(self.ids)}"
            self.invoices[invoice] = {
                "invoice_no": invoice, "order_no": number, "customer_id": order["customer_id"], "shipment_id": shipment,
                "date": stamp[:10], "currency": order["currency"], "freight": money(freight),
                "items": [{"sku": s, "qty": q, "amount": money(prices[s] * q)} for s, q in shipping.items()],
                "tax": money(net * VAT), "total": money(net * (1 + VAT)), "updated_at": stamp}
            order["status"] = "SHIPPED" if all(i["shipped"] >= i["qty"] for i in order["items"]) else "PARTIAL"
            order["updated_at"] = stamp
            return shipment

    def receive_return(self, rma: str) -> str:
        """The goods of a return arrived: its credit memo."""
        with self.lock:
            ret = next(r for r in self.returns.values() if r["rma_no"] == rma)
            order = self.order(ret["order_no"])
            prices = {i["sku"]: Decimal(str(i["price"])) for i in order["items"]}
            net = sum((prices[i["sku"]] * i["qty"] for i in ret["items"]), Decimal(0))
            memo, stamp = f"CM-{next(self.ids)}", now()
            self.credit_memos[memo] = {
                "memo_no": memo, "order_no": ret["order_no"], "customer_id": order["customer_id"], "date": stamp[:10],
                "currency": order["currency"], "total": money(net * (1 + VAT)), "updated_at": stamp,
                "items": [{"sku": i["sku"], "qty": i["qty"], "amount": money(prices[i["sku"]] * i["qty"])}
                          for i in ret["items"]]}
            ret["status"] = "RECEIVED"
            return memo

    # -- the API ----------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict[str, str], body: Any, headers: dict) -> tuple[int, Any]:
        if path == "/health":
            return 200, {"status": "ok"}
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"status": "error", "message": "invalid or missing bearer token"}
        with self.lock:
            route = (method, path)
            if route == ("GET", "/createcustomer"):
                customer = (body or {}).get("body") or {}
                if not customer.get("name"):
                    return 200, {"status": "failed", "message": "customer name is required"}
                return 200, {"status": "success", "customer_id": self._customer(customer)}
            if route == ("POST", "/updatecustomer"):
                return self._update_customer((body or {}).get("body") or {})
            if route == ("POST", "/createorder"):
                return self._create_order((body or {}).get("body") or {})
            if route == ("POST", "/cancelorder"):
                return self._cancel(body or {})
            if route == ("POST", "/createreturn"):
                return self._create_return((body or {}).get("body") or {})
            if method == "GET" and path.startswith("/invoices/") and path.endswith("/pdf"):
                number = path.split("/")[2]
                known = number in self.invoices or number in self.credit_memos
                return (200, b"%PDF-1.4\n% " + number.encode() + b"\n%%EOF\n") if known else \
                    (404, {"status": "error", "message": f"no document {number}"})
            lists = {"/products": self.products, "/categories": self.categories, "/prices": self.prices,
                     "/inventory": self.inventory, "/customers": self.customers, "/orderstatus": self.orders,
                     "/shipments": self.shipments, "/invoices": self.invoices, "/creditmemos": self.credit_memos,
                     "/returns": self.returns, "/orders": self.orders}
            if method == "GET" and path in lists:
                return 200, self._list(path, lists[path], query)
        return 404, {"status": "error", "message": f"no route {method} {path}"}

    def _create_order(self, body: dict) -> tuple[int, Any]:
        number = body.get("order_no")
        existing = self.order(number)
        if existing is not None:
            return 409, {"status": "failed", "message": f"order {number} exists as {existing['order_id']}"}
        unknown = [i["sku"] for i in body.get("items", []) if i["sku"] not in self.products]
        if unknown:
            return 200, {"status": "failed", "message": f"Unknown SKU {', '.join(unknown)}"}
        if body.get("customer_id") and body["customer_id"] not in self.customers:
            return 200, {"status": "failed", "message": f"Unknown customer {body['customer_id']}"}
        order_id = f"SO-{next(self.ids)}"
        self.orders[order_id] = {**body, "order_id": order_id, "status": "NEW", "updated_at": now(),
                                 "items": [{**i, "shipped": 0} for i in body["items"]],
                                 "shipping_amount": body.get("shipping", {}).get("amount", "0")}
        self.created["orders"] += 1
        return 200, {"status": "success", "order_id": order_id}

    def _cancel(self, body: dict) -> tuple[int, Any]:
        order = self.orders.get(body.get("order_id"))
        if order is None:
            return 200, {"success": False, "message": f"no order {body.get('order_id')}"}
        if order["status"] == "CANCELLED":
            return 200, {"success": True, "message": "already cancelled"}
        if any(i["shipped"] for i in order["items"]):
            return 200, {"success": False, "message": f"order {order['order_id']} has shipped"}
        order["status"], order["updated_at"] = "CANCELLED", now()
        return 200, {"success": True}

    def _create_return(self, body: dict) -> tuple[int, Any]:
        order = self.orders.get(body.get("order_id"))
        if order is None:
            return 200, {"status": "failed", "message": f"no order {body.get('order_id')}"}
        if any(r["rma_no"] == body.get("rma_no") for r in self.returns.values()):
            return 409, {"status": "failed", "message": f"return {body.get('rma_no')} exists"}
        return_id = f"R-{next(self.ids)}"
        self.returns[return_id] = {**body, "return_id": return_id, "order_no": order["order_no"], "status": "OPEN",
                                   "updated_at": now()}
        self.created["returns"] += 1
        return 200, {"status": "success", "return_id": return_id}

    @staticmethod
    def _list(path: str, table: dict, query: dict[str, str]) -> dict:
        rows = [r for r in table.values() if after(r["updated_at"], query.get("updated_since"))]
        for key in ("reference", "order_no", "rma_no"):
            if key in query:
                rows = [r for r in rows if r.get(key) == query[key]]
        rows = [{k: v for k, v in r.items() if k != "shipped"} for r in rows]
        name = path.strip("/")
        if "page" in query:
            page, size = int(query["page"]), int(query.get("per_page", 50))
            return {name: rows[(page - 1) * size: page * size], "page": page, "per_page": size, "total": len(rows)}
        return {name: rows}


class Tracked(BaseHTTPRequestHandler):
    """A handler whose connection the ERP closes when it stops (kept-alive ones too)."""

    protocol_version = "HTTP/1.1"
    erp: RestErp

    def setup(self) -> None:
        super().setup()
        with self.erp.lock:
            self.erp.connections.add(self.connection)

    def finish(self) -> None:
        with self.erp.lock:
            self.erp.connections.discard(self.connection)
        super().finish()

    def log_message(self, *args) -> None:
        pass


def _handler(the_erp: RestErp):
    erp = the_erp

    class Handler(Tracked):
        erp = the_erp

        def _serve(self) -> None:
            if erp.latency:
                time.sleep(erp.latency)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return self._send(400, {"status": "error", "message": "the body is not JSON"})
            status, answer = erp.answer(self.command, parts.path, query, body,
                                        {k.lower(): v for k, v in self.headers.items()})
            creating = self.command != "GET" or parts.path.startswith("/create")
            if creating and erp.hold_answers:
                time.sleep(erp.hold_answers)
            if creating and erp.lose_next.is_set():
                erp.lose_next.clear()
                self.close_connection = True  # processed, never answered
                return
            self._send(status, answer)

        def _send(self, status: int, answer: Any) -> None:
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/pdf" if isinstance(answer, bytes) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler
