"""The Magento 2 / Adobe Commerce connector (``connector: magento``, role shop), on the adapter kit.

* push: product groups as categories, products (created disabled, their status never written
  again), base and tier prices through the price-storage endpoints, stock per MSI source;
* intake: orders searched by ``updated_at`` in UTC with an overlap window, deduplicated on the
  order number; an order whose payment method waits for payment is released once Magento's
  order state says it is paid;
* feedback: order status as comments (and cancel), shipments with tracking and items per part
  delivery, an invoice per shipment (Magento puts the freight on the first), credit memos; each
  looked up on the order before it is created, because ``ship``/``invoice``/``refund`` are not
  idempotent in Magento and the outbox delivers at least once.

See :mod:`.spec` for the config and :mod:`.connector` for how each operation works.
"""
