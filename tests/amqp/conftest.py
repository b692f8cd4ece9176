"""Fixtures of the amqp tests: the real broker (see :mod:`amqp_broker`) and a hub whose files
ERP supplies the catalog and whose bus, ``bus``, is an amqp system on that broker."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from amqp_broker import HOST, PORT, Broker, require_broker  # noqa: E402

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import Config  # noqa: E402


@pytest.fixture
def broker():
    require_broker()
    broker = Broker()
    yield broker
    broker.cleanup()


@pytest.fixture
def make_hub(db_url, tmp_path, broker):
    apps = []

    def make(**bus):
        config = Config.model_validate({
            "store": {"url": db_url},
            "systems": {
                "files": {"connector": "files", "inbox": str(tmp_path / "in"), "outbox": str(tmp_path / "out"),
                          "settle_time": 0},
                "bus": {"connector": "amqp", "host": HOST, "port": PORT, "exchange": broker.exchange,
                        "timeout": 5, "semaphore": {"max_lock_time": 2}, **bus},
            },
            "outbox": {"backoff_base": 0.1, "backoff_max": 0.5},
        })
        app = bootstrap(config)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
