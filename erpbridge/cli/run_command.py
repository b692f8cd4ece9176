"""`erpbridge run`: the long-running job, everything one process does in production."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click

from erpbridge.cli import cli
from erpbridge.cli.context import CliContext, pass_cli

log = logging.getLogger("erpbridge.run")


@cli.command()
@click.option("--concurrency", type=click.IntRange(1), default=1, show_default=True,
              help="Outbox worker threads in this process.")
@click.option("--no-api", is_flag=True, help="Do not serve the shop's API (workers, flows and the inbox only).")
@click.option("--host", help="API address (default: api.host).")
@click.option("--port", type=int, help="API port (default: api.port).")
@pass_cli
def run(ctx: CliContext, concurrency: int, no_api: bool, host: str | None, port: int | None) -> None:
    """Run erpbridge: upgrade the store's schema, then until stopped (Ctrl-C or SIGTERM) import
    what arrives in the inboxes of files systems, run the scheduled flows, deliver the outbox,
    serve the API and announce changes to webhook subscribers.

    Start as many as you like on PostgreSQL: they share the outbox and each flow slot runs once.
    """
    from erpbridge.flows.scheduler import run_scheduler
    from erpbridge.outbox.worker import run_workers

    ctx.require_secrets()  # every system's connector will be built: a missing secret stops it now
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = ctx.app(migrate=True)
    stop = threading.Event()
    failed: list[str] = []
    parts = {
        "scheduler": lambda: run_scheduler(app, stop),
        "workers": lambda: run_workers(app, stop, concurrency=concurrency),
        # What each system's connector watches of its own (a files system's inbox).
        **{f"watch-{name}": (lambda name=name: app.connector(name).watch(stop))
           for name in app.systems_that(lambda capabilities: capabilities.watch)},
    }
    api = ctx.config.api
    server = None
    if api.enabled and not no_api:
        from erpbridge.api import create_api
        from erpbridge.api.server import api_server

        server = api_server(create_api(app), api, host=host, port=port)
    if server is None:
        from erpbridge.services.webhook_events import run_publisher

        parts["webhooks"] = lambda: run_publisher(app, stop)  # the API server publishes when it runs
    threads = [threading.Thread(target=_until_stopped(name, part, stop, failed), name=name, daemon=True)
               for name, part in parts.items()]
    for thread in threads:
        thread.start()
    if server is not None:
        # Off the main thread uvicorn leaves signals alone: they are this command's to handle.
        threads.append(threading.Thread(target=server.run, name="api", daemon=True))
        threads[-1].start()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    log.info("running%s; stop with Ctrl-C", "" if server else " without the API")
    while not stop.wait(0.5):
        if server is not None and not threads[-1].is_alive():
            log.error("the API server stopped (is the port taken?); stopping")
            failed.append("api")
            stop.set()
    if server is not None:
        server.should_exit = True
    for thread in threads:
        thread.join(timeout=30)
    log.info("stopped")
    if failed:
        sys.exit(1)


def _until_stopped(name: str, part, stop: threading.Event, failed: list[str]):
    """A part that fails stops the whole process (exit code 1) rather than leaving it half alive."""
    def target() -> None:
        try:
            part()
        except Exception:
            log.exception("%s failed; stopping", name)
            failed.append(name)
            stop.set()
    return target

