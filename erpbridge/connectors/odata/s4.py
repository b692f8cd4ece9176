"""SAP S/4HANA's A2X APIs, OData v2 (on premises: ``…/sap/opu/odata/sap/<service>``) or v4.

* Orders: ``API_SALES_ORDER_SRV`` ``A_SalesOrder`` with ``to_Item`` in one deep insert; the shop
  order number is ``PurchaseOrderByCustomer``, looked up before every create (S/4 itself accepts
  the same number twice). The sales area and order type come from ``sales_area``; S/4 prices the
  items itself by its pricing conditions (the shop's prices are not sent), freight is an item of
  the material ``freight`` when set. Writes carry SAP Gateway's CSRF token (:mod:`.adapter`).
* Cancellations: the items' rejection reason ``SalesDocumentRjcnReason`` (``rejection_reason``),
  each item PATCHed with its ETag; returns: a customer return order ``API_CUSTOMER_RETURN_SRV``
  ``A_CustomerReturn`` (type ``return_type``) with ``to_Item`` referring to the order's items, the
  shop's return id in its ``PurchaseOrderByCustomer``, looked up before it is created.
* New customers: ``A_BusinessPartner`` with its address and customer role in one deep insert,
  the shop's reference in ``BusinessPartnerIDByExtSystem`` (looked up first).
* Master data: ``API_PRODUCT_SRV`` ``A_Product`` with ``to_Description`` (the name in
  ``language``), changed since by ``LastChangeDateTime``; ``API_BUSINESS_PARTNER``
  ``A_BusinessPartner``, whose change stamp ``LastChangeDate`` is a date: a delta re-reads the
  partners of the day it starts on (ingest takes an unchanged one as unchanged).
* Feedback: the sales orders' ``OverallDeliveryStatus`` and ``OverallSDDocumentRejectionSts``
  (order statuses: every item rejected is cancelled);
  ``API_OUTBOUND_DELIVERY_SRV`` ``A_OutbDeliveryHeader`` with its items (goods issue posted,
  ``OverallGoodsMovementStatus`` C; the tracking number in ``BillOfLading``; its order through
  the items' ``ReferenceSDDocument``), by ``LastChangeDate`` like partners; and
  ``API_BILLING_DOCUMENT_SRV`` ``A_BillingDocument`` of type F2 with its items (the order is the
  items' ``SalesDocument``, the delivery their ``ReferenceSDDocument``); each invoice is also a
  document of the customer's order history, its PDF ``GetPDF``'s, fetched when it is opened;
  credit memos (G2) of the customer returns, their order through the return's items.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from decimal import Decimal
from functools import partial
from typing import Any, Iterable, Iterator

from erpbridge.connectors.base import DeliveryResult, GeneralError, MessageError
from erpbridge.connectors.odata.adapter import date, decimal, literal, query, timestamp
from erpbridge.connectors.odata.connector import ODataConnector
from erpbridge.ingest import Raw
from erpbridge.records import (Cancellation, CreditMemo, Customer, Document, Invoice, Order, OrderStatusUpdate,
                               Product, Return, Shipment)
from erpbridge.records.feedback import InvoiceLine, ShipmentLine

ORDERS = "API_SALES_ORDER_SRV/A_SalesOrder"
ITEMS = "API_SALES_ORDER_SRV/A_SalesOrderItem"
RETURNS = "API_CUSTOMER_RETURN_SRV/A_CustomerReturn"
PARTNERS = "API_BUSINESS_PARTNER/A_BusinessPartner"


class S4Connector(ODataConnector):
    flavour = "s4"

    def _rows(self, path: str, flow: str, *clauses: str | None, **options: Any) -> Iterator[dict]:
        where = " and ".join(c for c in clauses if c)
        return self.adapter.rows(path, flow=flow, point=f"odata.{path.split('/')[-1]}.read", filter=where or None,
                                 **options)

    def _since(self, field: str, since: dt.datetime | None, *, day: bool = False) -> str | None:
        if since is None:
            return None
        value = since.astimezone(dt.timezone.utc).date() if day else since
        return f"{field} ge {literal(value, self.adapter.version)}"

    # -- orders -------------------------------------------------------------------------------

    def _send_order(self, order: Order) -> DeliveryResult:
        found = self.adapter.first(ORDERS, flow="send_order", point="odata.A_SalesOrder.lookup",
                                   filter=f"PurchaseOrderByCustomer eq {literal(order.number, self.adapter.version)}",
                                   select="SalesOrder")
        if found:
            return DeliveryResult(external_id=found["SalesOrder"], response={"SalesOrder": found["SalesOrder"],
                                                                             "existed": True})
        created = self.adapter.write("POST", ORDERS, flow="send_order", point="odata.A_SalesOrder.create",
                                     json=self._body(order))
        number = self.adapter.entity(self.adapter.json(created))["SalesOrder"]
        return DeliveryResult(external_id=number, response={"SalesOrder": number})

    def _sales_order(self, number: str, where: str, flow: str) -> tuple[dict, list[dict]]:
        """The sales order of a shop order and its items (each with its ETag), or a message error."""
        v = self.adapter.version
        found = self.adapter.first(ORDERS, flow=flow, point="odata.A_SalesOrder.lookup",
                                   filter=f"PurchaseOrderByCustomer eq {literal(number, v)}")
        if found is None:
            raise MessageError(f"{where}: {self.name} has no sales order with PurchaseOrderByCustomer {number!r}")
        items = list(self.adapter.rows(ITEMS, flow=flow, point="odata.A_SalesOrderItem.read",
                                       filter=f"SalesOrder eq {literal(found['SalesOrder'], v)}"))
        return found, items

    def _create_customer(self, customer: Customer) -> DeliveryResult:
        """A business partner with its customer role in one deep insert (``A_BusinessPartner`` with
        ``to_BusinessPartnerAddress`` and ``to_Customer`` in the sales area), the shop's reference in
        ``BusinessPartnerIDByExtSystem``, looked up there first; the answer is the partner number
        S/4 gave, under which the shop's customer is known from then on. A person's name is split
        at its last space (S/4 keeps first and last names apart), a company's is its name."""
        where = f"customer {customer.number}"
        v = self.adapter.version
        if len(customer.number) > 20:
            raise MessageError(f"{where}: the reference is longer than S/4's BusinessPartnerIDByExtSystem (20)")
        found = self.adapter.first(PARTNERS, flow="create_customer", point="odata.A_BusinessPartner.lookup",
                                   filter=f"BusinessPartnerIDByExtSystem eq {literal(customer.number, v)}",
                                   select="BusinessPartner")
        if found:
            number, existed = found["BusinessPartner"], True
        else:
            address = customer.invoice_address
            many = (lambda rows: {"results": rows}) if v == "v2" else (lambda rows: rows)
            if address and address.company:
                names = {"BusinessPartnerCategory": "2", "OrganizationBPName1": address.company[:40]}
            else:
                first, _, last = customer.name.rpartition(" ")
                names = {"BusinessPartnerCategory": "1", "FirstName": first[:40] or None, "LastName": last[:40]}
            addresses: list[dict] = []
            for a in filter(None, (address, *customer.delivery_addresses)):
                row = {"StreetName": " ".join(filter(None, (a.street, a.street2)))[:60], "PostalCode": a.postcode,
                       "CityName": a.city, "Country": a.country}
                if row not in addresses:
                    addresses.append(row)
            area = self.cfg.sales_area
            body = {**{k: value for k, value in names.items() if value is not None},
                    "BusinessPartnerIDByExtSystem": customer.number, "SearchTerm1": customer.number[:20],
                    **({"BusinessPartnerGrouping": self.cfg.partner_grouping} if self.cfg.partner_grouping else {}),
                    "to_BusinessPartnerAddress": many(addresses),
                    "to_Customer": {"to_CustomerSalesArea": many([{
                        "SalesOrganization": area.organization, "DistributionChannel": area.distribution_channel,
                        "Division": area.division, **({"Currency": customer.currency} if customer.currency else {})}])}}
            created = self.adapter.write("POST", PARTNERS, flow="create_customer",
                                         point="odata.A_BusinessPartner.create", json=body)
            number, existed = self.adapter.entity(self.adapter.json(created))["BusinessPartner"], False
        return DeliveryResult(external_id=number, records=(customer.model_copy(update={"number": number}),),
                              response={"BusinessPartner": number, "existed": existed})

    def _cancel_order(self, cancellation: Cancellation) -> DeliveryResult:
        """S/4's way to cancel: each item gets a rejection reason (``SalesDocumentRjcnReason``,
        ``rejection_reason``); the whole order (no lines), or the items of the cancelled SKUs, whole.
        An item rejected already is left alone, so a redelivery changes nothing; S/4 itself refuses
        to reject a delivered item, and a delivered order is refused here first, by name."""
        where = f"cancellation {cancellation.id} of order {cancellation.order}"
        order, items = self._sales_order(cancellation.order, where, "cancel_order")
        sales_order = order["SalesOrder"]
        if not cancellation.lines and order.get("OverallDeliveryStatus") in ("B", "C"):
            raise MessageError(f"{where}: cannot cancel, S/4 sales order {sales_order} is already "
                               f"{'partly ' if order['OverallDeliveryStatus'] == 'B' else ''}delivered")
        chosen = items
        if cancellation.lines:
            chosen = []
            for line in cancellation.lines:
                of_sku = [i for i in items if i.get("Material") == line.sku]
                if not of_sku:
                    raise MessageError(f"{where}: item {line.sku} is not on S/4 sales order {sales_order}")
                ordered = sum((decimal(i["RequestedQuantity"]) for i in of_sku), Decimal(0))
                if line.quantity != ordered:
                    raise MessageError(f"{where}: item {line.sku}: {line.quantity} cancelled of {ordered} ordered; "
                                       "S/4 rejects whole items only (change the quantity in S/4)")
                chosen += of_sku
        v = self.adapter.version
        for item in chosen:
            if item.get("SalesDocumentRjcnReason"):
                continue
            key = (f"SalesOrder={literal(sales_order, v)},"
                   f"SalesOrderItem={literal(item['SalesOrderItem'], v)}")
            self.adapter.change("PATCH", f"{ITEMS}({key})", item, flow="cancel_order",
                                point="odata.A_SalesOrderItem.reject",
                                what=f"item {item['SalesOrderItem']} of sales order {sales_order}",
                                json={"SalesDocumentRjcnReason": self.cfg.rejection_reason})
        return DeliveryResult(external_id=sales_order, response={
            "SalesOrder": sales_order, "rejected": [i["SalesOrderItem"] for i in chosen]})

    def _send_return(self, ret: Return) -> DeliveryResult:
        """A customer return order (``API_CUSTOMER_RETURN_SRV`` ``A_CustomerReturn`` with
        ``to_Item``, each item referring to the sales order item it takes back), under the shop's
        return id in ``PurchaseOrderByCustomer``: looked up there before it is created."""
        where = f"return {ret.id} of order {ret.order}"
        v = self.adapter.version
        if len(ret.id) > 35:
            raise MessageError(f"{where}: the return id is longer than S/4's PurchaseOrderByCustomer (35)")
        found = self.adapter.first(RETURNS, flow="send_return", point="odata.A_CustomerReturn.lookup",
                                   filter=f"PurchaseOrderByCustomer eq {literal(ret.id, v)}", select="CustomerReturn")
        if found:
            return DeliveryResult(external_id=found["CustomerReturn"],
                                  response={"CustomerReturn": found["CustomerReturn"], "existed": True})
        order, items = self._sales_order(ret.order, where, "send_return")
        lines = []
        for n, line in enumerate(ret.lines, 1):
            item = next((i for i in items if i.get("Material") == line.sku), None)
            if item is None:
                raise MessageError(f"{where}: item {line.sku} is not on S/4 sales order {order['SalesOrder']}")
            if line.quantity > decimal(item["RequestedQuantity"]):
                raise MessageError(f"{where}: item {line.sku}: {line.quantity} returned, "
                                   f"{decimal(item['RequestedQuantity'])} ordered")
            lines.append({"CustomerReturnItem": str(10 * n), "Material": line.sku,
                          "CustomerReturnItemText": (line.reason or f"Return {ret.id}")[:40],
                          "RequestedQuantity": str(line.quantity) if v == "v2" else float(line.quantity),
                          "ReferenceSDDocument": order["SalesOrder"], "ReferenceSDDocumentItem": item["SalesOrderItem"]})
        area = self.cfg.sales_area
        body = {"CustomerReturnType": self.cfg.return_type, "SalesOrganization": area.organization,
                "DistributionChannel": area.distribution_channel, "OrganizationDivision": area.division,
                "SoldToParty": order["SoldToParty"], "PurchaseOrderByCustomer": ret.id,
                "SDDocumentReason": self.cfg.return_reason, "TransactionCurrency": order.get("TransactionCurrency"),
                "to_Item": {"results": lines} if v == "v2" else lines}
        created = self.adapter.write("POST", RETURNS, flow="send_return", point="odata.A_CustomerReturn.create",
                                     json={k: value for k, value in body.items() if value is not None})
        number = self.adapter.entity(self.adapter.json(created))["CustomerReturn"]
        return DeliveryResult(external_id=number, response={"CustomerReturn": number})

    def _body(self, order: Order) -> dict:
        v2 = self.adapter.version == "v2"
        amount = (lambda value: str(value)) if v2 else float
        items = [{"SalesOrderItem": str(10 * n), "Material": line.sku, "SalesOrderItemText": (line.name or "")[:40],
                  "RequestedQuantity": amount(line.quantity)} for n, line in enumerate(order.lines, 1)]
        if order.shipping_amount and self.cfg.freight:
            items.append({"SalesOrderItem": str(10 * (len(items) + 1)), "Material": self.cfg.freight,
                          "SalesOrderItemText": f"Shipping ({order.shipping_method})"[:40],
                          "RequestedQuantity": amount(Decimal(1))})
        placed = order.placed_at.astimezone(dt.timezone.utc)
        day = dt.datetime.combine(placed.date(), dt.time(), dt.timezone.utc)
        area = self.cfg.sales_area
        return {"SalesOrderType": area.order_type, "SalesOrganization": area.organization,
                "DistributionChannel": area.distribution_channel, "OrganizationDivision": area.division,
                "SoldToParty": self._customer_of(order), "PurchaseOrderByCustomer": order.number,
                "CustomerPurchaseOrderDate": f"/Date({int(day.timestamp() * 1000)})/" if v2 else day.date().isoformat(),
                "TransactionCurrency": order.currency, "to_Item": {"results": items} if v2 else items}

    def _order_numbers(self, sales_orders: Iterable[str], cache: dict[str, str | None], flow: str) -> None:
        """Sales order -> the shop order number (``PurchaseOrderByCustomer``), into ``cache``."""
        for sales_order in sorted(set(sales_orders) - set(cache)):
            row = self.adapter.first(ORDERS, flow=flow, point="odata.A_SalesOrder.read",
                                     filter=f"SalesOrder eq {literal(sales_order, self.adapter.version)}",
                                     select="SalesOrder,PurchaseOrderByCustomer")
            cache[sales_order] = (row or {}).get("PurchaseOrderByCustomer") or None

    # -- master data --------------------------------------------------------------------------

    def _fetch_products(self, since):
        for row in self._rows("API_PRODUCT_SRV/A_Product", "catalog", self._since("LastChangeDateTime", since),
                              expand="to_Description"):
            yield Raw(row, f"A_Product {row.get('Product')}", partial(self._product), external_id=row.get("Product"))

    def _product(self, row: dict) -> Product:
        names = {d["Language"]: d["ProductDescription"] for d in self.adapter.nested(row.get("to_Description"))}
        name = names.get(self.cfg.language) or next(iter(names.values()), None)
        return Product(sku=row["Product"], name=name or row["Product"], group=row.get("ProductGroup") or None,
                       ean=row.get("ProductStandardID") or None, unit=row.get("BaseUnit") or "piece",
                       weight=decimal(row.get("GrossWeight")))

    def _fetch_customers(self, since):
        for row in self._rows("API_BUSINESS_PARTNER/A_BusinessPartner", "customers",
                              self._since("LastChangeDate", since, day=True)):
            yield Raw(row, f"A_BusinessPartner {row.get('BusinessPartner')}", _customer,
                      external_id=row.get("BusinessPartner"))

    # -- feedback -----------------------------------------------------------------------------

    def _fetch_order_statuses(self, since):
        for row in self._rows(ORDERS, "order_statuses", "PurchaseOrderByCustomer ne ''",
                              self._since("LastChangeDateTime", since),
                              select="SalesOrder,PurchaseOrderByCustomer,OverallDeliveryStatus,"
                                     "OverallSDDocumentRejectionSts,LastChangeDateTime"):
            yield Raw(row, f"A_SalesOrder {row.get('SalesOrder')}", _order_status, external_id=row.get("SalesOrder"))

    def _fetch_shipments(self, since):
        orders: dict[str, str | None] = {}
        for row in self._rows("API_OUTBOUND_DELIVERY_SRV/A_OutbDeliveryHeader", "shipments",
                              "OverallGoodsMovementStatus eq 'C'", self._since("LastChangeDate", since, day=True),
                              expand="to_DeliveryDocumentItem"):
            items = self.adapter.nested(row.get("to_DeliveryDocumentItem"))
            self._order_numbers((i["ReferenceSDDocument"] for i in items if i.get("ReferenceSDDocument")), orders,
                                "shipments")
            order = next((orders[i["ReferenceSDDocument"]] for i in items if orders.get(i.get("ReferenceSDDocument"))),
                         None)
            if order:
                yield Raw(row, f"A_OutbDeliveryHeader {row.get('DeliveryDocument')}",
                          partial(_shipment, order=order, items=items, freight=self.cfg.freight))

    def _fetch_invoices(self, since):
        orders: dict[str, str | None] = {}
        for row in self._rows("API_BILLING_DOCUMENT_SRV/A_BillingDocument", "invoices", "BillingDocumentType eq 'F2'",
                              self._since("LastChangeDateTime", since), expand="to_Item"):
            items = self.adapter.nested(row.get("to_Item"))
            self._order_numbers((i["SalesDocument"] for i in items if i.get("SalesDocument")), orders, "invoices")
            order = next((orders[i["SalesDocument"]] for i in items if orders.get(i.get("SalesDocument"))), None)
            if order:
                where = f"A_BillingDocument {row.get('BillingDocument')}"
                yield Raw(row, where, partial(_invoice, order=order, items=items, freight=self.cfg.freight))
                yield Raw(row, where, partial(_document, order=order))

    def _fetch_credit_memos(self, since):
        """Credit memos (billing documents of type G2) of the shop's returns: their items'
        ``SalesDocument`` is the customer return, whose items refer to the sales order."""
        v, orders, returns = self.adapter.version, {}, {}
        for row in self._rows("API_BILLING_DOCUMENT_SRV/A_BillingDocument", "credit_memos",
                              "BillingDocumentType eq 'G2'", self._since("LastChangeDateTime", since),
                              expand="to_Item"):
            items = self.adapter.nested(row.get("to_Item"))
            for document in {i["SalesDocument"] for i in items if i.get("SalesDocument")} - set(returns):
                found = self.adapter.first("API_CUSTOMER_RETURN_SRV/A_CustomerReturnItem", flow="credit_memos",
                                           point="odata.A_CustomerReturnItem.read",
                                           filter=f"CustomerReturn eq {literal(document, v)}",
                                           select="CustomerReturn,ReferenceSDDocument")
                returns[document] = (found or {}).get("ReferenceSDDocument")
            sales_orders = [returns[i["SalesDocument"]] for i in items if returns.get(i.get("SalesDocument"))]
            self._order_numbers(sales_orders, orders, "credit_memos")
            order = next((orders[s] for s in sales_orders if orders.get(s)), None)
            if order:
                yield Raw(row, f"A_BillingDocument {row.get('BillingDocument')}", partial(_credit_memo, order=order,
                                                                                          items=items))

    # -- real time ----------------------------------------------------------------------------

    def get_document(self, doc_type: str, number: str) -> tuple[bytes, str] | None:
        """A billing document's PDF: the function import ``GetPDF`` (base64 in ``BillingDocumentBinary``)."""
        if doc_type != "invoice":
            return None
        key = literal(number, self.adapter.version)
        path = (f"API_BILLING_DOCUMENT_SRV/GetPDF?{query({'BillingDocument': key})}"
                if self.adapter.version == "v2" else f"API_BILLING_DOCUMENT_SRV/GetPDF(BillingDocument={key})")
        response = self.adapter.request("GET", path, flow="documents", point="odata.GetPDF", accept=(404,),
                                        record_bodies=False)
        if response.status_code == 404:
            return None
        answer = self.adapter.json(response)
        result = (answer.get("d") or {}).get("GetPDF", {}) if self.adapter.version == "v2" else answer
        try:
            return base64.b64decode(result["BillingDocumentBinary"], validate=True), "application/pdf"
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise GeneralError(f"{self.name} answered GetPDF of {number} without a base64 "
                               "BillingDocumentBinary") from None


#: ``OverallDeliveryStatus``: not yet, partly, completely delivered.
DELIVERY_STATUS = {"A": "processing", "B": "partially_shipped", "C": "shipped"}


def _order_status(row: dict) -> OrderStatusUpdate:
    """Every item rejected (``OverallSDDocumentRejectionSts`` C): cancelled; else how much was delivered."""
    status = DELIVERY_STATUS[row.get("OverallDeliveryStatus") or "A"]
    return OrderStatusUpdate(order=row["PurchaseOrderByCustomer"], erp_id=row["SalesOrder"],
                             status="cancelled" if row.get("OverallSDDocumentRejectionSts") == "C" else status,
                             changed_at=timestamp(row.get("LastChangeDateTime")))


def _customer(row: dict) -> Customer:
    return Customer(number=row["BusinessPartner"], name=row["BusinessPartnerFullName"],
                    status="blocked" if row.get("BusinessPartnerIsBlocked") else "active")


def _shipment(row: dict, order: str, items: list[dict], freight: str | None) -> Shipment:
    moved = date(row.get("ActualGoodsMovementDate"))
    return Shipment(id=row["DeliveryDocument"], order=order,
                    shipped_at=dt.datetime.combine(moved, dt.time(), dt.timezone.utc) if moved else None,
                    tracking_numbers=[row["BillOfLading"]] if row.get("BillOfLading") else [],
                    lines=[ShipmentLine(sku=i["Material"], quantity=decimal(i["ActualDeliveryQuantity"]))
                           for i in items if i.get("Material") != freight and decimal(i["ActualDeliveryQuantity"])])


def _document(row: dict, order: str) -> Document:
    return Document(type="invoice", number=row["BillingDocument"], order=order,
                    customer=row.get("SoldToParty") or None, issued_at=date(row["BillingDocumentDate"]))


def _credit_memo(row: dict, order: str, items: list[dict]) -> CreditMemo:
    net, tax = decimal(row["TotalNetAmount"]), decimal(row.get("TotalTaxAmount")) or Decimal(0)
    return CreditMemo(id=row["BillingDocument"], order=order, issued_at=date(row["BillingDocumentDate"]),
                      currency=row["TransactionCurrency"], total=net + tax,
                      lines=[InvoiceLine(sku=i["Material"], description=i.get("BillingDocumentItemText"),
                                         quantity=decimal(i["BillingQuantity"]), amount=decimal(i["NetAmount"]))
                             for i in items])


def _invoice(row: dict, order: str, items: list[dict], freight: str | None) -> Invoice:
    net, tax = decimal(row["TotalNetAmount"]), decimal(row.get("TotalTaxAmount")) or Decimal(0)
    delivery = next((i["ReferenceSDDocument"] for i in items if i.get("ReferenceSDDocument")), None)
    return Invoice(id=row["BillingDocument"], order=order, shipment=delivery,
                   issued_at=date(row["BillingDocumentDate"]), currency=row["TransactionCurrency"],
                   freight_amount=sum((decimal(i["NetAmount"]) for i in items if i.get("Material") == freight),
                                      Decimal(0)),
                   tax_amount=tax, total=net + tax,
                   lines=[InvoiceLine(sku=i["Material"], description=i.get("BillingDocumentItemText"),
                                      quantity=decimal(i["BillingQuantity"]), amount=decimal(i["NetAmount"]))
                          for i in items if i.get("Material") != freight])
