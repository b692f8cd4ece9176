"""Shopify's records and erpbridge's, both ways: an order as the Admin API answers it
(:data:`~erpbridge.connectors.shopify.documents.ORDER_FIELDS`) into a canonical order, and a
canonical product into a ``ProductSetInput``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from erpbridge.records import Order

#: The one option of a product without variants of its own, as Shopify names it.
DEFAULT_OPTION = {"optionName": "Title", "name": "Default Title"}


def _money(value: dict | None) -> Decimal:
    return Decimal(str(((value or {}).get("shopMoney") or {}).get("amount") or 0))


def _address(value: dict | None) -> dict | None:
    if not value:
        return None
    return {"name": value.get("name"), "company": value.get("company"), "street": value.get("address1"),
            "street2": value.get("address2"), "postcode": value.get("zip"), "city": value.get("city"),
            "country": value.get("countryCodeV2"), "phone": value.get("phone")}


def order_number(node: dict) -> str:
    """The shop order number erpbridge keys the order by: Shopify's name without its ``#``."""
    return str(node.get("name") or "").lstrip("#")


def order_record(node: dict, payment_methods: dict[str, str] | None = None,
                 shipping_methods: dict[str, str] | None = None) -> Order:
    """A canonical order from an Admin API ``Order`` (a missing billing address is the shipping
    one); gateways and shipping codes are translated by the system's ``payment_methods`` and
    ``shipping_methods``."""
    lines = []
    for item in (node.get("lineItems") or {}).get("nodes") or []:
        unit, discount, quantity = _money(item.get("originalUnitPriceSet")), _money(item.get("totalDiscountSet")), \
            Decimal(item.get("quantity") or 0)
        lines.append({"sku": item.get("sku"), "name": item.get("name"), "quantity": quantity, "unit_price": unit,
                      "discount": discount, "total": unit * quantity - discount})
    shipping = node.get("shippingLine") or {}
    billing, delivery = _address(node.get("billingAddress")), _address(node.get("shippingAddress"))
    gateway = next(iter(node.get("paymentGatewayNames") or []), None) or "none"
    carrier = shipping.get("code") or shipping.get("title") or "none"
    return Order.model_validate({
        "number": order_number(node), "placed_at": node.get("createdAt"), "email": node.get("email"),
        "currency": node.get("currencyCode"), "billing_address": billing or delivery,
        "shipping_address": delivery or billing, "lines": lines,
        "shipping_method": (shipping_methods or {}).get(carrier, carrier),
        "payment_method": (payment_methods or {}).get(gateway, gateway),
        "shipping_amount": _money(shipping.get("originalPriceSet")),
        "discount_amount": _money(node.get("totalDiscountsSet")),
        "coupon_code": next(iter(node.get("discountCodes") or []), None),
        "tax_amount": _money(node.get("totalTaxSet")), "grand_total": _money(node.get("totalPriceSet"))})


def product_input(record: dict, *, new_status: str | None, variants: list[dict] | None = None,
                  options: list[str] | None = None) -> dict[str, Any]:
    """The ``ProductSetInput`` of a canonical product (with the store's ``enabled``).

    Without ``variants``: one variant carrying the product's SKU, EAN and list price under
    Shopify's default option. With them (the product is the parent its variants name by
    ``parent_sku``): one Shopify product whose ``productOptions`` are ``options`` (the parent's
    axes, the variants' ``attributes`` names) with the values the variants use, and one variant
    per canonical variant with its values of those axes (Shopify needs every variant to name a
    value of every option). ``new_status`` only for a product Shopify does not have yet: a later
    push never touches the status the merchant set."""
    if variants:
        axes = options or []
        values: dict[str, list[str]] = {axis: [] for axis in axes}
        for variant in variants:
            for axis in axes:
                if variant["attributes"][axis] not in values[axis]:
                    values[axis].append(variant["attributes"][axis])
        product_options = [{"name": axis, "values": [{"name": v} for v in values[axis]]} for axis in axes]
        items = [_variant(v, [{"optionName": axis, "name": v["attributes"][axis]} for axis in axes])
                 for v in variants]
    else:
        product_options = [{"name": DEFAULT_OPTION["optionName"], "values": [{"name": DEFAULT_OPTION["name"]}]}]
        items = [_variant(record, [DEFAULT_OPTION])]
    data: dict[str, Any] = {"title": record["name"], "productOptions": product_options, "variants": items}
    description = record.get("description") or record.get("short_description")
    if description:
        data["descriptionHtml"] = description
    if record.get("group"):
        data["productType"] = record["group"]
    if new_status:
        data["status"] = new_status
    return data


def _variant(record: dict, option_values: list[dict]) -> dict[str, Any]:
    variant: dict[str, Any] = {"sku": record["sku"], "optionValues": option_values}
    if record.get("ean"):
        variant["barcode"] = record["ean"]
    if record.get("list_price") is not None:
        variant["price"] = str(record["list_price"])
    return variant
