"""The Shopify connector (``connector: shopify``): a Shopify store as a shop system, through the
Admin GraphQL API of a configured version (:mod:`.documents` holds every call; the tests validate
each against the official schema of that version). Needs the ``shopify`` extra (graphql-core
is used by the tests only; the connector itself speaks plain JSON over the HTTP kit)."""
