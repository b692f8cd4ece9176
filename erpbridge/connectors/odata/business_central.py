"""Business Central's API v2.0 (OData v4): everything below ``companies(<id>)``.

* Orders are ``salesOrders`` with their ``salesOrderLines`` in the same POST (the API allows
  it, and it means a crash never leaves a header without lines); the shop order number goes in
  ``externalDocumentNumber``, where redelivery looks it up first: in ``salesOrders``, and in
  ``salesInvoices`` because BC deletes a sales order once it is completely shipped and invoiced.
  Freight is a line of ``lineType: Account`` on the G/L account ``freight``.
* :meth:`~BusinessCentralConnector.deliver_batch` sends up to 100 requests per ``$batch`` (BC's
  limit): first the look-ups of every order, then the creates of those not found, each its own
  request (no atomicity group), so one refused order does not take the others with it.
* Documents: each invoice is also a document of the customer's order history; its PDF is
  BC's ``pdfDocument`` of the invoice, fetched when the customer opens it (:meth:`get_document`).
* Cancellations delete the sales order (BC's way for a document not yet shipped; shipped or
  invoiced it is a message error), with its ETag in ``If-Match``; returns are ``salesCreditMemos``
  against the order's invoice, the shop's return id in ``externalDocumentNumber``.
* Master data: ``items`` (the product, its ``unitPrice`` and its ``inventory``) and
  ``customers``; feedback: the open ``salesOrders``' shipped state (order statuses),
  ``salesShipments`` and ``salesInvoices`` with their lines, found by ``externalDocumentNumber``,
  and posted ``salesCreditMemos`` (the order of the invoice each corrects).
  The tracking number is ``packageTrackingNumber``, which the standard shipments page lacks:
  integrators add it with an API page extension (the README says how).
* ``ship_and_invoice``: each order is posted at once by the bound action ``shipAndInvoice``
  (:meth:`~BusinessCentralConnector._posted`), for shops that ship the goods themselves.
* Limits: BC runs 5 requests of a user at once and queues the rest; set the channel's
  ``capacity: 5`` (``outbox.channels.<system>``) so erpbridge never has more in flight. Beyond
  its queue BC answers 429 with ``Retry-After``, which pauses the channel that long.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial
from typing import Any, Iterator

from erpbridge.connectors.base import ConnectorError, DeliveryResult, MessageError
from erpbridge.connectors.odata.adapter import date, decimal, literal, query, timestamp
from erpbridge.connectors.odata.connector import ODataConnector
from erpbridge.ingest import Raw
from erpbridge.records import (Address, Cancellation, CreditMemo, Customer, Document, Invoice, Order,
                               OrderStatusUpdate, Price, Product, Return, Shipment, StockLevel)
from erpbridge.records.feedback import InvoiceLine, ShipmentLine

#: Requests per ``$batch``: Business Central's limit.
BATCH_LIMIT = 100
#: Where an order may be found again: a sales order, or the invoice it became once fully posted.
LOOKUPS = (("salesOrders", "id,number,externalDocumentNumber"),
           ("salesInvoices", "id,orderNumber,externalDocumentNumber"))


class BusinessCentralConnector(ODataConnector):
    flavour = "business_central"

    @property
    def company(self) -> str:
        return f"companies({self.cfg.company})"

    def _rows(self, entity: str, flow: str, since, *, where: str | None = None, **options: Any) -> Iterator[dict]:
        clauses = [c for c in (where, since and f"lastModifiedDateTime ge {literal(since, 'v4')}") if c]
        return self.adapter.rows(f"{self.company}/{entity}", flow=flow, point=f"odata.{entity}.read",
                                 filter=" and ".join(clauses) or None, **options)

    # -- orders -------------------------------------------------------------------------------

    def _send_order(self, order: Order) -> DeliveryResult:
        for entity, select in LOOKUPS:
            found = self.adapter.first(f"{self.company}/{entity}", flow="send_order", point=f"odata.{entity}.lookup",
                                       filter=f"externalDocumentNumber eq {literal(order.number, 'v4')}", select=select)
            if found:
                return self._posted(_existing(found))
        created = self.adapter.create(f"{self.company}/salesOrders", self._body(order), flow="send_order",
                                      point="odata.salesOrders.create")
        return self._posted(_created(created))

    def _posted(self, result: DeliveryResult) -> DeliveryResult:
        """With ``ship_and_invoice`` (the shop ships the goods itself), the sales order is posted at
        once by BC's bound action ``Microsoft.NAV.shipAndInvoice``: BC books the shipment and the
        invoice and deletes the order, which the look-up then finds as an invoice. An order found
        open (posting failed or the worker died in between) is posted now."""
        if not self.cfg.ship_and_invoice or result.response.get("invoiced"):
            return result
        path = f"{self.company}/salesOrders({result.response['id']})"
        row = self.adapter.entity(self.adapter.json(self.adapter.request(
            "GET", path, flow="send_order", point="odata.salesOrders.read")))
        self.adapter.change("POST", f"{path}/Microsoft.NAV.shipAndInvoice", row, flow="send_order",
                            point="odata.salesOrders.shipAndInvoice", what=f"salesOrder {row['number']}", reread=path)
        return DeliveryResult(external_id=result.external_id, response={**result.response, "invoiced": True})

    def deliver_batch(self, operation: str, items: list[tuple[dict, str]]) -> list[DeliveryResult | ConnectorError]:
        """Several orders in ``$batch`` calls of at most :data:`BATCH_LIMIT` requests; cancellations
        and returns (rare, each a look-up then a write that depends on it) one by one."""
        if operation != "send_order":
            return [self._deliver_or_error(operation, payload, key) for payload, key in items]
        results: list[DeliveryResult | ConnectorError | None] = [None] * len(items)
        orders: dict[int, Order] = {}
        for i, (payload, _) in enumerate(items):
            try:
                orders[i] = self._order(operation, payload)
            except MessageError as exc:
                results[i] = exc
        per = BATCH_LIMIT // len(LOOKUPS)
        positions = list(orders)
        for start in range(0, len(positions), per):
            chunk = positions[start:start + per]
            looked = self.adapter.batch([
                {"id": f"{i}-{entity}", "method": "GET", "url": f"{self.company}/{entity}?" + query({
                    "$top": 1, "$select": select,
                    "$filter": f"externalDocumentNumber eq {literal(orders[i].number, 'v4')}"})}
                for i in chunk for entity, select in LOOKUPS], flow=operation, point="odata.salesOrders.lookup.batch")
            for n, i in enumerate(chunk):
                for answer in looked[n * len(LOOKUPS):(n + 1) * len(LOOKUPS)]:
                    if isinstance(answer, ConnectorError):
                        results[i] = answer
                        break
                    rows = answer.json().get("value") or []
                    if rows:
                        results[i] = _existing(rows[0])
                        break
        missing = [i for i in positions if results[i] is None]
        bodies: dict[int, dict] = {}
        for i in missing:
            try:
                bodies[i] = self._body(orders[i])
            except MessageError as exc:
                results[i] = exc
        todo = list(bodies)
        for start in range(0, len(todo), BATCH_LIMIT):
            chunk = todo[start:start + BATCH_LIMIT]
            created = self.adapter.batch([{"id": str(i), "method": "POST", "url": f"{self.company}/salesOrders",
                                           "body": bodies[i]} for i in chunk],
                                         flow=operation, point="odata.salesOrders.create.batch")
            for i, answer in zip(chunk, created):
                results[i] = answer if isinstance(answer, ConnectorError) else _created(answer.json())
        for i, result in enumerate(results):
            if isinstance(result, DeliveryResult):
                try:
                    results[i] = self._posted(result)
                except MessageError as exc:
                    results[i] = exc
        return results  # type: ignore[return-value]

    def _deliver_or_error(self, operation: str, payload: dict, key: str) -> DeliveryResult | MessageError:
        """One message of a batch: its message error is its own; a general error stops them all."""
        try:
            return self.deliver(operation, payload, key)
        except MessageError as exc:
            return exc

    def _find(self, entity: str, field: str, value: str, flow: str, **options: Any) -> dict | None:
        return self.adapter.first(f"{self.company}/{entity}", flow=flow, point=f"odata.{entity}.lookup",
                                  filter=f"{field} eq {literal(value, 'v4')}", **options)

    def _cancel_order(self, cancellation: Cancellation) -> DeliveryResult:
        """BC cancels a sales order not yet shipped by deleting it (its API has no cancelled
        status); shipped or invoiced, it cannot be cancelled (a message error saying so: the
        return or a credit memo is the way then). A redelivery after the delete finds no order,
        no shipment and no invoice: the order is gone, which is what was asked."""
        where = f"cancellation {cancellation.id} of order {cancellation.order}"
        if cancellation.lines:
            raise MessageError(f"{where}: Business Central cancels whole orders only (the order is deleted); "
                               "change its lines in Business Central")
        order = self._find("salesOrders", "externalDocumentNumber", cancellation.order, "cancel_order")
        for entity, field, value in (("salesShipments", "orderNumber", order and order["number"]),
                                     ("salesShipments", "externalDocumentNumber", cancellation.order),
                                     ("salesInvoices", "externalDocumentNumber", cancellation.order)):
            posted = value and self._find(entity, field, value, "cancel_order", select="id,number")
            if posted:
                raise MessageError(f"{where}: cannot cancel, Business Central has already "
                                   f"{'shipped' if entity == 'salesShipments' else 'invoiced'} it "
                                   f"({entity[:-1]} {posted['number']})")
        if order is None:
            return DeliveryResult(response={"cancelled": cancellation.order, "existed": False})
        self.adapter.change("DELETE", f"{self.company}/salesOrders({order['id']})", order, flow="cancel_order",
                            point="odata.salesOrders.delete", what=f"salesOrder {order['number']}")
        return DeliveryResult(external_id=order["number"], response={"deleted": order["id"], "number": order["number"]})

    def _send_return(self, ret: Return) -> DeliveryResult:
        """A return is a ``salesCreditMemo`` (API v2.0 has no return orders) with the returned items,
        against the order's invoice (``invoiceId``), the shop's return id in its
        ``externalDocumentNumber``, looked up there before it is created. Its unit prices are BC's
        (it fills them from the item when a line names it). Only what was invoiced can be credited."""
        where = f"return {ret.id} of order {ret.order}"
        found = self._find("salesCreditMemos", "externalDocumentNumber", ret.id, "send_return", select="id,number")
        if found:
            return DeliveryResult(external_id=found["number"], response={"id": found["id"], "number": found["number"],
                                                                         "existed": True})
        invoices = list(self._rows("salesInvoices", "send_return", None,
                                   where=f"externalDocumentNumber eq {literal(ret.order, 'v4')}",
                                   expand="salesInvoiceLines"))
        if not invoices:
            raise MessageError(f"{where}: Business Central has not invoiced order {ret.order} yet, so there is "
                               "nothing to credit")
        invoiced: dict[str, Decimal] = {}
        for invoice in invoices:
            for line in invoice.get("salesInvoiceLines") or []:
                if line.get("lineType") == "Item":
                    sku = line["lineObjectNumber"]
                    invoiced[sku] = invoiced.get(sku, Decimal(0)) + decimal(line["quantity"])
        for line in ret.lines:
            if line.quantity > invoiced.get(line.sku, Decimal(0)):
                raise MessageError(f"{where}: item {line.sku}: {line.quantity} returned, "
                                   f"{invoiced.get(line.sku, Decimal(0))} invoiced")
        invoice = next(i for i in invoices if any(l.get("lineObjectNumber") == ret.lines[0].sku
                                                  for l in i.get("salesInvoiceLines") or []))
        body = {"externalDocumentNumber": ret.id, "customerNumber": invoice["customerNumber"],
                "invoiceId": invoice["id"], "creditMemoDate": dt.date.today().isoformat(),
                "salesCreditMemoLines": [{"sequence": 10000 * n, "lineType": "Item", "lineObjectNumber": line.sku,
                                          "description": (line.reason or f"Return {ret.id}")[:100],
                                          "quantity": float(line.quantity)} for n, line in enumerate(ret.lines, 1)]}
        created = self.adapter.create(f"{self.company}/salesCreditMemos", body, flow="send_return",
                                      point="odata.salesCreditMemos.create")
        return DeliveryResult(external_id=created["number"], response={"id": created["id"], "number": created["number"]})

    def _body(self, order: Order) -> dict:
        lines = [{"sequence": 10000 * n, "lineType": "Item", "lineObjectNumber": line.sku,
                  "description": (line.name or line.sku)[:100], "quantity": float(line.quantity),
                  "unitPrice": float(line.unit_price)} for n, line in enumerate(order.lines, 1)]
        if order.shipping_amount:
            if not self.cfg.freight:
                raise MessageError(f"order {order.number}: its shipping amount {order.shipping_amount} needs a G/L "
                                   f"account to bill it on: set systems.{self.name}.freight")
            lines.append({"sequence": 10000 * (len(lines) + 1), "lineType": "Account",
                          "lineObjectNumber": self.cfg.freight, "description": f"Shipping ({order.shipping_method})",
                          "quantity": 1, "unitPrice": float(order.shipping_amount)})
        return {"externalDocumentNumber": order.number, "customerNumber": self._customer_of(order),
                "orderDate": order.placed_at.date().isoformat(), "currencyCode": order.currency,
                "salesOrderLines": lines}

    # -- master data --------------------------------------------------------------------------

    def _fetch_products(self, since):
        for row in self._rows("items", "catalog", since):
            yield Raw(row, f"item {row.get('number')}", _product, external_id=row.get("id"))

    def _fetch_prices(self, since):
        for row in self._rows("items", "prices", since, select="id,number,unitPrice"):
            yield Raw(row, f"item {row.get('number')}", partial(_price, currency=self.cfg.currency))

    def _fetch_stock(self, since):
        for row in self._rows("items", "stock", since, select="id,number,inventory"):
            yield Raw(row, f"item {row.get('number')}", partial(_stock, warehouse=self.cfg.warehouse))

    def _fetch_customers(self, since):
        for row in self._rows("customers", "customers", since):
            yield Raw(row, f"customer {row.get('number')}", partial(_customer, currency=self.cfg.currency),
                      external_id=row.get("id"))

    # -- feedback -----------------------------------------------------------------------------

    def _fetch_order_statuses(self, since):
        """Open sales orders of the shop: shipped (``fullyShipped``), partly (a line's
        ``shippedQuantity``) or processing. BC deletes an order once it is fully shipped and
        invoiced, so its last status is the shipped one; its invoice says the rest."""
        for row in self._rows("salesOrders", "order_statuses", since, where="externalDocumentNumber ne ''",
                              select="id,number,externalDocumentNumber,fullyShipped,lastModifiedDateTime",
                              expand="salesOrderLines($select=lineType,shippedQuantity)"):
            yield Raw(row, f"salesOrder {row.get('number')}", _order_status, external_id=row.get("id"))

    def _fetch_shipments(self, since):
        for row in self._rows("salesShipments", "shipments", since, where="externalDocumentNumber ne ''",
                              expand="salesShipmentLines"):
            yield Raw(row, f"salesShipment {row.get('number')}", _shipment, external_id=row.get("id"))

    def _fetch_invoices(self, since):
        for row in self._rows("salesInvoices", "invoices", since, where="externalDocumentNumber ne ''",
                              expand="salesInvoiceLines"):
            where = f"salesInvoice {row.get('number')}"
            yield Raw(row, where, partial(_invoice, freight=self.cfg.freight, currency=self.cfg.currency),
                      external_id=row.get("id"))
            yield Raw(row, where, _document)  # in the customer's order history, its PDF from get_document

    def _fetch_credit_memos(self, since):
        """Posted credit memos (not ``Draft``) of the shop's invoices: the order is the one of the
        invoice the memo corrects (``invoiceId``); a memo of no shop invoice is none of the shop's."""
        invoices: dict[str, dict | None] = {}
        for row in self._rows("salesCreditMemos", "credit_memos", since, where="status ne 'Draft'",
                              expand="salesCreditMemoLines"):
            invoice_id = row.get("invoiceId")
            if invoice_id and invoice_id not in invoices:
                response = self.adapter.request("GET", f"{self.company}/salesInvoices({invoice_id})?"
                                                + query({"$select": "id,number,externalDocumentNumber"}),
                                                flow="credit_memos", point="odata.salesInvoices.read", accept=(404,))
                invoices[invoice_id] = None if response.status_code == 404 else self.adapter.json(response)
            invoice = invoices.get(invoice_id) if invoice_id else None
            if invoice and invoice.get("externalDocumentNumber"):
                yield Raw(row, f"salesCreditMemo {row.get('number')}",
                          partial(_credit_memo, invoice=invoice, currency=self.cfg.currency), external_id=row.get("id"))

    # -- real time ----------------------------------------------------------------------------

    def get_document(self, doc_type: str, number: str) -> tuple[bytes, str] | None:
        """An invoice's PDF as BC renders it (``salesInvoices(<id>)/pdfDocument/pdfDocumentContent``)."""
        if doc_type != "invoice":
            return None
        found = self.adapter.first(f"{self.company}/salesInvoices", flow="documents",
                                   point="odata.salesInvoices.lookup", filter=f"number eq {literal(number, 'v4')}",
                                   select="id,number")
        if found is None:
            return None
        response = self.adapter.request("GET", f"{self.company}/salesInvoices({found['id']})/pdfDocument/"
                                        "pdfDocumentContent", flow="documents", point="odata.pdfDocument.read",
                                        accept=(404,), headers={"Accept": "application/pdf"}, record_bodies=False)
        if response.status_code == 404:
            return None
        return response.content, response.headers.get("Content-Type", "application/pdf").split(";")[0]


def _existing(row: dict) -> DeliveryResult:
    """An order found again: as a sales order, or (``orderNumber`` set) as the invoice it became."""
    number = row.get("orderNumber") or row.get("number")
    return DeliveryResult(external_id=number, response={"id": row.get("id"), "number": number, "existed": True,
                                                        **({"invoiced": True} if row.get("orderNumber") else {})})


def _created(row: dict) -> DeliveryResult:
    return DeliveryResult(external_id=row["number"], response={"id": row.get("id"), "number": row["number"]})


def _product(row: dict) -> Product:
    return Product(sku=row["number"], name=row["displayName"], ean=row.get("gtin") or None,
                   group=row.get("itemCategoryCode") or None, unit=row.get("baseUnitOfMeasureCode") or "piece",
                   list_price=decimal(row.get("unitPrice")))


def _price(row: dict, currency: str) -> Price:
    return Price(sku=row["number"], amount=decimal(row["unitPrice"]), currency=currency)


def _stock(row: dict, warehouse: str) -> StockLevel:
    return StockLevel(sku=row["number"], warehouse=warehouse, quantity=decimal(row["inventory"]))


def _customer(row: dict, currency: str) -> Customer:
    address = None
    if row.get("addressLine1"):
        address = Address(name=row["displayName"], street=row["addressLine1"], postcode=row.get("postalCode") or "",
                          city=row.get("city") or "", country=row.get("country") or "")
    return Customer(number=row["number"], name=row["displayName"], email=row.get("email") or None,
                    status="blocked" if (row.get("blocked") or "").strip() else "active",
                    currency=row.get("currencyCode") or currency, invoice_address=address)


def _order_status(row: dict) -> OrderStatusUpdate:
    partly = any(decimal(l.get("shippedQuantity")) for l in row.get("salesOrderLines") or [])
    status = "shipped" if row.get("fullyShipped") else "partially_shipped" if partly else "processing"
    return OrderStatusUpdate(order=row["externalDocumentNumber"], erp_id=row["number"], status=status,
                             changed_at=timestamp(row.get("lastModifiedDateTime")))


def _shipment(row: dict) -> Shipment:
    lines = [ShipmentLine(sku=l["lineObjectNumber"], quantity=decimal(l["quantity"]))
             for l in row.get("salesShipmentLines") or [] if l.get("lineType") == "Item" and decimal(l["quantity"])]
    posted = date(row.get("postingDate"))
    return Shipment(id=row["number"], order=row["externalDocumentNumber"],
                    shipped_at=None if posted is None else dt.datetime.combine(posted, dt.time(), dt.timezone.utc),
                    tracking_numbers=[row["packageTrackingNumber"]] if row.get("packageTrackingNumber") else [],
                    lines=lines)


def _credit_memo(row: dict, invoice: dict, currency: str) -> CreditMemo:
    return CreditMemo(id=row["number"], order=invoice["externalDocumentNumber"], invoice=invoice["number"],
                      issued_at=date(row["creditMemoDate"]), currency=row.get("currencyCode") or currency,
                      total=decimal(row["totalAmountIncludingTax"]),
                      lines=[InvoiceLine(sku=l.get("lineObjectNumber"), description=l.get("description"),
                                         quantity=decimal(l["quantity"]), amount=decimal(l["amountIncludingTax"]))
                             for l in row.get("salesCreditMemoLines") or [] if l.get("lineType") == "Item"])


def _document(row: dict) -> Document:
    return Document(type="invoice", number=row["number"], order=row["externalDocumentNumber"],
                    customer=row.get("customerNumber") or None, issued_at=date(row["invoiceDate"]))


def _invoice(row: dict, freight: str | None, currency: str) -> Invoice:
    lines = row.get("salesInvoiceLines") or []
    is_freight = (lambda l: l.get("lineType") == "Account" and l.get("lineObjectNumber") == freight)
    return Invoice(id=row["number"], order=row["externalDocumentNumber"], issued_at=date(row["invoiceDate"]),
                   currency=row.get("currencyCode") or currency,
                   freight_amount=sum((decimal(l["amountIncludingTax"]) for l in lines if is_freight(l)), Decimal(0)),
                   tax_amount=decimal(row.get("totalTaxAmount")) or Decimal(0),
                   total=decimal(row["totalAmountIncludingTax"]),
                   lines=[InvoiceLine(sku=l.get("lineObjectNumber"), description=l.get("description"),
                                      quantity=decimal(l["quantity"]), amount=decimal(l["amountIncludingTax"]))
                          for l in lines if not is_freight(l)])

