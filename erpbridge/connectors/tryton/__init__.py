"""The Tryton connector (issue 5): a real ERP over JSON-RPC.

Configure it as a system::

    systems:
      erp:
        connector: tryton
        url: http://127.0.0.1:8000
        database: shop
        user: admin
        password: ${TRYTON_PASSWORD}
        shipping_methods: {standard: FREIGHT}    # shop method -> Tryton freight product code
        payment_methods: {invoice: "Net 30"}     # shop method -> Tryton payment term

:mod:`.adapter` speaks the wire protocol, :mod:`.mapper` translates records,
:mod:`.connector` holds the flows.
"""

from __future__ import annotations

from erpbridge.connectors.tryton.adapter import TrytonAdapter, TrytonUserError
from erpbridge.connectors.tryton.connector import TrytonConnector


def create(app, name: str, cfg) -> TrytonConnector:
    """The connector for system ``name`` of the app's config, its calls in the app's exchange log."""
    from erpbridge.exchange.log import ExchangeLog

    adapter = TrytonAdapter(cfg.url, cfg.database, cfg.user, cfg.password.get_secret_value(), timeout=cfg.timeout,
                            language=cfg.language, system=name, exchange_log=ExchangeLog.for_app(app))
    return TrytonConnector(adapter, cfg, name)


__all__ = ["create", "TrytonConnector", "TrytonAdapter", "TrytonUserError"]
