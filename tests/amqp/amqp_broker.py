"""The real RabbitMQ on loopback, as the amqp tests drive it: names of their own per test, a
consumer that reads what the hub published, a producer for intake, and a broker restart.

The tests need the broker at ``ERPBRIDGE_TEST_AMQP`` (host:port, default 127.0.0.1:5672, user
guest); in CI (``CI=true``) a broker that cannot be reached fails them, elsewhere they skip.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
import uuid

import orjson
import pytest

HOST, _, PORT = os.environ.get("ERPBRIDGE_TEST_AMQP", "127.0.0.1:5672").partition(":")
PORT = int(PORT or 5672)


def require_broker() -> None:
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
    except OSError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"RabbitMQ at {HOST}:{PORT} cannot be reached ({exc}): CI must run the amqp tests")
        pytest.skip(f"RabbitMQ at {HOST}:{PORT} cannot be reached ({exc})")


def run(coro):
    return asyncio.run(coro)


class Broker:
    """One test's exchange and queues (unique names), deleted afterwards."""

    def __init__(self):
        tag = uuid.uuid4().hex[:10]
        self.exchange = f"erpbridge-test-{tag}"
        self.queues: list[str] = []
        self.tag = tag

    def name(self, what: str) -> str:
        name = f"{what}-{self.tag}"
        self.queues.append(name)
        self.queues.append(f"{name}.dead")
        return name

    async def _connect(self):
        import aio_pika

        return await aio_pika.connect(host=HOST, port=PORT, login="guest", password="guest", timeout=10)

    def bind(self, queue: str, pattern: str = "#") -> None:
        """A durable queue bound to the test's exchange (declared here, as a consumer would)."""
        import aio_pika

        async def go():
            connection = await self._connect()
            async with connection:
                channel = await connection.channel()
                exchange = await channel.declare_exchange(self.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
                declared = await channel.declare_queue(queue, durable=True)
                await declared.bind(exchange, pattern)

        self.queues.append(queue)
        run(go())

    def read(self, queue: str, *, wait: float = 0.5) -> list[dict]:
        """Every message on ``queue`` (acked), with its body, properties and headers."""

        async def go():
            connection = await self._connect()
            out = []
            async with connection:
                channel = await connection.channel()
                source = await channel.declare_queue(queue, durable=True)
                quiet = time.monotonic()
                while time.monotonic() - quiet < wait:
                    message = await source.get(no_ack=True, fail=False)
                    if message is None:
                        await asyncio.sleep(0.05)
                        continue
                    quiet = time.monotonic()
                    out.append({"body": _decoded(message.body), "message_id": message.message_id, "type": message.type,
                                "routing_key": message.routing_key, "headers": dict(message.headers or {}),
                                "persistent": message.delivery_mode == 2})
            return out

        return run(go())

    def depth(self, queue: str) -> int:
        async def go():
            connection = await self._connect()
            async with connection:
                channel = await connection.channel()
                declared = await channel.declare_queue(queue, durable=True, passive=True)
                return declared.declaration_result.message_count

        return run(go())

    def send(self, queue: str, bodies: list[bytes], ids: list[str] | None = None, *, declare: bool = True) -> None:
        """Persistent messages onto ``queue`` (a marketplace sending orders); ``declare``: as a plain
        durable queue first (False: the hub declared it, with its own arguments)."""
        import aio_pika

        async def go():
            connection = await self._connect()
            async with connection:
                channel = await connection.channel(publisher_confirms=True)
                if declare:
                    await channel.declare_queue(queue, durable=True)
                await asyncio.gather(*(channel.default_exchange.publish(
                    aio_pika.Message(body, content_type="application/json", delivery_mode=2,
                                     message_id=(ids[i] if ids else None)), queue) for i, body in enumerate(bodies)))

        run(go())

    def cleanup(self) -> None:
        async def go():
            connection = await self._connect()
            async with connection:
                for queue in self.queues:
                    channel = await connection.channel()
                    try:
                        await channel.queue_delete(queue)
                    except Exception:  # never declared: nothing to delete
                        pass
                channel = await connection.channel()
                try:
                    await channel.exchange_delete(self.exchange)
                except Exception:
                    pass

        try:
            run(go())
        except Exception:  # the broker is already gone: nothing was left on it
            pass


def _decoded(body: bytes):
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:  # a poison message, kept as it came
        return body


def restart_broker() -> None:
    """Stop RabbitMQ's application and start it again (the node's durable queues and persistent
    messages survive it, as they survive a restart of the server)."""
    for command in (["rabbitmqctl", "stop_app"], ["rabbitmqctl", "start_app"]):
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    for _ in range(100):
        try:
            socket.create_connection((HOST, PORT), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("RabbitMQ did not come back")
