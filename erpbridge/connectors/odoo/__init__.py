"""The Odoo connector (issue 15): Odoo 17 to 19 over ``/jsonrpc`` or Odoo 19's ``/json/2``.

Configure it as a system::

    systems:
      erp:
        connector: odoo
        url: https://mycompany.odoo.com
        database: mycompany
        api: json2                          # or jsonrpc (then also login: the user's login)
        api_key: ${ODOO_API_KEY}
        shipping_methods: {standard: FREIGHT}

``examples/odoo/`` holds a complete config. :mod:`.adapter` speaks both wires, :mod:`.mapper`
translates records, :mod:`.connector` holds the flows; :mod:`.spec` registers it.
"""
