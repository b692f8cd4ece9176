"""Magento's records and erpbridge's canonical ones, both ways.

Orders come in as Magento answers them (``sales-data-order-interface``): the shipping address
and method sit in ``extension_attributes.shipping_assignments[0].shipping``; a configurable or
bundle product is a parent item with its children, and only the parents are order lines (the
parent carries the child's SKU and the price). Amounts are taken with their tax
(``price_incl_tax``, ``shipping_incl_tax``), so that the lines, the freight and the line
discounts add up to Magento's ``grand_total``: an order that does not add up is rejected by
name rather than sent to the ERP with other totals (a common complaint about Magento-ERP
connectors).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from erpbridge.mapping.mapper import FieldError, RecordRejected
from erpbridge.records import Order

#: Magento's time format (UTC) in answers and searches.
TIME = "%Y-%m-%d %H:%M:%S"
DISABLED, ENABLED = 2, 1


def magento_time(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime(TIME)


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, TIME).replace(tzinfo=dt.timezone.utc)


def _amount(*values: Any) -> Decimal:
    """The first value given (Magento omits what is zero), as a decimal."""
    for value in values:
        if value is not None:
            return Decimal(str(value))
    return Decimal(0)


def _address(data: dict) -> dict:
    street = data.get("street") or []
    return {"name": " ".join(p for p in (data.get("firstname"), data.get("lastname")) if p),
            "company": data.get("company") or None, "street": street[0] if street else "",
            "street2": street[1] if len(street) > 1 else None, "postcode": data.get("postcode") or "",
            "city": data.get("city") or "", "country": data.get("country_id") or "",
            "phone": data.get("telephone") or None, "email": data.get("email") or None}


def shipping_of(order: dict) -> dict:
    assignments = (order.get("extension_attributes") or {}).get("shipping_assignments") or [{}]
    return assignments[0].get("shipping") or {}


def top_items(order: dict) -> list[dict]:
    """The order's lines: items without a parent (what Magento ships and invoices)."""
    return [item for item in order.get("items", []) if not item.get("parent_item_id")]


def order(data: dict, *, shipping_methods: dict[str, str], payment_methods: dict[str, str], system: str,
          customer: str | None = None) -> Order:
    """The canonical order of a Magento order (``customer``: the ERP's number of its customer,
    where known); an unmapped shipping or payment method is rejected by field, with where it
    came from and where to map it."""
    shipping = shipping_of(data)
    method = shipping.get("method") or data.get("shipping_method") or ""
    payment = (data.get("payment") or {}).get("method") or ""
    errors = []
    if shipping_methods and method not in shipping_methods:
        errors.append(FieldError("shipping_method", "extension_attributes.shipping_assignments.0.shipping.method",
                                 f"Magento shipping method {method!r} is not mapped in "
                                 f"systems.{system}.shipping_methods"))
    if payment_methods and payment not in payment_methods:
        errors.append(FieldError("payment_method", "payment.method",
                                 f"Magento payment method {payment!r} is not mapped in "
                                 f"systems.{system}.payment_methods"))
    if errors:
        raise RecordRejected(errors)
    lines = []
    for item in top_items(data):
        quantity = _amount(item.get("qty_ordered"))
        price = _amount(item.get("price_incl_tax"), item.get("price"))
        discount = _amount(item.get("discount_amount"))
        lines.append({"sku": item["sku"], "name": item.get("name"), "quantity": quantity, "unit_price": price,
                      "discount": discount, "tax_rate": _amount(item.get("tax_percent")),
                      "total": quantity * price - discount})
    billing = data.get("billing_address") or {}
    return Order.model_validate({
        "number": data.get("increment_id"), "placed_at": parse_time(data["created_at"]), "customer": customer,
        "email": data.get("customer_email"), "currency": data.get("order_currency_code"),
        "billing_address": _address({"email": data.get("customer_email"), **billing}),
        "shipping_address": _address(shipping.get("address") or billing), "lines": lines,
        "shipping_method": shipping_methods.get(method, method),
        "payment_method": payment_methods.get(payment, payment),
        "shipping_amount": _amount(data.get("shipping_incl_tax"), data.get("shipping_amount")),
        "coupon_code": data.get("coupon_code") or None, "tax_amount": _amount(data.get("tax_amount")),
        "grand_total": _amount(data.get("grand_total"))})


def customer_reference(data: dict) -> str | None:
    """The reference a registered customer of an order is created in the ERP by (None: a guest)."""
    if data.get("customer_is_guest") or not data.get("customer_id"):
        return None
    return f"magento-{data['customer_id']}"


def customer_fields(data: dict, reference: str) -> dict:
    """What the ERP is sent to create an order's registered customer: its name, e-mail and the
    order's addresses (Magento's account may hold more; the order's are the ones in use)."""
    billing = _address({"email": data.get("customer_email"), **(data.get("billing_address") or {})})
    shipping = _address(shipping_of(data).get("address") or data.get("billing_address") or {})
    name = " ".join(p for p in (data.get("customer_firstname"), data.get("customer_lastname")) if p)
    return {"reference": reference, "name": name or billing["name"], "email": data.get("customer_email"),
            "invoice_address": billing, "delivery_addresses": [shipping]}


def category_key(code: str) -> str:
    """The ``url_key`` a product group's category is found by (Magento has no external id field)."""
    return "erp-" + "".join(c if c.isalnum() else "-" for c in code.lower())


#: Magento's visibility of a configurable product's children: "Not Visible Individually" (the
#: parent is what the catalog shows; its children are picked through its options).
NOT_VISIBLE = 1
#: Magento's product types erpbridge creates.
SIMPLE, CONFIGURABLE = "simple", "configurable"


def product_body(record: dict, cfg, *, category_ids: list[int], new: bool, type_id: str = SIMPLE,
                 options: dict[str, int] | None = None) -> dict:
    """The ``product`` of a create (``new``) or an update. An update never carries ``status``,
    ``visibility`` or the websites: the merchant's choices in Magento stay (seed 001).

    ``type_id`` ``configurable`` makes a variants' parent; ``options`` (Magento attribute code ->
    option id) are a variant's values of its parent's axes, sent on every update too (the ERP may
    correct a colour), and make a new variant "Not Visible Individually", as Magento's own
    configurable-product wizard creates children."""
    attributes = [{"attribute_code": code, "value": record[field]} for field, code in
                  (("short_description", "short_description"), ("description", "description"), ("ean", "ean"))
                  if record.get(field) is not None]
    attributes += [{"attribute_code": code, "value": str(value)} for code, value in sorted((options or {}).items())]
    if record.get("tax_class") is not None and record["tax_class"] in cfg.tax_classes:
        attributes.append({"attribute_code": "tax_class_id", "value": str(cfg.tax_classes[record["tax_class"]])})
    body: dict[str, Any] = {"sku": record["sku"], "name": record["name"], "custom_attributes": attributes}
    if record.get("weight") is not None:
        body["weight"] = float(Decimal(str(record["weight"])))
    extension: dict[str, Any] = {}
    if category_ids:
        extension["category_links"] = [{"position": 0, "category_id": str(i)} for i in category_ids]
    if new:
        body.update({"attribute_set_id": cfg.attribute_set_id, "type_id": type_id,
                     "visibility": NOT_VISIBLE if options else cfg.visibility,
                     "status": ENABLED if cfg.new_products_enabled else DISABLED,
                     "price": float(Decimal(str(record.get("list_price") or 0)))})
        extension["website_ids"] = list(cfg.website_ids)
    if extension:
        body["extension_attributes"] = extension
    return body
