"""Every document the connector sends is valid against Shopify's official Admin schema of the
configured version; and the version matters: 2025-10 does not know ``@idempotent``."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from erpbridge.connectors.shopify import documents
from erpbridge.connectors.shopify.config import ShopifySystem

from shopify_double import schema


@pytest.mark.parametrize("name", sorted(documents.ALL))
def test_each_document_is_valid_on_the_configured_version(name):
    version = ShopifySystem.model_fields["api_version"].default
    errors = validate(schema(version), parse(documents.ALL[name]))
    assert not errors, [e.message for e in errors]


def test_the_inventory_call_is_not_valid_on_a_version_before_idempotent():
    errors = [e.message for e in validate(schema("2025-10"), parse(documents.SET_STOCK))]
    assert any("Unknown directive '@idempotent'" in e for e in errors), errors


def test_a_version_before_2026_01_is_refused_with_the_reason():
    with pytest.raises(ValueError) as caught:
        ShopifySystem(connector="shopify", shop="https://x.myshopify.com", access_token="t", api_version="2025-10")
    assert "older than 2026-01, the first version with @idempotent" in str(caught.value)


@pytest.mark.parametrize("version", ["2026-01", "2026-07", "2026-10", "unstable"])
def test_each_document_is_valid_on_every_version_the_connector_accepts(version):
    """The B2B price list and bulk operation calls included: the versions the configuration
    accepts all have them, so none is refused for its version."""
    invalid = {name: [e.message for e in validate(schema(version), parse(document))]
               for name, document in documents.ALL.items()}
    assert not {name: errors for name, errors in invalid.items() if errors}
