"""The conformance suite: what every connector must do, run against its own test peer.

What it is. The outbox delivers at least once, the semaphore acts on the kind of error, the
flows ask for what changed since a time, and the hub wires what a connector declares: if a
connector gets any of that wrong, orders double, outages count as rejections, deltas miss
records. These tests check it the same way for every connector, each against the test peer of
its system (a real server, or a double that follows the system's published contract).

How to use it. In the connector's tests, subclass :class:`ConnectorConformance` and give it a
``peer`` fixture (a :class:`ConformancePeer`); pytest collects the inherited tests::

    from erpbridge.connectors.kit.conformance import ConnectorConformance

    class TestAcmeConformance(ConnectorConformance):
        @pytest.fixture
        def peer(self, acme_server, make_app):
            return AcmePeer(acme_server, make_app(...))

What is checked:

* redelivery: the same message delivered twice, or again after the system processed it but
  its answer was lost (a crash between the system's answer and our commit), leaves exactly one
  record in the system, and both deliveries answer the same external id;
* errors: a system that cannot be reached is a :class:`~erpbridge.errors.GeneralError` for
  deliveries and fetches; a message the system refuses is a
  :class:`~erpbridge.errors.MessageError` carrying the system's own words;
* ``fetch(kind, since)`` returns what changed since that time and nothing older, and
  everything without ``since``, for every kind the connector declares it fetches;
* what the connector declares it can do, it offers (each capability's methods exist and work).

A peer that cannot produce a situation (a files ERP never refuses a message at delivery: it
reads the files later) answers ``None`` from that method, and the test says so as a skip.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Protocol

import pytest

from erpbridge.connectors.registry import Capabilities
from erpbridge.errors import GeneralError, MessageError
from erpbridge.ingest import Raw, built


class ConformancePeer(Protocol):
    """The system behind a connector under test, as the suite drives it."""

    #: the connector under test (built by the app, as the hub builds it)
    connector: Any
    capabilities: Capabilities

    def payload(self, operation: str, number: str) -> dict | None:
        """A valid payload of ``operation`` for the business number ``number`` (an order number,
        a SKU: a push payload's first record carries it), or None where the peer cannot hold
        what that operation sends (the suite then leaves the operation out)."""

    def count(self, operation: str, number: str) -> int:
        """How many records the system holds that ``operation`` created for ``number``."""

    def go_down(self) -> None:
        """Make the system unreachable (refused connections...) until :meth:`come_back`."""

    def come_back(self) -> None: ...

    def refuse(self, operation: str, number: str) -> dict | None:
        """A payload of ``operation`` the system will refuse for a business reason, or None if
        the system never refuses a message at delivery."""

    def lose_next_answer(self) -> bool:
        """Make the system process the next delivery but its answer never arrive; False if the
        peer cannot (then the suite redelivers after an answer that was simply not recorded)."""

    def serve(self, kind: str, count: int, changed_at: dt.datetime) -> list[str] | None:
        """Have ``count`` records of ``kind`` changed at ``changed_at`` (or now, where the system
        stamps its own times); their keys, or None if the system cannot serve that kind here."""


def _operations(peer: ConformancePeer) -> list[str]:
    """Every outbox operation the connector delivers: an ERP's, and a shop's push and feedback."""
    return sorted(peer.capabilities.operations)


class ConnectorConformance:
    """The suite; subclass it with a ``peer`` fixture (see the module docstring)."""

    def test_a_message_delivered_twice_creates_one_record(self, peer: ConformancePeer):
        for operation in _operations(peer):
            payload = peer.payload(operation, f"CF-{operation}-{time.monotonic_ns()}")
            if payload is None:
                continue
            number = _number(payload)
            first = peer.connector.deliver(operation, payload, f"conformance:{operation}:{number}:1")
            again = peer.connector.deliver(operation, payload, f"conformance:{operation}:{number}:1")
            held = peer.count(operation, number)
            assert held == 1, f"{operation} {number}: the system holds it {held} times, not once"
            assert first.external_id == again.external_id, f"{operation}: a redelivery answered another id"

    def test_a_redelivery_after_a_lost_answer_creates_one_record(self, peer: ConformancePeer):
        operations = _operations(peer)
        payload = None
        for operation in (["send_order"] if "send_order" in operations else []) + operations:
            if (payload := peer.payload(operation, f"CF-lost-{time.monotonic_ns()}")) is not None:
                break
        if payload is None:
            pytest.skip("the connector delivers nothing the peer can hold")
        number, key = _number(payload), f"conformance:{operation}:lost:1"
        if peer.lose_next_answer():
            with pytest.raises(GeneralError):  # an answer that never came is the system's failure, not the message's
                peer.connector.deliver(operation, payload, key)
        else:
            peer.connector.deliver(operation, payload, key)  # answered, but (a crash) never recorded
        peer.connector.deliver(operation, payload, key)
        assert peer.count(operation, number) == 1

    def test_an_unreachable_system_is_a_general_error(self, peer: ConformancePeer):
        operations = _operations(peer)
        kinds = sorted(peer.capabilities.fetch | peer.capabilities.intake)
        if not operations and not kinds:
            pytest.skip("the connector neither delivers nor fetches")
        payloads = {op: p for op in operations if (p := peer.payload(op, f"CF-down-{op}")) is not None}
        peer.go_down()
        try:
            for operation, payload in payloads.items():
                with pytest.raises(GeneralError):
                    peer.connector.deliver(operation, payload, "conformance:down")
            for kind in kinds:
                with pytest.raises(GeneralError):
                    list(peer.connector.fetch(kind, None))
        finally:
            peer.come_back()

    def test_a_refused_message_is_a_message_error_in_the_systems_words(self, peer: ConformancePeer):
        refused = [(op, payload) for op in _operations(peer)
                   if (payload := peer.refuse(op, f"CF-refused-{op}")) is not None]
        if not refused:
            pytest.skip("the system never refuses a message at delivery")
        for operation, payload in refused:
            with pytest.raises(MessageError) as caught:
                peer.connector.deliver(operation, payload, f"conformance:{operation}:refused")
            assert str(caught.value).strip(), f"{operation}: the refusal says nothing"

    def test_fetch_since_returns_what_changed_since_then_and_nothing_older(self, peer: ConformancePeer):
        kinds = sorted(peer.capabilities.fetch | peer.capabilities.intake)
        if not kinds:
            pytest.skip("the connector fetches nothing")
        tested = 0
        for kind in kinds:
            old = peer.serve(kind, 2, dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1))
            if old is None:
                continue
            time.sleep(1.1)  # systems that stamp their own times keep whole seconds
            since = dt.datetime.now(dt.timezone.utc)
            time.sleep(1.1)
            new = peer.serve(kind, 2, dt.datetime.now(dt.timezone.utc))
            changed = {r.key for r in built(peer.connector.fetch(kind, since))}
            assert set(new) <= changed, f"fetch({kind!r}, since) misses records changed since then"
            assert not set(old) & changed, f"fetch({kind!r}, since) returns records changed before it"
            assert set(old) | set(new) <= {r.key for r in built(peer.connector.fetch(kind, None))}
            tested += 1
        if not tested:
            pytest.skip("the peer cannot serve records of the kinds the connector fetches")

    def test_what_the_connector_declares_it_offers(self, peer: ConformancePeer):
        connector, capabilities = peer.connector, peer.capabilities
        needed = {"deliver": bool(capabilities.operations), "deliver_batch": capabilities.deliver_batch,
                  "fetch": bool(capabilities.fetch or capabilities.intake), "watch": capabilities.watch,
                  "poll": capabilities.watch, "router": capabilities.inbound,
                  "get_customer": "customer" in capabilities.realtime, "get_price": "price" in capabilities.realtime,
                  "get_document": "document" in capabilities.realtime}
        missing = [name for name, wanted in needed.items() if wanted and not callable(getattr(connector, name, None))]
        assert not missing, f"declared but not offered: {', '.join(missing)}"
        for kind in sorted(capabilities.fetch | capabilities.intake):
            items = connector.fetch(kind, dt.datetime.now(dt.timezone.utc))
            assert all(isinstance(item, Raw) or getattr(item, "kind", None) for item in items), kind


def _number(payload: dict) -> str:
    record = payload["records"][0] if payload.get("records") else payload
    return str(next((record[f] for f in ("number", "id", "sku", "code") if record.get(f)), None))
