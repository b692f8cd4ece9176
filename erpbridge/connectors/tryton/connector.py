"""The Tryton connector: what erpbridge asks of a Tryton ERP, in Tryton's calls.

* ``deliver``: shop -> ERP operations (``create_customer``, ``send_order``, ``cancel_order``,
  ``send_return``), each idempotent because the outbox delivers at least once: the connector
  first looks for what an earlier attempt may have created (a party by the shop's customer
  number as identifier, a sale by the shop order number as ``reference``, a return sale by the
  return id) and carries on from where that attempt stopped, also when Tryton itself stopped
  half way (see :meth:`TrytonConnector._complete_sale`).
* ``fetch``: master data and feedback, full or changed since a time (Tryton's ``write_date``).
* ``get_customer`` / ``get_price`` / ``get_document``: real-time lookups.
* ``stuck_orders``: for reconciliation, the shop orders whose sale stopped short of processed.

How the order-to-cash steps map (Tryton 8.2, modules sale, stock, account_invoice,
sale_price_list): an order is a ``sale.sale`` quoted and confirmed; confirming creates the
customer shipment and, with invoice method *fulfillment*, one invoice per shipment done. Freight
is a sale line of the service product the shipping method maps to; Tryton invoices services
with the first shipment, which is where seed 002 wants freight. A return is a sale with negative
quantities and ``origin`` = the original sale; receiving its return shipment in Tryton makes the
credit note.
"""

from __future__ import annotations

import datetime as dt
import threading
from functools import partial
from decimal import Decimal
from typing import Iterable, Iterator


from erpbridge.connectors.base import ERP_OPERATIONS, DeliveryResult, MessageError, PriceQuery, payload_record
from erpbridge.connectors.kit.paging import rows_by_offset
from erpbridge.connectors.tryton import mapper
from erpbridge.connectors.tryton.adapter import TrytonAdapter
from erpbridge.ingest import Raw
from erpbridge.records import Cancellation, Customer, Order, Price, Record, Return
from erpbridge.store.db import as_utc

#: Rows per ``search_read`` page when reading whole tables (catalog, parties...).
PAGE = 1000
#: Sale states from which ``sale.sale.cancel`` works directly.
CANCELLABLE = ("draft", "quotation")


class TrytonConnector:
    def __init__(self, adapter: TrytonAdapter, cfg, name: str = "tryton"):
        self.adapter = adapter
        self.cfg = cfg
        self.name = name
        self._lookups: dict[str, dict] = {}
        self._lookup_lock = threading.Lock()

    def close(self) -> None:
        self.adapter.close()

    # -- small helpers --------------------------------------------------------------------

    def _m(self, flow: str, model: str, method: str, *params, context: dict | None = None):
        return self.adapter.model(flow, model, method, *params, context=context)

    def _search_read(self, flow: str, model: str, domain: list, fields: list[str], *, context: dict | None = None,
                     order=None) -> Iterator[dict]:
        """All rows of a domain, a page at a time (ordered by id, so pages do not overlap)."""
        return rows_by_offset(lambda offset, limit: self._m(flow, model, "search_read", domain, offset, limit,
                                                            order or [["id", "ASC"]], fields, context=context), PAGE)

    def _lookup(self, name: str) -> dict:
        """Tables that rarely change (countries, warehouses, currency...), read once per connector."""
        with self._lookup_lock:
            if name not in self._lookups:
                self._lookups[name] = getattr(self, f"_read_{name}")()
            return self._lookups[name]

    def _read_countries(self) -> dict:
        rows = self._m("lookup", "country.country", "search_read", [], 0, None, None, ["code"])
        return {"by_code": {r["code"]: r["id"] for r in rows}, "by_id": {r["id"]: r["code"] for r in rows}}

    def _read_warehouses(self) -> dict:
        rows = self._m("lookup", "stock.location", "search_read", [["type", "=", "warehouse"]], 0, None, None, ["code"])
        return {r["code"]: r["id"] for r in rows if r["code"]}

    def _read_company(self) -> dict:
        company = self.adapter.context.get("company") or self._m("lookup", "res.user", "get_preferences", True)["company"]
        row, = self._m("lookup", "company.company", "read", [company], ["currency.code", "party"])
        return {"id": company, "currency": row["currency."]["code"], "party": row["party"]}

    @property
    def currency(self) -> str:
        return self._lookup("company")["currency"]

    def _country_id(self, code: str, where: str) -> int:
        try:
            return self._lookup("countries")["by_code"][code]
        except KeyError:
            raise MessageError(f"{where}: country {code!r} does not exist in Tryton") from None

    def _warehouse_id(self) -> int:
        try:
            return self._lookup("warehouses")[self.cfg.warehouse]
        except KeyError:
            raise MessageError(f"systems.{self.name}.warehouse: Tryton has no warehouse with code {self.cfg.warehouse!r}") from None

    def _store_warehouse(self, tryton_code: str) -> str:
        return self.cfg.warehouses.get(tryton_code, tryton_code)

    def _products_by_code(self, flow: str, codes: Iterable[str]) -> dict[str, dict]:
        codes = sorted(set(codes))
        rows = self._m(flow, "product.product", "search_read", [["code", "in", codes]], 0, None, None,
                       ["code", "sale_uom", "account_category", "salable"])
        return {r["code"]: r for r in rows}

    def _customer_taxes(self, flow: str, category_ids: Iterable[int]) -> dict[int, list[int]]:
        ids = sorted({c for c in category_ids if c})
        rows = self._m(flow, "product.category", "read", ids, ["customer_taxes_used"]) if ids else []
        return {r["id"]: r["customer_taxes_used"] for r in rows}

    def _party_by_code(self, flow: str, code: str, *, inactive: bool = False) -> dict | None:
        """The party with this code; with ``inactive``, also one deactivated in Tryton (which
        Tryton's searches leave out unless told otherwise)."""
        rows = self._m(flow, "party.party", "search_read", [["code", "=", code]], 0, 1, None,
                       mapper.PARTY_FIELDS + ["sale_price_list"], context={"active_test": False} if inactive else None)
        return rows[0] if rows else None

    def _party_by_identifier(self, flow: str, identifier: str) -> int | None:
        """The id of the party with this identifier code (how redelivery finds what it created)."""
        rows = self._m(flow, "party.identifier", "search_read", [["code", "=", identifier]], 0, 1, None, ["party"])
        return rows[0]["party"] if rows else None

    def _sale_by_reference(self, flow: str, reference: str, returns: bool = False) -> dict | None:
        domain = [["reference", "=", reference], ["origin", "!=" if returns else "=", None]]
        rows = self._m(flow, "sale.sale", "search_read", domain, 0, 1, [["id", "ASC"]],
                       mapper.SALE_FIELDS + ["shipments", "invoices", "party", "invoice_address", "shipment_address",
                                             "lines"])
        return rows[0] if rows else None

    def _since_domain(self, since: dt.datetime | None, *paths: str) -> list:
        """Changed after ``since`` on the record or any of the related paths (Tryton keeps UTC).
        Tryton leaves ``write_date`` empty until a record is first written, so a record created
        after ``since`` and never written since is found by its ``create_date``."""
        if since is None:
            return []
        since = since.astimezone(dt.timezone.utc).replace(tzinfo=None) if since.tzinfo else since
        clauses = [[f"{p}{field}", ">", since] for p in ("", *paths) for field in ("write_date", "create_date")]
        return [["OR", *clauses]] if len(clauses) > 1 else clauses

    # -- deliver: shop -> ERP -------------------------------------------------------------

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult:
        handler = {"create_customer": self._create_customer, "send_order": self._send_order,
                   "cancel_order": self._cancel_order, "send_return": self._send_return}.get(operation)
        if handler is None:
            raise MessageError(f"the tryton connector does not know the operation {operation!r}")
        return handler(payload_record(operation, ERP_OPERATIONS[operation], payload), operation)

    def _create_customer(self, customer: Customer, flow: str) -> DeliveryResult:
        identifier = f"shop:{customer.number}"
        party_id = self._party_by_identifier(flow, identifier)
        if party_id is None:
            countries = {a.country for a in [customer.invoice_address, *customer.delivery_addresses] if a}
            country_ids = {c: self._country_id(c, f"customer {customer.number}") for c in countries}
            party_id, = self._m(flow, "party.party", "create", [mapper.party_values(customer, country_ids, identifier)])
        party, = self._m(flow, "party.party", "read", [party_id], ["code"])
        return DeliveryResult(external_id=party["code"], records=(customer.model_copy(update={"number": party["code"]}),),
                              response={"party": party_id, "code": party["code"]})

    def _send_order(self, order: Order, flow: str) -> DeliveryResult:
        sale = self._sale_by_reference(flow, order.number)
        if sale is None:
            sale_id = self._create_sale(order, flow)
            state = "draft"
        else:
            sale_id, state = sale["id"], sale["state"]
        if state == "cancelled":
            raise MessageError(f"order {order.number}: its Tryton sale {sale['number']} is cancelled")
        row = self._complete_sale(flow, sale_id, state)
        return DeliveryResult(external_id=row["number"] or str(sale_id), response=row)

    def _complete_sale(self, flow: str, sale_id: int, state: str, fields: tuple[str, ...] = ()) -> dict:
        """Quote, confirm and process the sale, carrying on from the state an earlier attempt
        reached; returns its ``number``, ``state`` and ``fields`` as read at the end.

        Tryton's ``confirm`` commits the sale as ``confirmed`` together with a queued
        ``sale.sale.process`` task (which creates the shipment and the invoice) and then runs
        that task: at once, in the same request, or with a queue worker a moment later. A Tryton
        stopped in between leaves the sale confirmed and the task queued with nothing to run it;
        the client saw a disconnect, and its redelivery finds the sale confirmed. So a sale left
        confirmed is processed here (``process`` locks the sale and creates only what is still
        missing, so a task that does run after all adds nothing), unless a queue worker will
        process it: then confirmed is normal for a moment, and only a sale confirmed for longer
        than ``stuck_after_minutes`` is processed (reconciliation finds those: :meth:`stuck_orders`).
        """
        if state == "draft":
            self._m(flow, "sale.sale", "quote", [sale_id])
            state = "quotation"
        if state == "quotation":
            self._m(flow, "sale.sale", "confirm", [sale_id])
        fields = ("number", "state", "write_date", *fields)
        row, = self._m(flow, "sale.sale", "read", [sale_id], list(fields))
        if row["state"] == "confirmed" and (not self.cfg.queue_worker or as_utc(row["write_date"]) < self._stuck_since()):
            self._m(flow, "sale.sale", "process", [sale_id])
            row, = self._m(flow, "sale.sale", "read", [sale_id], list(fields))
        del row["write_date"]
        return row

    def _stuck_since(self) -> dt.datetime:
        """A sale confirmed before this and still confirmed is stuck (UTC, as Tryton keeps times)."""
        return dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=self.cfg.stuck_after_minutes)

    def stuck_orders(self, numbers: Iterable[str]) -> dict[str, str]:
        """Of these shop orders (those bound to a Tryton sale), the ones whose sale stopped short:
        confirmed but never processed (no shipment, no invoice) for more than
        ``stuck_after_minutes``, each with the reason. Reconciliation queues each again, and its
        delivery processes the sale (:meth:`_complete_sale`).

        One search for stuck sales, whatever the number of orders: Tryton's state is the selective
        part, and all but a few orders are past ``confirmed``.
        """
        wanted = set(numbers)
        since = self._stuck_since().replace(tzinfo=None)
        domain = [["state", "=", "confirmed"], ["origin", "=", None], ["reference", "!=", None],
                  ["write_date", "<", since]]
        return {row["reference"]: f"Tryton sale {row['number'] or row['id']} is confirmed since "
                                  f"{row['write_date']:%Y-%m-%d %H:%M:%S} UTC and was never processed"
                for row in self._search_read("reconcile", "sale.sale", domain, ["number", "reference", "write_date"])
                if row["reference"] in wanted}

    def _create_sale(self, order: Order, flow: str) -> int:
        where = f"order {order.number}"
        party = self._order_party(order, flow)
        invoice_address = self._party_address(flow, party, order.billing_address, where, invoice=True)
        shipment_address = self._party_address(flow, party, order.shipping_address, where, delivery=True)

        skus = [line.sku for line in order.lines]
        freight_code = None
        if order.shipping_amount:
            freight_code = self.cfg.shipping_methods.get(order.shipping_method)
            if freight_code is None:
                raise MessageError(f"{where}: shipping method {order.shipping_method!r} has no freight product in "
                                   f"systems.{self.name}.shipping_methods")
            skus.append(freight_code)
        products = self._products_by_code(flow, skus)
        missing = [sku for sku in skus if sku not in products]
        if missing:
            raise MessageError(f"{where}: unknown product(s) in Tryton: {', '.join(missing)}")
        taxes = self._customer_taxes(flow, (p["account_category"] for p in products.values()))

        def line(sku: str, quantity: Decimal, price: Decimal, description: str | None = None) -> dict:
            product = products[sku]
            values = {"type": "line", "product": product["id"], "quantity": float(quantity), "unit": product["sale_uom"],
                      "unit_price": price, "taxes": [["add", taxes.get(product["account_category"], [])]]}
            if description:
                values["description"] = description
            return values

        lines = [line(l.sku, l.quantity, price, l.name) for l, price in zip(order.lines, order.unit_prices())]
        if freight_code:
            lines.append(line(freight_code, Decimal(1), order.shipping_amount, f"Shipping: {order.shipping_method}"))
        values = {
            "party": party["id"], "reference": order.number, "invoice_address": invoice_address,
            "shipment_address": shipment_address, "warehouse": self._warehouse_id(),
            "sale_date": order.placed_at.date(), "lines": [["create", lines]],
            "description": f"Shop order {order.number}" + (f", coupon {order.coupon_code}" if order.coupon_code else ""),
        }
        payment_term = self._payment_term(flow, order, where)
        if payment_term:
            values["payment_term"] = payment_term
        if party.get("sale_price_list"):
            values["price_list"] = party["sale_price_list"]
        sale_id, = self._m(flow, "sale.sale", "create", [values])
        return sale_id

    def _order_party(self, order: Order, flow: str) -> dict:
        """The customer's party, or for a guest order a party made from its billing address
        (found again on redelivery by the order number as identifier)."""
        if order.customer:
            party = self._party_by_code(flow, order.customer)
            if party is None:
                raise MessageError(f"order {order.number}: customer {order.customer!r} does not exist in Tryton")
            return party
        identifier = f"shop-order:{order.number}"
        party_id = self._party_by_identifier(flow, identifier)
        if party_id is None:
            guest = Customer(number=order.number, name=order.billing_address.name, email=order.email or None)
            party_id, = self._m(flow, "party.party", "create", [mapper.party_values(guest, {}, identifier)])
        party, = self._m(flow, "party.party", "read", [party_id], mapper.PARTY_FIELDS + ["sale_price_list"])
        return party

    def _party_address(self, flow: str, party: dict, address, where: str, *, invoice: bool = False,
                       delivery: bool = False) -> int:
        """The party's address equal to the order's, created when the party has none like it."""
        values = mapper.address_values(address, {address.country: self._country_id(address.country, where)},
                                       invoice=invoice, delivery=delivery)
        rows = self._m(flow, "party.address", "search_read", [["party", "=", party["id"]]], 0, None, None,
                       mapper.ADDRESS_FIELDS)
        for row in rows:
            if mapper.same_address(row, values):
                return row["id"]
        address_id, = self._m(flow, "party.address", "create", [{**values, "party": party["id"]}])
        return address_id

    def _payment_term(self, flow: str, order: Order, where: str) -> int | None:
        if not self.cfg.payment_methods:
            return None
        name = self.cfg.payment_methods.get(order.payment_method)
        if name is None:
            raise MessageError(f"{where}: payment method {order.payment_method!r} is not mapped in "
                               f"systems.{self.name}.payment_methods")
        rows = self._m(flow, "account.invoice.payment_term", "search", [["name", "=", name]], 0, 1, None)
        if not rows:
            raise MessageError(f"{where}: Tryton has no payment term {name!r} (systems.{self.name}.payment_methods)")
        return rows[0]

    def _cancel_order(self, cancellation: Cancellation, flow: str) -> DeliveryResult:
        where = f"cancellation {cancellation.id} of order {cancellation.order}"
        if cancellation.lines:
            raise MessageError(f"{where}: cancelling single items is not supported by the tryton connector; "
                               "cancel the whole order or change it in Tryton")
        sale = self._sale_by_reference(flow, cancellation.order)
        if sale is None:
            raise MessageError(f"{where}: Tryton has no sale with reference {cancellation.order!r}")
        if mapper.is_cancelled(sale):
            return DeliveryResult(external_id=sale["number"], response={"state": "cancelled"})  # done before
        if sale["state"] in CANCELLABLE:
            self._m(flow, "sale.sale", "cancel", [sale["id"]])
            return DeliveryResult(external_id=sale["number"], response={"state": "cancelled"})
        if sale["state"] == "confirmed":
            # Not processed yet (a queue worker's turn to come, or a Tryton stopped after confirm):
            # processing now makes the shipment and invoice that cancelling then cancels, instead
            # of processing the cancelled order after this message is done.
            self._m(flow, "sale.sale", "process", [sale["id"]])
            sale = self._sale_by_reference(flow, cancellation.order)
        shipments = self._m(flow, "stock.shipment.out", "read", sale["shipments"], ["number", "state"])
        shipped = [s["number"] for s in shipments if s["state"] in ("packed", "shipped", "done")]
        if shipped or sale["shipment_state"] in ("sent", "partially shipped"):
            raise MessageError(f"{where}: cannot cancel, Tryton sale {sale['number']} has already shipped "
                               f"({', '.join(shipped) or sale['shipment_state']})")
        open_shipments = [s["id"] for s in shipments if s["state"] != "cancelled"]
        if open_shipments:
            self._m(flow, "stock.shipment.out", "cancel", open_shipments)
        invoices = self._m(flow, "account.invoice", "read", sale["invoices"], ["state", "number"])
        posted = [i["number"] for i in invoices if i["state"] not in ("draft", "validated", "cancelled")]
        if posted:
            raise MessageError(f"{where}: cannot cancel, Tryton sale {sale['number']} has posted invoices {posted}")
        drafts = [i["id"] for i in invoices if i["state"] in ("draft", "validated")]
        if drafts:
            self._m(flow, "account.invoice", "cancel", drafts)
        # The sale is now in exception: tell Tryton to ignore what was cancelled, recreate nothing.
        for kind in ("shipment", "invoice"):
            self._handle_exception(flow, sale["id"], kind)
        row, = self._m(flow, "sale.sale", "read", [sale["id"]], ["state", "shipment_state"])
        if not mapper.is_cancelled(row):
            # Handling queues a process that ends the sale; a queue worker runs it later (or a
            # stopped Tryton never did): run it now, so the order is cancelled when this is done.
            self._m(flow, "sale.sale", "process", [sale["id"]])
            row, = self._m(flow, "sale.sale", "read", [sale["id"]], ["state", "shipment_state"])
        return DeliveryResult(external_id=sale["number"], response={"state": row["state"]})

    def _handle_exception(self, flow: str, sale_id: int, kind: str) -> None:
        name = f"sale.handle.{kind}.exception"
        context = {"active_model": "sale.sale", "active_id": sale_id, "active_ids": [sale_id]}
        session, *_ = self.adapter.call(flow, f"wizard.{name}.create", context=context)
        try:
            view = self.adapter.call(flow, f"wizard.{name}.execute", session, {}, "ask", context=context)
            defaults = view["view"]["defaults"]
            domain = defaults.get(f"domain_{kind}s" if kind == "invoice" else "domain_moves", [])
            if not domain:
                return
            key = "invoices" if kind == "invoice" else "moves"
            data = {"ask": {f"domain_{key}": domain, f"ignore_{key}": domain, f"recreate_{key}": []}}
            self.adapter.call(flow, f"wizard.{name}.execute", session, data, "handle", context=context)
        finally:
            self.adapter.call(flow, f"wizard.{name}.delete", session, context=context)

    def _send_return(self, ret: Return, flow: str) -> DeliveryResult:
        where = f"return {ret.id} of order {ret.order}"
        existing = self._sale_by_reference(flow, ret.id, returns=True)
        if existing is None:
            sale = self._sale_by_reference(flow, ret.order)
            if sale is None:
                raise MessageError(f"{where}: Tryton has no sale with reference {ret.order!r}")
            lines = self._m(flow, "sale.line", "read", sale["lines"],
                            ["product", "product.code", "quantity", "unit", "unit_price", "taxes", "type"])
            by_sku = {l["product."]["code"]: l for l in lines if l.get("product")}
            values = []
            for item in ret.lines:
                original = by_sku.get(item.sku)
                if original is None:
                    raise MessageError(f"{where}: item {item.sku} is not on the order")
                if item.quantity > Decimal(str(original["quantity"])):
                    raise MessageError(f"{where}: item {item.sku}: {item.quantity} returned, "
                                       f"{original['quantity']} ordered")
                values.append({"type": "line", "product": original["product"], "quantity": -float(item.quantity),
                               "unit": original["unit"], "unit_price": original["unit_price"],
                               "taxes": [["add", original["taxes"]]],
                               **({"description": item.reason} if item.reason else {})})
            sale_id, = self._m(flow, "sale.sale", "create", [{
                "party": sale["party"], "reference": ret.id, "origin": f"sale.sale,{sale['id']}",
                "invoice_address": sale["invoice_address"], "shipment_address": sale["shipment_address"],
                "warehouse": self._warehouse_id(), "description": f"Return {ret.id} of shop order {ret.order}",
                "lines": [["create", values]]}])
            state = "draft"
        else:
            sale_id, state = existing["id"], existing["state"]
        row = self._complete_sale(flow, sale_id, state, ("shipment_returns",))
        return DeliveryResult(external_id=row["number"] or str(sale_id), response=row)

    # -- fetch: ERP -> store --------------------------------------------------------------

    def fetch(self, kind: str, since: dt.datetime | None = None) -> Iterable[Record | Raw]:
        reader = getattr(self, f"_fetch_{kind}", None)
        if reader is None:
            raise ValueError(f"the tryton connector cannot fetch {kind!r}")
        return reader(since)

    def _categories(self) -> list[dict]:
        return list(self._search_read("product_groups", "product.category", [["accounting", "=", False]],
                                      mapper.CATEGORY_FIELDS + ["write_date", "create_date"]))

    def _fetch_product_groups(self, since):
        categories = self._categories()
        codes = {c["id"]: mapper.group_code(c) for c in categories}
        for category in categories:
            if since is None or as_utc(category["write_date"] or category["create_date"]) > as_utc(since):
                yield Raw(category, f"product.category {category['id']}", partial(mapper.product_group, codes=codes),
                          external_id=str(category["id"]))

    def _products(self, flow: str, since, fields: list[str] = mapper.PRODUCT_FIELDS) -> Iterator[dict]:
        """Salable products with a code, except the freight and fee products (not for the shop)."""
        billing = sorted({*self.cfg.shipping_methods.values(), *self.cfg.fee_products})
        domain = [["salable", "=", True], ["code", "!=", None], ["code", "not in", billing],
                  *self._since_domain(since, "template.")]
        return self._search_read(flow, "product.product", domain, fields)

    def _fetch_products(self, since):
        codes = {c["id"]: mapper.group_code(c) for c in self._categories()}
        currency = self.currency
        for row in self._products("products", since):
            yield Raw(row, f"product.product {row['id']}", partial(mapper.product, group_codes=codes, currency=currency),
                      external_id=str(row["id"]))

    def _fetch_prices(self, since):
        """List prices; volume prices from the configured price list's quantity tiers; customer
        prices for every party with its own price list. Tryton computes each price itself
        (``sale_price_uom`` in the price list's context), so formulas are never re-implemented here."""
        currency = self.currency
        rows = list(self._products("prices", since, mapper.PRICE_FIELDS))
        for row in rows:
            yield Raw(row, f"product.product {row['id']}", partial(mapper.list_price, currency=currency))
        if since is not None:
            # Any product or price-list change may change a computed price: recompute all of them
            # and let the store's hash comparison keep only the real changes.
            rows = list(self._products("prices", None, mapper.PRICE_FIELDS))
        ids = {r["id"]: r["code"] for r in rows}
        if not ids:
            return
        if self.cfg.price_list:
            lists = self._m("prices", "product.price_list", "search", [["name", "=", self.cfg.price_list]], 0, 1, None)
            if not lists:
                raise MessageError(f"systems.{self.name}.price_list: Tryton has no price list {self.cfg.price_list!r}")
            yield from self._list_prices(lists[0], ids, None, currency, volume_only=True)
        # party.sale_price_list is a company-dependent value: readable, but neither searchable
        # nor exposed as a table over RPC, so every party is read.
        for party in self._search_read("prices", "party.party", [["code", "!=", None]], ["code", "sale_price_list"]):
            if party["sale_price_list"]:
                yield from self._list_prices(party["sale_price_list"], ids, party, currency)

    def _list_prices(self, price_list: int, products: dict[int, str], party: dict | None, currency: str, *,
                     volume_only: bool = False) -> Iterator[Raw]:
        """The prices of one price list for each of its quantity tiers (``volume_only``: above one)."""
        lines = self._m("prices", "product.price_list.line", "search_read", [["price_list", "=", price_list]], 0, None,
                        None, ["quantity", "product", "category"])
        tiers = sorted({Decimal(str(l["quantity"] or 1)) or Decimal(1) for l in lines} | {Decimal(1)})
        ids = sorted(products)
        for tier in (t for t in tiers if t > 1 or not volume_only):
            context = {"price_list": price_list, "quantity": float(tier)}
            if party:
                context["customer"] = party["id"]
            for start in range(0, len(ids), PAGE):
                chunk = ids[start:start + PAGE]
                for row in self._m("prices", "product.product", "read", chunk, ["sale_price_uom"], context=context):
                    if row["sale_price_uom"] is not None:
                        where = f"product.product {row['id']} in price list {price_list} from quantity {tier}"
                        yield Raw(row, where, partial(
                            mapper.tier_price, sku=products[row["id"]], currency=currency, min_quantity=tier,
                            customer=party["code"] if party else None))

    def _fetch_stock(self, since):
        warehouses = self._lookup("warehouses")
        domain = [["type", "=", "goods"], ["salable", "=", True], ["code", "!=", None]]
        if since is not None:
            moves = self._m("stock", "stock.move", "search_read", self._since_domain(since), 0, None, None, ["product"])
            domain.append(["id", "in", sorted({m["product"] for m in moves})])
        products = {r["id"]: r["code"] for r in self._search_read("stock", "product.product", domain, ["code"])}
        ids = sorted(products)
        for code, warehouse in warehouses.items():
            for start in range(0, len(ids), PAGE):
                rows = self._m("stock", "product.product", "read", ids[start:start + PAGE], ["quantity"],
                               context={"locations": [warehouse], "stock_date_end": None})
                for row in rows:
                    yield Raw(row, f"product.product {row['id']} in warehouse {code}", partial(
                        _stock_level, sku=products[row["id"]], warehouse=self._store_warehouse(code)))

    def _fetch_customers(self, since):
        company_party = self._lookup("company")["party"]
        domain = [["code", "!=", None], ["id", "!=", company_party],
                  *self._since_domain(since, "addresses.", "contact_mechanisms.")]
        # Deactivated parties too: the shop must learn that a customer is blocked.
        for party in self._search_read("customers", "party.party", domain, mapper.PARTY_FIELDS,
                                       context={"active_test": False}):
            yield Raw(party, f"party.party {party['id']}", partial(self._customer, flow="customers"),
                      external_id=str(party["id"]))

    def _customer(self, party: dict, flow: str) -> Customer:
        addresses = self._m(flow, "party.address", "read", party["addresses"], mapper.ADDRESS_FIELDS)
        mechanisms = self._m(flow, "party.contact_mechanism", "read", party["contact_mechanisms"], mapper.MECHANISM_FIELDS)
        return mapper.customer(party, addresses, mechanisms, self._lookup("countries")["by_id"])

    # -- feedback -------------------------------------------------------------------------

    def _fetch_order_statuses(self, since):
        domain = [["reference", "!=", None], ["origin", "=", None], *self._since_domain(since)]
        for sale in self._search_read("order_statuses", "sale.sale", domain, mapper.SALE_FIELDS):
            yield Raw(sale, f"sale.sale {sale['id']}", mapper.order_status)

    def _references(self, flow: str, sale_ids: Iterable[int]) -> dict[int, str]:
        """Sale id -> the shop order number; a return sale maps to its original order's number."""
        ids = sorted({s for s in sale_ids if s})
        sales = self._m(flow, "sale.sale", "read", ids, ["reference", "origin"]) if ids else []
        originals = {int(s["origin"].split(",")[1]) for s in sales if (s["origin"] or "").startswith("sale.sale,")}
        original_refs = {r["id"]: r["reference"] for r in
                         (self._m(flow, "sale.sale", "read", sorted(originals), ["reference"]) if originals else [])}
        result = {}
        for sale in sales:
            origin = sale["origin"] or ""
            result[sale["id"]] = original_refs.get(int(origin.split(",")[1])) if origin.startswith("sale.sale,") else sale["reference"]
        return {k: v for k, v in result.items() if v}

    def _fetch_shipments(self, since):
        domain = [["state", "=", "done"], *self._since_domain(since)]
        shipments = list(self._search_read("shipments", "stock.shipment.out", domain,
                                           ["number", "reference", "effective_date", "outgoing_moves"]))
        move_ids = [m for s in shipments for m in s["outgoing_moves"]]
        moves = {m["id"]: m for m in (self._m("shipments", "stock.move", "read", move_ids,
                                              ["product.code", "quantity", "sale", "state"]) if move_ids else [])}
        references = self._references("shipments", (m["sale"] for m in moves.values()))
        for shipment in shipments:
            own = [moves[m] for m in shipment["outgoing_moves"] if moves[m]["state"] == "done"]
            order = next((references.get(m["sale"]) for m in own if references.get(m["sale"])), None)
            if order and own:
                lines = [(m["product."]["code"], Decimal(str(m["quantity"]))) for m in own]
                yield Raw(shipment, f"stock.shipment.out {shipment['id']}", partial(mapper.shipment, order=order,
                                                                                     lines=lines))

    def _posted_invoices(self, flow: str, since) -> Iterator[tuple[dict, str | None, list[dict], str | None]]:
        """Posted customer invoices with their shop order number (None for one that no shop order
        led to, e.g. an order taken by phone), lines and the shipment they bill."""
        domain = [["type", "=", "out"], ["state", "in", ["posted", "paid"]], *self._since_domain(since)]
        invoices = list(self._search_read(flow, "account.invoice", domain,
                                          ["number", "invoice_date", "total_amount", "tax_amount", "sales", "lines",
                                           "currency.code", "party.code"]))
        line_ids = [l for i in invoices for l in i["lines"]]
        lines = {l["id"]: l for l in (self._m(flow, "account.invoice.line", "read", line_ids,
                                              ["product.code", "description", "quantity", "amount", "type", "stock_moves"])
                                      if line_ids else [])}
        # Invoice -> shipment goes through the invoiced stock moves (account_invoice_stock).
        move_ids = sorted({m for l in lines.values() for m in l["stock_moves"]})
        move_shipment = {m["id"]: int(m["shipment"].split(",")[1])
                         for m in (self._m(flow, "stock.move", "read", move_ids, ["shipment"]) if move_ids else [])
                         if (m["shipment"] or "").startswith("stock.shipment.out,")}
        shipment_ids = sorted(set(move_shipment.values()))
        shipment_numbers = {s["id"]: s["number"] for s in (self._m(flow, "stock.shipment.out", "read", shipment_ids,
                                                                   ["number"]) if shipment_ids else [])}
        references = self._references(flow, (s for i in invoices for s in i["sales"]))
        for invoice in invoices:
            order = next((references[s] for s in invoice["sales"] if s in references), None)
            rows = [{"sku": (lines[l].get("product.") or {}).get("code"), "description": lines[l]["description"],
                     "quantity": lines[l]["quantity"], "amount": lines[l]["amount"]}
                    for l in invoice["lines"] if lines[l]["type"] == "line"]
            shipment = next((shipment_numbers[move_shipment[m]] for l in invoice["lines"] for m in lines[l]["stock_moves"]
                             if m in move_shipment), None)
            yield invoice, order, rows, shipment

    def _fetch_invoices(self, since):
        """Invoices of shop orders, and for the customers' order history the invoice documents
        of every order, also those taken by phone (fetched in real time by :meth:`get_document`)."""
        freight, fees = set(self.cfg.shipping_methods.values()), set(self.cfg.fee_products)
        for invoice, order, rows, shipment in self._posted_invoices("invoices", since):
            if invoice["total_amount"] >= 0:
                where = f"account.invoice {invoice['id']}"
                if order:
                    yield Raw(invoice, where, partial(mapper.invoice, order=order, shipment_number=shipment, lines=rows,
                                                      freight=freight, fees=fees, currency=invoice["currency."]["code"]))
                yield Raw(invoice, where, partial(mapper.document, "invoice", order=order))

    def _fetch_credit_memos(self, since):
        for invoice, order, rows, _ in self._posted_invoices("credit_memos", since):
            if invoice["total_amount"] < 0:
                where = f"account.invoice {invoice['id']}"
                if order:
                    yield Raw(invoice, where, partial(mapper.credit_memo, order=order, lines=rows,
                                                      currency=invoice["currency."]["code"]))
                yield Raw(invoice, where, partial(mapper.document, "credit_memo", order=order))

    # -- real time ------------------------------------------------------------------------

    def get_customer(self, number: str) -> Customer | None:
        party = self._party_by_code("customer_lookup", number, inactive=True)
        return self._customer(party, "customer_lookup") if party else None

    def get_price(self, query: PriceQuery) -> Price | None:
        flow = "price_lookup"
        products = self._m(flow, "product.product", "search", [["code", "=", query.sku], ["salable", "=", True]], 0, 1, None)
        if not products:
            return None
        context = {"quantity": float(query.quantity)}
        party = self._party_by_code(flow, query.customer) if query.customer else None
        if party:
            context["customer"] = party["id"]
            if party.get("sale_price_list"):
                context["price_list"] = party["sale_price_list"]
        row, = self._m(flow, "product.product", "read", products, ["sale_price_uom"], context=context)
        if row["sale_price_uom"] is None:
            return None
        return Price(sku=query.sku, amount=row["sale_price_uom"], currency=self.currency,
                     min_quantity=Decimal(str(query.quantity)), customer=query.customer if party else None)

    def get_document(self, doc_type: str, number: str) -> tuple[bytes, str] | None:
        """An invoice or credit memo as Tryton renders it (its ``account.invoice`` report)."""
        if doc_type not in ("invoice", "credit_memo"):
            return None
        flow = "documents"
        ids = self._m(flow, "account.invoice", "search", [["number", "=", number], ["type", "=", "out"]], 0, 1, None)
        if not ids:
            return None
        ext, content, *_ = self.adapter.call(flow, "report.account.invoice.execute", ids, {"model": "account.invoice", "id": ids[0], "ids": ids})
        if isinstance(content, str):
            content = content.encode()
        return bytes(content), mapper.MEDIA_TYPES.get(ext, "application/octet-stream")


def _stock_level(row: dict, *, sku: str, warehouse: str):
    return mapper.stock_level(sku, warehouse, row["quantity"])


def create(app, name: str, cfg) -> TrytonConnector:
    """The connector for system ``name`` of the app's config, its calls in the app's exchange log."""
    from erpbridge.exchange.log import ExchangeLog

    adapter = TrytonAdapter(cfg.url, cfg.database, cfg.user, cfg.password.get_secret_value(), timeout=cfg.timeout,
                            language=cfg.language, system=name, exchange_log=ExchangeLog.for_app(app),
                            timeouts={operation: m.timeout for operation, m in cfg.messages.items() if m.timeout})
    return TrytonConnector(adapter, cfg, name)
