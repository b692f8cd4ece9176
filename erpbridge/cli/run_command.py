"""`erpbridge run`: the long-running job, everything one process does in production."""

from __future__ import annotations

import logging
import signal
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
    what arrives in the ERP inbox, run the scheduled flows, deliver the outbox and serve the API.

    Start as many as you like on PostgreSQL: they share the outbox and each flow slot runs once.
    """
    from erpbridge.connectors.files.inbox import watch_inbox
    from erpbridge.flows.scheduler import run_scheduler
    from erpbridge.outbox.worker import run_workers

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = ctx.app(migrate=True)
    stop = threading.Event()
    parts = {
        "inbox": lambda: watch_inbox(app, stop),
        "scheduler": lambda: run_scheduler(app, stop),
        "workers": lambda: run_workers(app, stop, concurrency=concurrency),
    }
    threads = [threading.Thread(target=_until_stopped(name, part, stop), name=name, daemon=True)
               for name, part in parts.items()]
    for thread in threads:
        thread.start()
    api = ctx.config.api
    try:
        if api.enabled and not no_api:
            _serve(app, host or api.host, port or api.port)  # returns on Ctrl-C / SIGTERM
        else:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
            log.info("running without the API; stop with Ctrl-C")
            while not stop.wait(1):
                pass
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    log.info("stopped")


def _until_stopped(name: str, part, stop: threading.Event):
    """A part that fails stops the whole process rather than leaving it half alive."""
    def target() -> None:
        try:
            part()
        except Exception:
            log.exception("%s failed; stopping", name)
            stop.set()
            signal.raise_signal(signal.SIGTERM)
    return target


def _serve(app, host: str, port: int) -> None:
    import uvicorn

    from erpbridge.api import create_api

    server = uvicorn.Server(uvicorn.Config(create_api(app), host=host, port=port, log_level="info",
                                           proxy_headers=False, server_header=False))
    server.run()
