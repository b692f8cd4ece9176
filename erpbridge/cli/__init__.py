"""The `erpbridge` command.

Conventions: `--help` on every command; `--json` where scripts read the output; exit code 0
when all went well, 1 when the work ran but something was rejected or failed, 2 for usage and
configuration errors (click's own convention).
"""

from __future__ import annotations

import sys

import click

from erpbridge import __version__
from erpbridge.cli.context import CliContext, pass_cli


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-c", "--config", "config_path", envvar="ERPBRIDGE_CONFIG", type=click.Path(dir_okay=False),
              help="Config file (default: $ERPBRIDGE_CONFIG, else ./erpbridge.yaml if present, else built-in defaults).")
@click.version_option(__version__, prog_name="erpbridge")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """erpbridge keeps an online shop and an ERP in step.

    It imports the ERP's master data into its store as deltas, serves the shop from the store,
    and delivers the shop's orders to the ERP through a durable outbox.
    """
    ctx.obj = CliContext(config_path)
    ctx.call_on_close(ctx.obj.close)


# Each module adds its commands to `cli` when imported.
from erpbridge.cli import store_commands  # noqa: E402,F401
from erpbridge.cli import delivery  # noqa: E402,F401
from erpbridge.cli import ops  # noqa: E402,F401
from erpbridge.cli import api_commands  # noqa: E402,F401
from erpbridge.cli import import_command  # noqa: E402,F401
from erpbridge.cli import run_command  # noqa: E402,F401
from erpbridge.cli import demo  # noqa: E402,F401
from erpbridge.cli import connectors_command  # noqa: E402,F401
from erpbridge.cli import products_command  # noqa: E402,F401
from erpbridge.control import cli as control_cli  # noqa: E402,F401  (erpbridge users)


def main() -> None:
    try:
        cli(prog_name="erpbridge")
    except KeyboardInterrupt:
        sys.exit(130)


__all__ = ["cli", "main", "pass_cli"]
