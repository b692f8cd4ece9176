"""The settings of a Shopify system (``connector: shopify``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from erpbridge.config_values import Secret
from erpbridge.systems import SystemBase

#: The oldest Admin API version the connector's documents are valid for: 2026-01 brought
#: ``@idempotent`` and ``changeFromQuantity`` (2026-04 makes the key required).
OLDEST_VERSION = "2026-01"


class ShopifySystem(SystemBase):
    """A Shopify store, reached through its Admin GraphQL API as a custom app."""

    connector: Literal["shopify"]
    shop: str = Field(pattern=r"^https?://", description="the store's address: https://<store>.myshopify.com")
    api_version: str = Field(default="2026-04", description="the Admin API version (YYYY-MM, or unstable)")
    access_token: Secret = Field(description="the custom app's Admin API access token (${SHOPIFY_TOKEN})")
    webhook_secret: Secret | None = Field(
        default=None, description="the app's client secret: the key of the webhooks' X-Shopify-Hmac-SHA256")
    locations: dict[str, str] = Field(
        default_factory=dict, description="ERP warehouse -> Shopify location GID (gid://shopify/Location/1)")
    payment_methods: dict[str, str] = Field(
        default_factory=dict, description="Shopify payment gateway -> the ERP's payment method code "
        "(shopify_payments: card); a gateway not listed keeps its name")
    shipping_methods: dict[str, str] = Field(
        default_factory=dict, description="Shopify shipping line code -> the ERP's shipping method code")
    volume_price_list: str | None = Field(
        default=None, description="the B2B price list (gid://shopify/PriceList/<n>) that carries the ERP's volume "
        "prices as quantity price breaks (Shopify Plus B2B; none: volume prices are refused)")
    customer_price_lists: dict[str, str] = Field(
        default_factory=dict, description="ERP customer number -> the price list GID of that customer's B2B "
        "catalog: its customer prices (and their volume tiers) go there; a customer not listed is refused")
    bulk_from: int = Field(
        default=0, ge=0, description="a push message of at least this many products goes as one bulk operation: a "
        "JSONL file uploaded, productSet per line, not charged to the cost bucket (0: never)")
    push_batch: int = Field(
        default=100, ge=1, le=5000, description="records per push message; with bulk_from, e.g. 5000: a full catalog "
        "sync of 100,000 variants is 20 bulk operations (a kind's messages are delivered one after another)")
    bulk_poll_seconds: float = Field(default=2, gt=0, description="seconds between looks at a running bulk operation")
    bulk_wait_seconds: float = Field(default=3600, gt=0, description="how long a bulk push waits for Shopify to "
                                     "finish before the messages are retried (a general error: no attempt used up)")
    new_product_status: Literal["DRAFT", "ACTIVE"] = Field(
        default="DRAFT", description="the status a product gets when it is created; later pushes leave it alone")
    stock_quantity: Literal["available", "on_hand"] = Field(
        default="available", description="which inventory quantity the ERP's stock sets")
    order_overlap: float = Field(default=300, ge=0, description="seconds each order poll reaches back before its "
                                 "cursor (an order saved late is not missed; ones seen again are not doubled)")
    page_size: int = Field(default=50, ge=1, le=250, description="orders per page of a poll")
    cancel_reason: Literal["CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF"] = "OTHER"
    notify_customer: bool = Field(default=False, description="Shopify mails the customer on fulfilments, refunds")
    max_throttle_wait: float = Field(default=120, gt=0, description="seconds a call may wait for the cost bucket "
                                     "before the system counts as busy (a general error: the message waits)")
    timeout: float = Field(default=30, gt=0)

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value != "unstable" and not re.fullmatch(r"\d{4}-(01|04|07|10)", value):
            raise ValueError(f"{value!r} is not a Shopify API version (YYYY-01, -04, -07, -10, or unstable)")
        if value != "unstable" and value < OLDEST_VERSION:
            raise ValueError(f"{value} is older than {OLDEST_VERSION}, the first version with @idempotent and "
                             "changeFromQuantity, which the connector's inventory and refund calls use")
        return value

    @field_validator("volume_price_list")
    @classmethod
    def _price_list(cls, value: str | None) -> str | None:
        if value is not None:
            _check_gids("PriceList", {"volume_price_list": value})
        return value

    @field_validator("customer_price_lists")
    @classmethod
    def _price_lists(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_gids("PriceList", value)

    @field_validator("locations")
    @classmethod
    def _locations(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_gids("Location", value)


def _check_gids(kind: str, values: dict[str, str]) -> dict[str, str]:
    """``values`` (name -> GID) when each is a GID of ``kind``; else the error naming the wrong ones."""
    wrong = [f"{name}: {gid!r}" for name, gid in values.items() if not re.fullmatch(rf"gid://shopify/{kind}/\d+", gid)]
    if wrong:
        raise ValueError(f"not a {kind} GID (gid://shopify/{kind}/<n>): {', '.join(wrong)}")
    return values
