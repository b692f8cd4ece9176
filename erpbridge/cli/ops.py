"""`erpbridge flows` and `erpbridge log`: what runs when, and what was exchanged with each system."""

from __future__ import annotations

import datetime as dt
import json

import click

from erpbridge.cli import cli
from erpbridge.cli.context import CliContext, pass_cli, print_json
from erpbridge.exchange import ExchangeLog
from erpbridge.exchange.log import OUTCOMES
from erpbridge.flows import FlowBusy, FlowError, flow_status, run_flow


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def flows(click_ctx: click.Context, as_json: bool) -> None:
    """Show each flow with its schedule, mode, last run and next run (times in UTC): the built-in
    ones, the ERP connector's defaults, and those of the config's `flows:` section.

    `erpbridge flows run NAME` runs one now.
    """
    if click_ctx.invoked_subcommand is not None:
        return
    ctx: CliContext = click_ctx.find_object(CliContext)
    status = flow_status(ctx.app())
    if as_json:
        print_json(status)
        return
    rows = [("FLOW", "SYSTEM", "SCHEDULE", "MODE", "LAST RUN", "OUTCOME", "NEXT RUN", "SUMMARY")]
    for flow in status:
        last = flow["last_run"] or {}
        origin = flow["origin"]
        rows.append((
            flow["flow"] + ("" if origin == "config" else f" ({origin})"),
            flow["system"] or "-",
            (flow["schedule"] or "on demand") + (" + on change" if flow["on_change"] else ""),
            flow["mode"],
            _time(last.get("started_at")) or "never",
            last.get("outcome", ""),
            _next_run(flow),
            _summary(last),
        ))
    _table(rows)


def _next_run(flow: dict) -> str:
    if flow["next_run"] is None:
        return "disabled" if not flow["enabled"] else "-"
    if flow["waits_for"]:
        return f"waits for {flow['waits_for']['system']} (offline until {_time(flow['waits_for']['offline_until'])})"
    return ("due since " if flow["due"] else "") + _time(flow["next_run"])


@flows.command("run")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the finished run as JSON.")
@pass_cli
def flows_run(ctx: CliContext, name: str, as_json: bool) -> None:
    """Run the flow NAME now (exit 1 if it failed or rejected records)."""
    try:
        run = run_flow(ctx.app(), name)
    except FlowError as exc:
        raise click.UsageError(str(exc)) from None
    except FlowBusy as exc:
        click.echo(f"erpbridge: {exc}", err=True)
        raise SystemExit(1) from None
    if as_json:
        print_json(run)
    else:
        summary = _summary(run)
        click.echo(f"{name}: {run['outcome']} in {(run['finished_at'] - run['started_at']).total_seconds():.2f}s"
                   + (f": {summary}" if summary else ""))
        if run["error"]:
            click.echo(f"error: {run['error']}", err=True)
    if run["outcome"] != "ok":
        raise SystemExit(1)


class When(click.ParamType):
    """A date (2026-11-23) or date and time (2026-11-23T14:00, 2026-11-23 14:00:30+01:00); UTC unless an offset is given."""

    name = "DATE|DATETIME"

    def convert(self, value, param, ctx):
        if isinstance(value, dt.datetime):
            return value
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"expected a date like 2026-11-23 or a date and time like 2026-11-23T14:00, got {value!r}",
                      param, ctx)
        date_only = len(value.strip()) == 10
        parsed = parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed
        return parsed, date_only


@cli.group(invoke_without_command=True)
@click.option("--from", "since", type=When(), help="Entries at or after this date/time (UTC unless an offset is given).")
@click.option("--to", "until", type=When(), help="Entries before this date/time; a date alone includes that whole day.")
@click.option("--point", help="Only this measuring point (e.g. tryton.sale.create).")
@click.option("--system", help="Only exchanges with this system.")
@click.option("--flow", help="Only exchanges of this flow.")
@click.option("--outcome", type=click.Choice(OUTCOMES), help="Only this outcome.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True, help="At most this many entries, newest first.")
@click.option("--before", "before_id", type=int, help="Only entries with a smaller ID (the next page).")
@click.option("--json", "as_json", is_flag=True, help="Print the entries with their redacted payloads as JSON.")
@click.pass_context
def log(click_ctx: click.Context, since, until, point, system, flow, outcome, limit, before_id, as_json) -> None:
    """Show the exchange log (the ERP request log): every request and response with a system,
    newest first, with secrets and personal data redacted.

    `erpbridge log prune` removes entries older than the retention.
    """
    if click_ctx.invoked_subcommand is not None:
        return
    ctx: CliContext = click_ctx.find_object(CliContext)
    if until is not None:
        until = until[0] + dt.timedelta(days=1) if until[1] else until[0]
    entries = ExchangeLog.for_app(ctx.app()).query(since=since and since[0], until=until, point=point, system=system,
                                                   flow=flow, outcome=outcome, limit=limit + 1, before_id=before_id)
    more, entries = len(entries) > limit, entries[:limit]
    if as_json:
        print_json(entries)
        return
    if not entries:
        click.echo("no exchange log entries match", err=True)
        return
    rows = [("ID", "TIME (UTC)", "SYSTEM", "FLOW", "POINT", "DIR", "MS", "OUTCOME", "BYTES", "ERROR")]
    for e in entries:
        rows.append((str(e["id"]), e["at"].strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], e["system"], e["flow"], e["point"],
                     e["direction"], f"{e['duration_ms']:.1f}", e["outcome"], str(e["size"]),
                     _short(e["error"] or "", 80)))
    _table(rows)
    if more:
        click.echo(next_page(limit, entries[-1]["id"]), err=True)


@log.command("prune")
@click.option("--days", type=click.FloatRange(min=0, min_open=True),
              help="Keep this many days (default: exchange_log.retention_days).")
@pass_cli
def log_prune(ctx: CliContext, days: float | None) -> None:
    """Delete exchange log entries older than the retention (the scheduler does this daily: the built-in prune flow)."""
    app = ctx.app()
    days = days if days is not None else app.config.exchange_log.retention_days
    deleted = ExchangeLog.for_app(app).prune(days)
    click.echo(f"deleted {deleted} exchange log entries older than {days:g} days")


def next_page(limit: int, last_id: int) -> str:
    """The line a list command prints when it showed ``limit`` rows and more match."""
    return f"(newest {limit} shown; next page: --before {last_id})"


def _time(value) -> str:
    if value is None:
        return ""
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _summary(run: dict) -> str:
    summary = run.get("summary") or {}
    parts = [f"{key} {len(value) if isinstance(value, (list, dict)) else value}"
             for key in ("files", "fetched", "new", "changed", "unchanged", "rejected", "requeued", "stuck", "missed_slots")
             if (value := summary.get(key))]
    if summary.get("put_off"):
        parts.append(summary["put_off"])
    if not parts and summary:
        parts = [_short(json.dumps(summary, default=str), 60)]
    if run.get("error"):
        parts.append(_short(run["error"], 60))
    return ", ".join(parts)


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(rows: list[tuple]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
