"""The adapter: one AMQP 0-9-1 connection to RabbitMQ, with publisher confirms, for one system.

Why its own event loop: aio-pika confirms a publication asynchronously, so a batch of events is
written at once and its confirms awaited together (a broker fsyncs persistent messages in groups:
one confirm awaited at a time caps a durable queue at about a hundred events a second). The
outbox's workers and the intake loop are threads, so the bus runs a loop on a thread of its own
and they hand it coroutines.

Failures: a connection that cannot be made or is lost, a timeout, or a nack is a
:class:`GeneralError` (the semaphore takes the bus offline; nothing is lost: the outbox keeps the
messages, the broker keeps unacked intake); the next call connects again. An event no queue is
bound for (``mandatory``) is a :class:`MessageError` for that event.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, TypeVar

from erpbridge.errors import ConnectorError, GeneralError, MessageError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Event:
    """One message to publish: its body, routing key and properties."""

    body: bytes
    routing_key: str
    message_id: str
    type: str
    headers: dict[str, Any] = field(default_factory=dict)


class Bus:
    def __init__(self, system: str, cfg):
        self.system, self.cfg = system, cfg
        self.where = f"{system} (amqp at {cfg.host}:{cfg.port})"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._connection = None
        self._channel = None
        self._exchange = None

    # -- the loop ----------------------------------------------------------------------------

    def call(self, make: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        """Run a coroutine on the bus's loop and wait for it; transport failures become a
        GeneralError naming the system, and drop the connection so the next call opens one."""
        loop = self._running_loop()
        future = asyncio.run_coroutine_threadsafe(self._guarded(make), loop)
        try:
            return future.result(timeout if timeout is not None else self.cfg.timeout * 3)
        except TimeoutError:
            future.cancel()
            self.reset()
            raise GeneralError(f"{self.where}: no answer within {self.cfg.timeout:g} s") from None

    async def _guarded(self, make: Callable[[], Awaitable[T]]) -> T:
        import aio_pika.exceptions as errors
        import aiormq.exceptions as wire

        try:
            return await asyncio.wait_for(make(), self.cfg.timeout)
        except ConnectorError:
            raise
        except (OSError, asyncio.TimeoutError, errors.AMQPConnectionError, wire.AMQPChannelError,
                wire.ChannelInvalidStateError, errors.DeliveryError) as exc:
            await self._drop()
            raise GeneralError(f"{self.where}: {type(exc).__name__}: {exc or 'connection lost'}") from exc

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name=f"amqp-{self.system}",
                                                daemon=True)
                self._thread.start()
            return self._loop

    # -- the connection ----------------------------------------------------------------------

    async def channel(self):
        """The open channel (confirms on), connecting and declaring the exchange first if need be."""
        import aio_pika

        if self._channel is not None and not self._channel.is_closed:
            return self._channel
        await self._drop()
        password = self.cfg.password.get_secret_value() if self.cfg.password is not None else "guest"
        self._connection = await aio_pika.connect(
            host=self.cfg.host, port=self.cfg.port, login=self.cfg.username, password=password,
            virtualhost=self.cfg.virtual_host, timeout=self.cfg.timeout, client_properties={"connection_name": self.where})
        self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        if self.cfg.declare:
            self._exchange = await self._channel.declare_exchange(self.cfg.exchange, aio_pika.ExchangeType.TOPIC,
                                                                  durable=True)
        else:
            self._exchange = await self._channel.get_exchange(self.cfg.exchange, ensure=False)
        return self._channel

    async def _drop(self) -> None:
        connection, self._connection, self._channel, self._exchange = self._connection, None, None, None
        if connection is not None and not connection.is_closed:
            try:
                await connection.close()
            except Exception:  # already broken: nothing more to close
                pass

    @property
    def connected(self) -> bool:
        return self._channel is not None and not self._channel.is_closed

    def reset(self) -> None:
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._drop(), self._loop)

    def close(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._drop(), self._loop).result(self.cfg.timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self.cfg.timeout)
        self._loop.close()
        self._loop = None

    # -- publishing --------------------------------------------------------------------------

    def publish(self, events: list[Event]) -> list[MessageError | None]:
        """Publish ``events`` at once and wait for every confirm: None for each one the broker
        took, a MessageError for one it could not route; a GeneralError for all otherwise."""
        return self.call(lambda: self._publish(events), timeout=self.cfg.timeout * 3)

    async def _publish(self, events: list[Event]) -> list[MessageError | None]:
        import aio_pika
        import aio_pika.exceptions as errors

        await self.channel()
        exchange = self._exchange

        async def one(event: Event) -> MessageError | None:
            message = aio_pika.Message(event.body, content_type="application/json", message_id=event.message_id,
                                       type=event.type, headers=event.headers, app_id="erpbridge",
                                       delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            try:
                await exchange.publish(message, event.routing_key, mandatory=self.cfg.mandatory)
            except errors.PublishError:
                return MessageError(f"{self.where}: no queue is bound for routing key {event.routing_key!r} on "
                                    f"exchange {self.cfg.exchange!r}: the event would be lost")
            return None

        return list(await asyncio.gather(*(one(e) for e in events)))
