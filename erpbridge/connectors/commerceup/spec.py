"""The ``commerceup`` connector's config and registry entry."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from erpbridge.config_values import Secret
from erpbridge.connectors.registry import Capabilities, ConnectorSpec
from erpbridge.systems import SystemBase


class CommerceupSystem(SystemBase):
    """A Commerceup shop, which calls erpbridge's ERP APIs at ``/connectors/<system>/...``
    (enter that base URL and the credentials in Commerceup's ERP integration)."""

    connector: Literal["commerceup"]
    username: str | None = Field(None, min_length=1, description="the user Commerceup sends (Basic or headers)")
    password: Secret | None = Field(None, description="its password (from the environment or a file)")
    token: Secret | None = Field(None, description="a bearer token Commerceup may send instead")
    customer_wait: float = Field(2.0, ge=0, le=30, description="seconds create customer waits for the ERP's number "
                                                               "before answering a provisional id")
    shipping_method: str = Field("standard", min_length=1, description="an order's shipping method if it names none")
    payment_method: str = Field("invoice", min_length=1, description="an order's payment method if it names none")

    @model_validator(mode="after")
    def _some_credentials(self) -> "CommerceupSystem":
        if self.token is None and (self.username is None or self.password is None):
            raise ValueError("set username and password (Basic auth, Commerceup's minimum) or token (bearer)")
        return self


SPEC = ConnectorSpec(
    name="commerceup", config=CommerceupSystem, factory="erpbridge.connectors.commerceup.connector:create",
    capabilities=Capabilities(inbound=True), roles=("shop",),
    description="Commerceup: erpbridge serves its ERP APIs (create customer, create order, cancel, return)")
