"""Fixtures of the kit's tests: a real HTTP peer on 127.0.0.1 and adapters aimed at it."""

from __future__ import annotations

import pytest

from erpbridge.connectors.kit import HttpAdapter

from .peer import Peer


@pytest.fixture
def peer():
    peer = Peer()
    yield peer
    peer.stop()


@pytest.fixture
def adapter_for():
    """``adapter_for(url, **options)``: an adapter of system ``erp`` (connector ``test``), closed afterwards."""
    made: list[HttpAdapter] = []

    def make(url: str, **options) -> HttpAdapter:
        options.setdefault("timeout", 5)
        made.append(HttpAdapter(url, system="erp", connector="test", **options))
        return made[-1]

    yield make
    for adapter in made:
        adapter.close()
