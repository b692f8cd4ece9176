"""An Odoo 17-19 on 127.0.0.1: the test double of the odoo connector.

Odoo itself cannot run here (not on PyPI, no Debian package, PostgreSQL and ~100 dependencies),
so this double follows its published contract, both external APIs over one ORM
(:mod:`odoo_orm`, SQLite, one transaction per call, Odoo's retry on serialization failures):

* ``POST /jsonrpc`` (``odoo/http.py`` ``JsonRPCDispatcher``, ``odoo/service/common.py``,
  ``odoo/service/model.py``): services ``common`` (``version``, ``login``, ``authenticate``)
  and ``object`` (``execute_kw(db, uid, password, model, method, args, kwargs)``; the password
  may be an API key). Every answer is HTTP 200; a failure is ``{"error": {"code": 200,
  "message": "Odoo Server Error", "data": {"name", "message", "arguments", "context",
  "debug"}}}`` with ``name`` the exception's ``module.Class`` (``serialize_exception``); a
  wrong password is ``odoo.exceptions.AccessDenied`` ("Access Denied").
* ``POST /json/2/<model>/<method>`` (``addons/web/controllers/json2.py``, Odoo 19):
  ``Authorization: bearer <api key>`` (else 401 "Invalid apikey"), the body the named arguments
  plus ``ids`` and ``context`` (not a JSON object: 400), other methods than POST 405, an unknown
  model or method 404, ``ids`` for an ``@api.model`` method or arguments that do not fit the
  signature 422, a ``UserError`` its ``http_status`` (422), anything else 500
  "internal server error"; the body of an error is the documented ``{"name": "werkzeug.exceptions.
  Unauthorized", "message", "arguments", "context", "debug"}``
  (``odoo/documentation:content/developer/reference/external_api.rst``), or with ``bare_errors``
  the message alone as a JSON string, as the ``handle_error`` of the json2.py read answers it
  (``make_json_response(msg, status=...)``). A success is the method's return value as JSON.

The people working in Odoo are :class:`OdooDouble`'s methods (add products and stock, validate
a delivery with a tracking number, which invoices what it shipped, receive a return, which makes
the credit note); switches stop it (connections refused), make the next write be processed but
its answer lost, hold the answers of writes (a worker killed in between), make calls meet
serialization failures (``orm.conflicts``) or add a latency per call.
"""

from __future__ import annotations

import base64
import datetime as dt
import inspect
import json
import os
import socket
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from odoo_orm import _METHODS, API_MODEL, MODELS, AccessDenied, Env, OdooException, Orm, now

DATABASE, LOGIN, API_KEY = "shop", "erpbridge", "odoo-test-api-key-0123456789"
UID = 2
WRITES = frozenset({"create", "write", "action_confirm", "action_cancel", "unlink"})
VAT = 0.19


class OdooDouble:
    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="odoo-double-")
        self.orm = Orm(os.path.join(self.folder, "odoo.sqlite"))
        self.latency = 0.0
        self.bare_errors = False  # JSON-2 errors as the message alone (a JSON string)
        self.hold_answers = 0.0
        self.lose_next = threading.Event()
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self.server: ThreadingHTTPServer | None = None
        self.port = 0
        self._setup()
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def environment(self) -> dict[str, str]:
        return {"ODOO_URL": self.url, "ODOO_DATABASE": DATABASE, "ODOO_LOGIN": LOGIN, "ODOO_API_KEY": API_KEY}

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            connections, self.connections = list(self.connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- the wire ---------------------------------------------------------------------------

    def jsonrpc(self, body: Any) -> tuple[Any, bool]:
        """(the answer, whether the call wrote)."""
        request_id = body.get("id") if isinstance(body, dict) else None
        try:
            params = body["params"]
            service, method, args = params["service"], params["method"], list(params.get("args", []))
            if service == "common":
                if method == "version":
                    return {"jsonrpc": "2.0", "id": request_id, "result": {"server_version": "19.0",
                                                                           "protocol_version": 1}}, False
                if method in ("login", "authenticate"):
                    db, login, password = args[:3]
                    uid = UID if (db, login, password) == (DATABASE, LOGIN, API_KEY) else False
                    return {"jsonrpc": "2.0", "id": request_id, "result": uid}, False
            if service != "object" or method not in ("execute", "execute_kw"):
                raise NameError(f"Method not available {method}")
            db, uid, password, model, name, *rest = args
            if (db, int(uid), password) != (DATABASE, UID, API_KEY):
                raise AccessDenied("Access Denied")
            if method == "execute_kw":
                call_args, kwargs = (list(rest[0]) if rest else []), (rest[1] if len(rest) > 1 else {}) or {}
            else:
                call_args, kwargs = rest, {}
            if model not in MODELS:
                raise OdooException(f"Object {model} doesn't exist")  # execute_cr: UserError
            ids = None if name in API_MODEL else (call_args.pop(0) if call_args else [])
            result = self.orm.call(model, name, ids, call_args, kwargs)
            return {"jsonrpc": "2.0", "id": request_id, "result": result}, name in WRITES
        except Exception as exc:  # odoo/http.py JsonRPCDispatcher.handle_error
            return {"jsonrpc": "2.0", "id": request_id,
                    "error": {"code": 200, "message": "Odoo Server Error", "data": _serialized(exc)}}, False

    def json2(self, method: str, path: str, headers: dict, raw: bytes) -> tuple[int, Any, bool]:
        """(status, answer, whether the call wrote)."""
        parts = path.strip("/").split("/")
        if headers.get("authorization", "").split(" ", 1)[-1] != API_KEY or \
                headers.get("authorization", "").split(" ", 1)[0].lower() != "bearer":
            return 401, _error_body("werkzeug.exceptions.Unauthorized", "Invalid apikey", 401), False
        if len(parts) != 4:
            return 404, _error_body("werkzeug.exceptions.NotFound", "Did you mean POST /json/2/<model>/<method>?",
                                    404), False
        if method != "POST":
            return 405, _error_body("werkzeug.exceptions.MethodNotAllowed",
                                    "The method is not allowed for the requested URL.", 405), False
        model, name = parts[2], parts[3]
        try:
            params = json.loads(raw) if raw else {}
        except ValueError as exc:
            return 400, _error_body("werkzeug.exceptions.BadRequest", f"could not parse the body as json: {exc}",
                                    400), False
        if not isinstance(params, dict):
            return 400, _error_body("werkzeug.exceptions.BadRequest",
                                    "could not parse the body, expecting a json object", 400), False
        if model not in MODELS:
            return 404, _error_body("werkzeug.exceptions.NotFound", f"the model {model!r} does not exist", 404), False
        try:
            function = self._function(model, name)
        except AttributeError as exc:
            return 404, _error_body("werkzeug.exceptions.NotFound", str(exc), 404), False
        ids = params.pop("ids", None)
        params.pop("context", None)
        if name in API_MODEL and ids:
            return 422, _error_body("werkzeug.exceptions.UnprocessableEntity", f"cannot call {model}.{name} with ids",
                                    422), False
        args, kwargs = params.pop("args", []), {**params.pop("kwargs", {}), **params}
        try:
            inspect.signature(function).bind(None, model, ids, *args, **kwargs)
        except TypeError as exc:
            return 422, _error_body("werkzeug.exceptions.UnprocessableEntity", str(exc), 422), False
        try:
            result = self.orm.call(model, name, None if name in API_MODEL else (ids or []), args, kwargs)
        except OdooException as exc:
            if exc.http_status >= 500:
                return 500, _error_body(exc.name, "internal server error", 500), False
            return exc.http_status, _error_body(exc.name, exc.message, exc.http_status), False
        except Exception as exc:
            return 500, _error_body(f"{type(exc).__module__}.{type(exc).__name__}", "internal server error", 500), False
        return 200, result, name in WRITES

    @staticmethod
    def _function(model: str, name: str):
        function = _METHODS.get((model, name)) or _METHODS.get(("*", name))
        if function is None or name.startswith("_"):
            raise AttributeError(f"The method '{name}' does not exist on the model '{model}'")
        return function

    # -- the people in Odoo -------------------------------------------------------------------

    def run(self, work):
        return self.orm.transaction(work)

    def _setup(self) -> None:
        def setup(env: Env):
            for code, name in (("DE", "Germany"), ("AT", "Austria"), ("US", "United States")):
                env.create("res.country", [{"code": code, "name": name}])
            env.create("res.currency", [{"name": "EUR"}])
            for code, name in (("WH", "Main warehouse"), ("WH2", "South warehouse")):
                wh, = env.create("stock.warehouse", [{"code": code, "name": name}])
                location, = env.create("stock.location", [{"name": f"{code}/Stock", "usage": "internal",
                                                           "warehouse_id": wh}])
                env.write("stock.warehouse", [wh], {"lot_stock_id": location})
            env.create("res.partner", [{"name": "My Company", "is_company": True}])
            env.create("product.pricelist", [{"name": "Default", "currency_id": 1},
                                             {"name": "Volume", "currency_id": 1}])
        self.run(setup)
        self.add_product("FREIGHT", "Shipping", "0", service=True)

    def _id(self, env: Env, model: str, domain: list) -> int | None:
        ids = env.search(model, domain, limit=1)
        return ids[0] if ids else None

    def add_category(self, name: str, parent: str | None = None) -> int:
        def add(env):
            parent_id = self._id(env, "product.category", [["name", "=", parent]]) if parent else False
            return env.create("product.category", [{"name": name, "parent_id": parent_id}])[0]
        return self.run(add)

    def add_product(self, sku: str, name: str, price: str, *, group: str | None = None, stock: dict | None = None,
                    stamp: str | None = None, service: bool = False) -> int:
        def add(env):
            categ = self._id(env, "product.category", [["name", "=", group]]) if group else False
            stamped = {"__stamp": stamp} if stamp else {}
            template, = env.create("product.template", [{"name": name, "default_code": sku, "list_price": float(price),
                                                         "categ_id": categ, "type": "service" if service else "consu",
                                                         **stamped}])
            product, = env.create("product.product", [{"product_tmpl_id": template, "default_code": sku, **stamped}])
            return product
        product = self.run(add)
        for warehouse, quantity in (stock or {}).items():
            self.set_stock(sku, warehouse, quantity)
        return product

    def set_stock(self, sku: str, warehouse: str, quantity: float) -> None:
        def put(env):
            product = self._id(env, "product.product", [["default_code", "=", sku]])
            wh = self._id(env, "stock.warehouse", [["code", "=", warehouse]])
            location = env.row("stock.warehouse", wh)["lot_stock_id"]
            quant = self._id(env, "stock.quant", [["product_id", "=", product], ["location_id", "=", location]])
            if quant:
                env.write("stock.quant", [quant], {"quantity": float(quantity)})
            else:
                env.create("stock.quant", [{"product_id": product, "location_id": location, "warehouse_id": wh,
                                            "quantity": float(quantity)}])
        self.run(put)

    def set_price(self, sku: str, price: str, *, min_qty: float = 0, pricelist: str = "Volume") -> None:
        def put(env):
            product = self._id(env, "product.product", [["default_code", "=", sku]])
            pricelist_id = self._id(env, "product.pricelist", [["name", "=", pricelist]])
            env.create("product.pricelist.item", [{"pricelist_id": pricelist_id, "product_id": product,
                                                   "applied_on": "0_product_variant", "min_quantity": float(min_qty),
                                                   "fixed_price": float(price)}])
        self.run(put)

    def add_pricelist(self, name: str) -> int:
        return self.run(lambda env: env.create("product.pricelist", [{"name": name, "currency_id": 1}])[0])

    def add_customer(self, ref: str | None, name: str, *, stamp: str | None = None, email: str | None = None,
                     deliveries: tuple[dict, ...] = (), pricelist: str | None = None) -> int:
        def add(env):
            country = self._id(env, "res.country", [["code", "=", "DE"]])
            stamped = {"__stamp": stamp} if stamp else {}
            if pricelist:
                stamped["property_product_pricelist"] = self._id(env, "product.pricelist", [["name", "=", pricelist]])
            return env.create("res.partner", [{
                "name": name, "ref": ref or False, "email": email or False, "street": "Main St 1", "zip": "10115",
                "city": "Berlin", "country_id": country, **stamped,
                "child_ids": [[0, 0, {"type": "delivery", "name": d.get("name", name), "street": d["street"],
                                      "zip": d["zip"], "city": d["city"], "country_id": country, **stamped}]
                              for d in deliveries]}])[0]
        return self.run(add)

    def order(self, number: str) -> dict | None:
        def find(env):
            ids = env.search("sale.order", [["client_order_ref", "=", number]])
            return env.one("sale.order", ids[0]) if ids else None
        return self.run(find)

    def count(self, what: str, number: str) -> int:
        domain = {"orders": ("sale.order", [["client_order_ref", "=", number]]),
                  "customers": ("res.partner", [["ref", "=", number]]),
                  "cancelled": ("sale.order", [["client_order_ref", "=", number], ["state", "=", "cancel"]]),
                  "returns": ("stock.picking", [["picking_type_code", "=", "incoming"],
                                                ["origin", "ilike", f"return {number}"]])}[what]
        return self.run(lambda env: len(env.search(*domain)))

    def ship(self, number: str, tracking: str, quantities: dict[str, float] | None = None) -> str:
        """Validate the order's open delivery (all of it, or ``quantities`` by SKU with a backorder
        for the rest, as the "create backorder" button does), then invoice what it shipped:
        goods as delivered, services (freight) with the first invoice (invoice policy "order")."""
        def ship(env):
            sale = env.search("sale.order", [["client_order_ref", "=", number]])[0]
            order = env.row("sale.order", sale)
            picking = env.search("stock.picking", [["sale_id", "=", sale], ["state", "=", "assigned"],
                                                   ["picking_type_code", "=", "outgoing"]])[0]
            moves = env.read("stock.move", env.search("stock.move", [["picking_id", "=", picking]]),
                             ["product_id", "product_uom_qty", "sale_line_id", "name"])
            rest = []
            for move in moves:
                sku = env.row("product.product", move["product_id"][0])["default_code"]
                done = move["product_uom_qty"] if quantities is None else min(quantities.get(sku, 0),
                                                                             move["product_uom_qty"])
                env.write("stock.move", [move["id"]], {"quantity": done, "product_uom_qty": done, "state": "done"})
                line = env.row("sale.order.line", move["sale_line_id"][0])
                env.write("sale.order.line", [line["id"]], {"qty_delivered": (line.get("qty_delivered") or 0) + done})
                if move["product_uom_qty"] > done:
                    rest.append((move, move["product_uom_qty"] - done))
            env.write("stock.picking", [picking],
                      {"state": "done", "date_done": now(), "carrier_tracking_ref": tracking})
            if rest:
                env.create("stock.picking", [{
                    "origin": order["name"], "sale_id": sale, "partner_id": order["partner_id"], "state": "assigned",
                    "picking_type_code": "outgoing", "backorder_id": picking,
                    "move_ids": [[0, 0, {"product_id": m["product_id"][0], "product_uom_qty": q, "quantity": 0,
                                         "name": m["name"], "sale_line_id": m["sale_line_id"][0], "state": "assigned"}]
                                 for m, q in rest]}])
            env.write("sale.order", [sale], {"delivery_status": "partial" if rest else "full"})
            shipped = [(env.row("stock.move", m["id"])) for m in moves]
            first = not env.search("account.move", [["invoice_origin", "=", order["name"]],
                                                    ["move_type", "=", "out_invoice"]])
            lines = [(m["product_id"], env.row("sale.order.line", m["sale_line_id"]), m["quantity"])
                     for m in shipped if m["quantity"]]
            if first:
                for line_id in env.search("sale.order.line", [["order_id", "=", sale]]):
                    line = env.row("sale.order.line", line_id)
                    product = env.row("product.product", line["product_id"])
                    if env.value("product.product", product, "type") == "service":
                        lines.append((line["product_id"], line, line["product_uom_qty"]))
            self._invoice(env, "out_invoice", order, lines)
            return env.row("stock.picking", picking)["name"]
        return self.run(ship)

    def _invoice(self, env: Env, move_type: str, order: dict, lines: list, reversed_entry: int | None = None) -> int:
        rows = [{"product_id": product, "name": line.get("name") or "", "quantity": quantity,
                 "price_unit": line["price_unit"], "price_subtotal": round(quantity * line["price_unit"], 2),
                 "display_type": "product"} for product, line, quantity in lines]
        untaxed = round(sum(r["price_subtotal"] for r in rows), 2)
        tax = round(untaxed * VAT, 2)
        prefix = "INV" if move_type == "out_invoice" else "RINV"
        year = dt.date.today().year
        sequence = env._next(f"seq:{prefix}")
        move, = env.create("account.move", [{
            "name": f"{prefix}/{year}/{sequence:05d}", "move_type": move_type, "state": "posted",
            "partner_id": order["partner_id"], "invoice_origin": order["name"],
            "invoice_date": dt.date.today().isoformat(),
            "currency_id": 1, "amount_untaxed": untaxed, "amount_tax": tax, "amount_total": round(untaxed + tax, 2),
            "reversed_entry_id": reversed_entry or False, "invoice_line_ids": [[0, 0, r] for r in rows]}])
        name = f"{prefix}/{year}/{sequence:05d}"
        pdf = b"%PDF-1.4\n% " + name.encode() + b"\n%%EOF\n"
        env.create("ir.attachment", [{"name": f"{name.replace('/', '_')}.pdf", "res_model": "account.move",
                                      "res_id": move, "mimetype": "application/pdf",
                                      "datas": base64.b64encode(pdf).decode()}])
        return move

    def receive_return(self, rma: str) -> None:
        """Validate the return's receipt and make its credit note (as "Credit Note" on the invoice)."""
        def receive(env):
            picking = env.search("stock.picking", [["picking_type_code", "=", "incoming"],
                                                   ["origin", "ilike", f"return {rma}"]])[0]
            row = env.row("stock.picking", picking)
            env.write("stock.picking", [picking], {"state": "done", "date_done": now()})
            order = env.row("sale.order", row["sale_id"])
            invoice = env.search("account.move", [["invoice_origin", "=", order["name"]],
                                                  ["move_type", "=", "out_invoice"]], limit=1)
            lines = []
            for move in env.read("stock.move", env.search("stock.move", [["picking_id", "=", picking]]),
                                 ["product_id", "product_uom_qty", "sale_line_id"]):
                lines.append((move["product_id"][0], env.row("sale.order.line", move["sale_line_id"][0]),
                              move["product_uom_qty"]))
            self._invoice(env, "out_refund", order, lines, invoice[0] if invoice else None)
        self.run(receive)


def _serialized(exc: Exception) -> dict:
    """``odoo/http.py`` ``serialize_exception``."""
    if isinstance(exc, OdooException):
        name, message = exc.name, exc.message
    else:
        name, message = f"{type(exc).__module__}.{type(exc).__name__}", str(exc)
    return {"name": name, "debug": f"Traceback (most recent call last):\n{name}: {message}", "message": message,
            "arguments": [message], "context": {}}


def _error_body(name: str, message: str, status: int) -> dict:
    return {"name": name, "message": message, "arguments": [message, status], "context": {},
            "debug": f"Traceback (most recent call last):\n{name}: {message}"}


class _Tracked(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    odoo: OdooDouble

    def setup(self) -> None:
        super().setup()
        with self.odoo.lock:
            self.odoo.connections.add(self.connection)

    def finish(self) -> None:
        with self.odoo.lock:
            self.odoo.connections.discard(self.connection)
        super().finish()

    def log_message(self, *args) -> None:
        pass


def _handler(the_odoo: OdooDouble):
    odoo = the_odoo

    class Handler(_Tracked):
        odoo = the_odoo

        def _serve(self) -> None:
            if odoo.latency:
                time.sleep(odoo.latency)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            if path == "/jsonrpc" and self.command == "POST":
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                answer, wrote = odoo.jsonrpc(body)
                status = 200
            elif path.startswith("/json/2/"):
                status, answer, wrote = odoo.json2(self.command, path, {k.lower(): v for k, v in self.headers.items()},
                                                   raw)
                if status >= 400 and odoo.bare_errors:
                    answer = answer["message"]
            else:
                status, answer, wrote = 404, _error_body("werkzeug.exceptions.NotFound", "Not Found", 404), False
            if wrote and odoo.hold_answers:
                time.sleep(odoo.hold_answers)
            if wrote and odoo.lose_next.is_set():
                odoo.lose_next.clear()
                self.close_connection = True  # processed and committed, never answered
                return
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler
