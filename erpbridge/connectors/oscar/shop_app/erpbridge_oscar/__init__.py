"""erpbridge's endpoints in a django-oscar shop, for what django-oscar-api cannot do over HTTP.

Why it exists. django-oscar-api 3.3 upserts products and stock records (``/api/admin/products/``)
but its admin orders are read-only, unfiltered and unpaginated: there is no "orders changed
since", no status change, no shipment, no invoice. Oscar has all of these in its Python API
(``order.set_status``, ``EventHandler.handle_shipping_event``, payment events), so this app
exposes them, each idempotent on erpbridge's key, for admin users only (oscarapi's admin
permission):

* ``GET  orders/?since=<ISO 8601>&limit=<n>``: orders placed, or whose status changed, after
  ``since`` (oscar has no updated timestamp: ``date_placed`` and ``OrderStatusChange`` are both
  indexed), oldest change first; each with ``changed_at``, its lines, addresses and payment.
* ``GET  orders/<number>/``: one order, with its shipments and invoices.
* ``POST orders/<number>/status/ {"status"}``: set the status, walking oscar's
  ``OSCAR_ORDER_STATUS_PIPELINE`` through the statuses between (``new`` to ``shipped`` passes
  ``processing``); the status it already has is a success.
* ``POST orders/<number>/shipments/ {"id", "carrier", "tracking_numbers", "lines"}``: one
  shipping event per ERP shipment (its ``notes`` start with ``erpbridge shipment <id>``, which
  is how a redelivery finds it), the stock allocation consumed; the order is ``shipped`` once
  every line is.
* ``POST orders/<number>/payments/ {"type": "invoice"|"credit_memo", "id", "amount"}``: a payment
  event (``invoiced`` or ``refunded``) whose ``reference`` is the document's id.

Install: put this folder on the shop's ``PYTHONPATH`` (or copy it into the shop project), add
``"erpbridge_oscar"`` to ``INSTALLED_APPS`` and ``path("api/erpbridge/", include("erpbridge_oscar.urls"))``
to the URLs. It has no models and no migrations. Needs django-oscar >= 4 and django-oscar-api >= 3.3.
"""
