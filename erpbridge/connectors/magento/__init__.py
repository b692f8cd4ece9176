"""The Magento 2 / Adobe Commerce connector (``connector: magento``, role shop), on the adapter kit.

* push: product groups as categories, products (created disabled, their status never written
  again; a product with variants as a configurable product with its variants as linked simple
  children), base and tier prices through the price-storage endpoints (customer prices as tier
  prices of the customer's group), stock per MSI source;
* intake: orders searched by ``updated_at`` in UTC with an overlap window, deduplicated on the
  order number; an order whose payment method waits for payment is released once Magento's
  order state says it is paid; orders canceled and credit memos created in Magento go to the
  ERP as cancellations and returns, once each (Magento Open Source has no webhooks);
* feedback: order status as comments (and cancel), shipments with tracking and items per part
  delivery, an invoice per shipment (Magento puts the freight on the first), credit memos; each
  looked up on the order before it is created, because ``ship``/``invoice``/``refund`` are not
  idempotent in Magento and the outbox delivers at least once.

See :mod:`.spec` for the config and :mod:`.connector` for how each operation works.
"""
