"""erpbridge: an integration hub between an online shop and an ERP.

The shop reads catalog, prices, stock and customers from erpbridge's store (fast, whatever
state the ERP is in); the ERP's exports flow into the store as deltas; the shop's orders flow
to the ERP through a durable outbox.
"""

__version__ = "0.1.0"
