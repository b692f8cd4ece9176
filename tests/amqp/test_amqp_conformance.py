"""The amqp connector passes the conformance suite against the real RabbitMQ. An event bus
holds no records of its own: what counts is what a consumer that deduplicates on the event's
``message_id`` holds, so "one record" is one distinct message id per record sent."""

from __future__ import annotations

import socket

import pytest

from erpbridge.connectors.kit.conformance import ConnectorConformance
from erpbridge.connectors.registry import FEEDBACK_OPERATIONS, PUSH_OPERATIONS


class BusPeer:
    def __init__(self, app, broker):
        self.app, self.broker = app, broker
        self.connector = app.connector("bus")
        self.capabilities = app.capabilities("bus")
        self.queue = broker.name("conformance")
        broker.bind(self.queue)
        self._seen: dict[str, set[str]] = {}
        self._closed: socket.socket | None = None

    def payload(self, operation: str, number: str) -> dict | None:
        kind = {op: k for k, op in (*PUSH_OPERATIONS.items(), *FEEDBACK_OPERATIONS.items())}[operation]
        if kind == "products":
            return {"kind": kind, "records": [{"sku": number, "name": "Drill", "enabled": False}]}
        if kind == "shipments":
            return {"id": number, "order": "SO-1", "tracking_numbers": ["T1"], "lines": []}
        return None  # one kind of each message shape (a batch of records, one record) is enough

    def count(self, operation: str, number: str) -> int:
        for event in self.broker.read(self.queue, wait=0.3):
            self._seen.setdefault(event["body"]["key"], set()).add(event["message_id"])
        return len(self._seen.get(number, ()))

    def go_down(self) -> None:
        self.connector.bus.reset()
        self._port = self.connector.cfg.port
        # A port nothing listens on: the broker cannot be reached.
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        object.__setattr__(self.connector.cfg, "port", probe.getsockname()[1])
        probe.close()

    def come_back(self) -> None:
        object.__setattr__(self.connector.cfg, "port", self._port)
        self.connector.bus.reset()

    def refuse(self, operation: str, number: str) -> dict | None:
        return None  # a broker takes any event a queue is bound for (unroutable ones: test_amqp_events)

    def lose_next_answer(self) -> bool:
        return False

    def serve(self, kind, count, changed_at):
        return None


class TestTheAmqpConnectorConforms(ConnectorConformance):
    @pytest.fixture
    def peer(self, make_hub, broker):
        return BusPeer(make_hub(), broker)
