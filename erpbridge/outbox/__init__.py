"""The outbox: outbound work that is never lost and never overtakes itself.

What it is: every unit of outbound work (send an order, cancel it, create a customer, push stock
to a shop) is a *message* in the ``outbox_messages`` table, written by :func:`enqueue` in the
same transaction as the record change that caused it. Workers (:mod:`erpbridge.outbox.worker`)
claim due messages and deliver them through the connector of the message's *channel* (the name
of a configured system).

Guarantees:

* at least once: a claimed message carries a lease that its worker renews by heartbeat; a worker
  that dies leaves the lease to expire and the message to be claimed again. Connectors make
  creating operations idempotent, so the ERP ends with one order.
* per-key order: within ``(channel, business_key)`` only the lowest message not done can be
  claimed; a dead message blocks its key until it is replayed or discarded.
* message errors are retried with exponential backoff and jitter up to ``max_attempts``, then
  the message is dead; general errors trip the system's :class:`~erpbridge.outbox.semaphore.Semaphore`
  and the messages wait without using attempts.

How to use it::

    with app.engine.begin() as conn:
        app.records.write_in(conn, "orders", [prepare(order)])
        enqueue(conn, channel="erp", operation="send_order", business_key=order.number,
                payload=order.model_dump(mode="json"), record_kind="orders", record_key=order.number)

and run ``erpbridge worker`` (or ``erpbridge run``).
"""

from erpbridge.outbox.messages import NewMessage, discard, enqueue, enqueue_many, replay

__all__ = ["enqueue", "enqueue_many", "NewMessage", "replay", "discard"]
