"""`erpbridge db ...` and `erpbridge status`: the store's schema and what it holds."""

from __future__ import annotations

import click
from sqlalchemy import func, select

from erpbridge.cli import cli
from erpbridge.cli.context import CliContext, pass_cli, print_json
from erpbridge.connectors.files.inbox_passes import inbox_states
from erpbridge.flows import flow_status
from erpbridge.flows.shop_status import shop_status
from erpbridge.store import migrate
from erpbridge.store.tables import products


@cli.group()
def db() -> None:
    """Manage the store's schema."""


@db.command("upgrade")
@pass_cli
def db_upgrade(ctx: CliContext) -> None:
    """Apply pending migrations (erpbridge run does this by itself)."""
    app = ctx.app(migrate=False)
    before = migrate.revision_of(app.engine)
    migrate.upgrade(app.engine)
    after = migrate.revision_of(app.engine)
    click.echo(f"store at revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))


@db.command("current")
@pass_cli
def db_current(ctx: CliContext) -> None:
    """Print the store's schema revision and the newest one this erpbridge knows."""
    app = ctx.app(migrate=False)
    click.echo(f"current {migrate.revision_of(app.engine) or 'empty'}, head {migrate.head()}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_cli
def status(ctx: CliContext, as_json: bool) -> None:
    """Show the store, its schema revision, how many records of each kind it holds and what each shop has pending."""
    app = ctx.app(migrate=False)
    revision = migrate.revision_of(app.engine)
    counts = app.records.counts() if revision else {}
    enabled = 0
    if revision:
        with app.engine.connect() as conn:
            enabled = conn.execute(select(func.count()).where(products.c.enabled)).scalar_one()
    report = {
        "store": app.engine.url.render_as_string(hide_password=True),
        "revision": revision,
        "head": migrate.head(),
        "records": counts,
        "products_enabled": enabled,
        "inboxes": inbox_states(app) if revision == migrate.head() else [],
        "shops": shop_status(app, flow_status(app)) if revision == migrate.head() else [],
    }
    if as_json:
        print_json(report)
        return
    click.echo(f"store     {report['store']}")
    click.echo(f"schema    {revision or 'empty (run: erpbridge db upgrade)'}" + ("" if revision == report["head"] else f" -> {report['head']} pending"))
    for inbox in report["inboxes"]:
        click.echo(f"inbox     {inbox['system']}: {'FAILING' if inbox['failing'] else 'ok'}: last pass "
                   f"{inbox['last_pass_at']}, {inbox['files']} files, {inbox['failed']} failed")
        for failure in inbox["failures"]:
            click.echo(f"  failed  {failure['reason']}")
    for shop in report["shops"]:
        _echo_shop(shop)
    for kind, count in counts.items():
        if count:
            extra = f"  ({enabled} enabled)" if kind == "products" else ""
            click.echo(f"{kind:<16}{count:>10}{extra}")


def _echo_shop(shop: dict) -> None:
    oldest = shop["oldest_pending_seconds"]
    age = f", oldest {oldest:.0f} s" if oldest else ""
    click.echo(f"shop      {shop['system']}: {shop['pending']} pending{age}")
    for operation, states in sorted(shop["operations"].items()):
        click.echo(f"  {operation:<22}" + ", ".join(f"{states[s]} {s}" for s in ("pending", "running", "dead")))
    for kind, cursor in shop["cursors"].items():
        click.echo(f"  cursor  {kind:<14}{cursor['updated_at']}  {cursor['key']}")
    for flow in shop["flows"]:
        click.echo(f"  flow    {flow['flow']:<14}last run {flow['last_run'] or 'never'}"
                   + (f" ({flow['outcome']})" if flow["outcome"] else ""))
