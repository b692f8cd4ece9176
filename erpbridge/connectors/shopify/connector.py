"""The Shopify connector: catalog, prices and stock out, orders in, feedback out.

* ``push_products``: ``productSet`` per product, after one look-up of the batch's SKUs (a
  redelivery finds what an earlier try created, and only a product Shopify does not have yet gets
  a status: ``new_product_status``, DRAFT by default); ``push_prices``: list prices by
  ``productVariantsBulkUpdate``; ``push_stock``: ``inventorySetQuantities`` per mapped location,
  under the message's idempotency key (``@idempotent``).
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
from decimal import Decimal
from typing import Any, Iterable, Iterator

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
        records = payload["records"]
        known = self._variants([r["sku"] for r in records], "push_products")
        ids = {}
        for record in records:
            variant = known.get(record["sku"])
            new = variant is None
            data = product_input(record, new_status=self.cfg.new_product_status if new else None)
            if not new:
                data["variants"][0]["id"] = variant["id"]
            result = self._mutate(q.PRODUCT_SET, {"input": data, "identifier": None if new else
                                                  {"id": variant["product"]["id"]}},
                                  "productSet", "push_products", f"product {record['sku']}")
            ids[record["sku"]] = result["product"]["id"]
        return DeliveryResult(response={"products": ids})

    def _push_prices(self, payload: dict, key: str) -> DeliveryResult:
        today = dt.date.today().isoformat()
        prices = {r["sku"]: r for r in payload["records"]
                  if r.get("customer") is None and Decimal(str(r.get("min_quantity", 1))) == 1
                  and (r.get("valid_from") or today) <= today}
        known = self._variants(list(prices), "push_prices")
        by_product: dict[str, list[dict]] = {}
        for sku, price in prices.items():
            if sku in known:
                by_product.setdefault(known[sku]["product"]["id"], []).append(
                    {"id": known[sku]["id"], "price": str(price["amount"])})
        for product, variants in by_product.items():
            self._mutate(q.VARIANT_PRICES, {"productId": product, "variants": variants}, "productVariantsBulkUpdate",
                         "push_prices", f"prices of {', '.join(sorted(p['sku'] for p in prices.values()))}")
        return DeliveryResult(response={"sent": sum(map(len, by_product.values())),
                                        "not_in_shopify": sorted(set(prices) - set(known)),
                                        "not_list_prices": len(payload["records"]) - len(prices)})

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

    def close(self) -> None:
        self.adapter.close()


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
