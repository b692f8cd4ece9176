"""Events per second to RabbitMQ with publisher confirms: the amqp connector against a plain
aio-pika script, both publishing the same persistent events to the same durable queue.

  baseline   a plain script: batches of --batch events published at once on a confirming
             channel, each batch's confirms awaited together (the fastest way aio-pika offers)
  connector  the amqp connector's deliver_batch, as the outbox's worker calls it: one call per
             --messages push_stock messages of 100 records each (the push flow's batch), every
             record an event with its routing key, message id and headers, confirms awaited
  hub        the whole path: stock changes pushed by the bus's events flow into the outbox and
             drained by a Worker on SQLite (claim, publish, confirm, commit)

Rounds alternate so all three meet the same load. The issue's bar: at least 5,000 events/s
with confirms (connector and hub), printed beside the baseline's rate as a ratio.

Run: .venv/bin/python bench/amqp_publish.py [--events 20000] [--batch 500] [--messages 5] [--rounds 3]
(needs RabbitMQ at 127.0.0.1:5672, guest/guest)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config
from erpbridge.connectors.files.inbox import process_inbox
from erpbridge.flows import push, run_flow
from erpbridge.outbox.worker import Worker


async def _queue(name: str, exchange: str | None = None):
    import aio_pika

    connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1/")
    channel = await connection.channel(publisher_confirms=True)
    queue = await channel.declare_queue(name, durable=True)
    if exchange:
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        await queue.bind(ex, "#")
    return connection, channel, queue


def baseline(events: int, batch: int, name: str) -> float:
    import aio_pika

    async def go() -> float:
        connection, channel, queue = await _queue(name)
        body = json.dumps({"kind": "stock", "key": "S-1\x1fMAIN", "record": {"sku": "S-1", "quantity": "1"}}).encode()
        started = time.perf_counter()
        for start in range(0, events, batch):
            await asyncio.gather(*(channel.default_exchange.publish(
                aio_pika.Message(body, content_type="application/json", message_id=str(i), delivery_mode=2), name)
                for i in range(start, min(start + batch, events))))
        seconds = time.perf_counter() - started
        await queue.purge()
        await connection.close()
        return events / seconds

    return asyncio.run(go())


def hub_app(folder: Path, exchange: str):
    config = Config.model_validate({
        "store": {"url": f"sqlite:///{folder / 'store.db'}"},
        "systems": {"files": {"connector": "files", "inbox": str(folder / "in"), "outbox": str(folder / "out"),
                              "settle_time": 0},
                    "bus": {"connector": "amqp", "exchange": exchange, "timeout": 30}},
        "outbox": {"channels": {"bus": {"batch_size": 20}}}})
    return bootstrap(config)


def connector_rate(app, events: int, messages: int) -> float:
    connector = app.connector("bus")
    items = [({"kind": "stock", "records": [{"sku": f"S-{m}-{i}", "warehouse": "MAIN", "quantity": "1"}
                                            for i in range(100)]}, f"bench:{m}") for m in range(messages)]
    started = time.perf_counter()
    sent = 0
    while sent < events:
        results = connector.deliver_batch("push_stock", items)
        assert not any(isinstance(r, Exception) for r in results), results
        sent += 100 * len(items)
    return sent / (time.perf_counter() - started)


def hub_rate(app, folder: Path, events: int, round_: int) -> float:
    inbox = folder / "in"
    inbox.mkdir(exist_ok=True)
    (inbox / f"stock-{round_}.jsonl").write_text("".join(
        json.dumps({"sku": f"S-{i}", "warehouse": "MAIN", "quantity": round_ + 1}) + "\n" for i in range(events)))
    process_inbox(app, "files")
    run_flow(app, "events")
    started = time.perf_counter()
    Worker(app).drain()
    return events / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500, help="events per batch of the baseline")
    parser.add_argument("--messages", type=int, default=5, help="push messages of 100 events per deliver_batch call")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    push.SETTLE = 0  # one writer here: nothing is still committing
    tag = uuid.uuid4().hex[:8]
    exchange, sink, raw = f"bench-{tag}", f"bench-sink-{tag}", f"bench-raw-{tag}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        app = hub_app(folder, exchange)
        (folder / "in").mkdir()
        (folder / "in" / "products.jsonl").write_text("".join(
            json.dumps({"sku": f"S-{i}", "name": f"Screw {i}"}) + "\n" for i in range(args.events)))
        process_inbox(app, "files")
        async def declare():
            connection, _, _ = await _queue(sink, exchange)
            await connection.close()

        asyncio.run(declare())
        run_flow(app, "events")
        Worker(app).drain()  # the catalog's own events, out of the way
        rates: dict[str, list[float]] = {"baseline": [], "connector": [], "hub": []}
        for round_ in range(args.rounds):
            rates["baseline"].append(baseline(args.events, args.batch, raw))
            rates["connector"].append(connector_rate(app, args.events, args.messages))
            rates["hub"].append(hub_rate(app, folder, args.events, round_))

            async def purge():
                connection, _, queue = await _queue(sink, exchange)
                await queue.purge()
                await connection.close()

            asyncio.run(purge())
            print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rates.items()), flush=True)
        app.close()

        async def cleanup():
            connection, channel, _ = await _queue(sink)
            for name in (sink, raw):
                await channel.queue_delete(name)
            await channel.exchange_delete(exchange)
            await connection.close()

        asyncio.run(cleanup())
    best = {k: max(v) for k, v in rates.items()}
    for name in ("connector", "hub"):
        print(f"{name}: {best[name]:,.0f} events/s with confirms = {best[name] / best['baseline']:.2f}x the plain "
              f"script's {best['baseline']:,.0f}/s; bar 5,000/s {'met' if best[name] >= 5000 else 'MISSED'}")


if __name__ == "__main__":
    main()
