"""Products and product groups: master data that flows ERP -> store -> shop."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from erpbridge.records.base import Code, CurrencyCode, Money, Quantity, Record, Text


class ProductGroup(Record):
    """A node of the category tree; ``parent`` is another group's code."""

    kind: ClassVar[str] = "product_groups"
    key_fields: ClassVar[tuple[str, ...]] = ("code",)

    code: Code
    name: Text = Field(min_length=1)
    parent: Code | None = None
    position: int = 0


class Product(Record):
    """A sellable item, or the configurable parent of variants.

    ``enabled`` is not part of the record: it belongs to the shop's side (seed 001: products
    the ERP creates arrive disabled, a merchant enables them once they are ready), so an ERP
    import never changes it after the product exists.
    """

    kind: ClassVar[str] = "products"
    key_fields: ClassVar[tuple[str, ...]] = ("sku",)

    sku: Code
    name: Text = Field(min_length=1)
    ean: Code | None = None
    group: Code | None = None
    short_description: Text | None = None
    description: Text | None = None
    unit: Code = "piece"
    list_price: Money | None = None
    currency: CurrencyCode | None = None
    tax_class: Code | None = None
    weight: Quantity | None = Field(default=None, ge=0)
    #: For a variant: the configurable parent's SKU.
    parent_sku: Code | None = None
    #: Free attributes (color, size...); for a variant, its values of the parent's axes.
    attributes: dict[str, str] = Field(default_factory=dict)

    @field_validator("attributes")
    @classmethod
    def _sorted(cls, value: dict[str, str]) -> dict[str, str]:
        # The same attributes in another order are the same content (and the same hash).
        return dict(sorted(value.items()))
