"""Every GraphQL document the Shopify connector sends, in one place, so the tests validate each
against the official Admin schema of the configured API version (tests/shopify).

Where 2026-04 requires it, a mutation carries ``@idempotent(key: $key)``: Shopify answers a
repeated key with the first answer, so an outbox redelivery (at least once) changes nothing.
The mutations without it (``productSet``, ``fulfillmentCreate``, ``orderCapture``,
``orderCancel``) are made idempotent by looking first (see the connector).
"""

from __future__ import annotations

_MONEY = "shopMoney { amount currencyCode }"
_ADDRESS = "name company address1 address2 zip city countryCodeV2 phone"

ORDER_FIELDS = f"""
fragment OrderFields on Order {{
  id name createdAt updatedAt cancelledAt email currencyCode paymentGatewayNames discountCodes
  billingAddress {{ {_ADDRESS} }}
  shippingAddress {{ {_ADDRESS} }}
  lineItems(first: 250) {{
    nodes {{ id sku name quantity originalUnitPriceSet {{ {_MONEY} }} totalDiscountSet {{ {_MONEY} }} }}
  }}
  shippingLine {{ code title originalPriceSet {{ {_MONEY} }} }}
  totalPriceSet {{ {_MONEY} }}
  totalTaxSet {{ {_MONEY} }}
  totalDiscountsSet {{ {_MONEY} }}
  cancellation {{ staffNote }}
  refunds(first: 10) {{ id note refundLineItems(first: 50) {{ nodes {{ quantity restockType lineItem {{ sku }} }} }} }}
}}
"""

#: Orders changed since a time, oldest change first (``query: "updated_at:>='...'"``).
ORDERS = """
query Orders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes { ...OrderFields }
    pageInfo { hasNextPage endCursor }
  }
}
""" + ORDER_FIELDS

#: One order, by its GID (what a webhook names).
ORDER = """
query Order($id: ID!) {
  order(id: $id) { ...OrderFields }
}
""" + ORDER_FIELDS

#: The variants of some SKUs (``query: "sku:'A-1' OR sku:'B-2'"``): their product, price and inventory item.
VARIANTS_BY_SKU = """
query VariantsBySku($first: Int!, $query: String!) {
  productVariants(first: $first, query: $query) {
    nodes { id sku price product { id status } inventoryItem { id } }
  }
}
"""

#: The stock of some SKUs' variants (the same query): one quantity by name per inventory level,
#: ``levels`` levels per variant (the stock reconciliation's read-back).
STOCK_BY_SKU = """
query StockBySku($first: Int!, $query: String!, $levels: Int!, $names: [String!]!) {
  productVariants(first: $first, query: $query) {
    nodes { sku inventoryItem { inventoryLevels(first: $levels) {
      nodes { location { id } quantities(names: $names) { name quantity } } } } }
  }
}
"""

#: A product with its variants, created or updated in one call (lists given replace Shopify's).
PRODUCT_SET = """
mutation ProductSet($input: ProductSetInput!, $identifier: ProductSetIdentifiers) {
  productSet(input: $input, identifier: $identifier, synchronous: true) {
    product { id status variants(first: 250) { nodes { id sku inventoryItem { id } } } }
    userErrors { field message code }
  }
}
"""

#: The mutation a bulk catalog push runs once per line of its JSONL file (each line: these variables).
BULK_PRODUCT_SET = """
mutation ProductSet($input: ProductSetInput!, $identifier: ProductSetIdentifiers) {
  productSet(input: $input, identifier: $identifier) {
    product { id }
    userErrors { field message code }
  }
}
"""

#: Where to upload a bulk operation's JSONL file (a form POST with these parameters).
STAGED_UPLOAD = """
mutation StagedUpload($input: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $input) {
    stagedTargets { url resourceUrl parameters { name value } }
    userErrors { field message }
  }
}
"""

#: Run a mutation once per line of the uploaded file.
BULK_RUN = """
mutation BulkRun($mutation: String!, $path: String!, $client: String) {
  bulkOperationRunMutation(mutation: $mutation, stagedUploadPath: $path, clientIdentifier: $client) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""

_BULK_FIELDS = "id status errorCode objectCount url partialDataUrl"

#: A bulk operation's progress; when COMPLETED, ``url`` is its JSONL result file.
BULK_OPERATION = f"""
query BulkOperation($id: ID!) {{
  bulkOperation(id: $id) {{ {_BULK_FIELDS} }}
}}
"""

#: The bulk mutation running for this app (one at a time), if any.
CURRENT_BULK = f"""
query CurrentBulk {{
  currentBulkOperation(type: MUTATION) {{ {_BULK_FIELDS} }}
}}
"""

#: List prices of a product's variants.
VARIANT_PRICES = """
mutation VariantPrices($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    productVariants { id price }
    userErrors { field message code }
  }
}
"""

#: A B2B price list's currency (its prices must be in it).
PRICE_LIST = """
query PriceList($id: ID!) {
  priceList(id: $id) { id currency }
}
"""

#: Fixed prices and quantity price breaks of variants on a B2B price list (Shopify's volume and
#: customer prices); the connector first deletes a variant's breaks, then adds the store's.
QUANTITY_PRICING = """
mutation QuantityPricing($priceListId: ID!, $input: QuantityPricingByVariantUpdateInput!) {
  quantityPricingByVariantUpdate(priceListId: $priceListId, input: $input) {
    productVariants { id }
    userErrors { field message code }
  }
}
"""

#: Available quantities per location (2026-04: the idempotency key is required).
SET_STOCK = """
mutation SetStock($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}
"""

#: What an order's fulfilment stands at: open fulfilment orders and the fulfilments made so far.
FULFILMENT_STATE = """
query FulfilmentState($id: ID!) {
  order(id: $id) {
    id
    fulfillmentOrders(first: 20) {
      nodes { id status lineItems(first: 250) { nodes { id remainingQuantity lineItem { sku } } } }
    }
    fulfillments(first: 100) {
      id
      trackingInfo { number }
      fulfillmentLineItems(first: 250) { nodes { quantity lineItem { sku } } }
    }
  }
}
"""

FULFILMENT_CREATE = """
mutation FulfilmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}
"""

#: An order's payment transactions (captures already made, the authorisation to capture from).
TRANSACTIONS = f"""
query Transactions($id: ID!) {{
  order(id: $id) {{
    id cancelledAt
    transactions(first: 100) {{ id kind status gateway amountSet {{ {_MONEY} }} parentTransaction {{ id }} }}
  }}
}}
"""

ORDER_CAPTURE = """
mutation Capture($input: OrderCaptureInput!) {
  orderCapture(input: $input) {
    transaction { id kind status }
    userErrors { field message }
  }
}
"""

#: A refund for a credit memo (2026-04: the idempotency key is required).
REFUND_CREATE = """
mutation Refund($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) {
    refund { id }
    userErrors { field message }
  }
}
"""

ORDER_CANCEL = """
mutation Cancel($orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!, $notify: Boolean, $note: String) {
  orderCancel(orderId: $orderId, reason: $reason, restock: $restock, notifyCustomer: $notify, staffNote: $note) {
    job { id }
    orderCancelUserErrors { field message code }
  }
}
"""

#: Every document, by name (the tests validate each one).
ALL = {"ORDERS": ORDERS, "ORDER": ORDER, "VARIANTS_BY_SKU": VARIANTS_BY_SKU, "STOCK_BY_SKU": STOCK_BY_SKU,
       "PRODUCT_SET": PRODUCT_SET,
       "BULK_PRODUCT_SET": BULK_PRODUCT_SET, "STAGED_UPLOAD": STAGED_UPLOAD, "BULK_RUN": BULK_RUN,
       "BULK_OPERATION": BULK_OPERATION, "CURRENT_BULK": CURRENT_BULK,
       "VARIANT_PRICES": VARIANT_PRICES, "PRICE_LIST": PRICE_LIST,
       "QUANTITY_PRICING": QUANTITY_PRICING, "SET_STOCK": SET_STOCK, "FULFILMENT_STATE": FULFILMENT_STATE,
       "FULFILMENT_CREATE": FULFILMENT_CREATE, "TRANSACTIONS": TRANSACTIONS, "ORDER_CAPTURE": ORDER_CAPTURE,
       "REFUND_CREATE": REFUND_CREATE, "ORDER_CANCEL": ORDER_CANCEL}
