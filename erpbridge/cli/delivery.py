"""`erpbridge worker`, `messages`, `replay`, `discard` and `reconcile`: running and repairing the outbox."""

from __future__ import annotations

import getpass
import signal
import threading

import click

from erpbridge.cli import cli
from erpbridge.cli.context import CliContext, pass_cli, print_json
from erpbridge.cli.ops import next_page
from erpbridge.outbox import discard as discard_messages
from erpbridge.outbox import replay as replay_messages
from erpbridge.outbox.messages import list_messages
from erpbridge.flows.runs import FlowRuns
from erpbridge.ingest.reconcile_stock import recorded as recorded_stock_run
from erpbridge.outbox.reconcile import reconcile as reconcile_orders
from erpbridge.outbox.tables import STATES
from erpbridge.outbox.worker import Worker, run_workers


def actor() -> str:
    """Who runs this command, for the records of what operators did."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "cli"


@cli.command()
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Delivery threads in this process (channel capacities still apply across all workers).")
@click.option("--http-port", type=click.IntRange(1, 65535),
              help="Serve /health and /metrics on this port (default: outbox.worker_port; none if unset).")
@pass_cli
def worker(ctx: CliContext, once: bool, concurrency: int, http_port: int | None) -> None:
    """Deliver outbox messages to their systems until stopped (Ctrl-C or SIGTERM).

    Start as many as you like, on one host (SQLite or PostgreSQL) or several (PostgreSQL):
    they share the work, and a message is never delivered by two of them at once.
    """
    ctx.require_secrets()
    app = ctx.app()
    if once:
        click.echo(f"delivered {Worker(app).drain()} message(s)")
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server = None
    port = http_port or app.config.outbox.worker_port
    if port:
        from erpbridge.control.worker_http import serve

        server, _ = serve(app, stop, port)
    click.echo(f"worker running with {concurrency} thread(s)"
               + (f", /health and /metrics on port {port}" if server else "")
               + "; stop with Ctrl-C", err=True)
    try:
        run_workers(app, stop, concurrency=concurrency)
    finally:
        if server is not None:
            server.should_exit = True


@cli.command()
@click.option("--state", type=click.Choice(STATES), help="Only messages in this state.")
@click.option("--channel", help="Only messages of this channel (system).")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True, help="At most this many, newest first.")
@click.option("--before", "before_id", type=int, help="Only messages with a smaller ID (the next page).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON (with payloads).")
@pass_cli
def messages(ctx: CliContext, state: str | None, channel: str | None, limit: int, before_id: int | None,
             as_json: bool) -> None:
    """List outbox messages, newest first, a page of --limit at a time."""
    rows = list_messages(ctx.app().engine, state=state, channel=channel, limit=limit + 1, before_id=before_id)
    more, rows = len(rows) > limit, rows[:limit]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no messages")
        return
    click.echo(f"{'ID':>8}  {'CHANNEL':<10} {'KEY':<20} {'SEQ':>4}  {'OPERATION':<16} {'STATE':<9} {'TRIES':>5}  "
               f"{'NEXT RUN (UTC)':<19}  LAST ERROR")
    for r in rows:
        error = (r["last_error"] or "").replace("\n", " ")
        click.echo(f"{r['id']:>8}  {r['channel']:<10} {r['business_key'][:20]:<20} {r['sequence']:>4}  "
                   f"{r['operation']:<16} {r['state']:<9} {r['attempts']:>5}  "
                   f"{r['next_run_at']:%Y-%m-%d %H:%M:%S}  {error[:60]}")
    if more:
        click.echo(next_page(limit, rows[-1]["id"]), err=True)


@cli.command()
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-dead", is_flag=True, help="Replay every dead message (of --channel, if given).")
@click.option("--channel", help="With --all-dead: only this channel.")
@click.option("--reason", help="Why (kept with the message's history).")
@pass_cli
def replay(ctx: CliContext, ids: tuple[int, ...], all_dead: bool, channel: str | None, reason: str | None) -> None:
    """Send dead messages again, with a fresh set of attempts. Exit 1 if an ID was not dead."""
    if bool(ids) == all_dead:
        raise click.UsageError("give message IDs or --all-dead (not both)")
    done = replay_messages(ctx.app().engine, ids, channel=channel, all_dead=all_dead, actor=actor(), reason=reason)
    _report("replayed", ids, done, "not dead (or unknown), not replayed")


@cli.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@click.option("--reason", required=True, help="Why these messages will never be delivered (kept in the history).")
@pass_cli
def discard(ctx: CliContext, ids: tuple[int, ...], reason: str) -> None:
    """Give up dead or pending messages for good; later messages of their keys go on. Exit 1 if
    an ID could not be discarded."""
    try:
        done = discard_messages(ctx.app().engine, ids, actor=actor(), reason=reason)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--reason") from None
    _report("discarded", ids, done, "not dead or pending (or unknown), not discarded")


def _report(verb: str, ids: tuple[int, ...], done: list[int], refused: str) -> None:
    """Echo the ids an operator action handled; exit 1 naming the asked-for ids it refused."""
    click.echo(f"{verb} {len(done)} message(s)" + (f": {', '.join(map(str, done))}" if done else ""))
    missing = sorted(set(ids) - set(done))
    if missing:
        click.echo(f"{refused}: {', '.join(map(str, missing))}", err=True)
        raise SystemExit(1)


@cli.group(invoke_without_command=True)
@click.option("--older-than", "older_than", type=click.FloatRange(0), help="Minutes (default: outbox.reconcile_after_minutes).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_cli
@click.pass_context
def reconcile(click_ctx: click.Context, ctx: CliContext, older_than: float | None, as_json: bool) -> None:
    """Find accepted orders without an ERP id, and orders the ERP left unfinished (Tryton: a sale
    confirmed but never processed), and queue them again (seed 003). `erpbridge reconcile stock`
    compares the ERP's stock with the store's instead.

    Exit 1 when an order needed repair (re-queued, or waiting on a dead message).
    """
    if click_ctx.invoked_subcommand is not None:
        return
    app = ctx.app()
    runs = FlowRuns(app.engine)  # kept like the scheduled flow's runs: the control center shows them
    run = runs.start("reconcile", trigger="cli")
    try:
        report = reconcile_orders(app, older_than_minutes=older_than)
    except Exception as exc:
        runs.finish(run.id, "failed", error=str(exc))
        raise
    runs.finish(run.id, "ok", report.as_dict())
    if as_json:
        print_json(report.as_dict())
    else:
        click.echo(f"{len(report.found)} accepted order(s) older than {report.older_than_minutes:g} min "
                   f"without an id in {report.system}")
        if report.stuck is None:
            click.echo(f"unfinished orders in {report.system} not looked for: {report.stuck_unchecked}")
        else:
            click.echo(f"{len(report.stuck)} order(s) unfinished in {report.system}"
                       + "".join(f"\n  {number}: {why}" for number, why in list(report.stuck.items())[:SHOWN])
                       + _more(len(report.stuck)))
        for label, numbers in (("re-queued", report.requeued), ("already queued", report.already_queued),
                               ("dead message (replay or discard it)", report.dead),
                               ("delivered, ERP id not yet reported", report.unconfirmed),
                               ("message discarded", report.discarded)):
            if numbers:
                click.echo(f"  {label}: {', '.join(numbers[:SHOWN])}" + _more(len(numbers)))
    if report.needs_repair:
        raise SystemExit(1)


@reconcile.command("stock")
@click.option("--repair", is_flag=True, help="Write the ERP's values into the store (as deltas: pushes follow).")
@click.option("--in-flight", "in_flight", type=click.FloatRange(0),
              help="Minutes (default: outbox.stock_in_flight_minutes): a store value changed this recently is "
                   "in flight, not a difference.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_cli
def reconcile_stock_command(ctx: CliContext, repair: bool, in_flight: float | None, as_json: bool) -> None:
    """Compare, per SKU and warehouse, the ERP's whole stock with the store's, and list what
    differs (with --repair, write the ERP's values in: the ERP is the source of truth).

    Exit 1 when anything differed or could not be read.
    """
    report = recorded_stock_run(ctx.app(), trigger="cli", repair=repair, in_flight_minutes=in_flight)
    if as_json:
        print_json(report.as_dict())
    else:
        click.echo(f"{report.compared} ERP stock row(s) compared; {report.differing} differ"
                   + (f", {report.repaired} repaired" if repair else " (--repair writes the ERP's values)")
                   + f"; {report.in_flight} in flight (changed in the last {report.in_flight_minutes:g} min)")
        if report.shop_compared:
            click.echo(f"{report.shop_compared} shop stock row(s) compared; {report.shop_differing} differ"
                       + (f", {report.resent} sent again" if repair else ""))
        for d in report.differences[:SHOWN]:
            store = "none" if d["store"] is None else f"{d['store']} ({d['store_age_minutes']:.0f} min old)"
            if d["side"] == "shop":
                click.echo(f"  {d['sku']} in {d['warehouse']}: {d['system']} {d['shop'] or 'none'}, store {store}")
            else:
                erp = "not listed (0)" if d["erp"] is None else d["erp"]
                click.echo(f"  {d['sku']} in {d['warehouse']}: ERP {erp}, store {store}")
        if report.differing > SHOWN:
            click.echo(_more(report.differing))
        for line in report.oversold[:SHOWN]:
            click.echo(f"  oversold: order {line['order']} took {line['quantity']} of {line['sku']}, "
                       f"the ERP has {line['erp']}")
        for why in report.rejections[:SHOWN]:
            click.echo(f"  rejected: {why}", err=True)
        if report.unchecked:
            click.echo(f"not compared: {report.unchecked}", err=True)
        if report.shops_unchecked:
            click.echo(f"shops not compared: {report.shops_unchecked}", err=True)
    if report.needs_repair:
        raise SystemExit(1)


#: Orders named per line of `erpbridge reconcile` (--json lists them all).
SHOWN = 50


def _more(count: int) -> str:
    return f" ... and {count - SHOWN} more (--json lists all)" if count > SHOWN else ""
