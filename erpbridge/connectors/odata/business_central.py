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
* Master data: ``items`` (the product, its ``unitPrice`` and its ``inventory``) and
  ``customers``; feedback: ``salesShipments`` and ``salesInvoices`` with their lines, found by
  ``externalDocumentNumber``. The tracking number is ``packageTrackingNumber``, which the standard
  shipments page lacks: integrators add it with an API page extension (the README says how).
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
from erpbridge.connectors.odata.adapter import date, decimal, literal, query
from erpbridge.connectors.odata.connector import ODataConnector
from erpbridge.ingest import Raw
from erpbridge.records import Address, Customer, Document, Invoice, Order, Price, Product, Shipment, StockLevel
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
                return _existing(found)
        created = self.adapter.create(f"{self.company}/salesOrders", self._body(order), flow="send_order",
                                      point="odata.salesOrders.create")
        return _created(created)

    def deliver_batch(self, operation: str, items: list[tuple[dict, str]]) -> list[DeliveryResult | ConnectorError]:
        """Several orders in ``$batch`` calls of at most :data:`BATCH_LIMIT` requests."""
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
        return results  # type: ignore[return-value]

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
    number = row.get("number") or row.get("orderNumber")
    return DeliveryResult(external_id=number, response={"id": row.get("id"), "number": number, "existed": True})


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


def _shipment(row: dict) -> Shipment:
    lines = [ShipmentLine(sku=l["lineObjectNumber"], quantity=decimal(l["quantity"]))
             for l in row.get("salesShipmentLines") or [] if l.get("lineType") == "Item" and decimal(l["quantity"])]
    posted = date(row.get("postingDate"))
    return Shipment(id=row["number"], order=row["externalDocumentNumber"],
                    shipped_at=None if posted is None else dt.datetime.combine(posted, dt.time(), dt.timezone.utc),
                    tracking_numbers=[row["packageTrackingNumber"]] if row.get("packageTrackingNumber") else [],
                    lines=lines)


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

