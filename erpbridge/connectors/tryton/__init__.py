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

``examples/tryton/`` holds a complete config and the script that sets up a fresh Tryton
database for it. :mod:`.adapter` speaks the wire protocol, :mod:`.mapper` translates records,
:mod:`.connector` holds the flows.
"""

from __future__ import annotations

from erpbridge.connectors.tryton.adapter import TrytonAdapter, TrytonUserError
from erpbridge.connectors.tryton.connector import TrytonConnector


#: The flows a Tryton ERP brings (``erpbridge flows`` marks them as its defaults), on seed 004's
#: rhythm: the catalog nightly in full, prices hourly, stock every 5 minutes, customers hourly,
#: feedback (statuses, shipments, invoices, credit memos) every 5 minutes, 2 minutes after stock
#: so the two do not ask Tryton at the same moment. A flow of the same name under ``flows:``
#: replaces one, or with ``enabled: false`` switches it off.
DEFAULT_FLOWS: dict[str, dict] = {
    "catalog": {"schedule": "0 2 * * *", "mode": "full"},
    "prices": {"schedule": "5 * * * *"},
    "stock": {"schedule": "*/5 * * * *"},
    "customers": {"schedule": "15 * * * *"},
    "feedback": {"schedule": "2-59/5 * * * *"},
}


def create(app, name: str, cfg) -> TrytonConnector:
    """The connector for system ``name`` of the app's config, its calls in the app's exchange log."""
    from erpbridge.exchange.log import ExchangeLog

    adapter = TrytonAdapter(cfg.url, cfg.database, cfg.user, cfg.password.get_secret_value(), timeout=cfg.timeout,
                            language=cfg.language, system=name, exchange_log=ExchangeLog.for_app(app))
    return TrytonConnector(adapter, cfg, name)


__all__ = ["create", "DEFAULT_FLOWS", "TrytonConnector", "TrytonAdapter", "TrytonUserError"]
