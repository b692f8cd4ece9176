"""RabbitMQ as the company's event bus: the hub's changes out as events, orders and stock in from queues.

What it is. Other systems of the company (a WMS, a CRM, a data warehouse) want to know what the
hub stores, and some bring work to it through a queue (orders from a marketplace). A system
``connector: amqp`` is such a bus:

* out: the bus's push flow (``events``, every minute by default, or any flow naming kinds) reads
  the store's change feed and queues outbox messages for the bus; each becomes one event per
  record (``push_<kind>`` messages carry up to 100 records; feedback messages one), published to
  a topic exchange with the routing key ``routing_key`` (``{kind}`` by default), persistent, with
  publisher confirms. A message is done only when the broker confirmed every event of it, so none
  is lost; the outbox delivers a kind's messages (and an order's feedback) in order, so events of
  one key are never reordered. Delivery is at least once: an event sent again after a crash has
  the same ``message_id`` (the outbox message's idempotency key and the event's place in it),
  which is what a consumer deduplicates on.
* in: for each queue of ``intake:``, the bus's watch loop (``erpbridge run``) consumes with
  manual acks, takes a batch through the one ingest path (an order is placed like an order from
  the API, checked, idempotent on its number, and queued to the bus's ERP; a stock level is
  written like the ERP's, as a delta, and so reaches the shops) and acks it only after the store
  committed. A stock queue is declared with one active consumer: of several hubs one reads it at
  a time, in order, so a redelivered older quantity never lands after a newer one. A message that cannot be taken (not JSON, or a record ingest rejects) is
  published to its dead-letter queue with the reason in ``x-erpbridge-error`` and then acked: it
  never blocks the queue, and it is named in the exchange log.

Event body: ``{"kind": ..., "key": ..., "record": {...}}`` (the record as the store holds it;
a product with ``enabled``, an order with the hub's ``state``). Headers: ``erpbridge-kind``,
``erpbridge-key``.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from typing import Any

import orjson

from erpbridge.connectors.amqp.bus import Bus, Event
from erpbridge.connectors.base import DeliveryResult
from erpbridge.connectors.registry import FEEDBACK_OPERATIONS, PUSH_OPERATIONS
from erpbridge.errors import ConnectorError, GeneralError, MessageError
from erpbridge.records import RECORD_KINDS, key_of

log = logging.getLogger(__name__)

_KIND_OF = {op: kind for kind, op in (*PUSH_OPERATIONS.items(), *FEEDBACK_OPERATIONS.items())}
#: Seconds between attempts to reach a broker the intake lost, at first and at most.
RECONNECT = (1.0, 30.0)


class AmqpConnector:
    def __init__(self, app, name: str, cfg):
        self.app, self.name, self.cfg = app, name, cfg
        self.bus = Bus(name, cfg)
        # Intake consumes and acks on a connection of its own: a lost consumer must not take the
        # publishing workers' channel with it, nor they its unacked messages.
        self.intake_bus = Bus(name, cfg)

    # -- out: events ---------------------------------------------------------------------------

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult:
        result, = self.deliver_batch(operation, [(payload, idempotency_key)])
        if isinstance(result, Exception):
            raise result
        return result

    def deliver_batch(self, operation: str, items: list[tuple[dict, str]]) -> list[DeliveryResult | ConnectorError]:
        """Every event of every message at once; a message is done when all its events were confirmed."""
        kind = _KIND_OF.get(operation)
        if kind is None:
            raise MessageError(f"{self.bus.where}: no events for operation {operation!r}")
        events = [self._events(kind, payload, key) for payload, key in items]
        flat = [event for group in events for event in group]
        outcomes = iter(self.bus.publish(flat))
        results: list[DeliveryResult | ConnectorError] = []
        for group in events:
            errors = [e for e in (next(outcomes) for _ in group) if e is not None]
            results.append(errors[0] if errors else
                           DeliveryResult(response={"published": len(group), "routing_key": group[0].routing_key
                                                    if group else None}))
        return results

    def _events(self, kind: str, payload: dict, idempotency_key: str) -> list[Event]:
        records = payload["records"] if kind in PUSH_OPERATIONS else [payload]
        fields = RECORD_KINDS[kind].key_fields
        routing_key = self.cfg.routing_key.format(kind=kind)
        events = []
        for place, record in enumerate(records):
            key = key_of(tuple(record.get(f) for f in fields))
            events.append(Event(orjson.dumps({"kind": kind, "key": key, "record": record}), routing_key,
                                f"{idempotency_key}/{place}", kind, {"erpbridge-kind": kind, "erpbridge-key": key}))
        return events

    # -- in: intake ----------------------------------------------------------------------------

    def watch(self, stop: threading.Event) -> None:
        """Consume every intake queue until ``stop`` is set, connecting again after a lost broker."""
        if not self.cfg.intake:
            stop.wait()
            return
        wait = RECONNECT[0]
        while not stop.is_set():
            try:
                self._consume(stop)
                wait = RECONNECT[0]
            except GeneralError as exc:
                log.warning("%s: intake paused for %.0f s: %s", self.name, wait, exc)
                stop.wait(wait)
                wait = min(wait * 2, RECONNECT[1])

    def poll(self, timeout: float = 1.0) -> dict[str, int]:
        """One pass: take what waits on every intake queue, in batches, until they stay empty for
        ``timeout`` seconds (``watch`` is the loop that runs under ``erpbridge run``)."""
        counts = {"taken": 0, "dead_lettered": 0}
        if self.cfg.intake:
            self._consume(threading.Event(), idle=timeout, counts=counts)
        return counts

    def _consume(self, stop: threading.Event, *, idle: float | None = None, counts: dict[str, int] | None = None) -> None:
        arrived: queue.Queue = queue.Queue()
        self.intake_bus.call(lambda: self._subscribe(dict(self.cfg.intake), arrived))
        counts = counts if counts is not None else {"taken": 0, "dead_lettered": 0}
        last = time.monotonic()
        try:
            while not stop.is_set():
                batch = self._next_batch(arrived)
                if not batch:
                    if idle is not None and time.monotonic() - last > idle:
                        return
                    if not self.intake_bus.connected:
                        raise GeneralError(f"{self.intake_bus.where}: the connection was lost")
                    continue
                last = time.monotonic()
                by_kind: dict[str, list] = {}
                for kind, message in batch:
                    by_kind.setdefault(kind, []).append(message)
                for kind, messages in by_kind.items():
                    taken, dead = self._take(kind, messages)
                    counts["taken"] += taken
                    counts["dead_lettered"] += dead
        finally:
            self.intake_bus.reset()

    async def _subscribe(self, kinds: dict, arrived: queue.Queue) -> None:
        channel = await self.intake_bus.channel()
        await channel.set_qos(prefetch_count=max(q.prefetch for q in kinds.values()))
        for kind, spec in kinds.items():
            if self.cfg.declare:
                await channel.declare_queue(spec.dead_letters, durable=True)
            if self.cfg.declare:
                source = await self._declare_intake(channel, kind, spec)
            else:
                source = await channel.get_queue(spec.queue, ensure=False)

            async def on_message(message, kind=kind) -> None:
                arrived.put((kind, message))

            await source.consume(on_message, no_ack=False)

    async def _declare_intake(self, channel, kind: str, spec):
        import aiormq.exceptions as wire

        arguments = spec.arguments(kind)
        try:
            return await channel.declare_queue(spec.queue, durable=True, arguments=arguments)
        except wire.ChannelPreconditionFailed as exc:  # declared before, by someone else, differently
            raise GeneralError(
                f"{self.intake_bus.where}: intake queue {spec.queue!r} ({kind}) exists with other arguments than "
                f"{arguments or 'none'}: {exc}; delete and let erpbridge declare it, or set the queue's "
                f"single_active_consumer to match, or declare: false") from exc

    def _next_batch(self, arrived: queue.Queue) -> list:
        try:
            first = arrived.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        limit = max(q.prefetch for q in self.cfg.intake.values())
        while len(batch) < limit:
            try:
                batch.append(arrived.get_nowait())
            except queue.Empty:
                break
        return batch

    def _take(self, kind: str, messages: list) -> tuple[int, int]:
        """Ingest one batch, then dead-letter what was refused and ack the rest (after the commit)."""
        from erpbridge.ingest.fetched import Raw, ingest_fetched

        spec = self.cfg.intake[kind]
        located: dict[str, Any] = {}
        refused: list[tuple[Any, str]] = []
        raws = []
        for message in messages:
            location = f"queue {spec.queue} message {message.message_id or message.delivery_tag}"
            located[location] = message
            try:
                data = orjson.loads(message.body)
            except orjson.JSONDecodeError as exc:
                refused.append((message, f"{location}: not JSON: {exc}"))
                continue
            raws.append(Raw(data, location))
        report = ingest_fetched(self.app, self.name, kind, raws, flow=f"intake.{kind}")
        reasons: dict[str, str] = {}
        for rejection in report.rejections:
            reasons.setdefault(rejection.location, str(rejection))
        refused += [(located[where], reason) for where, reason in reasons.items() if where in located]
        for message, reason in refused:
            log.warning("%s: dead-lettered to %s: %s", self.name, spec.dead_letters, reason)
        dead = {id(m) for m, _ in refused}
        self.intake_bus.call(lambda: self._settle(spec, refused, [m for m in messages if id(m) not in dead]))
        return len(messages) - len(refused), len(refused)

    async def _settle(self, spec, refused: list[tuple[Any, str]], taken: list) -> None:
        import aio_pika

        if not self.intake_bus.connected:  # acks belong to the channel that delivered: it is gone
            raise GeneralError(f"{self.intake_bus.where}: the connection was lost before the acks")
        channel = await self.intake_bus.channel()
        if refused:
            await asyncio.gather(*(channel.default_exchange.publish(
                aio_pika.Message(m.body, content_type=m.content_type, message_id=m.message_id,
                                 headers={**(m.headers or {}), "x-erpbridge-error": reason[:4000],
                                          "x-erpbridge-queue": spec.queue},
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                spec.dead_letters) for m, reason in refused))
        for message in (*taken, *(m for m, _ in refused)):
            await message.ack()

    def close(self) -> None:
        self.bus.close()
        self.intake_bus.close()


def create(app, name: str, cfg) -> AmqpConnector:
    return AmqpConnector(app, name, cfg)
