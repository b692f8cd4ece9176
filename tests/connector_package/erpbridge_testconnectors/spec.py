"""The registry entries of the test connectors (see pyproject.toml's entry points)."""

from __future__ import annotations

from typing import Literal

from erpbridge.connectors.base import ERP_OPERATIONS
from erpbridge.connectors.registry import FETCH_KINDS, Capabilities, ConnectorSpec
from erpbridge.systems import SystemBase


class TestErpSystem(SystemBase):
    connector: Literal["testerp"]
    prefix: str = "TE"


class TestShopSystem(SystemBase):
    connector: Literal["testshop"]


TEST_ERP = ConnectorSpec(
    name="testerp", config=TestErpSystem, factory="erpbridge_testconnectors.connectors:create_erp",
    capabilities=Capabilities(deliver=frozenset(ERP_OPERATIONS), fetch=frozenset(FETCH_KINDS)),
    roles=("erp",), message_settings=frozenset({"timeout"}),
    description="an ERP in memory, for tests")

TEST_SHOP = ConnectorSpec(
    name="testshop", config=TestShopSystem, factory="erpbridge_testconnectors.connectors:create_shop",
    capabilities=Capabilities(intake=frozenset({"orders"}), push=frozenset({"products", "prices", "stock"}),
                              feedback=frozenset({"order_statuses", "shipments", "invoices"})),
    roles=("shop",), default_flows={"orders": {"schedule": "* * * * *"}, "catalog": {"schedule": "*/5 * * * *"},
                                    "prices": {"schedule": "*/5 * * * *"}, "stock": {"schedule": "* * * * *"},
                                    "feedback": {"schedule": "* * * * *"}},
    description="a shop platform in memory, for tests")
