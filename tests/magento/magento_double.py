"""A Magento 2.4 shop on loopback, for the connector's tests: the admin REST routes the connector
uses, with the bookkeeping Magento does (quantities shipped, invoiced and refunded; the freight
on the first invoice; ``ship`` and ``invoice`` not idempotent), checked against Adobe's schema
on both sides: every request and every answer is validated (:mod:`magento_contract`), and a
request that breaks the contract is answered 400 and recorded in ``violations`` (the tests'
fixture fails on any).

Auth as Magento checks it: ``Bearer <token>``, or an OAuth 1.0a HMAC-SHA256 signature (computed
with oauthlib from the request as received; a nonce is accepted once, a timestamp within 600 s).

A test drives it like the merchant and the shop's customers: ``place_order``, ``enable``,
``go_down``/``come_back``, ``lose_next_answer`` (the call is processed, the connection closed
before the answer), ``hold_answers`` (seconds to wait after processing, before answering).
"""

from __future__ import annotations

import datetime as dt
import hmac
import itertools
import json
import socket
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs, unquote, urlsplit

from magento_contract import contract

TIME = "%Y-%m-%d %H:%M:%S"
ADDRESS = {"firstname": "Jane", "lastname": "Doe", "street": ["Main St 1"], "city": "Berlin", "postcode": "10115",
           "country_id": "DE", "telephone": "+49 30 1234"}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime(TIME)


def _money(value) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.01")))


class Refused(Exception):
    def __init__(self, status: int, message: str, parameters=None):
        super().__init__(message)
        self.status, self.message, self.parameters = status, message, parameters


def _criteria(query: dict[str, list[str]]):
    """(filter groups, sort field, page size, page) of a searchCriteria query (snake or camel case)."""
    groups: dict[str, dict[str, dict]] = {}
    sort, size, page = None, 20, 1
    for name, values in query.items():
        name = name.replace("filterGroups", "filter_groups").replace("conditionType", "condition_type")
        name = name.replace("sortOrders", "sort_orders").replace("pageSize", "page_size")
        name = name.replace("currentPage", "current_page")
        parts = [p.rstrip("]") for p in name.split("[")]
        if parts[1:2] == ["filter_groups"]:
            groups.setdefault(parts[2], {}).setdefault(parts[4], {})[parts[5]] = values[0]
        elif parts[1:2] == ["sort_orders"] and parts[-1] == "field":
            sort = values[0]
        elif parts[1:2] == ["page_size"]:
            size = int(values[0])
        elif parts[1:2] == ["current_page"]:
            page = int(values[0])
    return [list(g.values()) for g in groups.values()], sort, size, page


def _value(item: dict, field: str):
    if field in item:
        return item[field]
    for attribute in item.get("custom_attributes") or []:
        if attribute["attribute_code"] == field:
            return attribute["value"]
    return None


def _matches(item: dict, f: dict) -> bool:
    value, wanted, condition = _value(item, f["field"]), f.get("value"), f.get("condition_type", "eq")
    if condition == "in":
        return str(value) in wanted.split(",")
    if condition == "eq":
        return str(value) == wanted
    if condition == "neq":
        return str(value) != wanted
    ops = {"gteq": lambda a, b: a >= b, "gt": lambda a, b: a > b, "lteq": lambda a, b: a <= b, "lt": lambda a, b: a < b}
    return value is not None and ops[condition](str(value), wanted)


def search(items: list[dict], query: dict[str, list[str]]) -> dict:
    groups, sort, size, page = _criteria(query)
    found = [i for i in items if all(any(_matches(i, f) for f in group) for group in groups)]
    if sort:
        found.sort(key=lambda i: str(_value(i, sort)))
    pages = max(1, -(-len(found) // size))
    page = min(page, pages)  # Magento answers a page past the end with the last page
    return {"items": found[(page - 1) * size:page * size], "search_criteria": {"filter_groups": []},
            "total_count": len(found)}


class MagentoDouble:
    def __init__(self, *, token: str = "test-token", oauth: tuple[str, str, str, str] | None = None):
        self.token, self.oauth = token, oauth
        self.lock = threading.RLock()
        self.violations: list[str] = []
        self.calls: list[tuple[str, str]] = []
        self.products: dict[str, dict] = {}
        self.categories: dict[int, dict] = {}
        self.base_prices: dict[str, float] = {}
        self.tier_prices: dict[tuple, dict] = {}
        self.source_items: dict[tuple[str, str], dict] = {}
        self.orders: dict[int, dict] = {}
        self.shipments: dict[int, dict] = {}
        self.invoices: dict[int, dict] = {}
        self.creditmemos: dict[int, dict] = {}
        self.bulks: dict[str, list[dict]] = {}
        # Magento's sample data: dropdown attributes of the Default attribute set, and the groups
        # a fresh install has (tier prices name a group by its code).
        self._option_ids = itertools.count(49)
        self.attributes: dict[str, dict] = {
            code: {"attribute_id": attribute_id, "attribute_code": code, "frontend_input": "select",
                   "entity_type_id": "4", "is_required": False, "frontend_labels": [],
                   "default_frontend_label": code.title(), "is_user_defined": True,
                   "options": [{"label": " ", "value": ""}] + [{"label": label, "value": str(next(self._option_ids))}
                                                             for label in labels]}
            for code, attribute_id, labels in (("color", 93, ("Red", "Blue")), ("size", 144, ("S", "M", "L")))}
        self.configurable: dict[str, dict] = {}  # parent SKU -> its options and child SKUs
        self.customer_groups = {0: "NOT LOGGED IN", 1: "General", 2: "Wholesale", 3: "Retailer"}
        self.bulk_paused = False
        self._ids = itertools.count(1)
        self._nonces: set[tuple[str, str]] = set()
        self.lose_next = threading.Event()
        self.hold_answers = 0.0
        self.server: ThreadingHTTPServer | None = None
        self.connections: set[socket.socket] = set()
        self.port = 0
        self.start()

    # -- the server -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening and close the kept-alive connections too (a dead shop answers nothing)."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        with self.lock:
            connections, self.connections = self.connections, set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    go_down, come_back = stop, start

    # -- what the merchant and the customers do ----------------------------------------------

    def enable(self, sku: str) -> None:
        with self.lock:
            self.products[sku]["status"] = 1

    def place_order(self, number: str, lines: list[tuple[str, int]], *, shipping: float = 4.90,
                    state: str = "processing", payment: str = "checkmo", method: str = "flatrate_flatrate",
                    updated_at: str | None = None, customer_id: int | None = None) -> dict:
        """An order as the checkout makes it, at the products' current prices (tax included), by a
        guest or by the registered customer ``customer_id``."""
        with self.lock:
            entity = next(self._ids)
            items = []
            for sku, qty in lines:
                price = self.base_prices.get(sku, self.products.get(sku, {}).get("price", 10.0))
                items.append({"item_id": next(self._ids), "order_id": entity, "sku": sku, "name": sku,
                              "qty_ordered": qty, "qty_shipped": 0, "qty_invoiced": 0, "qty_refunded": 0,
                              "price": price, "price_incl_tax": price, "row_total": _money(price * qty),
                              "row_total_incl_tax": _money(price * qty), "discount_amount": 0, "tax_percent": 0,
                              "product_type": "simple"})
            subtotal = sum(i["row_total_incl_tax"] for i in items)
            stamp = updated_at or now()
            order = {"entity_id": entity, "increment_id": number, "state": state, "status": state,
                     "created_at": stamp, "updated_at": stamp, "customer_email": "jane@example.com",
                     "customer_is_guest": 0 if customer_id else 1, "order_currency_code": "EUR",
                     "base_currency_code": "EUR",
                     "shipping_amount": shipping, "shipping_incl_tax": shipping, "shipping_invoiced": 0,
                     "tax_amount": 0, "discount_amount": 0, "subtotal": subtotal,
                     "grand_total": _money(subtotal + shipping),
                     "base_grand_total": _money(subtotal + shipping), "total_paid": 0, "items": items,
                     "billing_address": {**ADDRESS, "address_type": "billing", "email": "jane@example.com"},
                     "payment": {"method": payment, "account_status": "", "additional_information": [],
                                 "cc_last4": ""},
                     "status_histories": [],
                     "extension_attributes": {"shipping_assignments": [{
                         "shipping": {"method": method, "address": {**ADDRESS, "street": ["Dock 7"],
                                                                    "address_type": "shipping"}},
                         "items": items}]}}
            if customer_id:
                order.update(customer_id=customer_id, customer_firstname="Jane", customer_lastname="Doe")
            self.orders[entity] = order
            return order

    def order(self, number: str) -> dict:
        with self.lock:
            return next(o for o in self.orders.values() if o["increment_id"] == number)

    def pay(self, number: str) -> None:
        with self.lock:
            order = self.order(number)
            order.update(state="processing", status="processing", updated_at=now())

    def cancel(self, number: str) -> None:
        """The merchant cancels the order in the admin."""
        with self.lock:
            order = self.order(number)
            order.update(state="canceled", status="canceled", updated_at=now())

    def invoice(self, number: str) -> int:
        """The merchant invoices the whole order in the admin."""
        with self.lock:
            order = self.order(number)
            return self._document(order["entity_id"], "invoice", {"items": [
                {"order_item_id": i["item_id"], "qty": i["qty_ordered"]} for i in order["items"]]})

    def refund(self, number: str, lines: list[tuple[str, int]]) -> int:
        """The merchant creates a credit memo in the admin (offline refund), without a comment."""
        with self.lock:
            order = self.order(number)
            ids = {i["sku"]: i["item_id"] for i in order["items"]}
            return self._document(order["entity_id"], "refund", {"items": [
                {"order_item_id": ids[sku], "qty": qty} for sku, qty in lines]})

    def documents(self, kind: str, number: str) -> list[dict]:
        entity = self.order(number)["entity_id"]
        with self.lock:
            return [d for d in getattr(self, kind).values() if d["order_id"] == entity]

    # -- the routes ---------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, body) -> tuple[int, object]:
        parts = path.strip("/").split("/")
        route = "/" + "/".join(parts[2:]) if parts[:1] == ["rest"] else path  # /rest/<store code>/V1/...
        with self.lock:
            self.calls.append((method, route))
            if route.startswith("/async/bulk/"):
                return self._bulk(method, route, query, body)
            errors = contract().check_request(method, route, query, body)
            if errors:
                self.violations += errors
                return 400, {"message": "; ".join(errors)}
            try:
                status, answer = 200, self._route(method, route, query, body)
            except Refused as exc:
                status, answer = exc.status, {"message": exc.message, **({"parameters": exc.parameters}
                                                                          if exc.parameters else {})}
            problems = contract().check_response(method, route, status, answer)
            self.violations += problems
            return status, answer

    def _bulk(self, method: str, route: str, query: dict, body) -> tuple[int, object]:
        """``/async/bulk/V1/<route>``: not in the schema (Magento generates these routes at run time);
        each element of the array is checked as the body of the synchronous route, as Adobe's docs
        say it is. Operations run at once unless ``bulk_paused`` (the consumer is not running)."""
        sync = route.removeprefix("/async/bulk")
        if (method, sync) != ("POST", "/V1/products") or not isinstance(body, list):
            self.violations.append(f"{method} {route}: the double serves POST /async/bulk/V1/products with an array")
            return 400, {"message": "unsupported bulk route"}
        errors = [e for element in body for e in contract().check_request(method, sync, {}, element)]
        if errors:
            self.violations += errors
            return 400, {"message": "; ".join(errors)}
        uuid = f"bulk-{next(self._ids)}"
        self.bulks[uuid] = [{"id": i, "status": 4, "result_message": "", "error_code": 0, "body": element}
                            for i, element in enumerate(body)]
        if not self.bulk_paused:
            self.run_consumers()
        return 202, {"bulk_uuid": uuid, "errors": False, "request_items": [
            {"id": i, "data_hash": str(hash(json.dumps(e, sort_keys=True))), "status": "accepted"}
            for i, e in enumerate(body)]}

    def run_consumers(self) -> None:
        """What ``queue:consumers:start async.operations.all`` does: save each product (create or
        update by SKU, as ``ProductRepository::save`` does)."""
        with self.lock:
            for operations in self.bulks.values():
                for operation in operations:
                    if operation["status"] != 4:
                        continue
                    product = operation["body"]["product"]
                    key = "-".join(product.get("name", "").lower().split())
                    if product["sku"] not in self.products and any(
                            "-".join(p.get("name", "").lower().split()) == key for p in self.products.values()):
                        operation.update(status=3, result_message="URL key for specified store already exists.")
                        continue
                    saved = self.products.setdefault(product["sku"], {"id": next(self._ids), "status": 1})
                    saved.update(product)
                    operation["status"] = 1

    def _route(self, method: str, route: str, query: dict, body):
        p = route.strip("/").split("/")[1:]  # without V1
        if (method, p) == ("GET", ["store", "storeViews"]):
            return [{"id": 1, "code": "default", "name": "Default Store View", "website_id": 1, "store_group_id": 1,
                     "is_active": 1}]
        if p[:2] == ["products", "attributes"]:
            return self._attributes(method, p[2:], body)
        if p[0] == "products":
            return self._products(method, p[1:], query, body)
        if p[0] == "configurable-products":
            return self._configurable(method, unquote(p[1]), p[2:], body)
        if p[0] == "customerGroups" and method == "GET" and p[1].isdigit():
            if int(p[1]) not in self.customer_groups:
                raise Refused(404, f"No such entity with id = {p[1]}")
            return {"id": int(p[1]), "code": self.customer_groups[int(p[1])], "tax_class_id": 3,
                    "tax_class_name": "Retail Customer"}
        if p[0] == "categories":
            return self._categories(method, p[1:], query, body)
        if p[:2] == ["inventory", "source-items"]:
            if method == "GET":
                return search(list(self.source_items.values()), query)
            for item in body["sourceItems"]:
                self.source_items[(item["sku"], item["source_code"])] = dict(item)
            return []
        if p[0] == "orders":
            return self._orders(method, p[1:], query, body)
        if p[0] == "bulk" and p[2:] == ["status"]:
            operations = self.bulks[p[1]]
            return {"operations_list": [{k: o[k] for k in ("id", "status", "result_message", "error_code")}
                                        for o in operations], "user_type": 2, "bulk_id": p[1], "user_id": 1,
                    "description": "Topic async.magento.catalog.api.productrepositoryinterface.save.post",
                    "start_time": now(), "operation_count": len(operations)}
        if p[0] == "order":
            return self._document(int(p[1]), p[2], body)
        if method == "GET" and p[0] in ("shipments", "invoices", "creditmemos"):
            return search(list(getattr(self, p[0]).values()), query)
        raise Refused(404, f"Request does not match any route: {method} {route}")

    def _products(self, method: str, p: list[str], query: dict, body):
        if p == [] and method == "GET":
            return search(list(self.products.values()), query)
        if p == [] and method == "POST":
            product = body["product"]
            if product["sku"] in self.products:
                raise Refused(400, "The product with SKU \"%1\" already exists.", [product["sku"]])
            self.products[product["sku"]] = {"id": next(self._ids), "status": 1, **product}
            return self.products[product["sku"]]
        if p in (["base-prices"], ["tier-prices"]):
            failed = []
            for row in body["prices"]:
                if row["sku"] not in self.products:
                    failed.append({"message": "The SKU \"%1\" does not exist.", "parameters": [row["sku"]]})
                elif p == ["base-prices"]:
                    self.base_prices[row["sku"]] = row["price"]
                    self.products[row["sku"]]["price"] = row["price"]
                elif row["customer_group"].lower() not in {"all groups", *map(str.lower,
                                                                              self.customer_groups.values())}:
                    failed.append({"message": "No such entity with Customer Group = %1. Row ID: SKU = %2, Website "
                                              "ID: %3, Customer Group: %1, Quantity: %4.",
                                   "parameters": [row["customer_group"], row["sku"], str(row["website_id"]),
                                                  str(row["quantity"])]})
                else:
                    self.tier_prices[(row["sku"], row["customer_group"], row["quantity"], row["website_id"])] = row
            return failed
        sku = unquote(p[0])
        if sku not in self.products:
            raise Refused(404, "The product that was requested doesn't exist. Verify the product and try again.")
        if method == "GET":
            return self.products[sku]
        update = {k: v for k, v in body["product"].items() if k != "extension_attributes"}
        self.products[sku].update(update)
        if "extension_attributes" in body["product"]:
            self.products[sku].setdefault("extension_attributes", {}).update(body["product"]["extension_attributes"])
        return self.products[sku]

    def _attributes(self, method: str, p: list[str], body):
        """``/V1/products/attributes/{code}[/options]``: an attribute, its options, a new option
        (answered with its id, as Magento 2.4 does)."""
        attribute = self.attributes.get(unquote(p[0]))
        if attribute is None:
            raise Refused(404, f'The attribute with a "{unquote(p[0])}" attributeCode doesn\'t exist. Verify the '
                               'attribute and try again.')
        if p[1:] == []:
            return attribute
        if method == "GET":
            return attribute["options"]
        label = body["option"]["label"]
        if any(o["label"] == label for o in attribute["options"]):
            raise Refused(400, f'Admin store attribute option label "{label}" is already exists.')
        option = {"label": label, "value": str(next(self._option_ids))}
        attribute["options"].append(option)
        return option["value"]

    def _configurable(self, method: str, parent: str, p: list[str], body):
        """A configurable product's options and children, with the checks Magento's
        OptionRepository and LinkManagement make: the parent must be configurable, a child must
        have a value of each option's attribute, no two children the same values, no child twice."""
        product = self.products.get(parent)
        if product is None:
            raise Refused(404, "The product that was requested doesn't exist. Verify the product and try again.")
        family = self.configurable.setdefault(parent, {"options": [], "children": []})
        if (method, p) == ("GET", ["options", "all"]):
            return family["options"]
        if (method, p) == ("GET", ["children"]):
            return [self.products[sku] for sku in family["children"]]
        if product.get("type_id") != "configurable":
            raise Refused(400, f"The product type is not configurable: {parent}")
        if (method, p) == ("POST", ["options"]):
            option = {**body["option"], "id": next(self._ids), "product_id": product["id"]}
            if any(o["attribute_id"] == option["attribute_id"] for o in family["options"]):
                raise Refused(400, "Something went wrong while saving option.")
            family["options"].append(option)
            return option["id"]
        if (method, p) == ("POST", ["child"]):
            child = self.products.get(body["childSku"])
            if child is None:
                raise Refused(404, "The product that was requested doesn't exist. Verify the product and try again.")
            if child["sku"] in family["children"]:
                raise Refused(400, "The product is already attached.")
            codes = {a["attribute_id"]: code for code, a in self.attributes.items()}
            values = {}
            for option in family["options"]:
                code = codes[int(option["attribute_id"])]
                values[code] = _value(child, code)
                if not values[code]:
                    raise Refused(400, f'The child product doesn\'t have the "{code}" attribute value. Verify the '
                                       'value and try again.')
            for sibling in family["children"]:
                if {code: _value(self.products[sibling], code) for code in values} == values:
                    raise Refused(400, f'Products "{child["sku"]}" and "{sibling}" have the same set of attribute '
                                       'values.')
            family["children"].append(child["sku"])
            return True
        raise Refused(404, f"Request does not match any route: {method} {p}")

    def _categories(self, method: str, p: list[str], query: dict, body):
        if p == ["list"]:
            return search(list(self.categories.values()), query)
        if method == "POST":
            entity = next(self._ids)
            self.categories[entity] = {"id": entity, **body["category"]}
            return self.categories[entity]
        category = self.categories[int(p[0])]
        category.update(body["category"])
        return category

    def _orders(self, method: str, p: list[str], query: dict, body):
        if p == []:
            return search(list(self.orders.values()), query)
        order = self.orders.get(int(p[0]))
        if order is None:
            raise Refused(404, "The entity that was requested doesn't exist. Verify the entity and try again.")
        if p[1:] == []:
            return order
        if p[1] == "cancel":
            if order["state"] in ("complete", "closed", "canceled"):
                return False
            order.update(state="canceled", status="canceled", updated_at=now())
            return True
        if method == "GET":  # comments
            items = order["status_histories"]
            return {"items": items, "search_criteria": {"filter_groups": []}, "total_count": len(items)}
        history = {"entity_id": next(self._ids), "created_at": now(), **body["statusHistory"]}
        order["status_histories"].append(history)
        if history.get("status"):
            order["status"] = history["status"]
        order["updated_at"] = now()
        return True

    def _document(self, entity: int, route: str, body):
        order = self.orders.get(entity)
        if order is None:
            raise Refused(404, "The entity that was requested doesn't exist. Verify the entity and try again.")
        items = {i["item_id"]: i for i in order["items"]}
        done, kind = {"ship": ("qty_shipped", "shipments"), "invoice": ("qty_invoiced", "invoices"),
                      "refund": ("qty_refunded", "creditmemos")}[route]
        limit = "qty_invoiced" if route == "refund" else "qty_ordered"
        for line in body.get("items") or []:
            item = items.get(line["order_item_id"])
            if item is None or item[done] + line["qty"] > item[limit]:
                what = {"ship": "Shipment", "invoice": "Invoice", "refund": "Creditmemo"}[route]
                raise Refused(400, f"{what} Document Validation Error(s):\nThe order does not allow an "
                                   f"{route} to be created.")
        document_id = next(self._ids)
        lines = []
        for line in body.get("items") or []:
            item = items[line["order_item_id"]]
            item[done] += line["qty"]
            lines.append({"sku": item["sku"], "order_item_id": item["item_id"], "qty": line["qty"],
                          "price": item["price_incl_tax"], "row_total": _money(item["price_incl_tax"] * line["qty"]),
                          "base_cost": 0, "base_price": item["price"], "entity_id": next(self._ids)})
        comments = []
        if body.get("comment"):
            comments.append({"entity_id": next(self._ids), "parent_id": document_id, "is_customer_notified": 0,
                             "created_at": now(), **body["comment"]})
        document = {"entity_id": document_id, "order_id": entity, "created_at": now(), "items": lines,
                    "comments": comments}
        if route == "ship":
            document["tracks"] = [{"entity_id": next(self._ids), "order_id": entity, "parent_id": document_id,
                                   "weight": 0, "qty": 0, "description": "", **t} for t in body.get("tracks") or []]
        else:
            subtotal = sum(line["row_total"] for line in lines)
            shipping = 0.0
            if route == "invoice" and not order["shipping_invoiced"]:
                shipping = order["shipping_amount"]  # Magento's Invoice/Total/Shipping: all of it on the first invoice
                order["shipping_invoiced"] = shipping
            if route == "refund":
                shipping = body.get("arguments", {}).get("shipping_amount", 0)
            document.update(total_qty=sum(line["qty"] for line in lines), shipping_amount=shipping,
                            subtotal=subtotal, grand_total=_money(subtotal + shipping))
            if route == "invoice":
                order["total_paid"] = _money(order["total_paid"] + document["grand_total"])
        getattr(self, kind)[document_id] = document
        order["updated_at"] = now()
        return document_id


def _handler(double: MagentoDouble):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def setup(self):
            super().setup()
            with double.lock:
                double.connections.add(self.connection)

        def finish(self):
            with double.lock:
                double.connections.discard(self.connection)
            super().finish()

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            query = parse_qs(split.query, keep_blank_values=True)
            problem = self._unauthorized(raw)
            if problem:
                return self._answer(401, {"message": problem})
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return self._answer(400, {"message": "Decoding error: the body is not JSON"})
            status, answer = double.handle(self.command, split.path, query, body)
            if double.hold_answers:
                time.sleep(double.hold_answers)
            if double.lose_next.is_set() and self.command != "GET":
                double.lose_next.clear()
                self.close_connection = True
                self.connection.close()
                return
            self._answer(status, answer)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def _unauthorized(self, raw: bytes) -> str | None:
            header = self.headers.get("Authorization", "")
            if double.oauth is None:
                if header == f"Bearer {double.token}":
                    return None
                return "The consumer isn't authorized to access %resources."
            return _check_oauth(double, self.command, f"http://{self.headers['Host']}{self.path}", header)

        def _answer(self, status: int, answer) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _check_oauth(double: MagentoDouble, method: str, uri: str, header: str) -> str | None:
    """Magento's check of an integration's signature (Framework/Oauth/Oauth.php), by oauthlib."""
    from oauthlib.oauth1.rfc5849 import signature, utils

    if not header.startswith("OAuth "):
        return "Consumer key is not provided."
    consumer_key, consumer_secret, token, token_secret = double.oauth
    params = {key: utils.unescape(value) for key, value in utils.parse_authorization_header(header)}
    if params.get("oauth_consumer_key") != consumer_key or params.get("oauth_token") != token:
        return "The consumer isn't authorized to access %resources."
    if params.get("oauth_signature_method") not in ("HMAC-SHA256", "HMAC-SHA1"):
        return "Signature method is not supported."
    if abs(time.time() - int(params.get("oauth_timestamp", 0))) > 600:
        return "The timestamp is out of the allowed deviation."
    nonce = (params.get("oauth_timestamp"), params.get("oauth_nonce"))
    if nonce in double._nonces:
        return "The nonce is already being used by the consumer."
    double._nonces.add(nonce)
    collected = signature.collect_parameters(uri_query=urlsplit(uri).query, headers={"Authorization": header},
                                             exclude_oauth_signature=True)
    base = signature.signature_base_string(method, signature.base_string_uri(uri),
                                           signature.normalize_parameters(collected))
    sign = (signature.sign_hmac_sha256_with_client if params["oauth_signature_method"] == "HMAC-SHA256"
            else signature.sign_hmac_sha1_with_client)
    secrets = SimpleNamespace(client_secret=consumer_secret, resource_owner_secret=token_secret)
    if not hmac.compare_digest(sign(base, secrets), params.get("oauth_signature", "")):
        return "The signature is invalid. Verify and try again."
    return None
