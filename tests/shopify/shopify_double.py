"""A Shopify store on loopback for the connector's tests: the Admin GraphQL endpoint executed by
graphql-core against Shopify's official introspection schema of the version asked for (npm
``@shopify/dev-mcp``, fetched by .ci/setup.d/40-shopify.sh), with resolvers over in-memory data.

So every document and every variable the connector sends is validated by the official schema
(an unknown field, a missing ``String!``, a wrong enum is an error here as it would be there);
what the schema cannot say, the resolvers enforce as Shopify documents it: ``@idempotent`` is
required on ``inventorySetQuantities`` and ``refundCreate`` and a repeated key answers the first
result; ``changeFromQuantity`` must be given; the calculated cost is charged to a leaky bucket
(``extensions.cost``, ``THROTTLED`` when it is short); fulfilments take no more than is open and
captures no more than was authorised; B2B price lists take quantity breaks only on a fixed
price. Bulk operations as Shopify runs them: ``stagedUploadsCreate`` names a form-POST target on
this server, ``bulkOperationRunMutation`` validates its mutation on the schema and runs it per
JSONL line (each line's variables validated too) in a thread, and the result file
is served at the operation's ``url``. Webhooks are sent signed like Shopify's.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import hmac
import itertools
import json
import os
import re
import socket
import threading
import time
from decimal import Decimal
from email.policy import default as email_policy
from email.parser import BytesParser
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from graphql import GraphQLError, build_client_schema, graphql_sync, parse, validate
from graphql.language import FieldNode, OperationDefinitionNode, VariableNode

DEV_MCP = "1.16.0"
TOKEN = "shpat_test_token"
SECRET = "shopify-client-secret"


def schema_file(version: str) -> Path:
    folder = os.environ.get("ERPBRIDGE_TEST_SHOPIFY_SCHEMAS") or str(
        Path.home() / ".cache" / "erpbridge-tests" / f"shopify-dev-mcp-{DEV_MCP}" / "package" / "dist" / "data")
    path = Path(folder) / f"admin_{version}.json.gz"
    if not path.is_file():
        why = f"Shopify's Admin schema {path} is missing: source .ci/setup.d/40-shopify.sh"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return path


@cache
def schema(version: str):
    with gzip.open(schema_file(version)) as f:
        return build_client_schema(json.load(f)["data"])


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount, currency: str = "EUR") -> dict:
    return {"shopMoney": {"amount": str(Decimal(str(amount))), "currencyCode": currency}}


def cost_of(document, variables: dict) -> int:
    """Shopify's calculated cost, simplified: an object 1, a connection 2 + first x its nodes,
    a mutation 10."""
    def size(selection, depth=0) -> int:
        total = 0
        for node in selection.selections if selection else ():
            if not isinstance(node, FieldNode) or node.selection_set is None:
                continue
            inner = size(node.selection_set, depth + 1)
            first = next((a.value for a in node.arguments if a.name.value == "first"), None)
            if first is not None:
                count = variables.get(first.name.value, 0) if isinstance(first, VariableNode) else int(first.value)
                total += 2 + int(count or 0) * inner // 10  # nodes are cheap; Shopify's own table is coarser too
            else:
                total += 1 + inner
        return total

    total = 0
    for op in document.definitions:
        if isinstance(op, OperationDefinitionNode):
            total += 10 * len(op.selection_set.selections) if op.operation.value == "mutation" \
                else size(op.selection_set)
    return max(total, 1)


class ShopifyDouble:
    def __init__(self, version: str = "2026-04", *, maximum: float = 1000, restore: float = 100):
        self.version = version
        self.schema = schema(version)
        self.maximum, self.restore = maximum, restore
        self.available, self._at = maximum, time.monotonic()
        self.lock = threading.RLock()
        self.ids = itertools.count(1)
        self.products: dict[str, dict] = {}
        self.variants: dict[str, dict] = {}
        self.inventory: dict[tuple[str, str], int] = {}
        #: B2B price lists: id -> {currency, fixed: {variant: amount}, breaks: {variant: {minimum: amount}}}
        self.price_lists: dict[str, dict] = {}
        self.orders: dict[str, dict] = {}
        self.idempotent: dict[tuple[str, str], dict] = {}
        self.applied: list[tuple[str, dict]] = []  # (mutation, its input), once per idempotency key
        self.calls: list[tuple[str, dict]] = []    # (document, variables) of every call that executed
        self.staged: dict[str, bytes] = {}        # staged upload key -> the uploaded file
        self.upload_headers: list[dict] = []      # the headers of each upload
        self.bulk: dict[str, dict] = {}           # bulk operations by id, with their result file
        self.bulk_seconds = 0.0                   # how long a bulk operation runs before its first line
        self.throttled = 0
        self.lose_next = False
        self.down = False
        self.server: ThreadingHTTPServer | None = None
        self.connections: set[socket.socket] = set()
        self.port = 0
        #: the root fields the double answers (graphql-core calls each as ``fn(info, **arguments)``)
        self.root = {name: getattr(self, "orders_" if name == "orders" else name) for name in (
            "productVariants", "productSet", "productVariantsBulkUpdate", "priceList", "quantityPricingByVariantUpdate",
            "inventorySetQuantities", "orders", "order", "stagedUploadsCreate", "bulkOperationRunMutation",
            "bulkOperation", "currentBulkOperation",
            "fulfillmentCreate", "orderCapture", "refundCreate", "orderCancel")}
        self.start()

    # -- the server -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with double.lock:
                    double.connections.add(self.connection)

            def finish(self):
                with double.lock:
                    double.connections.discard(self.connection)
                super().finish()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/staged-uploads":  # a cloud bucket's: the Admin API's token is not for it
                    double.upload_headers.append(dict(self.headers))
                    return self._answer(*double.upload(self.headers.get("Content-Type") or "", body))
                if self.path != f"/admin/api/{double.version}/graphql.json":
                    return self._answer(404, {"errors": "Not Found"})
                if self.headers.get("X-Shopify-Access-Token") != TOKEN:
                    return self._answer(401, {"errors": "[API] Invalid API key or access token"})
                status, answer = double.execute(json.loads(body))
                if double.lose_next:
                    double.lose_next = False
                    self.close_connection = True
                    return
                self._answer(status, answer)

            def do_GET(self):
                found = double.result_file(self.path)
                if found is None:
                    return self._answer(404, {"errors": "Not Found"})
                self.send_response(200)
                self.send_header("Content-Type", "application/jsonl")
                self.send_header("Content-Length", str(len(found)))
                self.end_headers()
                self.wfile.write(found)

            def _answer(self, status, answer):
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop serving: connections are refused until :meth:`start`, kept-alive ones are closed."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        with self.lock:
            connections, self.connections = list(self.connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- GraphQL with cost ----------------------------------------------------------------------

    def execute(self, request: dict) -> tuple[int, dict]:
        query, variables = request.get("query") or "", request.get("variables") or {}
        try:
            requested = cost_of(parse(query), variables)
        except GraphQLError as exc:
            return 200, {"errors": [exc.formatted]}
        with self.lock:
            moment = time.monotonic()
            self.available = min(self.maximum, self.available + self.restore * (moment - self._at))
            self._at = moment
            status = {"maximumAvailable": self.maximum, "currentlyAvailable": round(self.available, 1),
                      "restoreRate": self.restore}
            if requested > self.maximum:
                return 200, {"errors": [{"message": f"Query cost is {requested}, which exceeds the single query "
                                         f"max cost limit ({self.maximum})",
                                         "extensions": {"code": "MAX_COST_EXCEEDED"}}],
                             "extensions": {"cost": {"requestedQueryCost": requested, "throttleStatus": status}}}
            if requested > self.available:
                self.throttled += 1
                return 200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                             "extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": None,
                                                     "throttleStatus": status}}}
            self.available -= requested
            status["currentlyAvailable"] = round(self.available, 1)
            result = graphql_sync(self.schema, query, root_value=self.root, variable_values=variables)
            self.calls.append((query, variables))
        answer: dict = {"extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": requested,
                                                "throttleStatus": status}}}
        if result.errors:
            answer["errors"] = [e.formatted for e in result.errors]
        if result.data is not None:
            answer["data"] = result.data
        return 200, answer

    def drain(self) -> None:
        """Empty the cost bucket (another app of the store used it up)."""
        with self.lock:
            self.available, self._at = 0.0, time.monotonic()

    def gid(self, kind: str) -> str:
        return f"gid://shopify/{kind}/{next(self.ids)}"

    def _replayed(self, info, mutation: str, work):
        """``@idempotent(key:)``: required here, and a repeated key answers the first result."""
        directive = next((d for d in info.field_nodes[0].directives if d.name.value == "idempotent"), None)
        if directive is None:
            raise GraphQLError(f"The @idempotent directive is required for {mutation} in {self.version}")
        value = directive.arguments[0].value
        key = info.variable_values[value.name.value] if isinstance(value, VariableNode) else value.value
        if not str(key).strip():
            raise GraphQLError("The idempotency key cannot be empty")
        if (mutation, key) not in self.idempotent:
            self.idempotent[(mutation, key)] = work()
        return self.idempotent[(mutation, key)]

    # -- catalog --------------------------------------------------------------------------------

    def variant_view(self, variant: dict) -> dict:
        product = self.products[variant["product"]]
        item = variant["inventoryItem"]
        levels = [{"location": {"id": location}, "quantities": [{"name": name, "quantity": quantity}
                                                                for name in ("available", "on_hand")]}
                  for (held, location), quantity in self.inventory.items() if held == item]
        return {**variant, "product": {"id": product["id"], "status": product["status"]},
                "inventoryItem": {"id": item, "inventoryLevels": {"nodes": levels}}}

    def by_sku(self, sku: str) -> dict | None:
        return next((v for v in self.variants.values() if v["sku"] == sku), None)

    def productVariants(self, info, first, query=None, **_):
        skus = [s.replace('\\"', '"') for s in re.findall(r'sku:"((?:[^"\\]|\\.)*)"', query or "")]
        found = [self.variant_view(v) for v in self.variants.values() if not skus or v["sku"] in skus]
        return {"nodes": found[:first]}

    def productSet(self, info, input, identifier=None, synchronous=True):
        errors = [{"field": ["input", "variants", str(n), "sku"], "message": f"SKU {v.get('sku')} is not allowed",
                   "code": "INVALID_VARIANT"} for n, v in enumerate(input.get("variants") or [])
                  if str(v.get("sku", "")).startswith("BAD")]
        if identifier is None and not input.get("title"):
            errors.append({"field": ["input", "title"], "message": "Title can't be blank", "code": "BLANK"})
        options = {o["name"]: [v["name"] for v in o.get("values") or []] for o in input.get("productOptions") or []}
        combinations = set()
        for n, v in enumerate(input.get("variants") or []):  # as Shopify checks a product's options
            named = {o.get("optionName"): o.get("name") for o in v.get("optionValues") or []}
            if options and (set(named) != set(options) or any(named[k] not in options[k] for k in named)):
                errors.append({"field": ["input", "variants", str(n), "optionValues"], "message": "Option values "
                               "must name one value of each product option", "code": "INVALID_VARIANT"})
            if tuple(sorted(named.items())) in combinations:
                errors.append({"field": ["input", "variants", str(n)], "message": "The variant already exists",
                               "code": "VARIANT_ALREADY_EXISTS"})
            combinations.add(tuple(sorted(named.items())))
        if len(options) > 3:
            errors.append({"field": ["input", "productOptions"], "message": "Product can't have more than 3 options",
                           "code": "INVALID"})
        if errors:
            return {"product": None, "userErrors": errors}
        if identifier is not None:
            product = self.products.get(identifier.get("id"))
            if product is None:
                return {"product": None, "userErrors": [{"field": ["identifier", "id"], "message": "Product does "
                                                         "not exist", "code": "PRODUCT_DOES_NOT_EXIST"}]}
        else:
            product = {"id": self.gid("Product"), "status": "ACTIVE", "variants": []}
            self.products[product["id"]] = product
        product.update({k: v for k, v in input.items() if k in ("title", "status", "descriptionHtml", "productType")})
        if options:
            product["options"] = options
        kept = []
        for data in input.get("variants") or []:
            variant = self.variants.get(data.get("id")) or {"id": self.gid("ProductVariant"), "product": product["id"],
                                                            "inventoryItem": self.gid("InventoryItem"), "price": "0.00"}
            variant.update({k: data[k] for k in ("sku", "price", "barcode") if k in data})
            variant["options"] = {o.get("optionName"): o.get("name") for o in data.get("optionValues") or []}
            self.variants[variant["id"]] = variant
            kept.append(variant["id"])
        for gone in set(product["variants"]) - set(kept):  # list fields replace
            del self.variants[gone]
        product["variants"] = kept
        self.applied.append(("productSet", input))
        return {"product": {**product, "variants": {"nodes": [self.variant_view(self.variants[v]) for v in kept]}},
                "userErrors": []}

    def productVariantsBulkUpdate(self, info, productId, variants, **_):
        for data in variants:
            self.variants[data["id"]]["price"] = data["price"]
        return {"productVariants": [self.variants[d["id"]] for d in variants], "userErrors": []}

    def add_price_list(self, currency: str = "EUR") -> str:
        """A B2B price list the merchant made (for a catalog of company locations)."""
        gid = self.gid("PriceList")
        self.price_lists[gid] = {"id": gid, "currency": currency, "fixed": {}, "breaks": {}}
        return gid

    def priceList(self, info, id):
        return self.price_lists.get(id)

    def quantityPricingByVariantUpdate(self, info, priceListId, input):
        """As Shopify documents it: no partial success; prices in the list's currency; a
        quantity break only for a variant with a fixed price on the list."""
        price_list = self.price_lists.get(priceListId)
        if price_list is None:
            return {"productVariants": None, "userErrors": [{"field": ["priceListId"], "message": "Price list not "
                                                             "found", "code": "PRICE_LIST_NOT_FOUND"}]}
        errors = []
        for kind, items in (("pricesToAdd", input["pricesToAdd"]), ("quantityPriceBreaksToAdd",
                                                                    input["quantityPriceBreaksToAdd"])):
            for n, item in enumerate(items):
                if item["variantId"] not in self.variants:
                    errors.append({"field": ["input", kind, str(n), "variantId"], "message": "Variant not found",
                                   "code": "PRICE_ADD_VARIANT_NOT_FOUND"})
                elif item["price"]["currencyCode"] != price_list["currency"]:
                    errors.append({"field": ["input", kind, str(n), "price"], "message": "Currency mismatch",
                                   "code": "PRICE_ADD_CURRENCY_MISMATCH"})
        fixed = {**price_list["fixed"], **{i["variantId"]: i["price"]["amount"] for i in input["pricesToAdd"]}}
        for n, item in enumerate(input["quantityPriceBreaksToAdd"]):
            if item["variantId"] not in fixed:
                errors.append({"field": ["input", "quantityPriceBreaksToAdd", str(n)], "message": "The variant has "
                               "no fixed price on the price list", "code": "QUANTITY_PRICE_BREAK_ADD_PRICE_LIST_PRICE_"
                               "NOT_FOUND"})
            elif item["minimumQuantity"] in price_list["breaks"].get(item["variantId"], {}):
                errors.append({"field": ["input", "quantityPriceBreaksToAdd", str(n)], "message": "A break of this "
                               "minimum exists",
                               "code": "QUANTITY_PRICE_BREAK_ADD_DUPLICATE_INPUT_FOR_VARIANT_AND_MIN"})
        if errors:
            return {"productVariants": None, "userErrors": errors}
        price_list["fixed"] = fixed
        for variant in input.get("quantityPriceBreaksToDeleteByVariantId") or []:
            price_list["breaks"].pop(variant, None)
        for item in input["quantityPriceBreaksToAdd"]:
            price_list["breaks"].setdefault(item["variantId"], {})[item["minimumQuantity"]] = item["price"]["amount"]
        self.applied.append(("quantityPricingByVariantUpdate", input))
        touched = {i["variantId"] for key in ("pricesToAdd", "quantityPriceBreaksToAdd") for i in input[key]}
        return {"productVariants": [{"id": v} for v in sorted(touched)], "userErrors": []}

    def tiers(self, price_list: str, sku: str) -> tuple[Decimal | None, dict[int, Decimal]]:
        """A SKU's fixed price and quantity breaks on a price list."""
        variant = self.by_sku(sku)["id"]
        found = self.price_lists[price_list]
        fixed = found["fixed"].get(variant)
        return (None if fixed is None else Decimal(fixed),
                {k: Decimal(v) for k, v in found["breaks"].get(variant, {}).items()})

    def inventorySetQuantities(self, info, input):
        def work():
            for q in input["quantities"]:
                if "changeFromQuantity" not in q:
                    raise GraphQLError("changeFromQuantity must be provided (null to skip the compare)")
            for q in input["quantities"]:
                self.inventory[(q["inventoryItemId"], q["locationId"])] = q["quantity"]
            self.applied.append(("inventorySetQuantities", input))
            return {"inventoryAdjustmentGroup": {"id": self.gid("InventoryAdjustmentGroup")}, "userErrors": []}
        return self._replayed(info, "inventorySetQuantities", work)

    # -- bulk operations ------------------------------------------------------------------------

    def stagedUploadsCreate(self, info, input):
        """A form-POST target on this server, as Shopify's (a cloud bucket) takes the JSONL file."""
        targets = []
        for item in input:
            if item["resource"] != "BULK_MUTATION_VARIABLES":
                raise GraphQLError(f"the double stages only BULK_MUTATION_VARIABLES, not {item['resource']}")
            key = f"tmp/{next(self.ids)}/bulk/{item['filename']}"
            targets.append({"url": f"{self.url}/staged-uploads", "resourceUrl": None, "parameters": [
                {"name": "key", "value": key}, {"name": "Content-Type", "value": item["mimeType"]},
                {"name": "success_action_status", "value": "201"}, {"name": "policy", "value": "e30="}]})
        return {"stagedTargets": targets, "userErrors": []}

    def upload(self, content_type: str, body: bytes) -> tuple[int, dict]:
        """The staged upload: a multipart form with the target's parameters, then the file."""
        message = BytesParser(policy=email_policy).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        if not message.is_multipart():
            return 400, {"error": "a multipart/form-data POST is expected"}
        fields = {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                  for part in message.iter_parts()}
        if "key" not in fields or "file" not in fields or list(fields)[-1] != "file":
            return 400, {"error": "the form needs the target's parameters (key) and then the file"}
        self.staged[fields["key"].decode()] = fields["file"]
        return 201, {}

    def bulkOperationRunMutation(self, info, mutation, stagedUploadPath, clientIdentifier=None, **_):
        """Validates the mutation against the schema, then runs it once per JSONL line in a thread
        (a line's variables validated as they would be in a call); the result file answers each
        line with its ``__lineNumber``. At most 5 bulk mutations at a time (one before 2026-01), as
        Shopify's bulk import guide says."""
        def refused(code, message):
            return {"bulkOperation": None, "userErrors": [{"field": None, "message": message, "code": code}]}

        try:
            document = parse(mutation)
        except GraphQLError as exc:
            return refused("INVALID_MUTATION", exc.message)
        invalid = validate(self.schema, document)
        fields = [f for op in document.definitions if isinstance(op, OperationDefinitionNode)
                  for f in op.selection_set.selections]
        if invalid or len(fields) != 1:
            return refused("INVALID_MUTATION", "; ".join(e.message for e in invalid) or "one mutation field is needed")
        if stagedUploadPath not in self.staged:
            return refused("NO_SUCH_FILE", "The JSONL file could not be found")
        running = sum(op["status"] in ("CREATED", "RUNNING") for op in self.bulk.values())
        if running >= (5 if self.version >= "2026-01" else 1):  # Shopify's guide: 5 at a time from 2026-01
            return refused("OPERATION_IN_PROGRESS", "A bulk mutation operation for this app and shop is already in "
                           "progress")
        operation = {"id": self.gid("BulkOperation"), "status": "CREATED", "errorCode": None, "objectCount": "0",
                     "url": None, "partialDataUrl": None, "type": "MUTATION", "client": clientIdentifier,
                     "file": None}
        self.bulk[operation["id"]] = operation
        lines = self.staged[stagedUploadPath].decode().splitlines()
        threading.Thread(target=self._run_bulk, args=(operation, mutation, lines), daemon=True).start()
        return {"bulkOperation": operation, "userErrors": []}

    def _run_bulk(self, operation: dict, mutation: str, lines: list[str]) -> None:
        time.sleep(self.bulk_seconds)
        operation["status"] = "RUNNING"
        out = []
        for number, line in enumerate(lines):
            with self.lock:  # not charged to the cost bucket: bulk operations are not
                result = graphql_sync(self.schema, mutation, root_value=self.root, variable_values=json.loads(line))
            answer: dict = {"__lineNumber": number}
            if result.errors:
                answer["errors"] = [e.formatted for e in result.errors]
            if result.data is not None:
                answer["data"] = result.data
            out.append(json.dumps(answer))
            operation["objectCount"] = str(number + 1)
        operation["file"] = ("\n".join(out) + "\n").encode()
        operation["url"] = f"{self.url}/bulk-results/{operation['id'].rsplit('/', 1)[1]}.jsonl"
        operation["status"], operation["completedAt"] = "COMPLETED", now()

    def result_file(self, path: str) -> bytes | None:
        match = re.fullmatch(r"/bulk-results/(\d+)\.jsonl", path)
        operation = self.bulk.get(f"gid://shopify/BulkOperation/{match.group(1)}") if match else None
        return operation["file"] if operation else None

    def bulkOperation(self, info, id):
        return self.bulk.get(id)

    def currentBulkOperation(self, info, type="QUERY"):
        mine = [op for op in self.bulk.values() if op["type"] == type]
        return mine[-1] if mine else None

    def stock(self, sku: str, location: str) -> int | None:
        variant = self.by_sku(sku)
        return self.inventory.get((variant["inventoryItem"], location)) if variant else None

    # -- orders ---------------------------------------------------------------------------------

    def add_order(self, name: str, lines: list[tuple[str, int, str]], *, shipping: str = "4.90", tax: str = "0",
                  paid: str = "authorized", authorized: str | None = None, updated_at: str | None = None) -> dict:
        """An order as a checkout makes it, with prices that include the tax (as European stores
        have them); ``paid``: authorized (to be captured, ``authorized`` or the total) or sale (paid)."""
        with self.lock:
            items = [{"id": self.gid("LineItem"), "sku": sku, "name": sku, "quantity": q,
                      "originalUnitPriceSet": money(price), "totalDiscountSet": money(0)} for sku, q, price in lines]
            total = sum(Decimal(p) * q for _, q, p in lines) + Decimal(shipping)
            address = {"name": "Jane Doe", "company": None, "address1": "Main St 1", "address2": None, "zip": "10115",
                       "city": "Berlin", "countryCodeV2": "DE", "phone": None}
            oid = self.gid("Order")
            order = {
                "id": oid, "name": f"#{name}", "createdAt": now(), "updatedAt": updated_at or now(),
                "cancelledAt": None, "cancellation": None,
                "email": "jane@example.com", "currencyCode": "EUR", "paymentGatewayNames": ["shopify_payments"],
                "discountCodes": [], "billingAddress": address, "shippingAddress": {**address, "address1": "Dock 7"},
                "lineItems": {"nodes": items},
                "shippingLine": {"code": "standard", "title": "Standard", "originalPriceSet": money(shipping)},
                "totalPriceSet": money(total), "totalTaxSet": money(tax), "totalDiscountsSet": money(0),
                "fulfillmentOrders": {"nodes": [{"id": self.gid("FulfillmentOrder"), "status": "OPEN", "lineItems": {
                    "nodes": [{"id": self.gid("FulfillmentOrderLineItem"), "remainingQuantity": i["quantity"],
                               "lineItem": {"sku": i["sku"]}} for i in items]}}]},
                "fulfillments": [], "refunds": [], "cancels": 0,
                "transactions": [{"id": self.gid("OrderTransaction"), "kind": "AUTHORIZATION" if paid == "authorized"
                                  else "SALE", "status": "SUCCESS", "gateway": "shopify_payments",
                                  "amountSet": money(authorized or total), "parentTransaction": None}]}
            self.orders[oid] = order
            return order

    def touch(self, order: dict) -> None:
        order["updatedAt"] = now()

    def by_name(self, name: str) -> dict:
        return next(o for o in self.orders.values() if o["name"] == f"#{name}")

    def orders_(self, info, first, after=None, query=None, sortKey=None, **_):
        found = sorted(self.orders.values(), key=lambda o: (o["updatedAt"], o["id"]))
        match = re.fullmatch(r"updated_at:>='([^']+)'", query or "")
        if query and not match:
            raise GraphQLError(f"the double understands only updated_at:>='...', not {query!r}")
        if match:
            found = [o for o in found if o["updatedAt"] >= match.group(1)]
        start = int(after or 0)
        page = found[start:start + first]
        return {"nodes": page, "pageInfo": {"hasNextPage": start + first < len(found), "endCursor": str(start + first)}}

    def order(self, info, id):
        return self.orders.get(id)

    def fulfillmentCreate(self, info, fulfillment, **_):
        lines = []
        for group in fulfillment["lineItemsByFulfillmentOrder"]:
            fo = next(f for o in self.orders.values() for f in o["fulfillmentOrders"]["nodes"]
                      if f["id"] == group["fulfillmentOrderId"])
            for wanted in group["fulfillmentOrderLineItems"]:
                item = next(i for i in fo["lineItems"]["nodes"] if i["id"] == wanted["id"])
                if wanted["quantity"] > item["remainingQuantity"]:
                    return {"fulfillment": None, "userErrors": [{"field": ["fulfillment"], "message":
                                                                 "Invalid fulfillment order line item quantity"}]}
                lines.append((item, wanted["quantity"]))
        order = next(o for o in self.orders.values() if fo in o["fulfillmentOrders"]["nodes"])
        for item, quantity in lines:
            item["remainingQuantity"] -= quantity
        tracking = fulfillment.get("trackingInfo") or {}
        numbers = tracking.get("numbers") or ([tracking["number"]] if tracking.get("number") else [])
        done = {"id": self.gid("Fulfillment"), "status": "SUCCESS",
                "trackingInfo": [{"number": n, "company": tracking.get("company")} for n in numbers],
                "fulfillmentLineItems": {"nodes": [{"quantity": q, "lineItem": {"sku": i["lineItem"]["sku"]}}
                                                   for i, q in lines]}}
        order["fulfillments"].append(done)
        self.touch(order)
        return {"fulfillment": done, "userErrors": []}

    def orderCapture(self, info, input):
        order = self.orders[input["id"]]
        ok = [t for t in order["transactions"] if t["status"] == "SUCCESS"]
        authorised = sum(Decimal(t["amountSet"]["shopMoney"]["amount"]) for t in ok if t["kind"] == "AUTHORIZATION")
        captured = sum(Decimal(t["amountSet"]["shopMoney"]["amount"]) for t in ok if t["kind"] == "CAPTURE")
        if captured + Decimal(input["amount"]) > authorised:
            return {"transaction": None, "userErrors": [{"field": ["input", "amount"], "message":
                                                         f"Amount exceeds the capturable {authorised - captured}"}]}
        capture = {"id": self.gid("OrderTransaction"), "kind": "CAPTURE", "status": "SUCCESS",
                   "gateway": "shopify_payments", "amountSet": money(input["amount"]),
                   "parentTransaction": {"id": input["parentTransactionId"]}}
        order["transactions"].append(capture)
        self.touch(order)
        return {"transaction": capture, "userErrors": []}

    def captures(self, name: str) -> list[Decimal]:
        return [Decimal(t["amountSet"]["shopMoney"]["amount"]) for t in self.by_name(name)["transactions"]
                if t["kind"] == "CAPTURE"]

    def _refund(self, order: dict, note: str | None, lines: list[tuple[str, int, str]]) -> dict:
        """A refund as Shopify keeps it: its note and line items with their restock type."""
        items = {i["id"]: i for i in order["lineItems"]["nodes"]}
        refund = {"id": self.gid("Refund"), "note": note, "refundLineItems": {"nodes": [
            {"quantity": quantity, "restockType": restock, "lineItem": {"sku": items[item]["sku"]}}
            for item, quantity, restock in lines]}}
        order["refunds"].append(refund)
        return refund

    def refund_in_shop(self, name: str, lines: list[tuple[str, int, str]], note: str | None = None) -> dict:
        """The merchant refunds in Shopify's admin: ``(sku, quantity, restock type)`` per line."""
        with self.lock:
            order = self.by_name(name)
            ids = {i["sku"]: i["id"] for i in order["lineItems"]["nodes"]}
            refund = self._refund(order, note, [(ids[sku], q, how) for sku, q, how in lines])
            self.touch(order)
            return refund

    def cancel_in_shop(self, name: str, staff_note: str | None = None) -> None:
        """The merchant cancels the order in Shopify's admin."""
        with self.lock:
            order = self.by_name(name)
            order["cancelledAt"], order["cancellation"] = now(), {"staffNote": staff_note}
            self.touch(order)

    def refundCreate(self, info, input):
        def work():
            order = self.orders[input["orderId"]]
            refund = self._refund(order, input.get("note"), [(i["lineItemId"], i["quantity"], i.get("restockType"))
                                                             for i in input.get("refundLineItems") or []])
            refund["input"] = input
            for t in input.get("transactions") or []:
                order["transactions"].append({"id": self.gid("OrderTransaction"), "kind": "REFUND", "status": "SUCCESS",
                                              "gateway": t["gateway"], "amountSet": money(t["amount"]),
                                              "parentTransaction": {"id": t.get("parentId")}})
            self.touch(order)
            return {"refund": {"id": refund["id"]}, "userErrors": []}
        return self._replayed(info, "refundCreate", work)

    def orderCancel(self, info, orderId, reason, restock, staffNote=None, **_):
        order = self.orders[orderId]
        if order["cancelledAt"]:
            return {"job": None, "orderCancelUserErrors": [{"field": ["orderId"], "message": "Order is already "
                                                            "cancelled", "code": "INVALID"}]}
        order["cancelledAt"], order["cancellation"] = now(), {"staffNote": staffNote}
        order["cancels"] += 1
        self.touch(order)
        return {"job": {"id": self.gid("Job")}, "orderCancelUserErrors": []}

    # -- webhooks -------------------------------------------------------------------------------

    def webhook(self, url: str, topic: str, order: dict, *, webhook_id: str, secret: str = SECRET) -> httpx.Response:
        """POST ``topic`` about ``order`` as Shopify does: the REST-shaped body, HMAC-signed."""
        body = json.dumps({"id": int(order["id"].rsplit("/", 1)[1]), "admin_graphql_api_id": order["id"],
                           "name": order["name"], "updated_at": order["updatedAt"]}).encode()
        signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        return httpx.post(url, content=body, timeout=30, headers={
            "Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Hmac-SHA256": signature,
            "X-Shopify-Webhook-Id": webhook_id, "X-Shopify-Shop-Domain": "test.myshopify.com",
            "X-Shopify-API-Version": self.version})
