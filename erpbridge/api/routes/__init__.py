"""The API's endpoints, one module per area (catalog, customers, orders, documents, health)."""
