"""Connectors: the code that talks to one kind of system (files, tryton, the shop's webhooks...).

Inside a connector, an *adapter* speaks the wire protocol and a *mapper* turns that system's
records into canonical records and back. Every connector reports failures as one of the two
errors in :mod:`erpbridge.connectors.base`, because the outbox and the semaphore act on the
difference.
"""
