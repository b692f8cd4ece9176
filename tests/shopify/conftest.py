"""The Shopify double and apps in front of it (see shopify_double and shopify_apps)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from shopify_double import ShopifyDouble  # noqa: E402


@pytest.fixture
def shopify():
    double = ShopifyDouble()
    yield double
    double.stop()
