"""The ``ibexa`` connector's config and registry entry."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from erpbridge.config_values import Secret
from erpbridge.connectors.registry import Capabilities, ConnectorSpec
from erpbridge.systems import SystemBase


class IbexaSystem(SystemBase):
    """A shop running Ibexa Commerce, which calls erpbridge at ``/connectors/<system>`` as its
    Web.Connector (the Back Office's "URL of the Web-Connector"; the WSDL is at ``?wsdl``)."""

    connector: Literal["ibexa"]
    username: str = Field(min_length=1, description="the Web-Connector user the shop sends (siso_erp...username)")
    password: Secret = Field(description="its password (from the environment or a file)")
    shipping_method: str = Field("standard", min_length=1,
                                 description="an order's shipping method when its SesExtension names none")
    payment_methods: dict[str, str] = Field(default_factory=dict,
                                            description="UBL PaymentMeansCode -> erpbridge payment method code")
    price_context: str = Field("basket", pattern=r"^[a-z_]{1,32}$",
                               description="the real-time price context of a price calculation (api.realtime)")
    tax_rates: dict[str, Annotated[Decimal, Field(ge=0, le=100)]] = Field(
        default_factory=dict, description="a product's tax_class (as the ERP's catalog gives it) -> its VAT percent, "
                                          "answered per line of a price calculation")
    default_tax_rate: Decimal | None = Field(None, ge=0, le=100, description="the VAT percent of a product whose "
                                             "tax_class is empty or not in tax_rates (unset: such a line is answered "
                                             "without VAT and the calculation with status 11)")
    prices_include_tax: bool = Field(False, description="the ERP's prices (in the store and in real time) are gross: "
                                                        "net and VAT are worked out from them")


SPEC = ConnectorSpec(
    name="ibexa", config=IbexaSystem, factory="erpbridge.connectors.ibexa.connector:create",
    capabilities=Capabilities(inbound=True), roles=("shop",),
    description="Ibexa Commerce: erpbridge serves its SOAP Web.Connector (orders, prices, customers, documents)")
