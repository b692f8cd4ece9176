"""The Odoo connector: what erpbridge asks of an Odoo ERP, in Odoo's ORM calls.

* ``deliver`` (shop -> ERP), each idempotent because the outbox delivers at least once:
  ``create_customer`` finds the ``res.partner`` by ``ref`` (the customer number) before creating
  it; ``send_order`` finds the ``sale.order`` by ``client_order_ref`` (the shop order number)
  before creating it, and confirms it (``action_confirm``) if an earlier attempt stopped before;
  ``cancel_order`` is ``action_cancel`` unless goods left or an invoice is posted;
  ``send_return`` is a receipt (``stock.picking``, incoming) whose ``origin`` names the return, found
  again by it. Every Odoo call is its own transaction, so each step is one call that either
  happened or not, and a redelivery carries on from the first step that did not.
* ``fetch``: master data and feedback, all or changed since a time (``write_date``, UTC, whole
  seconds: compared with ``>=`` so a record written in the same second is not missed; the store
  drops what did not change).
* ``get_customer``, ``get_document`` (the PDF Odoo attached to the invoice): real time.

How the order-to-cash steps map (Odoo 17-19 with sale_stock, stock_delivery, account): an order
is a ``sale.order`` whose freight is a line of the service product the shipping method maps to;
confirming it makes the delivery (``stock.picking``, outgoing); each validated delivery (a part
delivery leaves a backorder) is a shipment with ``carrier_tracking_ref``; each posted
``account.move`` ``out_invoice`` whose ``invoice_origin`` is the order is an invoice (services,
so freight, are invoiced on the first, invoice policy "order"), each ``out_refund`` a credit memo.
Odoo does not link an invoice to a delivery, so the n-th invoice of an order is reported as
billing its n-th delivery, which is how invoicing delivered quantities after each delivery does it.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
from decimal import Decimal
from functools import partial
from typing import Iterable, Iterator


from erpbridge.connectors.base import ERP_OPERATIONS, DeliveryResult, MessageError, payload_record
from erpbridge.connectors.kit.paging import rows_by_offset
from erpbridge.connectors.odoo import mapper
from erpbridge.connectors.odoo.adapter import OdooAdapter
from erpbridge.ingest import Raw
from erpbridge.records import Cancellation, Customer, Order, Record, Return

#: Rows per ``search_read`` page when reading whole tables.
PAGE = 500
#: Archived records too (Odoo's searches leave them out unless the domain names ``active``).
ANY_ACTIVE = ["active", "in", [True, False]]


class OdooConnector:
    def __init__(self, adapter: OdooAdapter, cfg, name: str = "odoo"):
        self.adapter, self.cfg, self.name = adapter, cfg, name
        self._lookups: dict[str, dict] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.adapter.close()

    # -- helpers --------------------------------------------------------------------------

    def _x(self, flow: str, model: str, method: str, ids: list[int] | None = None, **named):
        return self.adapter.execute(flow, model, method, ids, **named)

    def _search_read(self, flow: str, model: str, domain: list, fields: list[str]) -> Iterator[dict]:
        """All rows of a domain, a page at a time, ordered by id so pages do not overlap."""
        return rows_by_offset(lambda offset, limit: self._x(flow, model, "search_read", domain=domain, fields=fields,
                                                            offset=offset, limit=limit, order="id"), PAGE)

    def _lookup(self, name: str) -> dict:
        """Tables that rarely change (countries, warehouses), read once per connector."""
        with self._lock:
            if name not in self._lookups:
                if name == "countries":
                    rows = self._x("lookup", "res.country", "search_read", domain=[], fields=["code"])
                    self._lookups[name] = {"by_code": {r["code"]: r["id"] for r in rows},
                                           "by_id": {r["id"]: r["code"] for r in rows}}
                else:
                    rows = self._x("lookup", "stock.warehouse", "search_read", domain=[], fields=["code"])
                    self._lookups[name] = {r["code"]: r["id"] for r in rows}
            return self._lookups[name]

    def _country_id(self, code: str, where: str) -> int:
        try:
            return self._lookup("countries")["by_code"][code]
        except KeyError:
            raise MessageError(f"{where}: country {code!r} does not exist in Odoo (res.country)") from None

    def _since(self, since: dt.datetime | None, *paths: str) -> list:
        """Changed at or after ``since`` on the record or any of the many2one ``paths``."""
        if since is None:
            return []
        stamp = mapper.odoo_datetime(since)
        leaves = [[f"{p}write_date", ">=", stamp] for p in ("", *paths)]
        return ["|"] * (len(leaves) - 1) + leaves

    def _partner_by_ref(self, flow: str, ref: str) -> dict | None:
        rows = self._x(flow, "res.partner", "search_read", domain=[["ref", "=", ref], ["parent_id", "=", False],
                                                                  ANY_ACTIVE], fields=mapper.PARTNER_FIELDS, limit=1)
        return rows[0] if rows else None

    def _order_by_ref(self, flow: str, number: str) -> dict | None:
        rows = self._x(flow, "sale.order", "search_read", domain=[["client_order_ref", "=", number]],
                       fields=mapper.ORDER_FIELDS + ["partner_id", "order_line", "picking_ids"], limit=1, order="id")
        return rows[0] if rows else None

    # -- deliver: shop -> ERP -------------------------------------------------------------

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult:
        handler = {"create_customer": self._create_customer, "send_order": self._send_order,
                   "cancel_order": self._cancel_order, "send_return": self._send_return}.get(operation)
        if handler is None:
            raise MessageError(f"the odoo connector does not know the operation {operation!r}")
        return handler(payload_record(operation, ERP_OPERATIONS[operation], payload), operation)

    def _create_customer(self, customer: Customer, flow: str) -> DeliveryResult:
        partner = self._partner_by_ref(flow, customer.number)
        if partner is None:
            where = f"customer {customer.number}"
            values = {"name": customer.name, "ref": customer.number, "email": customer.email or False,
                      "vat": customer.vat_id or False, "is_company": bool(customer.invoice_address
                                                                          and customer.invoice_address.company)}
            if customer.invoice_address:
                values |= mapper.address_values(customer.invoice_address,
                                                self._country_id(customer.invoice_address.country, where))
                values["name"] = customer.name
            children = [[0, 0, {"type": "delivery", **mapper.address_values(a, self._country_id(a.country, where))}]
                        for a in customer.delivery_addresses if a != customer.invoice_address]
            if children:
                values["child_ids"] = children
            partner_id, = self._x(flow, "res.partner", "create", vals_list=[values])
        else:
            partner_id = partner["id"]
        return DeliveryResult(external_id=customer.number, records=(customer,),
                              response={"partner": partner_id, "ref": customer.number})

    def _send_order(self, order: Order, flow: str) -> DeliveryResult:
        sale = self._order_by_ref(flow, order.number)
        if sale is None:
            sale_id, state = self._create_sale(order, flow), "draft"
        else:
            sale_id, state = sale["id"], sale["state"]
        if state == "cancel":
            raise MessageError(f"order {order.number}: its Odoo sale order {sale['name']} is cancelled")
        if state in ("draft", "sent"):
            self._x(flow, "sale.order", "action_confirm", [sale_id])
        row, = self._x(flow, "sale.order", "read", [sale_id], fields=["name", "state"])
        return DeliveryResult(external_id=row["name"], response=row)

    def _create_sale(self, order: Order, flow: str) -> int:
        where = f"order {order.number}"
        partner = self._order_partner(order, flow, where)
        shipping = self._delivery_partner(flow, partner, order.shipping_address, where)
        skus = [line.sku for line in order.lines]
        freight = None
        if order.shipping_amount:
            freight = self.cfg.shipping_methods.get(order.shipping_method)
            if freight is None:
                raise MessageError(f"{where}: shipping method {order.shipping_method!r} has no freight product in "
                                   f"systems.{self.name}.shipping_methods")
            skus.append(freight)
        rows = self._x(flow, "product.product", "search_read", domain=[["default_code", "in", sorted(set(skus))]],
                       fields=["default_code"])
        products = {r["default_code"]: r["id"] for r in rows}
        missing = [sku for sku in skus if sku not in products]
        if missing:
            raise MessageError(f"{where}: unknown product(s) in Odoo (product.product default_code): "
                               f"{', '.join(missing)}")
        lines = [[0, 0, {"product_id": products[l.sku], "product_uom_qty": float(l.quantity),
                         "price_unit": float(price), **({"name": l.name} if l.name else {})}]
                 for l, price in zip(order.lines, order.unit_prices())]
        if freight:
            lines.append([0, 0, {"product_id": products[freight], "product_uom_qty": 1.0,
                                 "price_unit": float(order.shipping_amount),
                                 "name": f"Shipping: {order.shipping_method}"}])
        warehouse = self._lookup("warehouses").get(self.cfg.warehouse)
        if warehouse is None:
            raise MessageError(f"systems.{self.name}.warehouse: Odoo has no warehouse with code {self.cfg.warehouse!r}")
        note = f"Shop order {order.number}" + (f", coupon {order.coupon_code}" if order.coupon_code else "")
        sale_id, = self._x(flow, "sale.order", "create", vals_list=[{
            "partner_id": partner, "partner_invoice_id": partner, "partner_shipping_id": shipping,
            "client_order_ref": order.number, "warehouse_id": warehouse, "note": note,
            "date_order": mapper.odoo_datetime(order.placed_at), "order_line": lines}])
        return sale_id

    def _order_partner(self, order: Order, flow: str, where: str) -> int:
        """The customer's partner, or for a guest order one made from its billing address (found
        again on redelivery by its comment)."""
        if order.customer:
            partner = self._partner_by_ref(flow, order.customer)
            if partner is None:
                raise MessageError(f"{where}: customer {order.customer!r} does not exist in Odoo (res.partner ref)")
            return partner["id"]
        comment = f"shop-order:{order.number}"
        ids = self._x(flow, "res.partner", "search", domain=[["comment", "=", comment]], limit=1)
        if ids:
            return ids[0]
        address = order.billing_address
        partner_id, = self._x(flow, "res.partner", "create", vals_list=[{
            **mapper.address_values(address, self._country_id(address.country, where)), "comment": comment,
            **({"email": order.email} if order.email else {})}])
        return partner_id

    def _delivery_partner(self, flow: str, partner: int, address, where: str) -> int:
        """The partner's delivery address equal to the order's, created as a child when it has none."""
        values = mapper.address_values(address, self._country_id(address.country, where))
        rows = self._x(flow, "res.partner", "search_read",
                       domain=["|", ["id", "=", partner], ["parent_id", "=", partner]],
                       fields=["street", "zip", "city", "country_id", "type"])
        for row in rows:
            if mapper.same_address(row, values):
                return row["id"]
        partner_id, = self._x(flow, "res.partner", "create",
                              vals_list=[{**values, "type": "delivery", "parent_id": partner}])
        return partner_id

    def _cancel_order(self, cancellation: Cancellation, flow: str) -> DeliveryResult:
        where = f"cancellation {cancellation.id} of order {cancellation.order}"
        if cancellation.lines:
            raise MessageError(f"{where}: cancelling single items is not supported by the odoo connector; "
                               "cancel the whole order or change it in Odoo")
        sale = self._order_by_ref(flow, cancellation.order)
        if sale is None:
            raise MessageError(f"{where}: Odoo has no sale order with client_order_ref {cancellation.order!r}")
        if sale["state"] != "cancel":
            shipped = [p["name"] for p in self._x(flow, "stock.picking", "read", sale["picking_ids"],
                                                   fields=["name", "state"]) if p["state"] == "done"]
            if shipped:
                raise MessageError(f"{where}: cannot cancel, Odoo sale order {sale['name']} has already shipped "
                                   f"({', '.join(shipped)})")
            posted = self._x(flow, "account.move", "search_read", fields=["name"],
                             domain=[["invoice_origin", "=", sale["name"]], ["state", "=", "posted"]])
            if posted:
                raise MessageError(f"{where}: cannot cancel, Odoo sale order {sale['name']} has posted invoices "
                                   f"{[p['name'] for p in posted]}")
            # disable_cancel_warning: no wizard asking a human whether to tell the customer
            self.adapter.execute(flow, "sale.order", "action_cancel", [sale["id"]],
                                 context={"disable_cancel_warning": True})
        return DeliveryResult(external_id=sale["name"], response={"state": "cancel"})

    def _send_return(self, ret: Return, flow: str) -> DeliveryResult:
        where = f"return {ret.id} of order {ret.order}"
        sale = self._order_by_ref(flow, ret.order)
        if sale is None:
            raise MessageError(f"{where}: Odoo has no sale order with client_order_ref {ret.order!r}")
        origin = f"{sale['name']} return {ret.id}"
        found = self._x(flow, "stock.picking", "search_read", domain=[["origin", "=", origin],
                                                                     ["picking_type_code", "=", "incoming"]],
                        fields=["name"], limit=1)
        if found:
            return DeliveryResult(external_id=found[0]["name"], response=found[0])
        lines = self._x(flow, "sale.order.line", "read", sale["order_line"],
                        fields=["product_id", "product_uom_qty", "qty_delivered"])
        codes = self._codes(flow, (mapper.many2one(l["product_id"]) for l in lines))
        by_sku = {codes.get(mapper.many2one(l["product_id"])): l for l in lines}
        moves = []
        for item in ret.lines:
            line = by_sku.get(item.sku)
            if line is None:
                raise MessageError(f"{where}: item {item.sku} is not on the order")
            if item.quantity > mapper.decimal(line["product_uom_qty"]):
                raise MessageError(f"{where}: item {item.sku}: {item.quantity} returned, "
                                   f"{line['product_uom_qty']} ordered")
            moves.append([0, 0, {"product_id": mapper.many2one(line["product_id"]),
                                 "product_uom_qty": float(item.quantity),
                                 "name": item.reason or f"Return {ret.id}", "sale_line_id": line["id"]}])
        picking_id, = self._x(flow, "stock.picking", "create", vals_list=[{
            "origin": origin, "sale_id": sale["id"], "partner_id": mapper.many2one(sale["partner_id"]),
            "picking_type_code": "incoming", "state": "assigned", "move_ids": moves}])
        row, = self._x(flow, "stock.picking", "read", [picking_id], fields=["name"])
        return DeliveryResult(external_id=row["name"], response=row)

    def _codes(self, flow: str, product_ids: Iterable[int | None]) -> dict[int, str]:
        """product.product id -> its internal reference (the SKU)."""
        ids = sorted({p for p in product_ids if p})
        rows = self._x(flow, "product.product", "read", ids, fields=["default_code"]) if ids else []
        return {r["id"]: r["default_code"] for r in rows if r["default_code"]}

    # -- fetch: ERP -> store --------------------------------------------------------------

    def fetch(self, kind: str, since: dt.datetime | None = None) -> Iterable[Record | Raw]:
        reader = getattr(self, f"_fetch_{kind}", None)
        if reader is None:
            raise ValueError(f"the odoo connector cannot fetch {kind!r}")
        return reader(since)

    def _currency(self, flow: str) -> str:
        rows = self._x(flow, "product.pricelist", "search_read", domain=[], fields=["currency_id"], limit=1, order="id")
        return rows[0]["currency_id"][1] if rows and rows[0]["currency_id"] else "EUR"

    def _fetch_product_groups(self, since):
        rows = list(self._search_read("product_groups", "product.category", [], ["name", "parent_id", "write_date"]))
        names = {r["id"]: r["name"] for r in rows}
        stamp = mapper.odoo_datetime(since) if since else None
        for row in rows:
            if stamp is None or row["write_date"] >= stamp:
                yield Raw(row, f"product.category {row['id']}", partial(mapper.product_group, names=names),
                          external_id=str(row["id"]))

    def _products(self, flow: str, since, fields: list[str]) -> Iterator[dict]:
        """Salable products with a reference, except the freight and fee products (not for the shop)."""
        billing = sorted({*self.cfg.shipping_methods.values(), *self.cfg.fee_products})
        domain = [["default_code", "!=", False], ["sale_ok", "=", True], ["default_code", "not in", billing],
                  *self._since(since, "product_tmpl_id.")]
        return self._search_read(flow, "product.product", domain, fields)

    def _fetch_products(self, since):
        currency = self._currency("products")
        for row in self._products("products", since, mapper.PRODUCT_FIELDS):
            yield Raw(row, f"product.product {row['id']}", partial(mapper.product, currency=currency),
                      external_id=str(row["id"]))

    def _fetch_prices(self, since):
        """List prices of changed products; the configured pricelist's fixed prices per minimum
        quantity (its changed items, or all); and each customer's own pricelist (a partner's
        ``property_product_pricelist`` other than the configured one) as that customer's prices,
        all of them every time: a partner moved to another pricelist changes no item, and the
        store keeps only what changed."""
        currency = self._currency("prices")
        for row in self._products("prices", since, ["default_code", "list_price"]):
            yield Raw(row, f"product.product {row['id']}", partial(mapper.list_price, currency=currency))
        configured = None
        if self.cfg.pricelist:
            lists = self._x("prices", "product.pricelist", "search", domain=[["name", "=", self.cfg.pricelist]],
                            limit=1)
            if not lists:
                raise MessageError(f"systems.{self.name}.pricelist: Odoo has no pricelist {self.cfg.pricelist!r}")
            configured = lists[0]
            yield from self._pricelist_prices(configured, since, None)
        partners = self._x("prices", "res.partner", "search_read", fields=["ref", "property_product_pricelist"],
                           domain=[["ref", "!=", False], ["parent_id", "=", False],
                                   ["property_product_pricelist", "!=", False]])
        by_list: dict[int, list[str]] = {}
        for partner in partners:
            pricelist = mapper.many2one(partner["property_product_pricelist"])
            if pricelist != configured:
                by_list.setdefault(pricelist, []).append(partner["ref"])
        for pricelist, customers in sorted(by_list.items()):
            for customer in customers:
                yield from self._pricelist_prices(pricelist, None, customer)

    def _pricelist_prices(self, pricelist: int, since, customer: str | None) -> Iterator[Raw]:
        """A pricelist's fixed prices per product variant and minimum quantity (``customer``: as hers)."""
        domain = [["pricelist_id", "=", pricelist], ["compute_price", "=", "fixed"],
                  ["applied_on", "=", "0_product_variant"], *self._since(since)]
        items = list(self._search_read("prices", "product.pricelist.item", domain,
                                       ["product_id", "min_quantity", "fixed_price", "date_start", "date_end"]))
        codes = self._codes("prices", (mapper.many2one(i["product_id"]) for i in items))
        row, = self._x("prices", "product.pricelist", "read", [pricelist], fields=["currency_id"])
        currency = row["currency_id"][1] if row["currency_id"] else self._currency("prices")
        for item in items:
            sku = codes.get(mapper.many2one(item["product_id"]))
            if sku:
                yield Raw(item, f"product.pricelist.item {item['id']}",
                          partial(mapper.pricelist_price, sku=sku, currency=currency, customer=customer))

    def _fetch_stock(self, since):
        """Free quantity (on hand less reserved) per product and warehouse, from ``stock.quant``
        in internal locations; a delta reads every quant of the products with a changed quant."""
        domain = [["location_id.usage", "=", "internal"]]
        if since is not None:
            changed = self._x("stock", "stock.quant", "search_read", domain=domain + self._since(since),
                              fields=["product_id"])
            domain.append(["product_id", "in", sorted({mapper.many2one(q["product_id"]) for q in changed})])
        quants = list(self._search_read("stock", "stock.quant", domain,
                                        ["product_id", "warehouse_id", "quantity", "reserved_quantity"]))
        codes = self._codes("stock", (mapper.many2one(q["product_id"]) for q in quants))
        warehouses = {v: k for k, v in self._lookup("warehouses").items()}
        totals: dict[tuple[str, str], Decimal] = {}
        for quant in quants:
            sku, warehouse = codes.get(mapper.many2one(quant["product_id"])), warehouses.get(
                mapper.many2one(quant["warehouse_id"]))
            if sku and warehouse:
                key = (sku, self.cfg.warehouses.get(warehouse, warehouse))
                totals[key] = totals.get(key, Decimal(0)) + mapper.decimal(quant["quantity"]) \
                    - mapper.decimal(quant["reserved_quantity"])
        for (sku, warehouse), quantity in sorted(totals.items()):
            yield mapper.stock_level(sku, warehouse, quantity)

    def _fetch_customers(self, since):
        """Top-level partners with a customer number (``ref``), archived ones too (the shop learns
        a customer is blocked); a changed child address counts as a change of its partner."""
        domain = [["ref", "!=", False], ["parent_id", "=", False], ANY_ACTIVE]
        if since is not None:
            children = self._x("customers", "res.partner", "search_read", fields=["parent_id"],
                               domain=[["parent_id", "!=", False], ANY_ACTIVE, *self._since(since)])
            parents = sorted({mapper.many2one(c["parent_id"]) for c in children})
            domain = ["|", ["id", "in", parents], *self._since(since)] + domain if parents else \
                domain + self._since(since)
        for partner in self._search_read("customers", "res.partner", domain, mapper.PARTNER_FIELDS):
            yield Raw(partner, f"res.partner {partner['id']}", partial(self._customer, flow="customers"),
                      external_id=str(partner["id"]))

    def _customer(self, partner: dict, flow: str) -> Customer:
        children = self._x(flow, "res.partner", "search_read", domain=[["parent_id", "=", partner["id"]]],
                           fields=mapper.PARTNER_FIELDS)
        return mapper.customer(partner, children, self._lookup("countries")["by_id"])

    # -- feedback -------------------------------------------------------------------------

    def _fetch_order_statuses(self, since):
        domain = [["client_order_ref", "!=", False], *self._since(since)]
        for row in self._search_read("order_statuses", "sale.order", domain, mapper.ORDER_FIELDS):
            yield Raw(row, f"sale.order {row['id']}", mapper.order_status)

    def _orders_named(self, flow: str, names: Iterable[str]) -> dict[str, str]:
        """Sale order name -> the shop order number."""
        names = sorted({n for n in names if n})
        rows = self._x(flow, "sale.order", "search_read", domain=[["name", "in", names]],
                       fields=["name", "client_order_ref"]) if names else []
        return {r["name"]: r["client_order_ref"] for r in rows if r["client_order_ref"]}

    def _deliveries(self, flow: str, sale_ids: Iterable[int]) -> dict[int, list[dict]]:
        """Sale order id -> its validated outgoing deliveries, in the order they were done."""
        ids = sorted(set(sale_ids))
        rows = self._x(flow, "stock.picking", "search_read", order="date_done, id",
                       domain=[["sale_id", "in", ids], ["picking_type_code", "=", "outgoing"], ["state", "=", "done"]],
                       fields=["name", "sale_id", "date_done", "carrier_tracking_ref", "move_ids"]) if ids else []
        result: dict[int, list[dict]] = {}
        for row in rows:
            result.setdefault(mapper.many2one(row["sale_id"]), []).append(row)
        return result

    def _fetch_shipments(self, since):
        domain = [["picking_type_code", "=", "outgoing"], ["state", "=", "done"], ["sale_id", "!=", False],
                  *self._since(since)]
        pickings = list(self._search_read("shipments", "stock.picking", domain,
                                          ["name", "sale_id", "date_done", "carrier_tracking_ref", "move_ids"]))
        move_ids = [m for p in pickings for m in p["move_ids"]]
        moves = {m["id"]: m for m in (self._x("shipments", "stock.move", "read", move_ids,
                                              fields=["product_id", "quantity"]) if move_ids else [])}
        codes = self._codes("shipments", (mapper.many2one(m["product_id"]) for m in moves.values()))
        orders = {r["id"]: r["client_order_ref"] for r in self._x(
            "shipments", "sale.order", "read", sorted({mapper.many2one(p["sale_id"]) for p in pickings}),
            fields=["client_order_ref"])} if pickings else {}
        for picking in pickings:
            order = orders.get(mapper.many2one(picking["sale_id"]))
            lines = [(codes[mapper.many2one(moves[m]["product_id"])], mapper.decimal(moves[m]["quantity"]))
                     for m in picking["move_ids"] if moves[m]["quantity"] and mapper.many2one(moves[m]["product_id"])
                     in codes]
            if order and lines:
                yield Raw(picking, f"stock.picking {picking['id']}", partial(mapper.shipment, order=order, lines=lines))

    def _posted(self, flow: str, move_type: str, since) -> Iterator[tuple[dict, str | None, list[dict], str | None]]:
        """Posted moves of a type with their shop order number (None for one no shop order led
        to), product lines (with ``sku``) and their customer's number."""
        domain = [["move_type", "=", move_type], ["state", "=", "posted"], *self._since(since)]
        fields = ["name", "invoice_origin", "invoice_date", "currency_id", "amount_tax", "amount_total", "partner_id",
                  "reversed_entry_id"]
        moves = list(self._search_read(flow, "account.move", domain, fields))
        ids = [m["id"] for m in moves]
        lines = self._x(flow, "account.move.line", "search_read", fields=["move_id", "product_id", "name", "quantity",
                                                                          "price_subtotal"],
                        domain=[["move_id", "in", ids], ["display_type", "=", "product"]]) if ids else []
        codes = self._codes(flow, (mapper.many2one(l["product_id"]) for l in lines))
        by_move: dict[int, list[dict]] = {}
        for line in lines:
            by_move.setdefault(mapper.many2one(line["move_id"]), []).append(
                {**line, "sku": codes.get(mapper.many2one(line["product_id"]))})
        orders = self._orders_named(flow, (o.strip() for m in moves for o in (m["invoice_origin"] or "").split(",")))
        partners = {mapper.many2one(m["partner_id"]) for m in moves} - {None}
        refs = {p["id"]: p["ref"] or (p["parent_id"] and p["parent_id"][0]) for p in (self._x(
            flow, "res.partner", "read", sorted(partners), fields=["ref", "parent_id"]) if partners else [])}
        for move in moves:
            origin = next((o.strip() for o in (move["invoice_origin"] or "").split(",") if o.strip() in orders), None)
            ref = refs.get(mapper.many2one(move["partner_id"]))
            yield move, origin, by_move.get(move["id"], []), ref if isinstance(ref, str) else None

    def _shipment_of(self, flow: str, posted: list[tuple]) -> dict[int, str]:
        """Invoice id -> the delivery it bills: the n-th posted invoice of an order, its n-th delivery."""
        names = sorted({origin for _, origin, _, _ in posted if origin})
        if not names:
            return {}
        sales = {r["name"]: r["id"] for r in self._x(flow, "sale.order", "search_read", domain=[["name", "in", names]],
                                                      fields=["name"])}
        deliveries = self._deliveries(flow, sales.values())
        invoices = self._x(flow, "account.move", "search_read", order="id", fields=["invoice_origin"],
                           domain=[["invoice_origin", "in", names], ["move_type", "=", "out_invoice"],
                                   ["state", "=", "posted"]])
        result, seen = {}, {}
        for invoice in invoices:
            origin = invoice["invoice_origin"]
            position = seen[origin] = seen.get(origin, -1) + 1
            done = deliveries.get(sales.get(origin), [])
            if position < len(done):
                result[invoice["id"]] = done[position]["name"]
        return result

    def _fetch_invoices(self, since):
        """Invoices of shop orders, and every invoice as a document of its customer's order history."""
        freight, fees = set(self.cfg.shipping_methods.values()), set(self.cfg.fee_products)
        posted = list(self._posted("invoices", "out_invoice", since))
        shipments = self._shipment_of("invoices", posted)
        names = self._orders_named("invoices", (origin for _, origin, _, _ in posted))
        for move, origin, lines, customer in posted:
            where, order = f"account.move {move['id']}", names.get(origin)
            if order:
                yield Raw(move, where, partial(mapper.invoice, order=order, shipment_name=shipments.get(move["id"]),
                                               lines=lines, freight=freight, fees=fees))
            yield Raw(move, where, partial(mapper.document, "invoice", order=order, customer_number=customer))

    def _fetch_credit_memos(self, since):
        posted = list(self._posted("credit_memos", "out_refund", since))
        names = self._orders_named("credit_memos", (origin for _, origin, _, _ in posted))
        for move, origin, lines, customer in posted:
            where, order = f"account.move {move['id']}", names.get(origin)
            if order:
                yield Raw(move, where, partial(mapper.credit_memo, order=order, lines=lines))
            yield Raw(move, where, partial(mapper.document, "credit_memo", order=order, customer_number=customer))

    # -- real time ------------------------------------------------------------------------

    def get_customer(self, number: str) -> Customer | None:
        partner = self._partner_by_ref("customer_lookup", number)
        return self._customer(partner, "customer_lookup") if partner else None

    def get_document(self, doc_type: str, number: str) -> tuple[bytes, str] | None:
        """An invoice or credit memo as the PDF Odoo attached to it (printed or sent)."""
        move_type = {"invoice": "out_invoice", "credit_memo": "out_refund"}.get(doc_type)
        if move_type is None:
            return None
        flow = "documents"
        ids = self._x(flow, "account.move", "search", domain=[["name", "=", number], ["move_type", "=", move_type]],
                      limit=1)
        if not ids:
            return None
        files = self._x(flow, "ir.attachment", "search_read", fields=["datas", "mimetype"], limit=1, order="id desc",
                        domain=[["res_model", "=", "account.move"], ["res_id", "=", ids[0]],
                                ["mimetype", "=", "application/pdf"]])
        if not files or not files[0]["datas"]:
            return None
        return base64.b64decode(files[0]["datas"]), "application/pdf"


def create(app, name: str, cfg) -> OdooConnector:
    """The connector for system ``name`` of the app's config, its calls in the app's exchange log."""
    from erpbridge.exchange.log import ExchangeLog

    adapter = OdooAdapter(cfg.url, cfg.database, cfg.api_key.get_secret_value(), api=cfg.api, login=cfg.login,
                          timeout=cfg.timeout, system=name, exchange_log=ExchangeLog.for_app(app),
                          concurrency_retries=cfg.concurrency_retries)
    return OdooConnector(adapter, cfg, name)
