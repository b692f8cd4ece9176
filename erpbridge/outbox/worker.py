"""Workers: claim due messages and deliver them through the connector of their channel.

How it works: a worker loops over the channels (one per configured system), claims a batch of
due messages (:func:`erpbridge.outbox.claims.claim`), delivers each through the system's
connector inside an exchange-log measurement, and records the outcomes in one transaction. A
heartbeat thread renews the short leases of what it holds (and of a probe it makes), so a dead
worker's messages are claimable again within ``lease_seconds``; it also ends at once the leases of
workers on the same host whose process is gone (:mod:`erpbridge.outbox.owners`), so a killed worker
costs a heartbeat, not a lease. An idle worker sleeps
``poll_interval`` seconds; on PostgreSQL a ``LISTEN`` on
:data:`~erpbridge.outbox.messages.NOTIFY_CHANNEL` wakes it as soon as a message is enqueued or
a system is back.

The semaphore is consulted before each claim: while the system is offline its messages wait;
once the lock time is up, one worker wins the probe and sends a single message; its success
resumes every worker (SQLite workers see it at their next poll).

How to use it: ``erpbridge worker`` (or ``erpbridge run``, which calls :func:`run_workers`);
in tests, ``Worker(app, connectors={"erp": connector}).drain()``.

Caveats: a connector is shared by the worker's threads, so it must be thread-safe. A message
whose delivery kills the worker process is claimed again after its lease, every time; it shows
as ``running`` with growing attempts in ``erpbridge messages``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from erpbridge.connectors.base import Connector, ConnectorError, GeneralError, MessageError
from erpbridge.exchange import ExchangeLog
from erpbridge.outbox import claims, owners
from erpbridge.outbox.claims import Message, Outcome
from erpbridge.outbox.config import ChannelConfig
from erpbridge.outbox.messages import NOTIFY_CHANNEL, now
from erpbridge.outbox.semaphore import Semaphore
from erpbridge.records import RECORD_KINDS

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, app, *, connectors: dict[str, Connector] | None = None, owner: str | None = None):
        self.app = app
        self.config = app.config.outbox
        self.owner = owner or owners.new_owner()
        # Buffered: one log transaction per interval instead of one per delivery; a killed worker
        # loses at most the last interval's entries, never a message.
        self.exchange_log = ExchangeLog.for_app(app, buffered=True)
        self._connectors: dict[str, Connector] = dict(connectors or {})
        self._broken: set[str] = set()

    # -- what to deliver through ------------------------------------------------------------

    def channels(self) -> list[str]:
        """The systems whose connector delivers anything, and the connectors given to this worker."""
        deliverers = self.app.systems_that(lambda capabilities: capabilities.operations)
        return list(dict.fromkeys([*deliverers, *self._connectors]))

    def connector(self, channel: str) -> Connector:
        """The channel's connector: the one given to this worker, else the system's (the app builds it)."""
        return self._connectors.get(channel) or self.app.connector(channel)

    def semaphore(self, channel: str) -> Semaphore:
        return self.app.semaphore(channel)

    # -- delivering -------------------------------------------------------------------------

    def run_pass(self) -> tuple[int, float | None]:
        """Claim and deliver one batch per channel; returns how many were delivered (whatever the
        outcome) and, if a rate limit held messages back, the seconds until the next slot."""
        delivered, retry_in = 0, None
        for channel in self.channels():
            count, wait = self.deliver_channel(channel)
            delivered += count
            if wait is not None:
                retry_in = wait if retry_in is None else min(retry_in, wait)
        return delivered, retry_in

    def deliver_channel(self, channel: str) -> tuple[int, float | None]:
        semaphore = self.semaphore(channel)
        offline_until = semaphore.state()["offline_until"]
        probe = False
        if offline_until is not None:
            if offline_until > now() or not semaphore.try_probe(self.owner, self.config.probe_window):
                return 0, None
            probe = True
        try:
            connector = self.connector(channel)
        except Exception:
            if channel not in self._broken:
                log.exception("no connector for channel %s: its messages wait", channel)
                self._broken.add(channel)
            return 0, None
        limits = self.config.channel(channel)
        claim = claims.claim(self.app.engine, channel, self.owner, limit=1 if probe else _claim_size(limits, connector),
                             lease_seconds=self.config.lease_seconds, limits=limits)
        if not claim.messages:
            if probe:  # nothing to probe with: let the next real request find out
                semaphore.reset()
            return 0, claim.retry_in
        outcomes = self._deliver(channel, connector, claim.messages, claim.slots)
        general = next((o for o in outcomes if o.general_error is not None), None)
        if general is not None:
            # "Too many requests, retry after 1 s" pauses the system that long, not max_lock_time.
            semaphore.trip(general.general_error, seconds=general.retry_after, probe=probe)
            log.warning("%s is offline until %s: %s", channel, semaphore.state()["offline_until"],
                        general.general_error)
        elif probe:
            semaphore.reset()
            log.info("%s is back online", channel)
        claims.record_outcomes(self.app, self.owner, outcomes)
        return len(outcomes), None

    def _deliver(self, channel: str, connector: Connector, messages: list[Message],
                 slots: list[float] | None = None) -> list[Outcome]:
        """Deliver a claimed batch; under a rate limit each call waits for the slot of its
        (first) message, so a batch goes out at the channel's rate and not as a burst."""
        batch = getattr(connector, "deliver_batch", None)
        outcomes: list[Outcome] = []
        pending = list(messages)
        slot_of = dict(zip((m.id for m in messages), slots or (), strict=False))
        while pending:
            if pending[0].id in slot_of:
                _wait_until(slot_of[pending[0].id])
            if batch is not None and len(pending) > 1:
                group = [m for m in pending if m.operation == pending[0].operation]
                outcomes += self._deliver_batch(channel, batch, group)
            else:
                group = pending[:1]
                outcomes.append(self._deliver_one(channel, connector, group[0]))
            sent = {m.id for m in group}
            pending = [m for m in pending if m.id not in sent]
            if outcomes[-1].general_error is not None:
                # The system is down: the rest wait with it, their attempts given back.
                outcomes += [Outcome(m, general_error=outcomes[-1].general_error, retry_after=outcomes[-1].retry_after)
                             for m in pending]
                break
        return outcomes

    def _deliver_one(self, channel: str, connector: Connector, message: Message) -> Outcome:
        try:
            with self.exchange_log.measure(channel, message.operation, f"outbox.{message.operation}",
                                           direction="out", request=logged(message.payload)) as exchange:
                result = connector.deliver(message.operation, message.payload, message.idempotency_key)
                exchange.response = result.response
        except Exception as exc:
            return _failed(message, exc)
        return Outcome(message, result.external_id, tuple(result.records))

    def _deliver_batch(self, channel: str, deliver_batch, messages: list[Message]) -> list[Outcome]:
        """One call for several messages of one operation: ``deliver_batch(operation, [(payload,
        idempotency_key), ...])`` answers a DeliveryResult or a ConnectorError per message, or
        raises GeneralError for all."""
        operation = messages[0].operation
        items = [(m.payload, m.idempotency_key) for m in messages]
        try:
            with self.exchange_log.measure(channel, operation, f"outbox.{operation}.batch", direction="out",
                                           request=[logged(p) for p, _ in items]) as exchange:
                results = deliver_batch(operation, items)
                exchange.response = [getattr(r, "response", str(r)) for r in results]
        except Exception as exc:
            failed = _failed(messages[0], exc)
            return [Outcome(m, message_error=failed.message_error, general_error=failed.general_error,
                            retry_after=failed.retry_after) for m in messages]
        return [_failed(m, r) if isinstance(r, Exception) else Outcome(m, r.external_id, tuple(r.records))
                for m, r in zip(messages, results, strict=True)]

    # -- running ----------------------------------------------------------------------------

    def drain(self) -> int:
        """Deliver everything due now (and what becomes due under a rate limit), then return
        how many deliveries were made: `erpbridge worker --once`."""
        stop = threading.Event()
        total = 0
        with self._heartbeat():
            while True:
                count, retry_in = self.run_pass()
                total += count
                if count == 0 and retry_in is None:
                    break
                if count == 0:
                    stop.wait(retry_in)
            stop.set()
        self.exchange_log.close()
        return total

    def run(self, stop: threading.Event, *, concurrency: int = 1) -> None:
        """Deliver until ``stop`` is set, with ``concurrency`` threads sharing this worker's lease."""
        with self._heartbeat(), self._wake_up(stop) as wake:
            threads = [threading.Thread(target=self._loop, args=(stop, wake), name=f"outbox-worker-{i}", daemon=True)
                       for i in range(concurrency)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        self.exchange_log.close()

    def _loop(self, stop: threading.Event, wake: threading.Event) -> None:
        while not stop.is_set():
            try:
                count, retry_in = self.run_pass()
            except Exception:  # the store went away for a moment: keep the worker alive
                log.exception("outbox pass failed")
                count, retry_in = 0, None
            if count:
                continue
            wake.wait(self.config.poll_interval if retry_in is None else min(retry_in, self.config.poll_interval))
            wake.clear()

    @contextmanager
    def _heartbeat(self) -> Iterator[None]:
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.config.heartbeat_seconds):
                try:
                    claims.heartbeat(self.app.engine, self.owner, self.config.lease_seconds, self.config.probe_window)
                    claims.release_dead(self.app.engine, self.channels(), owners.is_dead)
                except Exception:
                    log.exception("could not renew the outbox leases of %s", self.owner)

        thread = threading.Thread(target=beat, name="outbox-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    @contextmanager
    def _wake_up(self, stop: threading.Event) -> Iterator[threading.Event]:
        """An event set when work may have arrived: by PostgreSQL NOTIFY, and always at stop."""
        wake = threading.Event()
        threads = [threading.Thread(target=_forward, args=(stop, wake), daemon=True)]
        if self.app.engine.dialect.name == "postgresql":
            threads.append(threading.Thread(target=self._listen, args=(stop, wake), name="outbox-listen", daemon=True))
        for thread in threads:
            thread.start()
        try:
            yield wake
        finally:
            for thread in threads:
                thread.join()

    def _listen(self, stop: threading.Event, wake: threading.Event) -> None:
        while not stop.is_set():
            try:
                raw = self.app.engine.raw_connection()
                pg = raw.driver_connection
                raw.detach()  # LISTEN state must not go back into the pool
                pg.autocommit = True
                try:
                    pg.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    while not stop.is_set():
                        for _ in pg.notifies(timeout=1.0, stop_after=1):
                            wake.set()
                finally:
                    raw.close()
            except Exception:
                log.warning("LISTEN failed; polling every %ss until it works again", self.config.poll_interval,
                            exc_info=True)
                stop.wait(self.config.poll_interval)


#: Under a rate limit, how far ahead (seconds of the channel's slots) a one-by-one claim reaches.
CLAIM_HORIZON = 0.05


def _claim_size(limits: ChannelConfig, connector: Connector) -> int:
    """How many messages to claim at once. A connector that sends one message per call, on a
    paced channel, claims only the slots of the next :data:`CLAIM_HORIZON`: a claimed slot that
    its worker dies holding is lost to the channel, so a claim of ``batch_size`` would cost a
    killed worker's channel that many slots (issue 17); the claims stay at most 1/horizon a
    second whatever the rate. A batch connector claims its batch: that is its one call."""
    if limits.rate_limit is None or getattr(connector, "deliver_batch", None) is not None:
        return limits.batch_size
    return max(1, min(limits.batch_size, math.ceil(limits.rate_limit * CLAIM_HORIZON)))


def _wait_until(at: float) -> None:
    """Sleep until the wall-clock time ``at`` (a rate limit's slot: at most a batch's spread)."""
    delay = at - time.time()
    if delay > 0:
        time.sleep(delay)


def _forward(stop: threading.Event, wake: threading.Event) -> None:
    stop.wait()
    wake.set()


def logged(payload: object) -> object:
    """What the exchange log keeps of a message's payload: of a push message (``records`` of one
    kind, up to :data:`erpbridge.flows.push.BATCH` of them) its kind, how many records and their
    keys, as the message's summary; other payloads whole. The records themselves are in the store
    (and the connector's own exchanges log what it sent); redacting each of them here cost about
    a tenth of the CPU of pushing a catalog (bench/magento_catalog.py)."""
    records = payload.get("records") if isinstance(payload, dict) else None
    if not isinstance(records, list):
        return payload
    record_type = RECORD_KINDS.get(payload.get("kind"))
    fields = record_type.key_fields if record_type is not None else ()
    keys = ["/".join(str(r[f]) for f in fields if isinstance(r, dict) and r.get(f) is not None) for r in records]
    return {**{k: v for k, v in payload.items() if k != "records"}, "count": len(records), "keys": keys}


def _failed(message: Message, exc: BaseException) -> Outcome:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, GeneralError):
        return Outcome(message, general_error=text, retry_after=exc.retry_after)
    if isinstance(exc, (MessageError, ConnectorError)):
        return Outcome(message, message_error=text)
    # A bug in a connector fails the message, never the worker; the message dies after its attempts.
    log.error("connector raised %s for message %s", type(exc).__name__, message.id, exc_info=exc)
    return Outcome(message, message_error=f"{type(exc).__name__}: {text}")


def run_workers(app, stop: threading.Event, *, concurrency: int = 1) -> None:
    """Run the outbox's workers until ``stop`` is set (what `erpbridge run` starts)."""
    Worker(app).run(stop, concurrency=concurrency)
