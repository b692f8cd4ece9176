"""Commerceup's "ERP APIs", served by erpbridge (seed 002): the shop calls erpbridge as its ERP.

Commerceup calls APIs hosted at the ERP's end: create customer (must return the ERP customer
id), create order (must return the ERP order id), cancel order (must return a success flag),
with Basic auth (or ``username``/``password`` headers, or a bearer token), JSON or XML. Only a
few public pages describe them and none gives the fields, so the contract erpbridge serves is
its own, written down in :mod:`.contract` and the README, and tested as such.
"""
