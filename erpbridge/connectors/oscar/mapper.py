"""Between oscar's JSON and erpbridge's records: an oscar order as an :class:`Order`, a product
as the body of oscarapi's product upsert. Pure functions of their input and the system's config."""

from __future__ import annotations

import re
from decimal import Decimal

from erpbridge.records import Record
from erpbridge.records.orders import Order

#: The fields of oscar's address lines that make up a street (line4 is the city in oscar).
_STREET = ("line1", "line2", "line3")


def order(cfg, data: dict) -> Order:
    """An oscar order (as ``erpbridge_oscar`` answers it) as the store's order. Prices are oscar's
    tax-inclusive ones; oscar's basket discounts are the order's discount."""
    shipping = _address(data.get("shipping_address"), "shipping_address")
    billing = _address(data.get("billing_address"), "billing_address") if data.get("billing_address") else shipping
    email = data.get("email") or None
    lines = [{"sku": line["sku"], "name": line.get("title"), "quantity": line["quantity"],
              "unit_price": line["unit_price_incl_tax"], "total": line["line_price_incl_tax"],
              "tax_rate": line.get("tax_rate") or 0} for line in data.get("lines") or []]
    for i, line in enumerate(lines):
        if not line["sku"]:
            raise ValueError(f"lines[{i}]: the order line has no partner SKU (a product without a stock record)")
    sources = data.get("payment") or []
    payment = (cfg.payment_methods.get(sources[0]["source"], sources[0]["source"]) if sources
               else cfg.default_payment_method)
    code = data.get("shipping_code") or "default"
    total, excl = Decimal(data["total_incl_tax"]), Decimal(data.get("total_excl_tax") or data["total_incl_tax"])
    return Order.model_validate({
        "number": data["number"], "placed_at": data["date_placed"], "email": email,
        "customer": None, "currency": data["currency"],
        "billing_address": {**billing, "email": email}, "shipping_address": shipping, "lines": lines,
        "shipping_method": cfg.shipping_methods.get(code, code), "payment_method": payment,
        "shipping_amount": data.get("shipping_incl_tax") or 0, "discount_amount": data.get("discount_incl_tax") or 0,
        "coupon_code": (data.get("voucher_codes") or [None])[0], "tax_amount": total - excl, "grand_total": total,
    })


def _address(a: dict | None, field: str) -> dict:
    if not a:
        raise ValueError(f"{field}: the order has none")
    name = " ".join(p for p in (a.get("first_name"), a.get("last_name")) if p)
    street = [a[k] for k in _STREET if a.get(k)]
    return {"name": name, "street": street[0] if street else "", "street2": ", ".join(street[1:]) or None,
            "postcode": a.get("postcode") or "", "city": a.get("line4") or a.get("state") or "",
            "country": a.get("country") or "", "phone": a.get("phone_number") or None}


def slug(sku: str) -> str:
    """A product's slug in oscar (required on create; oscar's URLs use it)."""
    return re.sub(r"[^a-z0-9]+", "-", sku.lower()).strip("-") or "product"


def product_update(product: Record, category: str | None) -> dict:
    """What every push of a product sets: never ``is_public``, which is the merchant's once the
    product exists (created disabled; seed 001)."""
    body = {"upc": product.sku, "title": product.name, "description": product.description or product.short_description
            or ""}
    if category:
        body["categories"] = [category]
    return body


def stock_record(partner: str, sku: str, **values) -> dict:
    return {"partner": partner, "partner_sku": sku, **values}
