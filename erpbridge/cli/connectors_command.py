"""`erpbridge connectors`: the installed connectors, what each can do, and the systems that use them."""

from __future__ import annotations

import click

from erpbridge.cli import cli
from erpbridge.cli.context import CliContext, pass_cli, print_json
from erpbridge.connectors import registry


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_cli
def connectors(ctx: CliContext, as_json: bool) -> None:
    """List the installed connectors (erpbridge's own and those of other packages, found through
    the `erpbridge.connectors` entry points), their capabilities and the configured systems of each."""
    specs = registry.installed()
    systems = ctx.config.systems
    found = [{**spec.as_dict(), "systems": {name: system.role for name, system in systems.items()
                                           if system.connector == spec.name}} for spec in specs.values()]
    if as_json:
        print_json(found)
        return
    for entry in found:
        capabilities = entry["capabilities"]
        used = ", ".join(f"{name} ({role})" for name, role in entry["systems"].items()) or "no system"
        click.echo(f"{entry['name']}  [{entry['distribution']}]  roles: {'/'.join(entry['roles'])}  used by: {used}")
        if entry["description"]:
            click.echo(f"    {entry['description']}")
        for label, key in (("delivers", "deliver"), ("fetches", "fetch"), ("real time", "realtime"),
                           ("takes in", "intake"), ("pushes", "push"), ("feedback", "feedback")):
            if capabilities[key]:
                click.echo(f"    {label:<10} {', '.join(capabilities[key])}")
        extras = [name for name, on in (("batches", capabilities["deliver_batch"]),
                                        ("serves an endpoint", capabilities["inbound"]),
                                        ("watches", capabilities["watch"])) if on]
        if extras:
            click.echo(f"    {'also':<10} {', '.join(extras)}")
        if entry["default_flows"]:
            click.echo(f"    {'flows':<10} " + ", ".join(f"{name} ({flow.get('schedule') or 'on demand'})"
                                                          for name, flow in entry["default_flows"].items()))
