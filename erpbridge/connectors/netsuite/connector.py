"""The NetSuite connector: what erpbridge asks of a NetSuite account, in REST and SuiteQL calls.

* ``deliver`` (shop -> ERP), idempotent by external ids: a customer is upserted as
  ``customer/eid:<customer number>``; an order is looked up as ``salesOrder/eid:<shop order
  number>`` and, when NetSuite has none, upserted there (two deliveries racing each other still
  make one order); a return is the order transformed into a ``returnAuthorization`` whose
  external id is the return's, looked up first; a cancellation closes every line of the order
  (``isClosed``), refused once something was fulfilled.
* ``fetch``: SuiteQL, all or changed since a time (``lastmodifieddate``, whole seconds, compared
  with ``>=``); stock has no change time in ``inventoryitemlocations``, so it is read whole and
  the store keeps only what changed.
* ``get_customer``: the customer by its external id, in real time.

Freight is the order's ``shippingCost``; NetSuite bills it with the first invoice. NetSuite
does not link an invoice to a fulfilment: the n-th invoice of an order is reported as billing
its n-th fulfilment, as invoicing after each fulfilment does.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Iterable, Iterator


from erpbridge.connectors.base import ERP_OPERATIONS, DeliveryResult, MessageError, payload_record
from erpbridge.connectors.netsuite import mapper
from erpbridge.connectors.netsuite.adapter import NetSuiteAdapter, literal
from erpbridge.ingest import Raw
from erpbridge.records import Cancellation, Customer, Order, Record, Return

#: Item ids per query that reads the prices or stock of items.
CHUNK = 500


class NetSuiteConnector:
    def __init__(self, adapter: NetSuiteAdapter, cfg, name: str = "netsuite"):
        self.adapter, self.cfg, self.name = adapter, cfg, name

    def close(self) -> None:
        self.adapter.close()

    # -- helpers ------------------------------------------------------------------------------

    def _since(self, since: dt.datetime | None, column: str) -> str:
        if since is None:
            return ""
        stamp = since.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        return f" AND {column} >= TO_TIMESTAMP({literal(stamp)}, 'YYYY-MM-DD HH24:MI:SS')"

    def _items(self, flow: str, skus: Iterable[str]) -> dict[str, str]:
        """SKU (``itemid``) -> the item's internal id."""
        skus = sorted(set(skus))
        if not skus:
            return {}
        q = (f"SELECT i.id, i.itemid FROM item i WHERE i.itemid IN ({', '.join(map(literal, skus))}) "
             "AND i.id > {after} ORDER BY i.id")
        return {row["itemid"]: row["id"] for row in self.adapter.query(flow, q)}

    # -- deliver: shop -> ERP -------------------------------------------------------------------

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult:
        handler = {"create_customer": self._create_customer, "send_order": self._send_order,
                   "cancel_order": self._cancel_order, "send_return": self._send_return}.get(operation)
        if handler is None:
            raise MessageError(f"the netsuite connector does not know the operation {operation!r}")
        return handler(payload_record(operation, ERP_OPERATIONS[operation], payload), operation)

    def _create_customer(self, customer: Customer, flow: str) -> DeliveryResult:
        rid = self.adapter.upsert(flow, "customer", customer.number, mapper.customer_body(customer))
        return DeliveryResult(external_id=customer.number, records=(customer,), response={"id": rid})

    def _send_order(self, order: Order, flow: str) -> DeliveryResult:
        found = self.adapter.get(flow, "salesOrder", f"eid:{order.number}")
        if found is None:
            self.adapter.upsert(flow, "salesOrder", order.number, self._order_body(order, flow))
            found = self.adapter.get(flow, "salesOrder", f"eid:{order.number}")
        if found["status"]["id"] in ("C", "H"):
            raise MessageError(f"order {order.number}: its NetSuite sales order {found['tranId']} is closed")
        return DeliveryResult(external_id=found["tranId"], response={"id": found["id"], "status": found["status"]})

    def _order_body(self, order: Order, flow: str) -> dict:
        where = f"order {order.number}"
        if order.customer:
            entity = self.adapter.get(flow, "customer", f"eid:{order.customer}")
            if entity is None:
                raise MessageError(f"{where}: customer {order.customer!r} does not exist in NetSuite (external id)")
            entity_id = entity["id"]
        else:  # a guest: a customer of its own, found again by the order number
            guest = Customer(number=f"guest-{order.number}", name=order.billing_address.name,
                             email=order.email or None, invoice_address=order.billing_address)
            entity_id = self.adapter.upsert(flow, "customer", guest.number, mapper.customer_body(guest))
        items = self._items(flow, (line.sku for line in order.lines))
        missing = sorted({line.sku for line in order.lines} - set(items))
        if missing:
            raise MessageError(f"{where}: unknown item(s) in NetSuite (itemid): {', '.join(missing)}")
        note = f"Shop order {order.number}" + (f", coupon {order.coupon_code}" if order.coupon_code else "")
        return {"entity": {"id": entity_id}, "otherRefNum": order.number, "memo": note,
                "tranDate": order.placed_at.date().isoformat(), "shippingCost": float(order.shipping_amount),
                "shippingAddress": mapper.address_body(order.shipping_address),
                "item": {"items": [{"item": {"id": items[line.sku]}, "quantity": float(line.quantity),
                                    "rate": float(price)} for line, price in zip(order.lines, order.unit_prices())]}}

    def _order(self, flow: str, number: str, where: str) -> dict:
        found = self.adapter.get(flow, "salesOrder", f"eid:{number}")
        if found is None:
            raise MessageError(f"{where}: NetSuite has no sales order with external id {number!r}")
        return found

    def _cancel_order(self, cancellation: Cancellation, flow: str) -> DeliveryResult:
        where = f"cancellation {cancellation.id} of order {cancellation.order}"
        if cancellation.lines:
            raise MessageError(f"{where}: cancelling single items is not supported by the netsuite connector; "
                               "cancel the whole order or change it in NetSuite")
        order = self._order(flow, cancellation.order, where)
        if order["status"]["id"] not in ("C", "H"):
            lines = order["item"]["items"]
            if any(line.get("quantityFulfilled") for line in lines):
                raise MessageError(f"{where}: cannot cancel, NetSuite sales order {order['tranId']} has already been "
                                   "fulfilled in part")
            self.adapter.patch(flow, "salesOrder", order["id"],
                               {"item": {"items": [{"line": line["line"], "isClosed": True} for line in lines]}})
        return DeliveryResult(external_id=order["tranId"], response={"status": "H"})

    def _send_return(self, ret: Return, flow: str) -> DeliveryResult:
        where = f"return {ret.id} of order {ret.order}"
        found = self.adapter.get(flow, "returnAuthorization", f"eid:{ret.id}")
        if found is None:
            order = self._order(flow, ret.order, where)
            ids = {v: k for k, v in self._items(flow, (item.sku for item in ret.lines)).items()}
            lines = {ids.get(line["item"]["id"]): line for line in order["item"]["items"]}
            items = []
            for item in ret.lines:
                line = lines.get(item.sku)
                if line is None:
                    raise MessageError(f"{where}: item {item.sku} is not on the order")
                if item.quantity > mapper.decimal(line["quantity"]):
                    raise MessageError(f"{where}: item {item.sku}: {item.quantity} returned, "
                                       f"{line['quantity']} ordered")
                items.append({"orderLine": line["line"], "quantity": float(item.quantity)})
            self.adapter.transform(flow, "salesOrder", order["id"], "returnAuthorization",
                                   {"externalId": ret.id, "item": {"items": items}})
            found = self.adapter.get(flow, "returnAuthorization", f"eid:{ret.id}")
        return DeliveryResult(external_id=found["tranId"], response={"id": found["id"]})

    # -- fetch: ERP -> store --------------------------------------------------------------------

    def fetch(self, kind: str, since: dt.datetime | None = None) -> Iterable[Record | Raw]:
        reader = getattr(self, f"_fetch_{kind}", None)
        if reader is None:
            raise ValueError(f"the netsuite connector cannot fetch {kind!r}")
        return reader(since)

    def _inventory_items(self, flow: str, since) -> Iterator[dict]:
        q = ("SELECT i.id, i.itemid, i.displayname FROM item i WHERE i.itemtype = 'InvtPart' AND i.isinactive = 'F'"
             + self._since(since, "i.lastmodifieddate") + " AND i.id > {after} ORDER BY i.id")
        return self.adapter.query(flow, q)

    def _chunks(self, flow: str, rows: Iterable[dict], template: str) -> Iterator[dict]:
        """``template`` (with ``{ids}``) for the items of ``rows``, CHUNK ids at a time."""
        ids = [row["id"] for row in rows]
        for start in range(0, len(ids), CHUNK):
            yield from self.adapter.query(flow, template.replace("{ids}", ", ".join(ids[start:start + CHUNK])))

    def _fetch_products(self, since):
        items = list(self._inventory_items("products", since))
        base = {row["item"]: row["unitprice"] for row in self._chunks("products", items, (
            "SELECT p.item AS id, p.item, p.unitprice FROM pricing p WHERE p.pricelevel = 1 AND p.quantity = 0 "
            "AND p.item IN ({ids}) AND p.item > {after} ORDER BY p.item"))}
        for row in items:
            data = {**row, **({"baseprice": base[row["id"]]} if row["id"] in base else {})}
            yield Raw(data, f"item {row['id']}", partial(mapper.product, currency=self.cfg.currency),
                      external_id=row["id"])

    def _fetch_prices(self, since):
        """The base price level, per minimum quantity, of the items changed since then."""
        items = {row["id"]: row["itemid"] for row in self._inventory_items("prices", since)}
        rows = self._chunks("prices", [{"id": i} for i in items], (
            "SELECT p.item * 100000 + p.quantity AS id, p.item, p.quantity, p.unitprice FROM pricing p "
            "WHERE p.pricelevel = 1 AND p.item IN ({ids}) AND p.item * 100000 + p.quantity > {after} ORDER BY id"))
        for row in rows:
            yield Raw({**row, "itemid": items[row["item"]]}, f"pricing of item {row['item']}",
                      partial(mapper.price, currency=self.cfg.currency))

    def _fetch_stock(self, since):
        items = {row["id"]: row["itemid"] for row in self._inventory_items("stock", None)}
        rows = self._chunks("stock", [{"id": i} for i in items], (
            "SELECT l.item * 1000 + l.location AS id, l.item, l.location, l.quantityavailable "
            "FROM inventoryitemlocations l WHERE l.item IN ({ids}) AND l.item * 1000 + l.location > {after} "
            "ORDER BY id"))
        for row in rows:
            warehouse = self.cfg.locations.get(row["location"], row["location"])
            yield mapper.stock_level(items[row["item"]], warehouse, mapper.decimal(row.get("quantityavailable")))

    def _fetch_customers(self, since):
        q = ("SELECT c.id, c.entityid, c.externalid, c.companyname, c.email, c.isinactive FROM customer c "
             "WHERE c.externalid NOT LIKE 'guest-%'" + self._since(since, "c.lastmodifieddate")
             + " AND c.id > {after} ORDER BY c.id")
        for row in self.adapter.query("customers", q):
            yield Raw(row, f"customer {row['id']}", mapper.customer, external_id=row["id"])

    def _fetch_order_statuses(self, since):
        q = ("SELECT t.id, t.tranid, t.externalid, t.status FROM transaction t WHERE t.type = 'SalesOrd' "
             "AND t.externalid IS NOT NULL" + self._since(since, "t.lastmodifieddate")
             + " AND t.id > {after} ORDER BY t.id")
        for row in self.adapter.query("order_statuses", q):
            yield Raw(row, f"salesOrder {row['id']}", mapper.order_status)

    def _documents(self, flow: str, type_: str, since, origin: str = "so.id = t.createdfrom") -> list[dict]:
        """Transactions of a type made from shop orders, with the order's number (``ordernumber``)."""
        joins = "JOIN transaction so ON " + origin
        q = ("SELECT t.id, t.tranid, TO_CHAR(t.trandate, 'YYYY-MM-DD') AS trandate, t.trackingnumberlist, "
             "t.foreigntotal, t.taxtotal, t.shippingcost, so.id AS orderid, so.externalid AS ordernumber "
             f"FROM transaction t {joins} WHERE t.type = '{type_}' AND so.type = 'SalesOrd' "
             "AND so.externalid IS NOT NULL" + self._since(since, "t.lastmodifieddate")
             + " AND t.id > {after} ORDER BY t.id")
        return list(self.adapter.query(flow, q))

    def _lines(self, flow: str, transactions: list[dict]) -> dict[str, list[dict]]:
        rows = self._chunks(flow, transactions, (
            "SELECT tl.id, tl.transaction, i.itemid, ABS(tl.quantity) AS quantity, ABS(tl.netamount) AS amount "
            "FROM transactionline tl JOIN item i ON i.id = tl.item WHERE tl.mainline = 'F' "
            "AND tl.transaction IN ({ids}) AND tl.id > {after} ORDER BY tl.id"))
        result: dict[str, list[dict]] = {}
        for row in rows:
            result.setdefault(row["transaction"], []).append(row)
        return result

    def _fetch_shipments(self, since):
        fulfilments = self._documents("shipments", "ItemShip", since)
        lines = self._lines("shipments", fulfilments)
        for row in fulfilments:
            own = [(l["itemid"], mapper.decimal(l["quantity"])) for l in lines.get(row["id"], [])]
            if own:
                yield Raw(row, f"itemFulfillment {row['id']}", partial(mapper.shipment, order=row["ordernumber"],
                                                                         lines=own))

    def _fetch_invoices(self, since):
        invoices = self._documents("invoices", "CustInvc", since)
        lines = self._lines("invoices", invoices)
        shipments = self._billed_fulfilments(invoices)
        for row in invoices:
            yield Raw(row, f"invoice {row['id']}", partial(
                mapper.invoice, order=row["ordernumber"], shipment_id=shipments.get(row["id"]),
                lines=lines.get(row["id"], []), currency=self.cfg.currency))

    def _billed_fulfilments(self, invoices: list[dict]) -> dict[str, str]:
        """Invoice id -> the fulfilment it bills: the n-th invoice of an order, its n-th fulfilment."""
        orders = sorted({row["orderid"] for row in invoices})
        if not orders:
            return {}
        q = ("SELECT t.id, t.tranid, t.type, t.createdfrom FROM transaction t WHERE t.type IN ('ItemShip', 'CustInvc') "
             f"AND t.createdfrom IN ({', '.join(orders)})" + " AND t.id > {after} ORDER BY t.id")
        by_order: dict[str, dict[str, list[dict]]] = {}
        for row in self.adapter.query("invoices", q):
            by_order.setdefault(row["createdfrom"], {}).setdefault(row["type"], []).append(row)
        result = {}
        for kinds in by_order.values():
            for invoice, fulfilment in zip(kinds.get("CustInvc", []), kinds.get("ItemShip", [])):
                result[invoice["id"]] = fulfilment["tranid"]
        return result

    def _fetch_credit_memos(self, since):
        origin = "so.id = (SELECT ra.createdfrom FROM transaction ra WHERE ra.id = t.createdfrom)"  # via the RMA
        memos = self._documents("credit_memos", "CustCred", since, origin=origin)
        lines = self._lines("credit_memos", memos)
        for row in memos:
            yield Raw(row, f"creditMemo {row['id']}", partial(mapper.credit_memo, order=row["ordernumber"],
                                                               lines=lines.get(row["id"], []),
                                                               currency=self.cfg.currency))

    # -- real time ------------------------------------------------------------------------------

    def get_customer(self, number: str) -> Customer | None:
        found = self.adapter.get("customer_lookup", "customer", f"eid:{number}")
        if found is None:
            return None
        return mapper.customer({"externalid": found.get("externalId"), "entityid": found.get("entityId"),
                                "companyname": found.get("companyName"), "email": found.get("email"),
                                "isinactive": "T" if found.get("isInactive") else "F"})


def create(app, name: str, cfg) -> NetSuiteConnector:
    from erpbridge.exchange.log import ExchangeLog

    return NetSuiteConnector(NetSuiteAdapter(cfg, system=name, exchange_log=ExchangeLog.for_app(app)), cfg, name)
