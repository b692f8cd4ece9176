"""1C:Enterprise by CommerceML 2: erpbridge is the site 1C's standard exchange ("Обмен с сайтом") calls.

1C pushes its catalog (groups, products), prices and stock as ``import.xml`` and ``offers.xml``
and asks for the site's orders; nothing here calls 1C. Modules: :mod:`.connector` (the router
and the outbox's ``deliver``), :mod:`.exchange` (sessions, uploads, zips, imports, the orders
queue), :mod:`.commerceml` (the documents in and out), :mod:`.tables`, :mod:`.spec` (config).
"""
