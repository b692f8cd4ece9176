"""One handler per Web.Connector operation, answered from erpbridge's store and outbox.

Each handler takes the shop (:class:`Shop`) and the call's ``data`` root and returns the answer's
root element with its :class:`~.soap.Status`. Orders go into the outbox idempotently on the
basket's ``UUID`` (the id shop, payment and ERP share) and are answered at once: never refused
because the ERP is down. Prices, customers and documents that Ibexa wants in real time go to the
ERP through the API's real-time gateway (its cache, semaphore and timeout); when it cannot
answer, the store does and the status says why (21 offline, 12 timeout, 11 ERP error).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Awaitable, Callable

import orjson
from lxml import etree
from pydantic import ValidationError
from sqlalchemy import bindparam, select

from erpbridge.api.routes.catalog import price_from_store
from erpbridge.connectors.base import PriceQuery
from erpbridge.connectors.ibexa import ubl
from erpbridge.connectors.ibexa.soap import FALLBACK_STATUS, Fault, Status
from erpbridge.connectors.ibexa.spec import IbexaSystem
from erpbridge.documents import copy_path
from erpbridge.records import Address, Customer, Order, key_of
from erpbridge.records.base import canonical_decimal
from erpbridge.services import customers as customer_service
from erpbridge.services import orders as order_service
from erpbridge.services.errors import Conflict, NotFound, Rejected
from erpbridge.store.tables import (bindings, credit_memos, documents, invoices, order_statuses, orders, products,
                                    shipments, stock)

_STOCK = select(stock.c.quantity).where(stock.c.sku == bindparam("sku"))
_PRODUCT = select(products.c.data).where(products.c.key == bindparam("key"))
CENT = Decimal("0.01")


@dataclass
class Shop:
    """What a handler works with: the hub, the shop system and the API's read and real-time paths."""

    hub: object
    name: str
    config: IbexaSystem
    reads: object
    realtime: object

    @property
    def erp(self) -> str:
        return self.hub.config.erp_for(self.name)

    def asks_erp(self, lookup: str) -> bool:
        """Whether the ERP behind the API's real-time path offers ``lookup`` (customer, price,
        document): a webservice ERP may render documents but have no price service."""
        return self.realtime.available and callable(getattr(self.realtime.erp, f"get_{lookup}", None))


Reply = tuple[etree._Element, Status, str]
Handler = Callable[[Shop, etree._Element], Awaitable[Reply]]


def _worst(statuses: list[Status]) -> Status:
    return max(statuses, default=Status.OK)


# -- orders ------------------------------------------------------------------------------------

def _order_record(shop: Shop, data: etree._Element, placed_at: dt.datetime | None) -> Order:
    what = f"ibexa {shop.name}: CreateSalesOrder"
    fields = ubl.order_fields(data, shipping_method=shop.config.shipping_method,
                              payment_methods=shop.config.payment_methods, what=what)
    if placed_at is not None:
        fields.setdefault("placed_at", placed_at)
    number = fields.get("number")
    if not number:
        raise Fault(f"{what}: Order/UUID (the basket's id, the order number) is missing")
    try:
        return Order.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(f"{ubl.field_path(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise Fault(f"{what}: order {number}: {problems}") from None


def _service_fault(shop: Shop, operation: str, number: str, exc: Exception) -> Fault:
    if isinstance(exc, Rejected):
        named = "; ".join(f"{ubl.field_path(tuple(int(p) if p.isdigit() else p for p in field.split('.')))}: {why}"
                          for field, why in exc.errors)
        return Fault(f"ibexa {shop.name}: {operation}: order {number}: {named or exc}")
    return Fault(f"ibexa {shop.name}: {operation}: order {number}: {exc}")


def _erp_order_ids(conn, erp: str, numbers: list[str]) -> dict[str, str]:
    if not numbers:
        return {}
    rows = conn.execute(select(bindings.c.key, bindings.c.external_id).where(
        bindings.c.kind == "orders", bindings.c.system == erp, bindings.c.key.in_(numbers)))
    return dict(rows.all())


async def create_sales_order(shop: Shop, data: etree._Element) -> Reply:
    number = ubl.text(data, "UUID")
    placed_at = None if ubl.text(data, "IssueDate") or not number else \
        await asyncio.to_thread(order_service.placed_at_or_now, shop.hub, number)
    order = _order_record(shop, data, placed_at)
    try:
        state, created, _view = await asyncio.to_thread(order_service.place_order, shop.hub, order, shop=shop.name)
    except (Rejected, Conflict) as exc:
        raise _service_fault(shop, "CreateSalesOrder", order.number, exc) from None

    def erp_id() -> str | None:
        with shop.hub.engine.connect() as conn:
            return _erp_order_ids(conn, shop.erp, [order.number]).get(order.number)

    known = None if created else await asyncio.to_thread(erp_id)
    root = etree.Element("OrderResponse")
    # erpbridge's id (the UUID) until the ERP's is known; OrderDetail and OrderList then show the ERP's.
    ubl.add(root, "SalesOrderID", known or order.number)
    ubl.add(root, "UUID", order.number)
    ubl.add(root, "IssueDate", dt.date.today().isoformat())
    ubl.add(root, "DocumentCurrencyCode", order.currency)
    total = ubl.add(root, "LegalMonetaryTotal")
    ubl.money(total, "PayableAmount", order.grand_total, order.currency)
    ext = ubl.add(root, "SesExtension")
    ubl.add(ext, "State", state)
    ubl.add(ext, "Replay", "false" if created else "true")
    return root, Status.OK, "accepted" if created else "already accepted"


def _resolve_order(shop: Shop, data: etree._Element) -> str:
    """The order number a detail request names, by its UUID or the ERP's SalesOrderID."""
    wanted = ubl.text(data, "UUID") or ubl.text(data, "SalesOrderID") or ubl.text(data, "OrderID") \
        or ubl.text(data, "ID")
    if not wanted:
        raise Fault(f"ibexa {shop.name}: OrderDetail: SalesOrderID (or UUID) is missing")
    with shop.hub.engine.connect() as conn:
        if conn.execute(select(orders.c.key).where(orders.c.key == wanted)).scalar() is not None:
            return wanted
        number = conn.execute(select(bindings.c.key).where(
            bindings.c.kind == "orders", bindings.c.system == shop.erp, bindings.c.external_id == wanted)).scalar()
    if number is None:
        raise NotFound(f"no order {wanted!r}")
    return number


def _order_detail(shop: Shop, data: etree._Element) -> Reply:
    try:
        number = _resolve_order(shop, data)
        view = order_service.order_view(shop.hub, number)
    except NotFound as exc:
        return etree.Element("OrderResponse"), Status.ERP_ERROR, str(exc)
    order = view["order"]
    currency = order["currency"]
    root = etree.Element("OrderResponse")
    ubl.add(root, "SalesOrderID", view["erp_id"] or number)
    ubl.add(root, "UUID", number)
    ubl.add(root, "IssueDate", order["placed_at"][:10])
    ubl.add(root, "DocumentCurrencyCode", currency)
    ubl.party(root, "BuyerCustomerParty", order.get("customer"), order["billing_address"])
    ubl.party(ubl.add(root, "Delivery"), "DeliveryParty", None, order["shipping_address"], wrap=False)
    for i, line in enumerate(order["lines"], 1):
        item = ubl.add(root, "OrderLine/LineItem")
        ubl.add(item, "ID", i)
        ubl.add(item, "Quantity", line["quantity"])
        ubl.money(item, "LineExtensionAmount", line["total"], currency)
        ubl.money(item, "Price/PriceAmount", line["unit_price"], currency)
        ubl.add(item, "Item/SellersItemIdentification/ID", line["sku"])
    for shipment in view["shipments"]:
        element = ubl.add(root, "Shipment")
        ubl.add(element, "ID", shipment["id"])
        if shipment.get("carrier"):
            ubl.add(element, "Carrier", shipment["carrier"])
        for tracking in shipment["tracking_numbers"]:
            ubl.add(element, "TrackingID", tracking)
        if shipment.get("shipped_at"):
            ubl.add(element, "ActualDeliveryDate", shipment["shipped_at"][:10])
        for line in shipment["lines"]:
            shipped = ubl.add(element, "ShipmentLine")
            ubl.add(shipped, "SellersItemIdentification/ID", line["sku"])
            ubl.add(shipped, "DeliveredQuantity", line["quantity"])
    for invoice in view["invoices"]:
        ref = ubl.add(root, "BillingReference/InvoiceDocumentReference")
        ubl.add(ref, "ID", invoice["id"])
        ubl.add(ref, "IssueDate", invoice["issued_at"])
    for memo in view["credit_memos"]:
        ref = ubl.add(root, "BillingReference/CreditNoteDocumentReference")
        ubl.add(ref, "ID", memo["id"])
        ubl.add(ref, "IssueDate", memo["issued_at"])
    total = ubl.add(root, "LegalMonetaryTotal")
    ubl.money(total, "PayableAmount", order["grand_total"], currency)
    ext = ubl.add(root, "SesExtension")
    ubl.add(ext, "State", view["state"])
    if view["status"]:
        ubl.add(ext, "Status", view["status"])
    for cancellation in view["cancellations"]:
        ubl.add(ext, "Cancellation/ID", cancellation["id"])
    for ret in view["returns"]:
        ubl.add(ext, "Return/ID", ret["id"])
    return root, Status.OK, ""


async def order_detail(shop: Shop, data: etree._Element) -> Reply:
    return await asyncio.to_thread(_order_detail, shop, data)


def _limit(data: etree._Element) -> int:
    value = ubl.text(data, "MaxResults") or "50"
    return max(1, min(int(value), 500)) if value.isdigit() else 50


def _order_list(shop: Shop, data: etree._Element) -> Reply:
    customer = ubl.customer_number(data)
    if not customer:
        raise Fault(f"ibexa {shop.name}: OrderList: the customer number (PartyIdentification/ID) is missing")
    with shop.hub.engine.connect() as conn:
        rows = conn.execute(select(orders.c.key, orders.c.data, orders.c.state).where(orders.c.customer == customer)
                            .order_by(orders.c.placed_at.desc(), orders.c.key).limit(_limit(data))).all()
        numbers = [r.key for r in rows]
        erp_ids = _erp_order_ids(conn, shop.erp, numbers)
        statuses = {key: orjson.loads(d).get("status") for key, d in conn.execute(
            select(order_statuses.c.key, order_statuses.c.data).where(order_statuses.c.key.in_(numbers))).all()} \
            if numbers else {}
    root = etree.Element("OrderList")
    for row in rows:
        order = orjson.loads(row.data)
        element = ubl.add(root, "Order")
        ubl.add(element, "SalesOrderID", erp_ids.get(row.key) or row.key)
        ubl.add(element, "UUID", row.key)
        ubl.add(element, "IssueDate", order["placed_at"][:10])
        ubl.money(element, "LegalMonetaryTotal/PayableAmount", order["grand_total"], order["currency"])
        ubl.add(element, "SesExtension/State", row.state)
        if statuses.get(row.key):
            ubl.add(element, "SesExtension/Status", statuses[row.key])
    return root, Status.OK, ""


async def order_list(shop: Shop, data: etree._Element) -> Reply:
    return await asyncio.to_thread(_order_list, shop, data)


# -- prices and availability --------------------------------------------------------------------

@dataclass(frozen=True)
class Vat:
    """A product's VAT: its percent and where that came from (``tax_rates[<class>]`` or
    ``default_tax_rate``); ``percent`` None when neither knows it."""

    percent: Decimal | None
    code: str | None
    source: str


def _vat(shop: Shop, sku: str) -> Vat:
    """The VAT of ``sku``: the rate configured for the tax class the ERP's catalog gives the
    product (``systems.<shop>.tax_rates``), else ``default_tax_rate``. ERPs export a product's
    tax class, not a rate per shop country, so the rate is the hub's configuration."""
    rows = shop.reads.all(_PRODUCT, {"key": key_of((sku,))})
    tax_class = orjson.loads(rows[0][0]).get("tax_class") if rows else None
    config = shop.config
    if tax_class is not None and tax_class in config.tax_rates:
        return Vat(config.tax_rates[tax_class], tax_class, f"tax_rates[{tax_class}]")
    if config.default_tax_rate is not None:
        return Vat(config.default_tax_rate, tax_class or "default", "default_tax_rate")
    return Vat(None, tax_class, "none")


def _amounts(shop: Shop, unit: Decimal, quantity: Decimal,
             percent: Decimal) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """Net unit price, net line, VAT and gross line, in cents. The line's VAT is worked out from
    the line (not from a rounded unit price), from the net, or from the gross when the ERP's
    prices include it (``prices_include_tax``)."""
    factor = 1 + percent / 100
    if shop.config.prices_include_tax:
        gross = (unit * quantity).quantize(CENT, ROUND_HALF_UP)
        net = (gross / factor).quantize(CENT, ROUND_HALF_UP)
        return (unit / factor).quantize(CENT, ROUND_HALF_UP), net, gross - net, gross
    net = (unit * quantity).quantize(CENT, ROUND_HALF_UP)
    tax = (net * percent / 100).quantize(CENT, ROUND_HALF_UP)
    return unit, net, tax, net + tax


async def calculate_sales_price(shop: Shop, data: etree._Element) -> Reply:
    """Prices, VAT and availability of a basket: the customer's own price from the ERP in real
    time (when configured), the store's price otherwise; unknown products are left out, as Ibexa
    allows. Each line is answered net (``Price/PriceAmount``, ``LineExtensionAmount``), with its
    VAT (``TaxTotal/TaxAmount``, ``SesExtension/VatPercent``, ``VatCode`` and ``VatSource``: where
    the rate came from) and gross (``SesExtension/TaxInclusiveAmount``); the totals likewise."""
    what = f"ibexa {shop.name}: CalculateSalesPrice"
    customer = ubl.customer_number(data)
    currency = ubl.text(data, "DocumentCurrencyCode") or shop.hub.config.catalog.default_currency
    lines, _costs = ubl.order_lines(data, what)
    root = etree.Element("OrderResponse")
    ubl.add(root, "DocumentCurrencyCode", currency)
    statuses, net_total, tax_total, today, unrated = [], Decimal(0), Decimal(0), dt.date.today(), []
    for i, line in enumerate(lines, 1):
        sku, quantity = line.get("sku"), line.get("quantity") or Decimal(1)
        if not sku:
            raise Fault(f"{what}: OrderLine[{i}]/LineItem/Item/SellersItemIdentification/ID (the SKU) is missing")
        if quantity <= 0:
            raise Fault(f"{what}: OrderLine[{i}]/LineItem/Quantity must be above 0, got {quantity}")
        unit, source = None, "store"
        if shop.asks_erp("price") and shop.realtime.wants_price(customer, shop.config.price_context):
            answer = await shop.realtime.price(PriceQuery(sku=sku, customer=customer, quantity=quantity,
                                                          context=shop.config.price_context))
            if answer.from_erp and answer.value is not None:
                unit, source = canonical_decimal(answer.value.amount), "erp"
            statuses.append(FALLBACK_STATUS.get(answer.fallback or ("erp_no_price" if unit is None else None),
                                                Status.ERP_ERROR))
        if unit is None:
            found = price_from_store(shop.reads, sku, customer, currency, quantity, today)
            if found is None:
                continue
            unit = found["unit_price"]
        vat = _vat(shop, sku)
        if vat.percent is None:
            unrated.append(sku)
        net_unit, net, tax, gross = _amounts(shop, unit, quantity, vat.percent or Decimal(0))
        on_hand = sum((q for (q,) in shop.reads.all(_STOCK, {"sku": sku})), Decimal(0))
        salable = max(on_hand, Decimal(0))
        net_total += net
        item = ubl.add(root, "OrderLine/LineItem")
        ubl.add(item, "ID", i)
        ubl.add(item, "Quantity", canonical_decimal(quantity))
        ubl.money(item, "LineExtensionAmount", net, currency)
        ubl.money(item, "Price/PriceAmount", net_unit, currency)
        ubl.add(item, "Delivery/MaximumQuantity", canonical_decimal(salable))
        ubl.add(item, "Item/SellersItemIdentification/ID", sku)
        ext = ubl.add(item, "SesExtension")
        ubl.add(ext, "LineType", 2)
        ubl.add(ext, "OnStock", "true" if salable >= quantity else "false")
        ubl.add(ext, "StockNumeric", canonical_decimal(salable))
        ubl.add(ext, "PriceSource", source)
        ubl.add(ext, "PriceIsIncVat", "false")
        if vat.percent is not None:
            tax_total += tax
            ubl.money(item, "TaxTotal/TaxAmount", tax, currency)
            ubl.add(item, "Item/ClassifiedTaxCategory/Percent", canonical_decimal(vat.percent))
            ubl.add(ext, "VatPercent", canonical_decimal(vat.percent))
            ubl.add(ext, "VatCode", vat.code)
            ubl.money(ext, "TaxInclusiveAmount", gross, currency)
        ubl.add(ext, "VatSource", vat.source)
    ubl.money(root, "TaxTotal/TaxAmount", tax_total, currency)
    totals = ubl.add(root, "LegalMonetaryTotal")
    ubl.money(totals, "LineExtensionAmount", net_total, currency)
    ubl.money(totals, "TaxExclusiveAmount", net_total, currency)
    ubl.money(totals, "TaxInclusiveAmount", net_total + tax_total, currency)
    ubl.money(totals, "PayableAmount", net_total + tax_total, currency)
    told = [] if _worst(statuses) == Status.OK else ["answered from the store: the ERP cannot give real-time "
                                                     "prices now"]
    if unrated:  # Ibexa needs a VAT rate per line: 11 makes it use its own price
        statuses.append(Status.ERP_ERROR)
        told.append(f"no VAT rate for {', '.join(unrated)}: set systems.{shop.name}.tax_rates for its tax class or "
                    "default_tax_rate")
    return root, _worst(statuses), "; ".join(told)


# -- customers -----------------------------------------------------------------------------------

async def select_customer(shop: Shop, data: etree._Element) -> Reply:
    """The customer at login: from the ERP in real time (``customer_at_login``), else the store.
    A customer created or changed through the Web.Connector whose message is still under way
    is answered as the shop sent it (the ERP does not hold it yet); one named by erpbridge's
    provisional number is answered with the ERP's number once the ERP gave it."""
    number = ubl.customer_number(data)
    if not number:
        raise Fault(f"ibexa {shop.name}: SelectCustomer: BuyerCustomerParty/Party/PartyIdentification/ID is missing")
    hub, status, customer = shop.hub, Status.OK, None
    (_reference, erp_number), (current, under_way) = await asyncio.gather(
        asyncio.to_thread(customer_service.customer_key, hub, number, shop=shop.name),
        asyncio.to_thread(customer_service.current_customer, hub, number, shop=shop.name))
    if under_way:
        customer = current
    elif shop.asks_erp("customer") and hub.config.api.realtime.customer_at_login:
        answer = await shop.realtime.customer(erp_number or number)
        if answer.from_erp and isinstance(answer.value, Customer):
            customer = answer.value
            await asyncio.to_thread(hub.records.put, [customer])
        else:
            status = FALLBACK_STATUS.get(answer.fallback or "erp_not_found", Status.ERP_ERROR)
    customer = customer or current
    root = etree.Element("OrderResponse")
    if customer is None:
        # Unknown here; the ERP either said so (11) or could not be asked (its status).
        return root, Status.ERP_ERROR if status == Status.OK else status, f"no customer {number!r}"
    number = erp_number or customer.number
    invoice = customer.invoice_address.model_dump(mode="json", exclude_none=True) if customer.invoice_address else None
    if invoice is not None and customer.email and not invoice.get("email"):
        invoice["email"] = customer.email
    ubl.party(root, "BuyerCustomerParty", number, invoice or {"name": customer.name})
    ubl.party(root, "AccountingCustomerParty", number, invoice)
    for addr in customer.delivery_addresses:
        delivery = ubl.add(root, "Delivery")
        ubl.party(delivery, "DeliveryAddress", None, addr.model_dump(mode="json", exclude_none=True), wrap=False)
    ext = ubl.add(root, "SesExtension")
    ubl.add(ext, "Status", customer.status)
    if customer.group:
        ubl.add(ext, "CustomerGroup", customer.group)
    if customer.credit_limit is not None:
        ubl.add(ext, "CreditLimit", customer.credit_limit)
    return root, status, "" if status == Status.OK else "answered from the store: the ERP cannot be asked now"


# -- new and changed customers, delivery addresses -----------------------------------------------
# Registration creates a contact or customer in the ERP: erpbridge answers at once with its
# provisional number (the shop's own id of the customer) and the creation goes into the outbox to
# the shop's ERP, like the API's customers; once the ERP answered, every answer names the ERP's
# number. Changes (UpdateCustomer, Create/Update/DeleteDeliveryAddress) are one update_customer message
# each, behind the creation. A delivery address is named by its customer (DeliveryParty/
# PartyIdentification/ID, as in Ibexa's sample) and its position in the customer's list
# (SesExtension/AddressID, 1 for the first, as ReadDeliveryAddress answers it).

def _validated(shop: Shop, operation: str, model, fields: dict, what: str, party: str):
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        where = (lambda loc: loc) if model is Customer else (lambda loc: ("delivery_addresses", 0, *loc))
        problems = "; ".join(f"{ubl.party_path(where(e['loc']), party)}: {e['msg']}" for e in exc.errors())
        raise Fault(f"ibexa {shop.name}: {operation}: {what}: {problems}") from None


def _takes(shop: Shop, operation: str) -> str | None:
    """Why the shop's ERP cannot take ``operation`` (None: it can)."""
    if operation in shop.hub.capabilities(shop.erp).operations:
        return None
    return f"the ERP {shop.erp} does not take {operation} (systems.{shop.erp}.messages.{operation} is not " \
           "configured): do it in the ERP"


def _customer_answer(root_tag: str, customer: Customer, number: str, state: str, created: bool) -> etree._Element:
    root = etree.Element(root_tag)
    invoice = customer.invoice_address.model_dump(mode="json", exclude_none=True) if customer.invoice_address else None
    party = ubl.party(root, "Party", number, invoice or {"name": customer.name}, wrap=False)
    ext = ubl.add(party, "SesExtension")
    ubl.add(ext, "Provisional", "true" if number == customer.number and state != "created" else "false")
    ubl.add(ext, "State", state)
    ubl.add(ext, "Replay", "false" if created else "true")
    return root


def _create_customer(shop: Shop, operation: str, data: etree._Element) -> Reply:
    party = ubl.find(data, "Party")
    if party is None:
        raise Fault(f"ibexa {shop.name}: {operation}: the request has no Party")
    reference = ubl.text(party, "PartyIdentification/ID") \
        or ubl.text(data, "BuyerCustomerParty/SupplierAssignedAccountID") or ubl.text(party, "Contact/ID")
    if not reference:
        raise Fault(f"ibexa {shop.name}: {operation}: Party/PartyIdentification/ID (or BuyerCustomerParty/"
                    "SupplierAssignedAccountID, the shop's id of the customer) is missing")
    found = ubl.customer_fields(party)
    customer = _validated(shop, operation, Customer, {"number": reference, **found}, f"customer {reference}", "Party")
    refused = _takes(shop, customer_service.OPERATION)
    if refused:
        return etree.Element(f"Response{operation}"), Status.ERP_ERROR, refused
    try:
        _id, created = customer_service.create_customer(shop.hub, {"reference": reference, **found}, shop=shop.name)
    except (Conflict, Rejected) as exc:
        raise Fault(f"ibexa {shop.name}: {operation}: customer {reference}: {exc}") from None
    request = customer_service.customer_request(shop.hub, reference, shop=shop.name)
    number = request["number"] or reference
    root = _customer_answer(f"Response{operation}", customer, number, request["status"], created)
    if request["status"] == "failed":  # the ERP refused it (dead, or discarded by an operator)
        error = (request["message"] or {}).get("last_error") or "see the outbox"
        return root, Status.ERP_ERROR, f"the ERP did not create customer {reference}: {error}"
    return root, Status.OK, "created" if request["number"] else "accepted: the ERP's customer number follows"


def _changed(shop: Shop, operation: str, customer: Customer, root: etree._Element) -> Reply:
    refused = _takes(shop, customer_service.UPDATE)
    if refused:
        return root, Status.ERP_ERROR, refused
    _id, new = customer_service.update_customer(shop.hub, customer, shop=shop.name)
    ubl.add(root, "SesExtension/Replay", "false" if new else "true")
    return root, Status.OK, "accepted: the change is on its way to the ERP" if new else "already accepted"


def _known(shop: Shop, operation: str, number: str | None, where: str) -> tuple[Customer | None, str]:
    if not number:
        raise Fault(f"ibexa {shop.name}: {operation}: {where}/PartyIdentification/ID (the customer number) is missing")
    customer, _under_way = customer_service.current_customer(shop.hub, number, shop=shop.name)
    reference, erp_number = customer_service.customer_key(shop.hub, number, shop=shop.name)
    return customer, erp_number or reference


def _update_customer(shop: Shop, data: etree._Element) -> Reply:
    operation = "UpdateCustomer"
    party = ubl.find(data, "Party")
    if party is None:
        raise Fault(f"ibexa {shop.name}: {operation}: the request has no Party")
    current, number = _known(shop, operation, ubl.text(party, "PartyIdentification/ID"), "Party")
    if current is None:
        return etree.Element("ResponseUpdateCustomer"), Status.ERP_ERROR, f"no customer {number!r}"
    fields = current.model_dump(mode="json", exclude_none=True)
    sent = ubl.customer_fields(party)
    if "invoice_address" in sent:
        sent["invoice_address"] = {**fields.get("invoice_address", {}), **sent["invoice_address"]}
    customer = _validated(shop, operation, Customer, {**fields, **sent}, f"customer {number}", "Party")
    root = etree.Element("ResponseUpdateCustomer")
    invoice = customer.invoice_address.model_dump(mode="json", exclude_none=True) if customer.invoice_address else None
    ubl.party(root, "Party", number, invoice or {"name": customer.name}, wrap=False)
    return _changed(shop, operation, customer, root)


def _delivery_party(root: etree._Element, number: str, position: int, addr: Address) -> None:
    element = ubl.party(root, "DeliveryParty", number, addr.model_dump(mode="json", exclude_none=True), wrap=False)
    ubl.add(element, "SesExtension/AddressID", position)


def _read_delivery_addresses(shop: Shop, data: etree._Element) -> Reply:
    operation = "ReadDeliveryAddress"
    party = ubl.find(data, "DeliveryParty")
    customer, number = _known(shop, operation, ubl.text(party, "PartyIdentification/ID"), "DeliveryParty")
    root = etree.Element("ReadDeliveryAddressResponse")
    if customer is None:
        return root, Status.ERP_ERROR, f"no customer {number!r}"
    for position, addr in enumerate(customer.delivery_addresses, 1):
        _delivery_party(root, number, position, addr)
    return root, Status.OK, ""


def _delivery_address(shop: Shop, operation: str, data: etree._Element) -> Reply:
    """CreateDeliveryAddress (appended to the customer's list), UpdateDeliveryAddress (the
    address at SesExtension/AddressID, with the fields sent over it) and DeleteDeliveryAddress
    (that address removed: the ones after it move up by one)."""
    party = ubl.find(data, "DeliveryParty")
    customer, number = _known(shop, operation, ubl.text(party, "PartyIdentification/ID"), "DeliveryParty")
    root = etree.Element(f"{operation}Response")
    if customer is None:
        return root, Status.ERP_ERROR, f"no customer {number!r}"
    addresses = list(customer.delivery_addresses)
    sent = ubl.address(party)
    if operation != "CreateDeliveryAddress":
        wanted = ubl.text(party, "SesExtension/AddressID")
        if not wanted or not wanted.isdigit():
            raise Fault(f"ibexa {shop.name}: {operation}: customer {number}: DeliveryParty/SesExtension/AddressID "
                        f"(the address's position in ReadDeliveryAddress) is missing or not a number: {wanted!r}")
        position = int(wanted)
        if not 1 <= position <= len(addresses):
            return root, Status.ERP_ERROR, f"customer {number} has no delivery address {position}"
        if operation == "DeleteDeliveryAddress":
            del addresses[position - 1]
            ubl.add(root, "Result", f"delivery address {position} of customer {number} deleted")
            return _changed(shop, operation, customer.model_copy(update={"delivery_addresses": addresses}), root)
        sent = {**addresses[position - 1].model_dump(mode="json", exclude_none=True), **sent}
    addr = _validated(shop, operation, Address, sent, f"customer {number}", "DeliveryParty")
    if operation == "UpdateDeliveryAddress":
        addresses[position - 1] = addr
    elif addr in addresses:
        position = addresses.index(addr) + 1  # the same address again: a repeat
    else:
        addresses.append(addr)
        position = len(addresses)
    _delivery_party(root, number, position, addr)
    return _changed(shop, operation, customer.model_copy(update={"delivery_addresses": addresses}), root)


def _in_thread(handle) -> Handler:
    async def handler(shop: Shop, data: etree._Element) -> Reply:
        return await asyncio.to_thread(handle, shop, data)
    return handler


CUSTOMER_HANDLERS: dict[str, Handler] = {
    "CreateContact": _in_thread(lambda shop, data: _create_customer(shop, "CreateContact", data)),
    "CreateCustomer": _in_thread(lambda shop, data: _create_customer(shop, "CreateCustomer", data)),
    "UpdateCustomer": _in_thread(_update_customer),
    "ReadDeliveryAddress": _in_thread(_read_delivery_addresses),
    "CreateDeliveryAddress": _in_thread(lambda shop, data: _delivery_address(shop, "CreateDeliveryAddress", data)),
    "UpdateDeliveryAddress": _in_thread(lambda shop, data: _delivery_address(shop, "UpdateDeliveryAddress", data)),
    "DeleteDeliveryAddress": _in_thread(lambda shop, data: _delivery_address(shop, "DeleteDeliveryAddress", data)),
}


# -- documents -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DocumentKind:
    type: str  # erpbridge's document type
    table: object  # the feedback records of that kind
    root: str  # the UBL root of a detail answer
    id_element: str  # the element naming the document in a detail request


DOCUMENTS = {"Invoice": DocumentKind("invoice", invoices, "Invoice", "InvoiceID"),
             "DeliveryNote": DocumentKind("delivery_note", shipments, "DespatchAdvice", "DeliveryNoteID"),
             "CreditMemo": DocumentKind("credit_memo", credit_memos, "CreditNote", "CreditMemoID")}


def _document_list(shop: Shop, kind: DocumentKind, data: etree._Element) -> Reply:
    customer = ubl.customer_number(data)
    if not customer:
        raise Fault(f"ibexa {shop.name}: {kind.root} list: the customer number (PartyIdentification/ID) is missing")
    t = kind.table
    with shop.hub.engine.connect() as conn:
        records = conn.execute(select(t.c.key, t.c.data).join(orders, orders.c.key == t.c.order)
                               .where(orders.c.customer == customer).order_by(t.c.created_at.desc(), t.c.key)
                               .limit(_limit(data))).all()
        copies = dict(conn.execute(select(documents.c.key, documents.c.data).where(
            documents.c.customer == customer)).all())
    root = etree.Element("DocumentList")
    listed = set()
    for key, record in records:
        record = orjson.loads(record)
        listed.add(key_of((kind.type, record["id"])))
        element = ubl.add(root, "Document")
        ubl.add(element, "ID", record["id"])
        ubl.add(element, "DocumentType", kind.type)
        ubl.add(element, "OrderReference/ID", record["order"])
        date = record.get("issued_at") or record.get("shipped_at")
        if date:
            ubl.add(element, "IssueDate", date[:10])
    for key, copy in copies.items():  # documents the ERP sent without a record of ours (a phone order's)
        copy = orjson.loads(copy)
        if copy["type"] == kind.type and key not in listed:
            element = ubl.add(root, "Document")
            ubl.add(element, "ID", copy["number"])
            ubl.add(element, "DocumentType", kind.type)
            if copy.get("order"):
                ubl.add(element, "OrderReference/ID", copy["order"])
            if copy.get("issued_at"):
                ubl.add(element, "IssueDate", copy["issued_at"])
    return root, Status.OK, ""


async def _document_content(shop: Shop, kind: DocumentKind, number: str) -> tuple[bytes | None, str, Status]:
    """The document's file: from the ERP in real time unless ``use_local_documents``, else (or
    when the ERP cannot answer) the local copy."""
    hub, status = shop.hub, Status.OK
    local = await asyncio.to_thread(hub.records.get, "documents", key_of((kind.type, number)))
    if not hub.config.order_history.use_local_documents and shop.asks_erp("document"):
        answer = await shop.realtime.document(kind.type, number)
        if answer.from_erp and answer.value is not None:
            content, media_type = answer.value
            return content, media_type or "application/pdf", Status.OK
        status = FALLBACK_STATUS.get(answer.fallback or "erp_not_found", Status.ERP_ERROR)
    if local is None or local.content is None:
        return None, "", status
    try:
        content = await asyncio.to_thread(copy_path(hub.config, local.content).read_bytes)
    except OSError:
        return None, "", Status.ERP_ERROR
    return content, local.media_type, status


async def _document_detail(shop: Shop, kind: DocumentKind, data: etree._Element) -> Reply:
    number = ubl.text(data, kind.id_element) or ubl.text(data, "ID")
    if not number:
        raise Fault(f"ibexa {shop.name}: {kind.root} detail: {kind.id_element} is missing")
    t = kind.table
    with shop.hub.engine.connect() as conn:
        record = conn.execute(select(t.c.data).where(t.c.key == key_of((number,)))).scalar()
    content, media_type, status = await _document_content(shop, kind, number)
    root = etree.Element(kind.root)
    if record is None and content is None:
        return root, Status.ERP_ERROR if status == Status.OK else status, f"no {kind.type} {number!r}"
    ubl.add(root, "ID", number)
    if record is not None:
        record = orjson.loads(record)
        date = record.get("issued_at") or record.get("shipped_at")
        if date:
            ubl.add(root, "IssueDate", date[:10])
        ubl.add(root, "OrderReference/ID", record["order"])
        currency = record.get("currency")
        for line in record.get("lines", []):
            element = ubl.add(root, f"{kind.root}Line")
            if line.get("sku"):
                ubl.add(element, "Item/SellersItemIdentification/ID", line["sku"])
            ubl.add(element, "Quantity", line["quantity"])
            if "amount" in line:
                ubl.money(element, "LineExtensionAmount", line["amount"], currency)
        for tracking in record.get("tracking_numbers", []):
            ubl.add(root, "Shipment/TrackingID", tracking)
        if "total" in record:
            totals = ubl.add(root, "LegalMonetaryTotal")
            for field, tag in (("freight_amount", "ChargeTotalAmount"), ("tax_amount", "TaxAmount"),
                               ("total", "PayableAmount")):
                if field in record:
                    ubl.money(totals, tag, record[field], currency)
    if content is not None:
        attachment = ubl.add(root, "AdditionalDocumentReference")
        ubl.add(attachment, "ID", number)
        ubl.add(attachment, "Attachment/EmbeddedDocumentBinaryObject", base64.b64encode(content).decode(),
                mimeCode=media_type)
    return root, status, "" if status == Status.OK else "the ERP cannot deliver the document now"


def _list_handler(kind: DocumentKind) -> Handler:
    async def handle(shop: Shop, data: etree._Element) -> Reply:
        return await asyncio.to_thread(_document_list, shop, kind, data)
    return handle


def _detail_handler(kind: DocumentKind) -> Handler:
    async def handle(shop: Shop, data: etree._Element) -> Reply:
        return await _document_detail(shop, kind, data)
    return handle


#: The WSDL's operations and their handlers.
HANDLERS: dict[str, Handler] = {
    "CreateSalesOrder": create_sales_order, "CalculateSalesPrice": calculate_sales_price,
    "SelectCustomer": select_customer, "OrderList": order_list, "OrderDetail": order_detail, **CUSTOMER_HANDLERS,
    **{f"{name}List": _list_handler(kind) for name, kind in DOCUMENTS.items()},
    **{f"{name}Detail": _detail_handler(kind) for name, kind in DOCUMENTS.items()},
}

#: The exchange log's flow of each operation (what an operator filters by).
FLOWS: dict[str, str] = {"CreateSalesOrder": "orders", "CalculateSalesPrice": "prices", "SelectCustomer": "customers",
                         "OrderList": "orders", "OrderDetail": "orders",
                         **dict.fromkeys(CUSTOMER_HANDLERS, "customers"),
                         **{name: "documents" for name in HANDLERS if name.startswith(tuple(DOCUMENTS))}}
