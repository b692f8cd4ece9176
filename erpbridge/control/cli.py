"""`erpbridge users ...`: the people who may sign in to the control center, and their roles."""

from __future__ import annotations

import sys

import click

from erpbridge.cli import cli
from erpbridge.cli.context import CliContext, pass_cli, print_json
from erpbridge.control.tables import ROLES
from erpbridge.control.users import UserError, change_user, create_user, list_users


def _password(given: str | None) -> str:
    """The password from --password-stdin's line, else asked twice on the terminal."""
    if given is not None:
        return given
    return click.prompt("password", hide_input=True, confirmation_prompt=True)


def _fail(exc: Exception) -> None:
    click.echo(f"erpbridge: {exc}", err=True)
    sys.exit(2)


@cli.group()
def users() -> None:
    """Manage who may sign in to the control center (/control): viewers see, operators also act
    on messages and systems, admins also manage users."""


@users.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option("--password-stdin", "from_stdin", is_flag=True, help="Read the password from the first line of stdin.")
@pass_cli
def users_create(ctx: CliContext, name: str, role: str, from_stdin: bool) -> None:
    """Create user NAME (the password is asked for, or read with --password-stdin; 12 characters at least)."""
    try:
        user = create_user(ctx.app().engine, name, role, _password(sys.stdin.readline().rstrip("\n") if from_stdin
                                                                   else None))
    except UserError as exc:
        _fail(exc)
    click.echo(f"created {user.name} ({user.role})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_cli
def users_list(ctx: CliContext, as_json: bool) -> None:
    """List users with their roles (passwords are never shown: only their hashes are kept)."""
    found = [u.as_dict() for u in list_users(ctx.app().engine)]
    if as_json:
        print_json(found)
        return
    for u in found:
        state = f"disabled {u['disabled_at']:%Y-%m-%d %H:%M}" if u["disabled_at"] else "active"
        click.echo(f"{u['name']:<24} {u['role']:<9} {state}")


@users.command("set")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), help="A new role.")
@click.option("--password", "new_password", is_flag=True, help="Set a new password (asked for; ends their sessions).")
@click.option("--password-stdin", "from_stdin", is_flag=True, help="Read the new password from stdin.")
@click.option("--disable/--enable", default=None, help="Disable (ends their sessions) or enable the user.")
@pass_cli
def users_set(ctx: CliContext, name: str, role: str | None, new_password: bool, from_stdin: bool,
              disable: bool | None) -> None:
    """Change user NAME's role, password or disabled state."""
    password = (sys.stdin.readline().rstrip("\n") if from_stdin else _password(None)) if (
        new_password or from_stdin) else None
    try:
        user = change_user(ctx.app().engine, name, role=role, password=password, disabled=disable)
    except UserError as exc:
        _fail(exc)
    click.echo(f"{user.name}: {user.role}, {'disabled' if user.disabled_at else 'active'}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_cli
def kpis(ctx: CliContext, as_json: bool) -> None:
    """Seed 004's KPIs against their targets (control.kpis); exit 1 if one is missed."""
    from erpbridge.control.kpis import compute, failing

    found = compute(ctx.app())
    missed = failing(found)
    if as_json:
        print_json(found)
    else:
        o, i = found["order_export_latency"], found["inventory_sync_latency"]
        click.echo(f"order export latency: p50 {_s(o['p50_seconds'])}, p95 {_s(o['p95_seconds'])} of {o['count']} "
                   f"(target p95 < {o['target_p95_seconds']:g} s)")
        click.echo(f"inventory sync latency: p95 {_s(i['p95_seconds'])} of {i['count']} "
                   f"(target < {i['target_p95_seconds']:g} s)")
        rates = found["error_rate"]["per_1000_by_flow"]
        click.echo("errors per 1,000 exchanges: " + (", ".join(f"{f} {r:g}" for f, r in rates.items()) or "none"))
        click.echo(f"oversell incidents: {found['oversell']['incidents']}")
        for detail in missed.values():
            click.echo(f"missed: {detail}", err=True)
    if missed:
        raise SystemExit(1)


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"


@cli.group()
def alerts() -> None:
    """The alert rules of control.alerts (the API process checks them every control.alert_interval)."""


@alerts.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_cli
def alerts_check(ctx: CliContext, as_json: bool) -> None:
    """Check the rules now: open and resolve incidents and send their notices."""
    from erpbridge.control.alerts import check

    done = check(ctx.app())
    if as_json:
        print_json(done)
        return
    for alert in done["opened"]:
        click.echo(f"opened {alert['rule']} {alert['subject']}: {alert['detail']}")
    for alert in done["resolved"]:
        click.echo(f"resolved {alert['rule']} {alert['subject']}")
