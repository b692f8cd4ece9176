"""`erpbridge products ...`: which ERP products the shops sell (see :mod:`erpbridge.services.products`)."""

from __future__ import annotations

import click

from erpbridge.cli import cli
from erpbridge.cli.context import CliContext, pass_cli, print_json
from erpbridge.cli.delivery import actor
from erpbridge.services.products import awaiting_release, set_enabled


@cli.group()
def products() -> None:
    """Release ERP products to the shops, or withdraw them (new ones arrive disabled by default)."""


def _release_command(enabled: bool):
    verb = "enable" if enabled else "disable"

    @products.command(verb, help=f"{verb.capitalize()} products by SKU, by group (with its subgroups) or all new ones, "
                                 f"as the API's POST /api/v1/products/{verb} does. Exit 1 if a SKU or group is unknown.")
    @click.argument("skus", nargs=-1)
    @click.option("--group", "groups", multiple=True, help="Every product of this group and its subgroups (repeatable).")
    @click.option("--all-new", is_flag=True, help="Every product that arrived disabled and was never enabled.")
    @click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
    @pass_cli
    def command(ctx: CliContext, skus: tuple[str, ...], groups: tuple[str, ...], all_new: bool, as_json: bool) -> None:
        if not (skus or groups or all_new):
            raise click.UsageError("name SKUs, --group or --all-new")
        result = set_enabled(ctx.app(), enabled=enabled, skus=skus, groups=groups, all_new=all_new, actor=actor())
        if as_json:
            print_json(result.as_dict())
        else:
            click.echo(f"{verb}d {len(result.changed)} product(s)" + (f", {len(result.unchanged)} already "
                                                                      f"{verb}d" if result.unchanged else ""))
        missing = [f"SKU {s}" for s in result.unknown] + [f"group {g}" for g in result.unknown_groups]
        if missing:
            click.echo(f"not in the store: {', '.join(missing)}", err=True)
            raise SystemExit(1)
    return command


enable = _release_command(True)
disable = _release_command(False)


@products.command("awaiting")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_cli
def awaiting(ctx: CliContext, limit: int, as_json: bool) -> None:
    """List the products awaiting release (arrived disabled, never enabled), oldest first."""
    rows = awaiting_release(ctx.app(), limit=limit)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        click.echo(f"{row['sku']:<32} {row['group'] or '-':<20} arrived {row['arrived_at']:%Y-%m-%d %H:%M} UTC")
    if len(rows) == limit:
        click.echo(f"(oldest {limit} shown; more with --limit)", err=True)
    elif not rows:
        click.echo("no products await release", err=True)
