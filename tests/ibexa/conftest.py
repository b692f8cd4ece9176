"""The Web.Connector served over an app with the Ibexa shop (``served``), for the tests of this folder."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from erpbridge.api import create_api
from erpbridge.connectors.base import GeneralError
from erpbridge.records import Customer, Price

from ibexa_hub import RestErp, ibexa_app
from shop import ApiServer  # tests/tryton/shop.py (on the path through ibexa_hub)


class RealTimeErp:
    """The ERP's real-time lookups, as a connector offers them (``create_api(hub, erp=...)``):
    ``mode`` is ``answer``, ``slow``, ``down`` (a general error) or ``broken`` (any other)."""

    def __init__(self):
        self.mode = "answer"

    def _act(self):
        if self.mode == "slow":
            time.sleep(2)
        if self.mode == "down":
            raise GeneralError("connection refused")
        if self.mode == "broken":
            raise ValueError("the ERP answered nonsense")

    def get_price(self, query):
        self._act()
        return Price(sku=query.sku, amount=Decimal("15.00"), currency="EUR", customer=query.customer)

    def get_customer(self, number):
        self._act()
        return Customer(number=number, name="Jane Doe (from the ERP)", email="jane@example.com")

    def get_document(self, doc_type, number):
        self._act()
        return None


class Served(tuple):
    """``(app, server, client, realtime)``, as the tests unpack it; ``erp`` is the REST ERP the
    app's outbox delivers to."""

    erp: RestErp


@pytest.fixture
def served(tmp_path, db_url, monkeypatch):
    """The API over an app with the Ibexa shop, on SQLite and PostgreSQL, its real time answered by
    RealTimeErp; product A-1 (19.90, 7 on stock) in the store."""
    import zeep

    erp = RestErp()
    app = ibexa_app(tmp_path, erp, db_url, monkeypatch,
                    api={"realtime": {"timeout": 0.3, "cache_ttl": 0}})
    erp.add_product("A-1", "Drill", "19.90", stock={"MAIN": 7})
    from erpbridge.flows.scheduler import run_flow
    for flow in ("catalog", "prices", "stock"):
        assert run_flow(app, flow)["outcome"] == "ok"
    realtime = RealTimeErp()
    server = ApiServer(create_api(app, erp=realtime))
    client = zeep.Client(f"{server.url}/connectors/shop?wsdl")
    served = Served((app, server, client, realtime))
    served.erp = erp
    yield served
    server.close()
    app.close()
    erp.stop()
