"""UBL 2 as Ibexa's Web.Connector messages carry it, read into records and written back.

Elements are matched by local name, so the UBL namespaces (cac/cbc) may be there or not, as
the shop's XSLT leaves them. Reading an order keeps, for every field of the record, the UBL
path it came from (:data:`ORDER_PATHS`), so a refusal names the element the shop must fix.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from erpbridge.connectors.ibexa.soap import Fault, local


def child(element: etree._Element | None, path: str) -> etree._Element | None:
    """The first element at ``path`` ("A/B/C", local names) below ``element``."""
    for name in path.split("/"):
        if element is None:
            return None
        element = next((c for c in element if local(c) == name), None)
    return element


def children(element: etree._Element | None, name: str) -> list[etree._Element]:
    return [] if element is None else [c for c in element if local(c) == name]


def text(element: etree._Element | None, path: str) -> str | None:
    node = child(element, path)
    value = node.text.strip() if node is not None and node.text else ""
    return value or None


def add(parent: etree._Element, path: str, value: Any = None, **attributes: str) -> etree._Element:
    """Append the elements of ``path`` below ``parent`` (the last one with ``value`` as text)."""
    *above, last = path.split("/")
    for name in above:
        parent = etree.SubElement(parent, name)
    element = etree.SubElement(parent, last, **attributes)
    if value is not None:
        element.text = str(value)
    return element


def customer_number(element: etree._Element) -> str | None:
    """The customer number of a request: the buyer's party id (or a plain ``CustomerID``)."""
    return (text(element, "BuyerCustomerParty/Party/PartyIdentification/ID")
            or text(element, "Party/PartyIdentification/ID") or text(element, "PartyIdentification/ID")
            or text(element, "CustomerID"))


def _decimal(value: str | None, where: str, what: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise Fault(f"{what}: {where} {value!r} is not a number") from None


def address(party: etree._Element | None) -> dict | None:
    """A UBL ``Party`` as an erpbridge address (None when there is no party)."""
    if party is None:
        return None
    postal = child(party, "PostalAddress")
    person = " ".join(filter(None, (text(party, "Person/FirstName"), text(party, "Person/FamilyName"))))
    street = " ".join(filter(None, (text(postal, "StreetName"), text(postal, "BuildingNumber"))))
    lines = [text(line, "Line") for line in children(postal, "AddressLine") if text(line, "Line")]
    result = {"name": text(party, "PartyName/Name") or person or None,
              "street": street or (lines[0] if lines else None),
              "postcode": text(postal, "PostalZone"), "city": text(postal, "CityName"),
              "country": text(postal, "Country/IdentificationCode"),
              "phone": text(party, "Contact/Telephone"), "email": text(party, "Contact/ElectronicMail")}
    if person and text(party, "PartyName/Name"):
        result["company"] = text(party, "PartyName/Name")
        result["name"] = person
    return {k: v for k, v in result.items() if v is not None}


#: Where each field of the order record comes from in the UBL ``Order``.
ORDER_PATHS = {
    "number": "Order/UUID", "placed_at": "Order/IssueDate",
    "customer": "BuyerCustomerParty/Party/PartyIdentification/ID",
    "email": "BuyerCustomerParty/Party/Contact/ElectronicMail", "currency": "Order/DocumentCurrencyCode",
    "billing_address": "AccountingCustomerParty/Party", "shipping_address": "Delivery/DeliveryParty",
    "lines": "OrderLine/LineItem", "shipping_method": "SesExtension/ShippingMethod",
    "payment_method": "PaymentMeans/PaymentMeansCode", "shipping_amount": "OrderLine (SesExtension/CostType shipping)",
    "discount_amount": "OrderLine (SesExtension/CostType discount)", "tax_amount": "TaxTotal/TaxAmount",
    "grand_total": "LegalMonetaryTotal/PayableAmount",
}
LINE_PATHS = {"sku": "Item/SellersItemIdentification/ID", "quantity": "Quantity", "unit_price": "Price/PriceAmount",
              "total": "LineExtensionAmount", "name": "Item/Name"}


def order_lines(order: etree._Element, what: str) -> tuple[list[dict], dict[str, Decimal]]:
    """The product lines of a UBL order, and its cost lines (``SesExtension/LineType`` 1) added
    up by ``CostType`` (shipping, charge, discount)."""
    lines, costs = [], {}
    for i, order_line in enumerate(children(order, "OrderLine")):
        item = child(order_line, "LineItem")
        where = f"OrderLine[{i + 1}]/LineItem"
        line_type = text(order_line, "SesExtension/LineType") or text(item, "SesExtension/LineType")
        if line_type == "1":
            cost_type = (text(order_line, "SesExtension/CostType") or text(item, "SesExtension/CostType") or "charge")
            amount = _decimal(text(item, "Price/PriceAmount") or text(item, "LineExtensionAmount"),
                              f"{where}/Price/PriceAmount", what) or Decimal(0)
            costs[cost_type.lower()] = costs.get(cost_type.lower(), Decimal(0)) + abs(amount)
            continue
        quantity = _decimal(text(item, "Quantity"), f"{where}/Quantity", what)
        price = _decimal(text(item, "Price/PriceAmount"), f"{where}/Price/PriceAmount", what)
        total = _decimal(text(item, "LineExtensionAmount"), f"{where}/LineExtensionAmount", what)
        if total is None and quantity is not None and price is not None:
            total = quantity * price
        lines.append({k: v for k, v in {"sku": text(item, "Item/SellersItemIdentification/ID"),
                                        "name": text(item, "Item/Name"), "quantity": quantity,
                                        "unit_price": price, "total": total}.items() if v is not None})
    return lines, costs


def order_fields(order: etree._Element, *, shipping_method: str, payment_methods: dict[str, str],
                 what: str) -> dict:
    """The fields of an erpbridge order read from a UBL ``Order`` (validated by the record)."""
    lines, costs = order_lines(order, what)
    issued = text(order, "IssueDate")
    placed = None  # none sent: the connector takes the stored order's (a repeat) or now
    if issued:
        try:
            placed = dt.datetime.fromisoformat(issued if "T" in issued else f"{issued}T00:00:00+00:00")
        except ValueError:
            raise Fault(f"{what}: Order/IssueDate {issued!r} is not a date") from None
        if placed.tzinfo is None:
            placed = placed.replace(tzinfo=dt.timezone.utc)
    billing = (address(child(order, "AccountingCustomerParty/Party"))
               or address(child(order, "BuyerCustomerParty/Party")))
    shipping = address(child(order, "Delivery/DeliveryParty")) or address(child(order, "Delivery/DeliveryAddress")) \
        or billing
    shipping_amount = costs.get("shipping", Decimal(0))
    discount = costs.get("discount", Decimal(0))
    charges = costs.get("charge", Decimal(0))
    code = text(order, "PaymentMeans/PaymentMeansCode")
    payable = _decimal(text(order, "LegalMonetaryTotal/PayableAmount"), "LegalMonetaryTotal/PayableAmount", what)
    if payable is None:
        payable = sum((Decimal(str(line.get("total", 0))) for line in lines), Decimal(0)) + shipping_amount \
            + charges - discount
    fields = {
        "number": text(order, "UUID"), "placed_at": placed, "customer": customer_number(order),
        "email": text(order, "BuyerCustomerParty/Party/Contact/ElectronicMail"),
        "currency": text(order, "DocumentCurrencyCode"), "billing_address": billing, "shipping_address": shipping,
        "lines": lines, "shipping_method": text(order, "SesExtension/ShippingMethod") or shipping_method,
        "payment_method": payment_methods.get(code or "", code) if code else None,
        "shipping_amount": shipping_amount + charges, "discount_amount": discount,
        "tax_amount": _decimal(text(order, "TaxTotal/TaxAmount"), "TaxTotal/TaxAmount", what) or Decimal(0),
        "grand_total": payable,
    }
    return {k: v for k, v in fields.items() if v is not None}


def field_path(location: tuple) -> str:
    """A record field's location (pydantic's ``loc``) as the UBL path the shop sent it at."""
    if not location:
        return "Order"
    head = str(location[0])
    if head == "lines" and len(location) > 1 and isinstance(location[1], int):
        where = f"OrderLine[{location[1] + 1}]/LineItem"
        return f"{where}/{LINE_PATHS.get(str(location[2]), location[2])}" if len(location) > 2 else where
    path = ORDER_PATHS.get(head, head)
    return "/".join([path, *map(str, location[1:])])


def party(parent: etree._Element, tag: str, number: str | None, addr: dict | None, *,
          wrap: bool = True) -> etree._Element:
    """``<tag><Party>`` (``<tag>`` alone unless ``wrap``: a ``DeliveryParty``) with the customer
    number and an address, the shape :func:`address` reads."""
    element = add(parent, tag)
    p = add(element, "Party") if wrap else element
    if number:
        add(p, "PartyIdentification/ID", number)
    if addr:
        add(p, "PartyName/Name", addr.get("company") or addr.get("name"))
        postal = add(p, "PostalAddress")
        add(postal, "StreetName", addr.get("street"))
        for key, tag_name in (("postcode", "PostalZone"), ("city", "CityName")):
            if addr.get(key):
                add(postal, tag_name, addr[key])
        add(postal, "Country/IdentificationCode", addr.get("country"))
        if addr.get("phone") or addr.get("email"):
            contact = add(p, "Contact")
            if addr.get("phone"):
                add(contact, "Telephone", addr["phone"])
            if addr.get("email"):
                add(contact, "ElectronicMail", addr["email"])
    return element


def money(parent: etree._Element, path: str, amount: Any, currency: str | None) -> etree._Element:
    attributes = {"currencyID": currency} if currency else {}
    return add(parent, path, Decimal(str(amount)), **attributes)


#: Where a message names what it is about, first found wins (the exchange log's business key).
_KEYS = {"order": ("UUID", "SalesOrderID", "OrderID", "OrderReference/ID"),
         "document": ("InvoiceID", "DeliveryNoteID", "CreditMemoID")}


def business_key(data: etree._Element) -> dict[str, str]:
    """What a Web.Connector message is about: its order, customer and document, as far as named."""
    found = {name: next((value for path in paths if (value := text(data, path))), None)
             for name, paths in _KEYS.items()}
    found["customer"] = customer_number(data) or text(data, "DeliveryParty/PartyIdentification/ID")
    return {name: value for name, value in found.items() if value}


#: Where each field of an address and of a customer comes from in a UBL ``Party``.
ADDRESS_PATHS = {"name": "PartyName/Name", "company": "PartyName/Name", "street": "PostalAddress/StreetName",
                 "postcode": "PostalAddress/PostalZone", "city": "PostalAddress/CityName",
                 "country": "PostalAddress/Country/IdentificationCode", "phone": "Contact/Telephone",
                 "email": "Contact/ElectronicMail"}
CUSTOMER_PATHS = {"number": "PartyIdentification/ID", "name": "PartyName/Name", "email": "Contact/ElectronicMail",
                  "vat_id": "PartyTaxScheme/CompanyID", "contacts": "Contact"}


def party_path(location: tuple, party: str = "Party") -> str:
    """A customer record field's location (pydantic's ``loc``) as the UBL path below ``party``."""
    head = str(location[0]) if location else ""
    if head in ("invoice_address", "delivery_addresses"):
        rest = location[2:] if head == "delivery_addresses" else location[1:]
        where = "DeliveryParty" if head == "delivery_addresses" else party
        return f"{where}/{ADDRESS_PATHS.get(str(rest[0]), rest[0])}" if rest else where
    return f"{party}/{CUSTOMER_PATHS.get(head, head)}" if head else party


def find(data: etree._Element, name: str) -> etree._Element | None:
    """``data`` itself or its first descendant named ``name`` (a request may wrap it or not)."""
    return next((e for e in data.iter() if local(e) == name), None)


def customer_fields(party: etree._Element) -> dict:
    """The customer fields a UBL ``Party`` names (empty elements name nothing)."""
    addr = address(party) if child(party, "PostalAddress") is not None else None
    contact = child(party, "Contact")
    contact_name = text(contact, "Name")
    fields = {"name": text(party, "PartyName/Name") or (addr or {}).get("name"),
              "email": text(party, "Contact/ElectronicMail"), "vat_id": text(party, "PartyTaxScheme/CompanyID"),
              "invoice_address": addr,
              "contacts": [{k: v for k, v in {"name": contact_name, "email": text(contact, "ElectronicMail"),
                                              "phone": text(contact, "Telephone")}.items() if v}]
              if contact_name else None}
    return {k: v for k, v in fields.items() if v}
