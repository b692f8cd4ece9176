"""`erpbridge demo`: the quick start's main job. Imports a sample ERP export into the store and
shows, through the shop's real API (called in-process), what a shop would be served.

Run it twice: the second run finds every record unchanged and writes nothing (delta).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click
import httpx
from sqlalchemy import select

from erpbridge.bootstrap import App
from erpbridge.cli import cli
from erpbridge.cli.context import CliContext, pass_cli, print_json
from erpbridge.cli.import_command import import_with_progress, print_summary
from erpbridge.connectors.files.importer import Importer
from erpbridge.ingest.report import ImportReport
from erpbridge.connectors.files.inbox import kind_of
from erpbridge.records import IMPORT_KINDS
from erpbridge.store.tables import prices

#: Lines of each answer printed (`--json` prints them whole).
SHOWN_LINES = 24


@cli.command()
@click.option("--export", "export_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of ERP export files (default: erp-export/ beside the config file).")
@click.option("--json", "as_json", is_flag=True, help="Print the import reports and the API's answers as JSON.")
@pass_cli
def demo(ctx: CliContext, export_dir: Path | None, as_json: bool) -> None:
    """Import a folder of ERP exports (groups, products, prices, stock, customers) into the store
    and show what the shop's API serves from it.

    With the shipped example: `cd examples && erpbridge demo`. Exit code 1 when a record was rejected.
    """
    app = ctx.app()
    folder = export_dir or ctx.config.resolve(Path("erp-export"))
    files = _export_files(app, folder)
    if not files:
        click.echo(f"erpbridge: no ERP export files in {folder} (expected names such as products.csv, "
                   f"prices.xml, stock.jsonl)", err=True)
        sys.exit(2)
    reports: list[ImportReport] = []
    for kind, path in files:
        reports.append(import_with_progress(Importer(ctx.config, app.records, kind), path, show_progress=not as_json))
        if not as_json:
            print_summary(reports[-1])
    served = asyncio.run(_what_the_shop_sees(app))
    if as_json:
        print_json({"imports": [r.as_dict() for r in reports], "served": served})
    else:
        _print_served(served)
        click.echo("\nServe it for real: erpbridge run   (API docs at http://127.0.0.1:"
                   f"{ctx.config.api.port}/docs; create a key with: erpbridge keys create --scopes read:catalog)")
    sys.exit(0 if all(r.ok for r in reports) else 1)


def _export_files(app: App, folder: Path) -> list[tuple[str, Path]]:
    """The folder's export files in dependency order: groups before the products that name them."""
    if not folder.is_dir():
        return []
    found = [(kind_of(app, p.name), p) for p in sorted(folder.iterdir()) if p.is_file()]
    return sorted(((k, p) for k, p in found if k), key=lambda kp: IMPORT_KINDS.index(kp[0]))


async def _what_the_shop_sees(app: App) -> list[dict]:
    """A few GETs a shop makes, answered by the real API app over an in-process transport,
    with a key created for the occasion and revoked afterwards."""
    from erpbridge.api import create_api
    from erpbridge.api.keys import create_key, revoke_key

    with app.engine.connect() as conn:
        own = conn.execute(select(prices.c.sku, prices.c.customer).where(prices.c.customer.is_not(None))
                           .order_by(prices.c.sku).limit(1)).first()
        tiered = conn.execute(select(prices.c.sku).where(prices.c.min_quantity > 1)
                              .order_by(prices.c.sku).limit(1)).scalar()
    paths = ["/api/v1/product-groups", "/api/v1/products?limit=3"]
    if tiered:
        paths += [f"/api/v1/prices/{tiered}?quantity=10", f"/api/v1/stock/{tiered}"]
    if own:
        paths += [f"/api/v1/prices/{own.sku}?customer={own.customer}", f"/api/v1/customers/{own.customer}"]
    token, key = create_key(app.engine, ["read:catalog", "read:customers"], name="erpbridge demo")
    try:
        transport = httpx.ASGITransport(app=create_api(app, erp=None))
        async with httpx.AsyncClient(transport=transport, base_url="http://demo",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            answers = []
            for path in paths:
                response = await client.get(path)
                answers.append({"request": f"GET {path}", "status": response.status_code, "body": response.json()})
            return answers
    finally:
        revoke_key(app.engine, key.prefix)


def _print_served(served: list[dict]) -> None:
    click.echo("\nWhat the shop is served (GET ... -> answer, from the store):")
    for answer in served:
        click.echo(f"\n{answer['request']}  -> {answer['status']}")
        click.echo(_short(answer["body"]))


def _short(body: dict) -> str:
    """Enough of an answer to see its shape: lists cut to three items, long text cut."""
    def cut(value):
        if isinstance(value, list):
            return [cut(v) for v in value[:3]] + ([f"... {len(value) - 3} more"] if len(value) > 3 else [])
        if isinstance(value, dict):
            return {k: cut(v) for k, v in value.items() if v not in (None, [], {})}
        return value

    text = json.dumps(cut(body), indent=2, ensure_ascii=False, default=str)
    lines = text.splitlines()
    more = [f"  ... ({len(lines) - SHOWN_LINES} more lines)"] if len(lines) > SHOWN_LINES else []
    return "\n".join(lines[:SHOWN_LINES] + more)
