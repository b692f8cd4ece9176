"""The contract erpbridge serves to Commerceup: the bodies of its calls and of the answers.

Commerceup publishes no field list (seed 002 shows ``body: object {}``, "JSON, or XML"). This is
the contract erpbridge offers, in Commerceup's camelCase; the README shows full examples. XML
bodies carry the same names as elements under any root (``<order><orderId>…``), a list as
repeated ``<item>`` elements (``<items><item>…</item></items>``); answers come in the format
of the request.

* ``createcustomer``: ``customerId`` (Commerceup's own id: the reference), ``name`` or
  ``firstName``/``lastName``, ``email``, ``phone``, ``address{name, company, street, zip,
  city, country}``.
* ``createorder``: ``orderId`` (Commerceup's order number: erpbridge is idempotent on it),
  ``customerId``, ``email``, ``currency``, ``placedAt``, ``billingAddress``, ``shippingAddress``,
  ``items[{sku, name, quantity, price, total}]``, ``shippingMethod``, ``shippingAmount``,
  ``paymentMethod``, ``discountAmount``, ``couponCode``, ``taxAmount``, ``grandTotal``.
* ``cancelorder``: ``orderId``, ``items[{sku, quantity}]`` (none: the whole order), ``reason``.
* ``returnorder``: ``orderId``, ``returnId``, ``items[{sku, quantity}]``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from lxml import etree

_PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False,
                          remove_blank_text=True)
#: Elements whose children are a list in XML bodies.
LISTS = frozenset({"items"})


class BadRequest(Exception):
    """A body Commerceup sent that cannot be taken: ``errors`` are (field, reason) pairs."""

    def __init__(self, message: str, errors: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.errors = errors or []


def _from_xml(element: etree._Element) -> Any:
    kids = [c for c in element if isinstance(c.tag, str)]
    if not kids:
        return (element.text or "").strip() or None
    if etree.QName(element).localname in LISTS:
        return [_from_xml(c) for c in kids]
    return {etree.QName(c).localname: _from_xml(c) for c in kids}


def is_xml(content_type: str | None) -> bool:
    return "xml" in (content_type or "").lower()


def read_body(content: bytes, content_type: str | None, what: str) -> dict:
    """The request body as a dict, from JSON or XML (parsed as untrusted input)."""
    if not content.strip():
        raise BadRequest(f"{what}: the body is empty")
    if is_xml(content_type):
        try:
            root = etree.fromstring(content, _PARSER)
        except etree.XMLSyntaxError as exc:
            raise BadRequest(f"{what}: the body is not well-formed XML: {exc}") from None
        body = _from_xml(root)
    else:
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"{what}: the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"{what}: the body must be an object")
    return body


def _to_xml(parent: etree._Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if item is not None:
                _to_xml(etree.SubElement(parent, key), item)
    elif isinstance(value, list):
        for item in value:
            _to_xml(etree.SubElement(parent, "item"), item)
    else:
        parent.text = str(value).lower() if isinstance(value, bool) else str(value)


def render(answer: dict, xml: bool) -> tuple[bytes, str]:
    if not xml:
        return orjson.dumps(answer), "application/json"
    root = etree.Element("response")
    _to_xml(root, answer)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8"), "application/xml; charset=utf-8"


def text(body: dict, field: str, what: str, *, required: bool = False) -> str | None:
    value = body.get(field)
    if value is None or value == "":
        if required:
            raise BadRequest(f"{what}: {field} is missing", [(field, "required")])
        return None
    if isinstance(value, (dict, list)):
        raise BadRequest(f"{what}: {field} must be a text", [(field, "must be a text")])
    return str(value)


def _decimal(value: Any, field: str, what: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise BadRequest(f"{what}: {field} {value!r} is not a number", [(field, "not a number")]) from None


def address(value: Any, field: str, what: str) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest(f"{what}: {field} must be an object", [(field, "must be an object")])
    out = {"name": value.get("name"), "company": value.get("company"), "street": value.get("street"),
           "street2": value.get("street2"), "postcode": value.get("zip") or value.get("postcode"),
           "city": value.get("city"), "country": value.get("country"), "phone": value.get("phone"),
           "email": value.get("email")}
    return {k: str(v) for k, v in out.items() if v not in (None, "")}


def _items(body: dict, what: str, *, required: bool) -> list[dict]:
    items = body.get("items")
    if items is None:
        if required:
            raise BadRequest(f"{what}: items is missing", [("items", "required")])
        return []
    if isinstance(items, dict):  # one <item> in XML
        items = [items]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BadRequest(f"{what}: items must be a list of objects", [("items", "must be a list of objects")])
    return items


def customer_fields(body: dict, what: str) -> dict:
    reference = text(body, "customerId", what, required=True)
    name = text(body, "name", what) or " ".join(filter(None, (text(body, "firstName", what),
                                                                text(body, "lastName", what))))
    fields = {"reference": reference, "name": name or None, "email": text(body, "email", what),
              "invoice_address": address(body.get("address"), "address", what)}
    if fields["invoice_address"] is not None:
        fields["invoice_address"].setdefault("name", name)
    return {k: v for k, v in fields.items() if v is not None}


def order_fields(body: dict, defaults: dict, what: str) -> dict:
    """The fields of an erpbridge order from a createorder body."""
    lines = []
    for i, item in enumerate(_items(body, what, required=True)):
        quantity = _decimal(item.get("quantity"), f"items.{i}.quantity", what)
        price = _decimal(item.get("price"), f"items.{i}.price", what)
        total = _decimal(item.get("total"), f"items.{i}.total", what)
        if total is None and quantity is not None and price is not None:
            total = quantity * price
        lines.append({k: v for k, v in {"sku": item.get("sku"), "name": item.get("name"), "quantity": quantity,
                                        "unit_price": price, "total": total}.items() if v is not None})
    billing = address(body.get("billingAddress"), "billingAddress", what)
    placed = text(body, "placedAt", what)
    fields = {
        "number": text(body, "orderId", what, required=True),
        "placed_at": placed,  # None: the connector takes the stored order's (a repeat) or now
        "customer": text(body, "customerId", what), "email": text(body, "email", what),
        "currency": text(body, "currency", what) or defaults["currency"],
        "billing_address": billing,
        "shipping_address": address(body.get("shippingAddress"), "shippingAddress", what) or billing,
        "lines": lines,
        "shipping_method": text(body, "shippingMethod", what) or defaults["shipping_method"],
        "payment_method": text(body, "paymentMethod", what) or defaults["payment_method"],
        "shipping_amount": _decimal(body.get("shippingAmount"), "shippingAmount", what),
        "discount_amount": _decimal(body.get("discountAmount"), "discountAmount", what),
        "coupon_code": text(body, "couponCode", what),
        "tax_amount": _decimal(body.get("taxAmount"), "taxAmount", what),
        "grand_total": _decimal(body.get("grandTotal"), "grandTotal", what),
    }
    if fields["grand_total"] is None:
        fields["grand_total"] = sum((line.get("total", Decimal(0)) for line in lines), Decimal(0)) \
            + (fields["shipping_amount"] or 0) - (fields["discount_amount"] or 0)
    return {k: v for k, v in fields.items() if v is not None}


def item_lines(body: dict, what: str) -> list[dict]:
    """Cancelled or returned items: ``[{sku, quantity}]`` as erpbridge's lines."""
    lines = []
    for i, item in enumerate(_items(body, what, required=False)):
        quantity = _decimal(item.get("quantity"), f"items.{i}.quantity", what)
        lines.append({"sku": item.get("sku"), "quantity": quantity if quantity is not None else Decimal(1)})
    return lines


#: A record field (pydantic's ``loc``) as the name Commerceup sent it under.
FIELD_NAMES = {"number": "orderId", "placed_at": "placedAt", "customer": "customerId",
               "billing_address": "billingAddress",
               "shipping_address": "shippingAddress", "lines": "items", "shipping_method": "shippingMethod",
               "payment_method": "paymentMethod", "shipping_amount": "shippingAmount",
               "discount_amount": "discountAmount", "coupon_code": "couponCode", "tax_amount": "taxAmount",
               "grand_total": "grandTotal", "unit_price": "price", "postcode": "zip", "reference": "customerId",
               "invoice_address": "address"}


def field_name(location: tuple | list) -> str:
    return ".".join(FIELD_NAMES.get(str(part), str(part)) for part in location)
