"""The Magento connector: push, intake and feedback, each safe to repeat.

Why every write is looked up first: the outbox delivers at least once (a killed worker, a lost
answer), and Magento's ``ship``, ``invoice`` and ``refund`` create a new document each time they
are called. So each document carries a marker comment (``erpbridge shipment <id>``), and a
delivery first searches the order's documents for it; products are searched by SKU, categories
by their ``url_key``, status comments by their text, a configurable product's options and
children before one is added. Prices and source items are upserts. The other way, a cancellation
or credit memo made in Magento is written under its Magento entity id, so reading it again
through the intake's overlap window is a repeat.

Errors: a call Magento refuses is a :class:`MessageError` naming the shop, the record (SKU,
order, document) and Magento's own words; several refused records of one message are all named.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from decimal import Decimal
from functools import partial
from typing import Any, Iterable, Iterator

from pydantic import ValidationError
from sqlalchemy import select

from erpbridge.connectors.base import DeliveryResult, GeneralError, MessageError
from erpbridge.connectors.kit import shop_changes
from erpbridge.connectors.magento import mapper
from erpbridge.connectors.magento.adapter import MagentoAdapter, segment
from erpbridge.connectors.magento.mapper import CONFIGURABLE, SIMPLE
from erpbridge.ingest import Raw
from erpbridge.records import CreditMemo, Invoice, OrderStatusUpdate, Price, Product, ProductGroup, Shipment, StockLevel
from erpbridge.store.records import LOOKUP_CHUNK

logger = logging.getLogger(__name__)

#: Magento's bulk operation states: 1 complete, 2 failed (retriable), 3 failed (must change), 4 open, 5 rejected.
BULK_COMPLETE, BULK_OPEN = 1, 4
#: Seconds between two looks at an open bulk.
BULK_POLL = 0.5
#: How the comments erpbridge writes in Magento begin: the ERP's cancel, its credit memos.
CANCELLED_BY_ERP, MEMO_BY_ERP = "erpbridge status cancelled", "erpbridge credit memo "

_RECORDS = {"push_product_groups": ProductGroup, "push_products": Product, "push_prices": Price,
            "push_stock": StockLevel, "send_order_status": OrderStatusUpdate, "send_shipment": Shipment,
            "send_invoice": Invoice, "send_credit_memo": CreditMemo}
#: The flow each operation's exchanges are logged under (measuring points: ``magento.<call>``).
_FLOWS = {"push_product_groups": "shop.catalog_push", "push_products": "shop.catalog_push",
          "push_prices": "shop.catalog_push", "push_stock": "shop.catalog_push"}


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _float(value: Any) -> float:
    return float(Decimal(str(value)))


class MagentoConnector:
    def __init__(self, app, name: str, cfg, adapter: MagentoAdapter):
        self.app, self.name, self.cfg, self.adapter = app, name, cfg, adapter

    def close(self) -> None:
        self.adapter.close()

    # -- deliver: push and feedback -------------------------------------------------------------

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult:
        record_type = _RECORDS.get(operation)
        if record_type is None:
            raise MessageError(f"{self.name} (magento): unknown operation {operation!r}")
        flow = _FLOWS.get(operation, "shop.feedback")
        if operation.startswith("push_"):  # the store's enabled switch is not sent: Magento's status is the merchant's
            return getattr(self, f"_{operation}")(flow, [self._record(record_type, operation, r)
                                                         for r in payload.get("records", [])])
        return getattr(self, f"_{operation}")(flow, self._record(record_type, operation, payload))

    def _record(self, record_type, operation: str, data: dict):
        try:
            return record_type.model_validate({k: v for k, v in data.items() if k != "enabled"})
        except ValidationError as exc:
            key = ", ".join(str(data.get(f)) for f in record_type.key_fields)
            fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
            raise MessageError(f"{self.name} (magento): {operation} {record_type.kind} {key}: {fields}") from None

    def _refused(self, what: str, failures: list[str]) -> None:
        if failures:
            raise MessageError(f"{self.name} (magento) refused {len(failures)} {what}: " + "; ".join(failures))

    # product groups -> categories

    def _categories(self, flow: str, codes: Iterable[str]) -> dict[str, dict]:
        """The categories of product groups, by group code (found by their url_key)."""
        keys = {mapper.category_key(code): code for code in codes}
        found: dict[str, dict] = {}
        for chunk in _chunks(sorted(keys), LOOKUP_CHUNK):
            for category in self.adapter.search("/V1/categories/list", ("url_key", ",".join(chunk), "in"),
                                                flow=flow, point="category.search"):
                attributes = {a["attribute_code"]: a["value"] for a in category.get("custom_attributes") or []}
                if attributes.get("url_key") in keys:
                    found[keys[attributes["url_key"]]] = category
        return found

    def _push_product_groups(self, flow: str, groups: list[ProductGroup]) -> DeliveryResult:
        by_code = {g.code: g for g in groups}
        ordered: list[ProductGroup] = []

        def place(group: ProductGroup, seen: tuple = ()) -> None:  # parents before their children
            if group in ordered or group.code in seen:
                return
            if group.parent in by_code:
                place(by_code[group.parent], (*seen, group.code))
            ordered.append(group)

        for group in groups:
            place(group)
        known = self._categories(flow, {g.code for g in groups} | {g.parent for g in groups if g.parent})
        failures = []
        for group in ordered:
            if group.parent and group.parent not in known:
                failures.append(f"product group {group.code}: its parent {group.parent} has no category in Magento")
                continue
            parent_id = int(known[group.parent]["id"]) if group.parent else self.cfg.root_category_id
            body = {"name": group.name, "parent_id": parent_id, "position": group.position,
                    "custom_attributes": [{"attribute_code": "url_key", "value": mapper.category_key(group.code)}]}
            try:
                if group.code in known:
                    self.adapter.call("PUT", f"/V1/categories/{known[group.code]['id']}", flow=flow,
                                      point="category.update", json={"category": {"id": known[group.code]["id"],
                                                                                  **body}})
                else:
                    known[group.code] = self.adapter.call("POST", "/V1/categories", flow=flow, point="category.create",
                                                          json={"category": {**body, "is_active": True}})
            except MessageError as exc:
                failures.append(f"product group {group.code}: {exc}")
        self._refused("product groups", failures)
        return DeliveryResult()

    # products

    def _push_products(self, flow: str, products: list[Product]) -> DeliveryResult:
        """Create or update the message's products; configurable parents and their variants too.

        A variant (``parent_sku``) becomes a simple product of its parent's configurable product:
        the parent is created (``type_id: configurable``, disabled like any new product) before
        its variants, from the store when it is not in this message and not yet in Magento; each
        variant carries its values of the parent's axes (its ``attributes``) as option ids of
        Magento's attributes (a value Magento lacks is added to the attribute); then the parent's
        options are added for axes it lacks and the variants not yet linked are linked
        (``/configurable-products/{sku}/options`` and ``/child``, each looked up first: Magento
        refuses a second link). A variant whose parent is neither in the store nor in Magento, or
        is a simple product there, is refused by name; the others go through."""
        failures: list[str] = []
        magento = self._products(flow, {p.sku for p in products} | {p.parent_sku for p in products if p.parent_sku})
        products = self._with_parents(products, magento, failures)
        parents = self._parent_skus([p.sku for p in products]) | {p.parent_sku for p in products if p.parent_sku}
        simple = {sku: magento[sku].get("type_id") for sku in parents
                  if sku in magento and magento[sku].get("type_id") != CONFIGURABLE}
        for product in products:
            if product.sku in simple:
                failures.append(f"product {product.sku}: has variants, but Magento has it as a {simple[product.sku]} "
                                "product (a configurable parent is only made on creation: delete it in Magento to "
                                "have it created again)")
            elif product.parent_sku in simple:
                failures.append(f"product {product.sku}: its parent {product.parent_sku} (parent_sku) is a "
                                f"{simple[product.parent_sku]} product in Magento, not a configurable one")
        products = [p for p in products if p.sku not in simple and p.parent_sku not in simple]
        options, attributes = self._variant_options(flow, [p for p in products if p.parent_sku], failures)
        products = [p for p in products if not p.parent_sku or p.sku in options]
        products.sort(key=lambda p: p.parent_sku is not None)  # parents before their variants
        categories = self._categories(flow, {p.group for p in products if p.group})
        bodies = [mapper.product_body(p.model_dump(mode="json"), self.cfg, new=p.sku not in magento,
                                      category_ids=[int(categories[p.group]["id"])] if p.group in categories else [],
                                      type_id=CONFIGURABLE if p.sku in parents else SIMPLE,
                                      options=options.get(p.sku))
                  for p in products]
        if self.cfg.bulk_from and len(products) >= self.cfg.bulk_from:
            failures += self._bulk_products(flow, bodies)
        else:
            for product, body in zip(products, bodies):
                try:
                    if product.sku not in magento:
                        self.adapter.call("POST", "/V1/products", flow=flow, point="product.create",
                                          json={"product": body})
                    else:
                        self.adapter.call("PUT", f"/V1/products/{segment(product.sku)}", flow=flow,
                                          point="product.update", json={"product": body})
                except MessageError as exc:
                    failures.append(f"product {product.sku}: {exc}")
        failures += self._link_variants(flow, [p for p in products if p.parent_sku], options, attributes)
        self._refused("products", failures)
        return DeliveryResult()

    def _products(self, flow: str, skus: set[str]) -> dict[str, dict]:
        """Magento's products of these SKUs, by SKU."""
        found: dict[str, dict] = {}
        for chunk in _chunks(sorted(skus), LOOKUP_CHUNK):
            found.update((item["sku"], item) for item in self.adapter.search(
                "/V1/products", ("sku", ",".join(chunk), "in"), flow=flow, point="product.search"))
        return found

    def _with_parents(self, products: list[Product], magento: dict[str, dict], failures: list[str]) -> list[Product]:
        """The products, with the parents their variants need that neither this message nor
        Magento holds, taken from the store (a parent pushed in a later message would come too
        late); a variant whose parent is nowhere is refused."""
        batch = {p.sku for p in products}
        missing = sorted({p.parent_sku for p in products if p.parent_sku and p.parent_sku not in batch
                          and p.parent_sku not in magento})
        stored = {sku: record for sku in missing if (record := self.app.records.get("products", sku)) is not None}
        kept = []
        for product in products:
            if product.parent_sku in missing and product.parent_sku not in stored:
                failures.append(f"product {product.sku}: its parent {product.parent_sku} (parent_sku) is unknown: "
                                "neither in the store nor in Magento")
            else:
                kept.append(product)
        return list(stored.values()) + kept

    def _parent_skus(self, skus: list[str]) -> set[str]:
        """Which of these SKUs the store knows variants of (they are configurable parents)."""
        from erpbridge.store.tables import products

        found: set[str] = set()
        with self.app.engine.connect() as conn:
            for chunk in _chunks(skus, LOOKUP_CHUNK):
                found.update(conn.execute(select(products.c.parent_sku).distinct()
                                          .where(products.c.parent_sku.in_(chunk))).scalars())
        return found

    def _attribute_code(self, name: str) -> str:
        return self.cfg.variant_attributes.get(name, name)

    def _variant_options(self, flow: str, variants: list[Product],
                         failures: list[str]) -> tuple[dict[str, dict[str, int]], dict[str, dict]]:
        """Each variant's option ids (Magento attribute code -> option id), by SKU, and the
        attributes they are of (:meth:`_attribute`), by code; a value Magento's attribute lacks is
        added to it. A variant without attributes, or with one Magento does not
        have, is refused by name (and left out)."""
        attributes: dict[str, dict | None] = {}
        result: dict[str, dict[str, int]] = {}
        for variant in variants:
            if not variant.attributes:
                failures.append(f"product {variant.sku}: a variant of {variant.parent_sku} needs its values of the "
                                "parent's axes (attributes, e.g. color: red)")
                continue
            chosen, problems = {}, []
            for name, label in variant.attributes.items():
                code = self._attribute_code(name)
                if code not in attributes:
                    attributes[code] = self._attribute(flow, code)
                attribute = attributes[code]
                if attribute is None:
                    problems.append(f"attributes.{name}: Magento has no product attribute {code!r} (create it as a "
                                    "dropdown in the attribute set, or map it in variant_attributes)")
                    continue
                if label not in attribute["ids"]:
                    try:
                        self.adapter.call("POST", f"/V1/products/attributes/{segment(code)}/options", flow=flow,
                                          point="attribute.option.create",
                                          json={"option": {"label": label, "value": ""}})
                    except MessageError as exc:
                        problems.append(f"attributes.{name}: value {label!r} cannot be added to Magento's {code}: "
                                        f"{exc}")
                        continue
                    attributes[code] = attribute = self._attribute(flow, code)
                chosen[code] = attribute["ids"][label]
            if problems:
                failures.append(f"product {variant.sku}: " + "; ".join(problems))
            else:
                result[variant.sku] = chosen
        return result, {code: a for code, a in attributes.items() if a is not None}

    def _attribute(self, flow: str, code: str) -> dict | None:
        """Magento's product attribute (its id and option ids by label), None when it has none."""
        response = self.adapter.request("GET", f"/V1/products/attributes/{segment(code)}", flow=flow,
                                        point="magento.attribute.get", accept=(404,))
        if response.status_code == 404:
            return None
        data = self.adapter.json(response)
        return {"id": data["attribute_id"], "label": data.get("default_frontend_label") or code,
                "ids": {o["label"]: int(o["value"]) for o in data.get("options") or []
                        if str(o.get("value") or "").isdigit()}}

    def _link_variants(self, flow: str, variants: list[Product], options: dict[str, dict[str, int]],
                       attributes: dict[str, dict]) -> list[str]:
        """The parents' configurable options for the axes they lack, then the variants they lack."""
        families: dict[str, list[Product]] = {}
        for variant in variants:
            families.setdefault(variant.parent_sku, []).append(variant)
        failures = []
        for parent, members in families.items():
            path = f"/V1/configurable-products/{segment(parent)}"
            try:
                have = {str(o.get("attribute_id")) for o in self.adapter.call("GET", f"{path}/options/all", flow=flow,
                                                                              point="configurable.options")}
                axes = sorted({code for m in members for code in options[m.sku]})
                for position, code in enumerate(axes):
                    attribute = attributes[code]
                    if str(attribute["id"]) in have:
                        continue
                    values = sorted({options[m.sku][code] for m in members if code in options[m.sku]})
                    self.adapter.call("POST", f"{path}/options", flow=flow, point="configurable.option.create", json={
                        "option": {"attribute_id": str(attribute["id"]), "label": attribute["label"],
                                   "position": position, "is_use_default": True,
                                   "values": [{"value_index": value} for value in values]}})
                linked = {c["sku"] for c in self.adapter.call("GET", f"{path}/children", flow=flow,
                                                              point="configurable.children")}
            except MessageError as exc:
                failures.append(f"configurable product {parent}: {exc}")
                continue
            for member in members:
                if member.sku in linked:
                    continue
                try:
                    self.adapter.call("POST", f"{path}/child", flow=flow, point="configurable.child.link",
                                      json={"childSku": member.sku})
                except MessageError as exc:
                    failures.append(f"product {member.sku}: not linked to its parent {parent}: {exc}")
        return failures

    def _bulk_products(self, flow: str, bodies: list[dict]) -> list[str]:
        """One asynchronous bulk request for the whole message (``POST /async/bulk/V1/products``:
        a new product and an existing one alike, the existing one without ``status``, so Magento
        updates it as it stands), then its status polled until every operation ended; failed
        operations are named by SKU with Magento's words. A bulk Magento has not finished in
        ``bulk_wait_seconds`` is a general error: the message waits and is delivered again, and
        looks its products up again first (created ones are then updated, not created twice)."""
        # Its body is not logged: up to thousands of products, each walked by the log's redaction,
        # would cost more than building them; the bulk's status (logged) names what failed.
        accepted = self.adapter.call("POST", "/async/bulk/V1/products", flow=flow, point="product.bulk",
                                     json=[{"product": body} for body in bodies], record_bodies=False)
        skus = [body["sku"] for body in bodies]
        failures = [f"product {skus[item['id']]}: not accepted ({item.get('error_message') or item.get('status')})"
                    for item in accepted.get("request_items", []) if item.get("status") != "accepted"]
        deadline = time.monotonic() + self.cfg.bulk_wait_seconds
        while True:
            status = self.adapter.call("GET", f"/V1/bulk/{segment(accepted['bulk_uuid'])}/status", flow=flow,
                                       point="bulk.status")
            operations = sorted(status.get("operations_list") or [], key=lambda o: o["id"])
            if operations and all(o["status"] != BULK_OPEN for o in operations):
                break
            if time.monotonic() > deadline:
                raise GeneralError(f"{self.name} (magento): bulk {accepted['bulk_uuid']} of {len(skus)} products is "
                                   f"still open after {self.cfg.bulk_wait_seconds:g} s (are Magento's consumers "
                                   "running?)")
            time.sleep(BULK_POLL)
        return failures + [f"product {skus[i]}: {o.get('result_message') or 'failed'}"
                           for i, o in enumerate(operations) if o["status"] != BULK_COMPLETE and i < len(skus)]

    # prices and stock: the storage endpoints, at most max_list_entries per request

    def _price_results(self, answer: list, what: str) -> list[str]:
        failures = []
        for item in answer or []:
            text = item.get("message", "")
            for number, value in enumerate(item.get("parameters") or [], 1):
                text = text.replace(f"%{number}", str(value))
            failures.append(f"{what}: {text}")
        return failures

    def _push_prices(self, flow: str, prices: list[Price]) -> DeliveryResult:
        base = [{"price": _float(p.amount), "store_id": 0, "sku": p.sku} for p in prices if p.price_kind == "list"]
        tiers = [{"price": _float(p.amount), "price_type": "fixed", "website_id": 0, "sku": p.sku,
                  "customer_group": self.cfg.tier_price_customer_group, "quantity": _float(p.min_quantity)}
                 for p in prices if p.price_kind == "volume"]
        failures: list[str] = []
        tiers += self._customer_tiers(flow, [p for p in prices if p.price_kind == "customer"], failures)
        for path, rows, point in (("/V1/products/base-prices", base, "price.base"),
                                  ("/V1/products/tier-prices", tiers, "price.tier")):
            for chunk in _chunks(rows, self.cfg.max_list_entries):
                answer = self.adapter.call("POST", path, flow=flow, point=point, json={"prices": chunk})
                failures += self._price_results(answer, point.replace(".", " "))
        self._refused("prices", failures)
        return DeliveryResult()

    def _customer_tiers(self, flow: str, prices: list[Price], failures: list[str]) -> list[dict]:
        """Customer prices as tier prices of the customers' groups (``customer_groups``).

        Magento prices per customer group, not per customer: two customers of one group whose
        prices of a SKU and quantity differ cannot both be right in Magento, so that row is
        refused, naming both, with the store's prices of the group's other customers compared
        too (they may have come in another message); sending either would silently overwrite the
        other. Magento's tier prices have no validity dates, so two rows of one customer for a SKU
        and quantity with different amounts are refused alike. A group id Magento does not know is
        refused by name; prices of customers not in ``customer_groups`` do not reach Magento."""
        from erpbridge.store.tables import prices as price_table

        mapped = [p for p in prices if p.customer in self.cfg.customer_groups]
        if not mapped:
            return []
        codes: dict[int, str | None] = {}
        for group in sorted({self.cfg.customer_groups[p.customer] for p in mapped}):
            response = self.adapter.request("GET", f"/V1/customerGroups/{group}", flow=flow,
                                            point="magento.customer_group.get", accept=(404,))
            codes[group] = None if response.status_code == 404 else self.adapter.json(response)["code"]
        members = [c for c, g in self.cfg.customer_groups.items() if g in codes]
        # (sku, group, quantity, currency) -> amount by customer (and validity); the store's rows
        # last: they are the newest
        rows: dict[tuple, dict[str, Decimal]] = {}

        def key_of(price: Price) -> tuple:
            return price.sku, self.cfg.customer_groups[price.customer], price.min_quantity, price.currency

        def add(price: Price) -> None:
            who = price.customer + (f" from {price.valid_from}" if price.valid_from else "")
            rows.setdefault(key_of(price), {})[who] = price.amount

        for price in mapped:
            add(price)
        for chunk in _chunks(sorted({p.sku for p in mapped}), LOOKUP_CHUNK):
            for price in self.app.records.find("prices", price_table.c.sku.in_(chunk),
                                               price_table.c.customer.in_(members)):
                if key_of(price) in rows:
                    add(price)
        tiers, seen = [], set()
        for price in mapped:
            key = key_of(price)
            sku, group, quantity, _ = key
            if key in seen:
                continue
            if codes[group] is None:
                failures.append(f"price {sku} of customer {price.customer}: customer_groups maps it to group "
                                f"{group}, which Magento does not have")
            elif len(set(rows[key].values())) > 1:
                failures.append(f"price {sku} (quantity {quantity:g}) of customer group {codes[group]} ({group}): its "
                                "customers' prices differ (" + ", ".join(f"{who} {amount}" for who, amount in
                                                                          sorted(rows[key].items()))
                                + "); Magento holds one price per group")
            else:
                (amount,) = set(rows[key].values())  # the group's one price, as the store has it now
                tiers.append({"price": _float(amount), "price_type": "fixed", "website_id": 0, "sku": sku,
                              "customer_group": codes[group], "quantity": _float(quantity)})
            seen.add(key)  # one row per group, SKU and quantity
        return tiers

    def _push_stock(self, flow: str, levels: list[StockLevel]) -> DeliveryResult:
        # status 1: the source has the item; Magento works out salability from the quantity and its
        # backorder settings (forcing is_in_stock from the quantity breaks backorders).
        items = [{"sku": s.sku, "source_code": self.cfg.sources.get(s.warehouse, s.warehouse),
                  "quantity": _float(s.quantity), "status": 1} for s in levels]
        for chunk in _chunks(items, self.cfg.max_list_entries):
            self.adapter.request("POST", "/V1/inventory/source-items", flow=flow, point="magento.source_items.save",
                                 json={"sourceItems": chunk})
        return DeliveryResult()

    def read_stock(self, levels: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Decimal | None]:
        """What Magento's MSI source items hold for these (SKU, store warehouse) rows, None where
        it has no source item (stock reconciliation compares it with what the store pushed)."""
        levels = sorted(set(levels))
        warehouses = {source: warehouse for warehouse, source in self.cfg.sources.items()}
        held: dict[tuple[str, str], Decimal] = {}
        for chunk in _chunks(sorted({sku for sku, _ in levels}), LOOKUP_CHUNK):
            for item in self.adapter.search("/V1/inventory/source-items", ("sku", ",".join(chunk), "in"),
                                            flow="reconcile_stock", point="source_items.search"):
                warehouse = warehouses.get(item["source_code"], item["source_code"])
                held[(item["sku"], warehouse)] = Decimal(str(item["quantity"]))
        return {level: held.get(level) for level in levels}

    # feedback

    def _order(self, flow: str, number: str, what: str) -> dict:
        found = self.adapter.order_by_number(flow, number)
        if found is None:
            raise MessageError(f"{self.name} (magento): {what}: Magento has no order {number!r} (increment_id)")
        return found

    def _items(self, order: dict, lines, what: str) -> list[dict]:
        """``order_item_id``/``qty`` of the order's top-level items, by SKU."""
        ids = {item["sku"]: item["item_id"] for item in mapper.top_items(order)}
        items, missing = [], []
        for line in lines:
            if line.sku is None:
                continue  # freight, fees: Magento books them on the document itself
            if line.sku not in ids:
                missing.append(line.sku)
            else:
                items.append({"order_item_id": ids[line.sku], "qty": _float(line.quantity)})
        if missing:
            raise MessageError(f"{self.name} (magento): {what}: lines.sku {', '.join(missing)} not on Magento order "
                               f"{order['increment_id']}")
        return items

    def _marked(self, flow: str, path: str, order: dict, marker: str, point: str) -> dict | None:
        """The order's document (shipment, invoice, credit memo) whose comments carry ``marker``."""
        for document in self.adapter.search(path, ("order_id", order["entity_id"], "eq"), flow=flow, point=point):
            if any(marker in (c.get("comment") or "") for c in document.get("comments") or []):
                return document
        return None

    def _document(self, flow: str, kind: str, record, order: dict, body: dict) -> DeliveryResult:
        """Create one document of ``order`` unless an earlier delivery did (see the module docstring)."""
        route, search = {"shipment": ("ship", "/V1/shipments"), "invoice": ("invoice", "/V1/invoices"),
                         "credit memo": ("refund", "/V1/creditmemos")}[kind]
        marker = f"erpbridge {kind} {record.id}"
        point = kind.replace(" ", "")
        done = self._marked(flow, search, order, marker, f"{point}.search")
        if done is not None:
            return DeliveryResult(external_id=str(done["entity_id"]))
        body = {**body, "notify": False, "appendComment": True,
                "comment": {"comment": marker, "is_visible_on_front": 0}}
        created = self.adapter.call("POST", f"/V1/order/{order['entity_id']}/{route}", flow=flow,
                                    point=f"{point}.create", json=body)
        return DeliveryResult(external_id=str(created), response=created)

    def _send_shipment(self, flow: str, shipment: Shipment) -> DeliveryResult:
        what = f"shipment {shipment.id} of order {shipment.order}"
        order = self._order(flow, shipment.order, what)
        carrier = self.cfg.carriers.get(shipment.carrier or "", "custom")
        tracks = [{"track_number": number, "title": shipment.carrier or "Carrier", "carrier_code": carrier}
                  for number in shipment.tracking_numbers]
        return self._document(flow, "shipment", shipment, order,
                              {"items": self._items(order, shipment.lines, what), "tracks": tracks})

    def _send_invoice(self, flow: str, invoice: Invoice) -> DeliveryResult:
        what = f"invoice {invoice.id} of order {invoice.order}"
        order = self._order(flow, invoice.order, what)
        items = self._items(order, invoice.lines, what)
        if not items:
            raise MessageError(f"{self.name} (magento): {what}: lines: no line names an item of the order")
        # Magento books the order's whole freight on its first invoice (seed 001's rule), so it is not sent.
        return self._document(flow, "invoice", invoice, order, {"capture": True, "items": items})

    def _send_credit_memo(self, flow: str, memo: CreditMemo) -> DeliveryResult:
        what = f"credit memo {memo.id} of order {memo.order}"
        order = self._order(flow, memo.order, what)
        items = self._items(order, memo.lines, what)
        return self._document(flow, "credit memo", memo, order, {
            "items": items, "arguments": {"shipping_amount": 0, "adjustment_positive": 0, "adjustment_negative": 0}})

    def _send_order_status(self, flow: str, update: OrderStatusUpdate) -> DeliveryResult:
        order = self._order(flow, update.order, f"status of order {update.order}")
        entity = order["entity_id"]
        comment = f"erpbridge status {update.status}" + (f" ({update.erp_id})" if update.erp_id else "")
        history = self.adapter.call("GET", f"/V1/orders/{entity}/comments", flow=flow, point="order.comments")
        if not any(h.get("comment") == comment for h in history.get("items") or []):
            status = {"status": self.cfg.statuses[update.status]} if update.status in self.cfg.statuses else {}
            self.adapter.call("POST", f"/V1/orders/{entity}/comments", flow=flow, point="order.comment", json={
                "statusHistory": {"comment": comment, "is_customer_notified": 0, "is_visible_on_front": 0,
                                  "parent_id": entity, **status}})
        # Canceled after its comment: order intake sees a canceled order as the ERP's own by it, and
        # sends no cancellation back to the ERP.
        if update.status == "cancelled" and order.get("state") != "canceled":
            self.adapter.call("POST", f"/V1/orders/{entity}/cancel", flow=flow, point="order.cancel")
        return DeliveryResult(external_id=str(entity))

    # -- intake ---------------------------------------------------------------------------------

    def fetch(self, kind: str, since: dt.datetime | None = None) -> Iterator[Raw]:
        if kind != "orders":
            raise MessageError(f"{self.name} (magento): takes in orders only, not {kind}")
        flow = "shop.order_intake"
        self._release_paid(flow)
        conditions = []
        if since is not None:
            start = since - dt.timedelta(minutes=self.cfg.order_overlap_minutes)
            conditions.append(("updated_at", mapper.magento_time(start), "gteq"))
        latest: dict[str, dict] = {}  # an order updated while the pages are read shows up twice: its last state
        for order in self.adapter.search("/V1/orders", *conditions, flow=flow, point="order.search", sort="updated_at"):
            latest[str(order.get("increment_id"))] = order
        known = shop_changes.stored_order_states(self.app, latest)
        for number, order in latest.items():
            if number in known:  # read again through the overlap, or updated since (shipped, invoiced, canceled)
                refusal = self._canceled_in_shop(order, known[number])
                if refusal is not None:
                    yield refusal
                continue
            if order.get("state") in self.cfg.skipped_states:
                continue
            build = partial(mapper.order, shipping_methods=self.cfg.shipping_methods,
                            payment_methods=self.cfg.payment_methods, system=self.name,
                            customer=self._customer_number(order))
            yield Raw(order, f"order {number} (entity_id {order.get('entity_id')})", build=build,
                      external_id=str(order.get("entity_id")))
        yield from self._refunded_in_shop(flow, conditions[0][1] if conditions else None)

    # Cancellations and credit memos made in Magento go to the ERP as the API's do
    # (erpbridge/connectors/kit/shop_changes.py); what erpbridge did itself (the ERP's cancel, its
    # credit memos) is marked in Magento by its comments and not sent back.

    def _canceled_in_shop(self, order: dict, state: str) -> Raw | None:
        """A known order canceled in Magento (not by erpbridge for the ERP): its cancellation."""
        if order.get("state") != "canceled" or any(
                (h.get("comment") or "").startswith(CANCELLED_BY_ERP) for h in order.get("status_histories") or []):
            return None
        return shop_changes.cancel_from_shop(self.app, self.name, order["increment_id"], order["entity_id"], state,
                                             data=order, where=f"entity_id {order['entity_id']}",
                                             reason="canceled in Magento")

    def _refunded_in_shop(self, flow: str, since: str | None) -> Iterator[Raw]:
        """Credit memos created in Magento (since ``since``, Magento time) for orders of this shop:
        each a return of its items to the ERP. A memo of an order the store does not have yet is
        found again through the overlap window once the order is in (or was never this hub's)."""
        from erpbridge.records.orders import ReturnLine

        conditions = [("created_at", since, "gteq")] if since else []
        memos = [m for m in self.adapter.search("/V1/creditmemos", *conditions, flow=flow, point="creditmemo.search")
                 if not any((c.get("comment") or "").startswith(MEMO_BY_ERP) for c in m.get("comments") or [])]
        orders: dict[int, dict] = {}
        for chunk in _chunks(sorted({int(m["order_id"]) for m in memos}), LOOKUP_CHUNK):
            orders.update((o["entity_id"], o) for o in self.adapter.search(
                "/V1/orders", ("entity_id", ",".join(map(str, chunk)), "in"), flow=flow, point="order.search"))
        known = shop_changes.stored_order_states(self.app, (o["increment_id"] for o in orders.values()))
        for memo in memos:
            order = orders.get(int(memo["order_id"]))
            if order is None or order["increment_id"] not in known:
                continue
            skus = {item["item_id"]: item["sku"] for item in mapper.top_items(order)}
            lines = [ReturnLine(sku=skus[i["order_item_id"]], quantity=Decimal(str(i["qty"])))
                     for i in memo.get("items") or [] if i["order_item_id"] in skus and float(i["qty"] or 0) > 0]
            refused = shop_changes.return_from_shop(self.app, self.name, order["increment_id"], memo["entity_id"],
                                                    lines, data=memo)
            if refused is not None:
                yield refused

    def _customer_number(self, order: dict) -> str | None:
        """The ERP's number of the order's registered customer; a customer the ERP does not have yet
        is created there (idempotent on the reference ``magento-<customer_id>``) and this order goes
        without a number, with its addresses, as a guest's does."""
        from erpbridge.services.customers import create_customer, customer_request
        from erpbridge.services.errors import Conflict, NotFound

        reference = mapper.customer_reference(order)
        if reference is None:
            return None
        try:
            return customer_request(self.app, reference)["number"]
        except NotFound:
            pass
        try:
            create_customer(self.app, mapper.customer_fields(order, reference))
        except (Conflict, ValueError) as exc:  # the ERP takes no customers, or the account cannot be read
            logger.warning("%s: order %s: customer %s is not created in the ERP: %s", self.name,
                           order.get("increment_id"), reference, exc)
        return None

    def _release_paid(self, flow: str) -> None:
        """Orders of this shop waiting for payment (``orders.wait_for_payment``) go to the ERP once
        Magento's order state says they are paid (``paid_states``)."""
        from erpbridge.services.orders import acknowledge_payment
        from erpbridge.store.tables import orders

        with self.app.engine.connect() as conn:
            waiting = list(conn.execute(select(orders.c.key).where(orders.c.shop == self.name,
                                                                   orders.c.state == "awaiting_payment")).scalars())
        for chunk in _chunks(waiting, LOOKUP_CHUNK):
            for order in self.adapter.search("/V1/orders", ("increment_id", ",".join(chunk), "in"), flow=flow,
                                             point="order.search"):
                if order.get("state") in self.cfg.paid_states:
                    acknowledge_payment(self.app, order["increment_id"], {"source": self.name, "state": order["state"]})


def create(app, name: str, cfg) -> MagentoConnector:
    from erpbridge.exchange.log import ExchangeLog

    return MagentoConnector(app, name, cfg, MagentoAdapter(cfg, name, ExchangeLog.for_app(app)))
