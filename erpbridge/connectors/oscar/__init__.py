"""The django-oscar connector (``connector: oscar``): a django-oscar 4.2 shop with django-oscar-api 3.3.

Products, their categories, prices and stock go to oscarapi's admin API (upserts by UPC, stock
records by partner SKU); orders come in, and status, shipments and invoices go back, through the
shop app shipped in :mod:`.shop_app` (``erpbridge_oscar``), because oscarapi has no endpoints for
them. See :mod:`.connector`.
"""
