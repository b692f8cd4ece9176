"""`erpbridge keys ...` (API keys for the shop), `erpbridge serve` (the shop's API alone) and
`erpbridge webhooks publish` (one pass of the webhook change publisher)."""

from __future__ import annotations

import sys

import click

from erpbridge.api.keys import SCOPES, ApiKeyError, create_key, list_keys, revoke_key
from erpbridge.cli import cli
from erpbridge.cli.context import CliContext, pass_cli, print_json


@cli.group()
def keys() -> None:
    """Manage the API keys the shop uses (stored hashed; the token is shown once)."""


@keys.command("create")
@click.option("--scopes", required=True,
              help=f"Comma-separated scopes, least privilege: {', '.join(SCOPES)} (admin implies all).")
@click.option("--name", help="A name to recognise the key by (default: key-<prefix>).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_cli
def keys_create(ctx: CliContext, scopes: str, name: str | None, as_json: bool) -> None:
    """Create a key and print its token (it cannot be shown again)."""
    wanted = [s.strip() for s in scopes.replace(" ", ",").split(",") if s.strip()]
    try:
        token, key = create_key(ctx.app().engine, wanted, name)
    except ApiKeyError as exc:
        click.echo(f"erpbridge: {exc}", err=True)
        sys.exit(2)
    if as_json:
        print_json({"token": token, **key.as_dict()})
    else:
        click.echo(token)
        click.echo(f"key {key.name} (prefix {key.prefix}), scopes {' '.join(sorted(key.scopes))}; "
                   f"the token is not stored and cannot be shown again", err=True)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_cli
def keys_list(ctx: CliContext, as_json: bool) -> None:
    """List keys (prefix, name, scopes, revoked); tokens are never shown."""
    found = [k.as_dict() for k in list_keys(ctx.app().engine)]
    if as_json:
        print_json(found)
        return
    for k in found:
        state = f"revoked {k['revoked_at']:%Y-%m-%d %H:%M}" if k["revoked_at"] else "active"
        click.echo(f"{k['prefix']}  {k['name']:<24} {' '.join(k['scopes']):<40} {state}")


@keys.command("revoke")
@click.argument("key")
@pass_cli
def keys_revoke(ctx: CliContext, key: str) -> None:
    """Revoke a key by its prefix or name (running servers stop accepting it within
    api.key_cache_seconds)."""
    try:
        revoked = revoke_key(ctx.app().engine, key)
    except ApiKeyError as exc:
        click.echo(f"erpbridge: {exc}", err=True)
        sys.exit(1)
    click.echo(f"revoked {revoked.name} ({revoked.prefix})")


@cli.command()
@click.option("--host", help="Address to listen on (default: api.host, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: api.port, 8080).")
@pass_cli
def serve(ctx: CliContext, host: str | None, port: int | None) -> None:
    """Run the shop's API alone (no workers; `erpbridge run` runs both)."""
    from erpbridge.api import create_api
    from erpbridge.api.server import api_server

    ctx.require_secrets([ctx.config.erp_for()])  # the ERP's connector answers real-time lookups
    api_server(create_api(ctx.app()), ctx.config.api, host=host, port=port).run()


@cli.group()
def webhooks() -> None:
    """The shop's webhooks (signed events delivered through the outbox)."""


@webhooks.command("publish")
@click.option("--settle", type=float, help="Leave changes younger than this many seconds for the next pass "
                                           "(default: the webhooks system's settle).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_cli
def webhooks_publish(ctx: CliContext, settle: float | None, as_json: bool) -> None:
    """Announce what changed in the store since the last pass (order feedback, products, prices,
    stock) to the subscribers; `erpbridge run` and `serve` do this every scan_interval."""
    from erpbridge.connectors.webhooks import webhook_systems
    from erpbridge.services.webhook_events import publish_changes

    app = ctx.app()
    if not webhook_systems(app.config):
        click.echo("erpbridge: no system with connector: webhooks is configured", err=True)
        sys.exit(2)
    counts = publish_changes(app, settle=settle)
    if as_json:
        print_json(counts)
    else:
        click.echo(", ".join(f"{kind} {n}" for kind, n in counts.items()) + " event(s) enqueued")
