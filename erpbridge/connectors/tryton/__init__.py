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
:mod:`.connector` holds the flows; :mod:`.spec` registers it with its default flows.
"""

