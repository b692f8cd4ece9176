"""The Tryton system config the tests use against the cached server (beside conftest.py: test
modules import it by a name of their own, since several test folders have a conftest)."""

from __future__ import annotations

from erpbridge.connectors.tryton.spec import TrytonSystem


def system_config(tryton_server, **overrides) -> TrytonSystem:
    values = dict(connector="tryton", url=tryton_server.url, database=tryton_server.database, user=tryton_server.user,
                  password=tryton_server.password, shipping_methods={"standard": "FREIGHT"},
                  payment_methods={"invoice": "Net 30", "card": "Direct"}, warehouses={"WH": "main", "WH2": "south"})
    values.update(overrides)
    return TrytonSystem(**values)
