"""The oscar connector's registry entry and its config (``connector: oscar``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from erpbridge.config_values import Secret
from erpbridge.connectors.registry import Capabilities, ConnectorSpec
from erpbridge.records.base import CurrencyCode
from erpbridge.systems import SystemBase

#: erpbridge's order status -> oscar's (None: oscar is not told); the test shop's pipeline, a usual one.
STATUSES: dict[str, str | None] = {"received": None, "processing": "processing", "partially_shipped": "processing",
                                   "shipped": "shipped", "completed": "completed", "cancelled": "cancelled"}


class OscarSystem(SystemBase):
    """A django-oscar shop with django-oscar-api's admin API open (``OSCARAPI_BLOCK_ADMIN_API_ACCESS = False``)
    and erpbridge's shop app installed (``erpbridge_oscar``, see the README)."""

    connector: Literal["oscar"]
    url: str = Field(pattern=r"^https?://", description="the shop's root URL (its API is under /api/)")
    user: str = Field(description="a staff user of the shop (oscarapi's admin API and erpbridge_oscar need one)")
    password: Secret
    timeout: float = Field(default=30, gt=0, description="seconds per call")
    partner: str = Field(default="erpbridge", description="the oscar partner whose stock records erpbridge keeps "
                         "(created when missing); its SKUs are the store's")
    product_class: str = Field(default="goods", description="slug of the product class of new products "
                               "(created, with stock tracking, when missing)")
    currency: CurrencyCode = Field(default="EUR", description="the shop's currency: the store's list prices in it "
                                   "are the stock records' prices")
    poll_overlap: float = Field(default=60, ge=0, description="seconds an order poll reaches back before the last "
                                "one (clock skew between hub and shop); orders seen twice are taken in once")
    shipping_methods: dict[str, str] = Field(default_factory=dict,
                                             description="oscar shipping code -> the store's (default: the same)")
    payment_methods: dict[str, str] = Field(default_factory=dict,
                                            description="oscar payment source type code -> the store's")
    default_payment_method: str = Field(default="oscar", description="the payment method of an order without a "
                                        "payment source (oscarapi's checkout records none)")
    statuses: dict[str, str | None] = Field(default_factory=lambda: dict(STATUSES),
                                            description="erpbridge order status -> oscar status (null: not sent)")


SPEC = ConnectorSpec(
    name="oscar", config=OscarSystem, factory="erpbridge.connectors.oscar.connector:create",
    capabilities=Capabilities(intake=frozenset({"orders"}), push=frozenset({"products", "prices", "stock"}),
                              feedback=frozenset({"order_statuses", "shipments", "invoices", "credit_memos"})),
    roles=("shop",),
    default_flows={"orders": {"schedule": "* * * * *"}, "catalog": {"schedule": "*/15 * * * *"},
                   "prices": {"schedule": "*/5 * * * *"}, "stock": {"schedule": "* * * * *", "on_change": True},
                   "feedback": {"schedule": "* * * * *"}},
    description="django-oscar 4.2 with django-oscar-api 3.3: catalog, prices, stock out; orders in; "
                "status, shipments, invoices back",
)
