"""`erpbridge import <kind> <file>`: one ERP export into the store, by hand or from a script."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from erpbridge.cli import cli
from erpbridge.cli.context import CliContext, pass_cli, print_json
from erpbridge.connectors.files.importer import Importer
from erpbridge.ingest import ImportReport
from erpbridge.input_files import shown_name
from erpbridge.records import IMPORT_KINDS

#: Rejections printed in the text summary; `--json` lists them all (up to the report's own cap).
SHOWN_REJECTIONS = 20


@cli.command("import")
@click.argument("kind", type=click.Choice(IMPORT_KINDS))
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "jsonl", "xml"]),
              help="File format (default: mappings.<kind>.format, else the file's extension).")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON (all rejections included).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@pass_cli
def import_(ctx: CliContext, kind: str, files: tuple[Path, ...], fmt: str | None, as_json: bool, quiet: bool) -> None:
    """Import ERP export FILES of KIND (products, product_groups, prices, stock, customers) into the
    store, as deltas: unchanged records are not written again.

    Exit code 0 when every record was imported, 1 when any was rejected (each rejection names the
    file, the line or element, the field and the reason), 2 for usage or config errors. A file
    that is one of erpbridge's own (the store's files, anything in the inbox's processing/,
    done/ or failed/ or the documents folder) is refused unread.
    """
    config = ctx.config
    if fmt is not None:
        config = config.model_copy(deep=True)
        config.mappings = config.mappings.model_copy(update={
            kind: config.mapping(kind).model_copy(update={"format": fmt})})
    importer = Importer(config, ctx.app().records, kind)
    reports = [import_with_progress(importer, path, show_progress=not quiet and not as_json) for path in files]
    if as_json:
        print_json(reports[0].as_dict() if len(reports) == 1 else [r.as_dict() for r in reports])
    else:
        for report in reports:
            print_summary(report)
    sys.exit(0 if all(r.ok for r in reports) else 1)


def import_with_progress(importer: Importer, path: Path, *, show_progress: bool) -> ImportReport:
    """Import one file, with a progress bar on a terminal when asked."""
    if not show_progress or not sys.stderr.isatty():
        return importer.import_file(path)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(shown_name(path.name), total=path.stat().st_size)
        return importer.import_file(path, on_progress=lambda done: progress.update(task, completed=done))


def print_summary(report: ImportReport) -> None:
    """The report's summary line, and its first rejections on stderr."""
    click.echo(report.summary())
    for rejection in report.rejections[:SHOWN_REJECTIONS]:
        click.echo(f"  rejected {rejection}", err=True)
    hidden = len(report.rejections) - SHOWN_REJECTIONS
    if hidden > 0:
        click.echo(f"  ... and {hidden} more reasons (see --json)", err=True)
