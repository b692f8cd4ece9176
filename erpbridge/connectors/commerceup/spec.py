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
    # The way back, through Commerceup's own open API (stock and order statuses); off without a key.
    api_url: str = Field("https://api.commerceup.io/v1", description="Commerceup's open API")
    project_hash: str | None = Field(None, min_length=1, description="the project in /v1/:projecthash/...")
    api_key: Secret | None = Field(None, description="its x-api-key: with it, stock and order statuses are pushed")
    timeout: float = Field(30, gt=0, description="seconds to wait for Commerceup's API")

    @model_validator(mode="after")
    def _some_credentials(self) -> "CommerceupSystem":
        if self.token is None and (self.username is None or self.password is None):
            raise ValueError("set username and password (Basic auth, Commerceup's minimum) or token (bearer)")
        if (self.api_key is None) != (self.project_hash is None):
            raise ValueError("set both api_key and project_hash to push stock and order statuses, or neither")
        return self


#: Everything a Commerceup system can do; one without ``api_key`` only serves its endpoints.
UNION = Capabilities(inbound=True, push=frozenset({"stock"}), feedback=frozenset({"order_statuses"}))


def configured(system: CommerceupSystem) -> Capabilities:
    return UNION if system.api_key is not None else Capabilities(inbound=True)


SPEC = ConnectorSpec(
    name="commerceup", config=CommerceupSystem, factory="erpbridge.connectors.commerceup.connector:create",
    capabilities=UNION, configured=configured, roles=("shop",),
    default_flows={"stock": {"schedule": "*/5 * * * *", "on_change": True}, "feedback": {"schedule": "*/5 * * * *"}},
    description="Commerceup: erpbridge serves its ERP APIs (create customer, create order, cancel, return)")
