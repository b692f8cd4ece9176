"""The Shopify connector: catalog, prices and stock out, orders in, feedback out.

* ``push_products``: ``productSet`` per product, after one look-up of the batch's SKUs (a
  redelivery finds what an earlier try created, and only a product Shopify does not have yet gets
  a status: ``new_product_status``, DRAFT by default); a parent and the variants naming it by
  ``parent_sku`` are one Shopify product with options (:meth:`ShopifyConnector._product_sets`);
  a message of at least ``bulk_from`` products is one bulk operation (``_bulk_products``).
* ``push_prices``: list prices by ``productVariantsBulkUpdate``, volume and customer prices on
  B2B price lists by ``quantityPricingByVariantUpdate`` (``_push_prices``); ``push_stock``:
  ``inventorySetQuantities`` per mapped location, under the message's idempotency key
  (``@idempotent``).
* orders: ``fetch("orders", since)`` pages through ``orders(query: "updated_at:>=...")`` from
  ``order_overlap`` seconds before ``since``; the order service dedupes on the shop order number,
  so an order seen again (the overlap, a webhook) goes in once. Webhooks: :mod:`.webhooks`.
* feedback: a shipment is one ``fulfillmentCreate`` with its tracking numbers (looked up first:
  a fulfilment with the same tracking numbers is the earlier try's); an invoice is a capture
  (``orderCapture``; a capture of the same amount not yet bound to another invoice is the earlier
  try's); a credit memo a refund (``refundCreate`` under the message's key); a cancelled status
  ``orderCancel`` unless Shopify has it cancelled already. Other statuses Shopify works out itself.
* made in Shopify: an order the merchant cancelled there becomes its cancellation to the ERP, a
  refund's items restocked as returned (``RETURN``) a return, as cancelled (``CANCEL``) a
  cancellation of those items; each once, under the Shopify id (kit/shop_changes.py). erpbridge's
  own cancellations and refunds carry a staff note or note starting ``erpbridge`` and are not sent
  back; refunds of a cancelled order are part of its cancellation.

A mutation's ``userErrors`` are a :class:`MessageError` naming the record and the field.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Iterator

import httpx
import orjson
from sqlalchemy import select

from erpbridge.connectors.base import DeliveryResult, GeneralError, MessageError
from erpbridge.connectors.kit import shop_changes
from erpbridge.connectors.shopify import documents as q
from erpbridge.connectors.shopify.adapter import ShopifyAdapter
from erpbridge.connectors.shopify.mapper import order_number, order_record, product_input
from erpbridge.ingest import Raw
from erpbridge.store.tables import bindings

#: Items per look-up or mutation (Shopify's input arrays take at most 250).
CHUNK = 250
#: Inventory levels read per variant by :meth:`ShopifyConnector.read_stock` (Shopify plans allow
#: up to a few dozen locations; most shops stock a variant at fewer than ten).
LEVELS_READ = 20
#: Options a Shopify product may have.
MAX_OPTIONS = 3
#: How erpbridge's own notes in Shopify begin: the ERP's cancellation (staff note), its refunds (note).
CANCELLED_BY_ERP, MEMO_BY_ERP = "erpbridge: cancelled by the ERP", "erpbridge credit memo "


class ShopifyConnector:
    def __init__(self, app, name: str, cfg, adapter: ShopifyAdapter):
        self.app, self.name, self.cfg, self.adapter = app, name, cfg, adapter

    # -- outbox ---------------------------------------------------------------------------------

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult:
        handler = getattr(self, f"_{operation}", None)
        if handler is None:
            raise MessageError(f"{self.name}: the Shopify connector does not deliver {operation}")
        return handler(payload, idempotency_key)

    def _push_products(self, payload: dict, key: str) -> DeliveryResult:
        if self.cfg.bulk_from and len(payload["records"]) >= self.cfg.bulk_from:
            return self._bulk_products(payload["records"], key)
        sets, failures = self._product_sets(payload["records"], "push_products")
        ids: dict[str, str] = {}
        for item in sets:
            try:
                result = self._mutate(q.PRODUCT_SET, item.variables, "productSet", "push_products", item.what)
            except MessageError as exc:
                failures.append(str(exc))
                continue
            ids.update(dict.fromkeys(item.skus, result["product"]["id"]))
        self._refused("products", failures)
        return DeliveryResult(response={"products": ids})

    def _product_sets(self, records: list[dict], flow: str) -> tuple[list[ProductSet], list[str]]:
        """One ``productSet`` per Shopify product of these canonical products, after one SKU
        look-up, and the products refused by name.

        A product without variants is a product with one variant (its SKU). A variant
        (``parent_sku``) and its parent are ONE Shopify product: the parent's title, description
        and type, the axes of its variants' ``attributes`` as options, every variant of the
        parent the store holds as a variant (``productSet`` replaces the variant list, so a push
        of one changed variant sends its siblings too). The product is found by any of its SKUs
        (a parent pushed before it had variants is that product, its one variant replaced);
        only one Shopify does not have gets ``new_product_status``. A variant whose parent is
        not in the store, or whose values of the axes are missing or repeat a sibling's, is
        refused by name; the rest go through."""
        from erpbridge.store.tables import products

        failures: list[str] = []
        batch = {r["sku"]: r for r in records}
        families: dict[str, dict[str, dict]] = {}
        for r in records:
            if r.get("parent_sku"):
                families.setdefault(r["parent_sku"], {})[r["sku"]] = r
        keys = list(batch)
        with self.app.engine.connect() as conn:
            for start in range(0, len(keys), CHUNK):
                families.update((p, families.get(p, {})) for p in conn.execute(select(products.c.parent_sku).distinct()
                                .where(products.c.parent_sku.in_(keys[start:start + CHUNK]))).scalars())
        parents: dict[str, dict] = {}
        for sku in sorted(families):
            parent = batch.get(sku) or _dumped(self.app.records.get("products", sku))
            stored = {p.sku: p.model_dump(mode="json")
                      for p in self.app.records.find("products", products.c.parent_sku == sku)}
            if parent is None:
                failures += [f"{self.name}: product {v}: its parent {sku} (parent_sku) is unknown: not in the store"
                             for v in sorted(families[sku])]
                continue
            parents[sku] = parent
            families[sku] = {**stored, **families[sku]}
        simple = [r for r in records if r["sku"] not in families and r.get("parent_sku") not in families]
        skus = [r["sku"] for r in simple] + [s for p in parents for s in (p, *families[p])]
        known = self._variants(sorted(set(skus)), flow)
        sets = []
        for record in simple:
            variant = known.get(record["sku"])
            data = product_input(record, new_status=None if variant else self.cfg.new_product_status)
            if variant:
                data["variants"][0]["id"] = variant["id"]
            sets.append(ProductSet(f"product {record['sku']}", [record["sku"]], {
                "input": data, "identifier": {"id": variant["product"]["id"]} if variant else None}))
        for sku, parent in parents.items():
            variants = [families[sku][v] for v in sorted(families[sku])]
            axes, problems = _axes(sku, variants)
            if problems:
                failures += [f"{self.name}: {problem}" for problem in problems]
                continue
            product = next((known[s]["product"]["id"] for s in (sku, *(v["sku"] for v in variants)) if s in known),
                           None)
            data = product_input(parent, new_status=None if product else self.cfg.new_product_status,
                                 variants=variants, options=axes)
            for item in data["variants"]:
                if item["sku"] in known and known[item["sku"]]["product"]["id"] == product:
                    item["id"] = known[item["sku"]]["id"]
            named = ", ".join(v["sku"] for v in variants) if len(variants) <= 5 else f"{len(variants)} variants"
            sets.append(ProductSet(f"product {sku} with its variants {named}",
                                   [sku, *(v["sku"] for v in variants)],
                                   {"input": data, "identifier": {"id": product} if product else None}))
        return sets, failures

    def _bulk_products(self, records: list[dict], key: str) -> DeliveryResult:
        """A (full catalog) push as one bulk operation.

        A bulk mutation still running for this app (an earlier try's, whose worker died) is
        waited for first, so the look-ups see what it made and nothing is created twice (Shopify
        would run up to 5 at once from 2026-01; erpbridge runs one at a time for this). Then the
        products are planned as one by one (:meth:`_product_sets`: look-ups by SKU, drafts only
        when new), written one ``productSet`` per JSONL line, uploaded to the target
        ``stagedUploadsCreate`` names and run by ``bulkOperationRunMutation``; ``bulkOperation``
        is polled until it is finished and its result file read line by line
        (``__lineNumber``): a line's ``userErrors`` or errors are a message error naming its
        SKU, after the other lines went through. Shopify not finished within
        ``bulk_wait_seconds`` is a general error: the message waits, its attempts kept."""
        flow = "push_products"
        self._bulk_finished(self._current_bulk(flow), flow)
        lines, failures = self._product_sets(records, flow)
        ids: dict[str, str] = {}
        if lines:
            operation = self._run_bulk(lines, key, flow)
            answered: set[int] = set()
            for line in self._bulk_results(operation, flow):
                number = int(line.get("__lineNumber", -1))
                if not 0 <= number < len(lines):
                    continue
                answered.add(number)
                item, result = lines[number], ((line.get("data") or {}).get("productSet") or {})
                problems = [f"{'.'.join(e.get('field') or []) or '(record)'}: {e['message']}"
                            for e in result.get("userErrors") or []] + [e.get("message", str(e))
                                                                        for e in line.get("errors") or []]
                if problems or not result.get("product"):
                    failures.append(f"{self.name} refused productSet for {item.what} (bulk operation "
                                    f"{operation['id']}): {'; '.join(problems) or 'no product'}")
                else:
                    ids.update(dict.fromkeys(item.skus, result["product"]["id"]))
            failures += [f"{self.name}: {lines[n].what}: the bulk operation {operation['id']} has no result for it"
                         for n in sorted(set(range(len(lines))) - answered)]
        self._refused("products", failures)
        return DeliveryResult(response={"products": ids, "bulk_lines": len(lines)})

    def _current_bulk(self, flow: str) -> dict | None:
        return self.adapter.graphql(q.CURRENT_BULK, {}, flow=flow, point="shopify.currentBulkOperation",
                                    read=True)["currentBulkOperation"]

    def _bulk_finished(self, operation: dict | None, flow: str) -> dict | None:
        """``operation`` once Shopify has finished it (polled every ``bulk_poll_seconds``)."""
        deadline = time.monotonic() + self.cfg.bulk_wait_seconds
        while operation is not None and operation["status"] in ("CREATED", "RUNNING", "CANCELING"):
            if time.monotonic() > deadline:
                raise GeneralError(f"{self.name}: bulk operation {operation['id']} is still {operation['status']} "
                                   f"after {self.cfg.bulk_wait_seconds:g} s (bulk_wait_seconds)",
                                   retry_after=self.cfg.bulk_poll_seconds)
            time.sleep(self.cfg.bulk_poll_seconds)
            operation = self.adapter.graphql(q.BULK_OPERATION, {"id": operation["id"]}, flow=flow,
                                             point="shopify.bulkOperation", read=True)["bulkOperation"]
        return operation

    def _run_bulk(self, lines: list[ProductSet], key: str, flow: str) -> dict:
        """Upload the lines' variables as JSONL, run the bulk mutation, and wait until it is finished."""
        body = b"".join(orjson.dumps(item.variables) + b"\n" for item in lines)
        staged = self._mutate(q.STAGED_UPLOAD, {"input": [{
            "resource": "BULK_MUTATION_VARIABLES", "filename": "erpbridge-products.jsonl", "mimeType": "text/jsonl",
            "httpMethod": "POST"}]}, "stagedUploadsCreate", flow, f"the upload of {len(lines)} products")
        target = staged["stagedTargets"][0]
        parameters = {p["name"]: p["value"] for p in target["parameters"]}
        form = httpx.Request("POST", target["url"], data=parameters,
                             files={"file": ("erpbridge-products.jsonl", body, "text/jsonl")})
        self.adapter.request("POST", target["url"], flow=flow, point="shopify.stagedUpload", record_bodies=False,
                             authenticate=False, content=form.read(),
                             headers={"Content-Type": form.headers["Content-Type"]})
        result = self.adapter.graphql(q.BULK_RUN, {"mutation": q.BULK_PRODUCT_SET, "path": parameters["key"],
                                                   "client": key[:255]},
                                      flow=flow, point="shopify.bulkOperationRunMutation")["bulkOperationRunMutation"]
        errors = result.get("userErrors") or []
        said = "; ".join(f"{e.get('code') or ''} {e['message']}".strip() for e in errors)
        if any(e.get("code") in ("OPERATION_IN_PROGRESS", "LIMIT_REACHED") for e in errors):  # others' bulk work
            raise GeneralError(f"{self.name}: Shopify runs no further bulk mutation now: {said}",
                               retry_after=self.cfg.bulk_poll_seconds)
        if errors or not result.get("bulkOperation"):
            raise MessageError(f"{self.name} refused bulkOperationRunMutation for {len(lines)} products: {said}")
        operation = self._bulk_finished(result["bulkOperation"], flow)
        if operation["status"] != "COMPLETED":
            raise MessageError(f"{self.name}: bulk operation {operation['id']} of {len(lines)} products ended "
                               f"{operation['status']} ({operation.get('errorCode') or 'no error code'})")
        return operation

    def _bulk_results(self, operation: dict, flow: str) -> Iterator[dict]:
        """The lines of a finished bulk operation's result file (none when it has no file)."""
        url = operation.get("url") or operation.get("partialDataUrl")
        if not url:
            return
        response = self.adapter.request("GET", url, flow=flow, point="shopify.bulkResults", record_bodies=False,
                                        authenticate=False, idempotent=True)
        for raw in response.content.splitlines():
            if raw.strip():
                yield orjson.loads(raw)

    def _push_prices(self, payload: dict, key: str) -> DeliveryResult:
        """List prices on the variants; volume and customer prices on B2B price lists.

        Shopify's core Admin API has one price per variant: the list price
        (``productVariantsBulkUpdate``). Volume tiers exist only as quantity price breaks of a
        B2B price list, which needs a fixed price of the variant on that list; customer prices
        only as a price list of the customer's company catalog. So a volume price goes to
        ``volume_price_list`` (fixed price: the list price), a customer's price and tiers to its
        ``customer_price_lists`` entry (fixed price: its price from one piece, else the list
        price), each variant with all its tiers from the store. Refused by name, after the rest
        went through: a volume or customer price without a price list configured, a price in
        another currency than its price list, a fractional minimum quantity, a tier without a
        price from one piece to base it on. A price not yet valid or no longer valid is not sent."""
        today = dt.date.today().isoformat()
        due = [r for r in payload["records"]
               if (r.get("valid_from") or today) <= today and (r.get("valid_to") or today) >= today]
        prices = {r["sku"]: r for r in due if r.get("customer") is None and _minimum(r) == 1}
        failures: list[str] = []
        targets: dict[str, dict[str, set[str]]] = {}  # price list -> customer ("" for volume) -> SKUs
        for r in due:
            if r.get("customer") is None and _minimum(r) == 1:
                continue
            what = _price_words(r)
            gid = self.cfg.customer_price_lists.get(r["customer"]) if r.get("customer") else self.cfg.volume_price_list
            if gid is None:
                failures.append(f"{self.name}: {what}: " + (
                    f"customer {r['customer']} has no price list (customer_price_lists: its B2B catalog's)"
                    if r.get("customer") else "no volume_price_list configured (Shopify has volume prices only as "
                    "quantity price breaks of a B2B price list)"))
            elif _minimum(r) != _minimum(r).to_integral_value():
                failures.append(f"{self.name}: {what}: min_quantity: Shopify's quantity breaks take whole pieces")
            else:
                targets.setdefault(gid, {}).setdefault(r.get("customer") or "", set()).add(r["sku"])
        tiered = {sku for customers in targets.values() for skus in customers.values() for sku in skus}
        known = self._variants(sorted(set(prices) | tiered), "push_prices")
        by_product: dict[str, list[dict]] = {}
        for sku, price in prices.items():
            if sku in known:
                by_product.setdefault(known[sku]["product"]["id"], []).append(
                    {"id": known[sku]["id"], "price": str(price["amount"])})
        for product, variants in by_product.items():
            self._mutate(q.VARIANT_PRICES, {"productId": product, "variants": variants}, "productVariantsBulkUpdate",
                         "push_prices", f"prices of {', '.join(sorted(p['sku'] for p in prices.values()))}")
        sent = sum(map(len, by_product.values()))
        for gid, customers in targets.items():
            sent += self._price_list(gid, customers, known, failures)
        self._refused("prices", failures)
        return DeliveryResult(response={"sent": sent, "not_in_shopify": sorted((set(prices) | tiered) - set(known))})

    def _price_list(self, gid: str, customers: dict[str, set[str]], known: dict[str, dict],
                    failures: list[str]) -> int:
        """Set the fixed prices and quantity breaks of these customers' SKUs ("": volume prices)
        on price list ``gid`` from the store: a variant's breaks are deleted, then its current
        ones added (one call each, so the order Shopify applies a call's lists in does not
        matter). How many variants were set."""
        from erpbridge.store.tables import prices as table

        found = self.adapter.graphql(q.PRICE_LIST, {"id": gid}, flow="push_prices", point="shopify.priceList",
                                     read=True)["priceList"]
        if found is None:
            failures.append(f"{self.name}: price list {gid} does not exist in Shopify "
                            f"({'volume_price_list' if '' in customers else 'customer_price_lists'})")
            return 0
        currency, today = found["currency"], dt.date.today()
        fixed, breaks = [], []
        for customer, skus in sorted(customers.items()):
            stored = [p for p in self.app.records.find("prices", table.c.sku.in_(sorted(skus)))
                      if (p.valid_from or today) <= today <= (p.valid_to or today)]
            for sku in sorted(skus & set(known)):
                mine = [p for p in stored if p.sku == sku and p.currency == currency]
                other = sorted({p.currency for p in stored if p.sku == sku and p.currency != currency
                                and (p.customer or "") == customer and (customer or p.min_quantity > 1)})
                if other:
                    failures.append(f"{self.name}: {_price_words({'sku': sku, 'customer': customer or None})}: "
                                    f"currency: {', '.join(other)}, but price list {gid} is in {currency}")
                base = next((p for p in mine if p.customer == (customer or None) and p.min_quantity == 1), None) \
                    or next((p for p in mine if p.customer is None and p.min_quantity == 1), None)
                tiers = [p for p in mine if (p.customer or "") == customer and p.min_quantity > 1
                         and p.min_quantity == p.min_quantity.to_integral_value()]
                if base is None:
                    if tiers:
                        failures.append(f"{self.name}: {_price_words({'sku': sku, 'customer': customer or None})}: "
                                        f"no price from one piece in {currency} to base the quantity breaks on "
                                        "(Shopify needs a fixed price on the price list)")
                    continue
                variant = known[sku]["id"]
                fixed.append({"variantId": variant, "price": {"amount": str(base.amount), "currencyCode": currency}})
                breaks += [{"variantId": variant, "minimumQuantity": int(p.min_quantity),
                            "price": {"amount": str(p.amount), "currencyCode": currency}} for p in tiers]
        variants = [f["variantId"] for f in fixed]
        nothing = {"pricesToAdd": [], "pricesToDeleteByVariantId": [], "quantityPriceBreaksToAdd": [],
                   "quantityPriceBreaksToDelete": [], "quantityRulesToAdd": [], "quantityRulesToDeleteByVariantId": []}
        what = f"prices of {len(variants)} variants on price list {gid}"
        for start in range(0, len(variants), CHUNK):
            chunk = set(variants[start:start + CHUNK])
            try:
                self._mutate(q.QUANTITY_PRICING, {"priceListId": gid, "input": {
                    **nothing, "pricesToAdd": [f for f in fixed if f["variantId"] in chunk],
                    "quantityPriceBreaksToDeleteByVariantId": sorted(chunk)}},
                    "quantityPricingByVariantUpdate", "push_prices", what)
                added = [b for b in breaks if b["variantId"] in chunk]
                for first in range(0, len(added), CHUNK):
                    self._mutate(q.QUANTITY_PRICING, {"priceListId": gid, "input": {
                        **nothing, "quantityPriceBreaksToAdd": added[first:first + CHUNK]}},
                        "quantityPricingByVariantUpdate", "push_prices", what)
            except MessageError as exc:
                failures.append(str(exc))
        return len(variants)

    def _push_stock(self, payload: dict, key: str) -> DeliveryResult:
        records = [r for r in payload["records"] if r["warehouse"] in self.cfg.locations]
        known = self._variants(sorted({r["sku"] for r in records}), "push_stock")
        quantities = []
        for r in records:
            if r["sku"] not in known:
                continue
            amount = Decimal(str(r["quantity"]))
            if amount != amount.to_integral_value():
                raise MessageError(f"{self.name}: stock of {r['sku']} in {r['warehouse']}: quantity {amount} is not a "
                                   "whole number (Shopify counts whole units)")
            quantities.append({"inventoryItemId": known[r["sku"]]["inventoryItem"]["id"],
                               "locationId": self.cfg.locations[r["warehouse"]], "quantity": int(amount),
                               "changeFromQuantity": None})  # must be given (2026-04); null: set, no compare
        for n, start in enumerate(range(0, len(quantities), CHUNK)):
            self._mutate(q.SET_STOCK, {"key": f"{key}:{n}", "input": {
                "name": self.cfg.stock_quantity, "reason": "correction", "quantities": quantities[start:start + CHUNK],
                "referenceDocumentUri": f"gid://erpbridge/StockPush/{key}"}},
                "inventorySetQuantities", "push_stock", f"stock of {len(quantities)} items")
        return DeliveryResult(response={"sent": len(quantities),
                                        "not_in_shopify": sorted({r["sku"] for r in records} - set(known)),
                                        "unmapped_warehouses": len(payload["records"]) - len(records)})

    def _send_shipment(self, shipment: dict, key: str) -> DeliveryResult:
        order_id = self._order_id(shipment["order"], f"shipment {shipment['id']}")
        state = self.adapter.graphql(q.FULFILMENT_STATE, {"id": order_id}, flow="feedback",
                                     point="shopify.fulfillmentState", read=True)["order"]
        wanted = {line["sku"]: Decimal(str(line["quantity"])) for line in shipment["lines"]}
        tracking = sorted(shipment.get("tracking_numbers") or [])
        for done in state["fulfillments"]:
            numbers = sorted(t["number"] for t in done["trackingInfo"] if t.get("number"))
            lines = {n["lineItem"]["sku"]: Decimal(n["quantity"]) for n in done["fulfillmentLineItems"]["nodes"]}
            if numbers == tracking and (tracking or lines == wanted):
                return DeliveryResult(external_id=done["id"], response={"fulfillment": done["id"], "again": True})
        by_order: dict[str, list[dict]] = {}
        for sku, quantity in wanted.items():
            left = quantity
            for fo in state["fulfillmentOrders"]["nodes"]:
                for item in fo["lineItems"]["nodes"]:
                    take = min(left, Decimal(item["remainingQuantity"]))
                    if item["lineItem"]["sku"] == sku and take > 0:
                        by_order.setdefault(fo["id"], []).append({"id": item["id"], "quantity": int(take)})
                        left -= take
            if left > 0:
                raise MessageError(f"{self.name}: shipment {shipment['id']} of order {shipment['order']}: lines.{sku}: "
                                   f"{quantity} to ship, but only {quantity - left} are open in Shopify")
        info = {"numbers": tracking} if tracking else None
        if info and shipment.get("carrier"):
            info["company"] = shipment["carrier"]
        result = self._mutate(q.FULFILMENT_CREATE, {"fulfillment": {
            "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo, "fulfillmentOrderLineItems": items}
                                            for fo, items in by_order.items()],
            "trackingInfo": info, "notifyCustomer": self.cfg.notify_customer}},
            "fulfillmentCreate", "feedback", f"shipment {shipment['id']} of order {shipment['order']}")
        return DeliveryResult(external_id=result["fulfillment"]["id"], response=result)

    def _send_invoice(self, invoice: dict, key: str) -> DeliveryResult:
        what = f"invoice {invoice['id']} of order {invoice['order']}"
        order = self._transactions(invoice["order"], what)
        ok = [t for t in order["transactions"] if t["status"] == "SUCCESS"]
        total = Decimal(str(invoice["total"]))
        claimed = self._bound_elsewhere("invoices", invoice["id"])
        for t in ok:
            if t["kind"] == "CAPTURE" and t["id"] not in claimed and _amount(t) == total:
                return DeliveryResult(external_id=t["id"], response={"capture": t["id"], "again": True})
        authorisation = next((t for t in ok if t["kind"] == "AUTHORIZATION"), None)
        if authorisation is None:  # paid at checkout (a sale) or offline: nothing to capture
            return DeliveryResult(response={"capture": None, "reason": "no authorisation to capture"})
        result = self._mutate(q.ORDER_CAPTURE, {"input": {
            "id": order["id"], "parentTransactionId": authorisation["id"], "amount": str(total),
            "currency": invoice["currency"]}}, "orderCapture", "feedback", what)
        return DeliveryResult(external_id=result["transaction"]["id"], response=result)

    def _send_credit_memo(self, memo: dict, key: str) -> DeliveryResult:
        what = f"credit memo {memo['id']} of order {memo['order']}"
        order = self._transactions(memo["order"], what)
        node = self.adapter.graphql(q.ORDER, {"id": order["id"]}, flow="feedback", point="shopify.order",
                                    read=True)["order"]
        items = {i["sku"]: i["id"] for i in node["lineItems"]["nodes"]}
        lines = []
        for n, line in enumerate(memo.get("lines") or []):
            if line.get("sku"):
                if line["sku"] not in items:
                    raise MessageError(f"{self.name}: {what}: lines.{n}.sku: {line['sku']} is not in the order")
                lines.append({"lineItemId": items[line["sku"]], "quantity": int(Decimal(str(line["quantity"]))),
                              "restockType": "RETURN"})
        paid = next((t for t in order["transactions"] if t["status"] == "SUCCESS" and t["kind"] in ("CAPTURE", "SALE")),
                    None)
        data: dict[str, Any] = {"orderId": order["id"], "refundLineItems": lines, "notify": self.cfg.notify_customer,
                                "note": f"{MEMO_BY_ERP}{memo['id']}"}
        if paid is not None:
            data["transactions"] = [{"orderId": order["id"], "gateway": paid["gateway"], "kind": "REFUND",
                                     "amount": str(memo["total"]), "parentId": paid["id"]}]
        result = self._mutate(q.REFUND_CREATE, {"input": data, "key": key}, "refundCreate", "feedback", what)
        return DeliveryResult(external_id=result["refund"]["id"], response=result)

    def _send_order_status(self, status: dict, key: str) -> DeliveryResult:
        if status["status"] != "cancelled":  # Shopify works out the others from fulfilments and payments
            return DeliveryResult(response={"status": status["status"], "sent": False})
        what = f"cancellation of order {status['order']}"
        order = self._transactions(status["order"], what)
        if order["cancelledAt"]:
            return DeliveryResult(external_id=order["id"], response={"cancelled_at": order["cancelledAt"]})
        self._mutate(q.ORDER_CANCEL, {"orderId": order["id"], "reason": self.cfg.cancel_reason, "restock": True,
                                      "notify": self.cfg.notify_customer, "note": CANCELLED_BY_ERP},
                     "orderCancel", "feedback", what,
                     errors="orderCancelUserErrors")
        return DeliveryResult(external_id=order["id"], response={"cancelled": True})

    # -- orders in ------------------------------------------------------------------------------

    def fetch(self, kind: str, since: dt.datetime | None = None) -> Iterator[Raw]:
        if kind != "orders":
            raise MessageError(f"{self.name}: the Shopify connector fetches orders, not {kind}")
        query = None
        if since is not None:
            start = since.astimezone(dt.timezone.utc) - dt.timedelta(seconds=self.cfg.order_overlap)
            query = f"updated_at:>='{start.strftime('%Y-%m-%dT%H:%M:%SZ')}'"
        after = None
        page = 0
        while True:
            page += 1
            found = self.adapter.graphql(q.ORDERS, {"first": self.cfg.page_size, "after": after, "query": query},
                                         flow="orders", point="shopify.orders", read=True)["orders"]
            for node in found["nodes"]:
                if node.get("cancelledAt") is None:
                    yield self.raw_order(node, f"orders page {page}")
            yield from self.made_in_shop(found["nodes"])
            if not found["pageInfo"]["hasNextPage"]:
                return
            after = found["pageInfo"]["endCursor"]

    def raw_order(self, node: dict, where: str) -> Raw:
        return Raw(node, f"{where}, order {node.get('name')} ({node.get('id')})", build=self._order_record,
                   external_id=node.get("id"))

    def made_in_shop(self, nodes: list[dict]) -> Iterator[Raw]:
        """Take the cancellations and refunds the merchant made in Shopify on orders the store has
        (to the ERP, once each); yields what the store refused, to be reported."""
        from erpbridge.records.orders import CancelLine, ReturnLine

        known = shop_changes.stored_order_states(self.app, (order_number(n) for n in nodes))
        for node in nodes:
            number = order_number(node)
            if number not in known:
                continue  # not taken in (yet): its own intake comes first
            where = f"Shopify {node['id']}"
            if node.get("cancelledAt"):
                note = (node.get("cancellation") or {}).get("staffNote") or ""
                if not note.startswith(CANCELLED_BY_ERP):
                    refused = shop_changes.cancel_from_shop(self.app, self.name, number, _tail(node["id"]), known[number],
                                                            data=node, where=where, reason="cancelled in Shopify")
                    if refused is not None:
                        yield refused
                continue  # a cancelled order's refunds are part of its cancellation
            for refund in node.get("refunds") or []:
                if (refund.get("note") or "").startswith(MEMO_BY_ERP):
                    continue
                items = [(i["lineItem"]["sku"], Decimal(str(i["quantity"])), i.get("restockType"))
                         for i in refund["refundLineItems"]["nodes"]
                         if (i.get("lineItem") or {}).get("sku") and int(i.get("quantity") or 0) > 0]
                cancelled = [CancelLine(sku=sku, quantity=quantity) for sku, quantity, how in items if how == "CANCEL"]
                returned = [ReturnLine(sku=sku, quantity=quantity) for sku, quantity, how in items if how == "RETURN"]
                refused = shop_changes.return_from_shop(self.app, self.name, number, _tail(refund["id"]), returned,
                                                        data=refund, where=where)
                if cancelled and refused is None:
                    refused = shop_changes.cancel_from_shop(
                        self.app, self.name, number, f"refund-{_tail(refund['id'])}", known[number], data=refund,
                        where=where, reason="items cancelled by a refund in Shopify", lines=cancelled)
                if refused is not None:
                    yield refused

    def _order_record(self, node: dict):
        return order_record(node, self.cfg.payment_methods, self.cfg.shipping_methods)

    def order(self, gid: str, flow: str) -> dict | None:
        return self.adapter.graphql(q.ORDER, {"id": gid}, flow=flow, point="shopify.order", read=True)["order"]

    def router(self):
        from erpbridge.connectors.shopify.webhooks import router

        return router(self)

    # -- helpers --------------------------------------------------------------------------------

    def read_stock(self, levels: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Decimal | None]:
        """Shopify's ``stock_quantity`` of these (SKU, store warehouse) rows at their mapped
        locations, None where it has none; rows of unmapped warehouses are left out (never pushed).
        A call asks for as many variants as keep it under Shopify's single-query cost of 1,000;
        a variant stocked at more than ``LEVELS_READ`` locations may show a mapped one as none."""
        levels = sorted({(sku, w) for sku, w in levels if w in self.cfg.locations})
        warehouses = {location: warehouse for warehouse, location in self.cfg.locations.items()}
        per_call = max(1, min(CHUNK, 1000 // (2 + 2 * LEVELS_READ)))
        skus = sorted({sku for sku, _ in levels})
        held: dict[tuple[str, str], Decimal] = {}
        for start in range(0, len(skus), per_call):
            chunk = skus[start:start + per_call]
            data = self.adapter.graphql(q.STOCK_BY_SKU, {
                "first": len(chunk), "query": " OR ".join(f"sku:{_quoted(sku)}" for sku in chunk),
                "levels": LEVELS_READ, "names": [self.cfg.stock_quantity]},
                flow="reconcile_stock", point="shopify.productVariants", read=True)
            for variant in data["productVariants"]["nodes"]:
                for level in variant["inventoryItem"]["inventoryLevels"]["nodes"]:
                    warehouse = warehouses.get(level["location"]["id"])
                    for quantity in level["quantities"]:
                        if warehouse is not None and quantity["name"] == self.cfg.stock_quantity:
                            held[(variant["sku"], warehouse)] = Decimal(quantity["quantity"])
        return {level: held.get(level) for level in levels}

    def _variants(self, skus: list[str], flow: str) -> dict[str, dict]:
        """The variants Shopify has for these SKUs, by SKU."""
        found: dict[str, dict] = {}
        for start in range(0, len(skus), CHUNK):
            chunk = skus[start:start + CHUNK]
            query = " OR ".join(f"sku:{_quoted(sku)}" for sku in chunk)
            data = self.adapter.graphql(q.VARIANTS_BY_SKU, {"first": len(chunk), "query": query}, flow=flow,
                                        point="shopify.productVariants", read=True)
            found.update((v["sku"], v) for v in data["productVariants"]["nodes"] if v["sku"] in chunk)
        return found

    def _mutate(self, document: str, variables: dict, field: str, flow: str, what: str, *,
                errors: str = "userErrors") -> dict:
        result = self.adapter.graphql(document, variables, flow=flow, point=f"shopify.{field}")[field]
        if result is None:
            raise GeneralError(f"{self.name}: {field} for {what} answered nothing")
        if result.get(errors):
            said = "; ".join(f"{'.'.join(e.get('field') or []) or '(record)'}: {e['message']}" for e in result[errors])
            raise MessageError(f"{self.name} refused {field} for {what}: {said}")
        return result

    def _order_id(self, number: str, what: str) -> str:
        with self.app.engine.connect() as conn:
            gid = conn.execute(select(bindings.c.external_id).where(
                bindings.c.kind == "orders", bindings.c.key == number, bindings.c.system == self.name)).scalar()
        if gid is None:
            raise MessageError(f"{self.name}: {what}: order {number} has no Shopify id (it did not come from Shopify)")
        return gid

    def _transactions(self, number: str, what: str) -> dict:
        return self.adapter.graphql(q.TRANSACTIONS, {"id": self._order_id(number, what)}, flow="feedback",
                                    point="shopify.transactions", read=True)["order"]

    def _bound_elsewhere(self, kind: str, key: str) -> set[str]:
        """Shopify ids already bound to other records of this kind (captures of earlier invoices)."""
        with self.app.engine.connect() as conn:
            return set(conn.execute(select(bindings.c.external_id).where(
                bindings.c.kind == kind, bindings.c.system == self.name, bindings.c.key != key)).scalars())

    def _refused(self, what: str, failures: list[str]) -> None:
        """A message error naming each refused record (each failure names the system), after the
        others went through."""
        if len(failures) == 1:
            raise MessageError(failures[0])
        if failures:
            raise MessageError(f"{len(failures)} {what} refused: " + "; ".join(failures))

    def close(self) -> None:
        self.adapter.close()


@dataclass
class ProductSet:
    """One ``productSet`` call: what it is (for messages), the canonical SKUs it carries, its variables."""

    what: str
    skus: list[str]
    variables: dict


def _minimum(price: dict) -> Decimal:
    return Decimal(str(price.get("min_quantity", 1)))


def _price_words(price: dict) -> str:
    """A price as a user names it: ``volume price of A-1 from 10``, ``price of A-1 for customer C1``."""
    words = f"price of {price['sku']}" + (f" for customer {price['customer']}" if price.get("customer") else "")
    if price.get("min_quantity") is not None and _minimum(price) > 1:
        words = f"{'customer ' if price.get('customer') else 'volume '}{words} from {price['min_quantity']}"
    return words


def _dumped(record) -> dict | None:
    return None if record is None else record.model_dump(mode="json")


def _axes(parent: str, variants: list[dict]) -> tuple[list[str], list[str]]:
    """The parent's axes (the names of its variants' ``attributes``), and why these variants
    cannot be one Shopify product: a variant without a value of every axis (Shopify needs one
    per option), more than Shopify's 3 options, two variants with the same values."""
    axes = sorted(set().union(*(v["attributes"] for v in variants)))
    if not axes:
        return axes, [f"product {v['sku']}: attributes: a variant of {parent} needs its values of the parent's "
                      "axes (e.g. color: red)" for v in variants]
    if len(axes) > MAX_OPTIONS:
        return axes, [f"product {parent}: its variants have {len(axes)} axes ({', '.join(axes)}); Shopify allows "
                      f"{MAX_OPTIONS} options per product"]
    problems, seen = [], {}
    for v in variants:
        if sorted(v["attributes"]) != axes:
            problems.append(f"product {v['sku']}: attributes: a variant of {parent} needs a value of each of its "
                            f"axes {', '.join(axes)}, it has {', '.join(sorted(v['attributes'])) or 'none'}")
            continue
        combination = tuple(v["attributes"][a] for a in axes)
        if combination in seen:
            problems.append(f"product {v['sku']}: attributes: the same values ({', '.join(combination)}) as "
                            f"{seen[combination]}, another variant of {parent}")
        seen.setdefault(combination, v["sku"])
    return axes, problems


def _amount(transaction: dict) -> Decimal:
    return Decimal(str(transaction["amountSet"]["shopMoney"]["amount"]))


def _tail(gid: str) -> str:
    """The numeric id of a GID (``gid://shopify/Refund/12`` -> ``12``)."""
    return gid.rsplit("/", 1)[-1]


def _quoted(value: str) -> str:
    """A value in Shopify's search syntax: quoted, with quotes and backslashes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def create(app, name: str, cfg) -> ShopifyConnector:
    from erpbridge.exchange.log import ExchangeLog

    return ShopifyConnector(app, name, cfg, ShopifyAdapter(cfg, system=name, exchange_log=ExchangeLog.for_app(app)))


__all__ = ["ShopifyConnector", "create", "order_number"]
