"""The `report` command: rebuild a run's report from the ledger, even of a run cut short."""

from __future__ import annotations

from pathlib import Path

import click

from importer.cli.console import fail
from importer.cli.params import state_option
from importer.errors import ImporterError
from importer.pipeline.run import default_state_dir
from importer.report.rebuild import rebuild_report


@click.command()
@click.option("--run", "run_id", required=True, help="The run id (summary.json, INCOMPLETE.txt).")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for the rebuilt summary.json, rows.csv and report.xlsx.",
)
@state_option
def report(run_id: str, out_dir: Path, state_dir: Path | str | None) -> None:
    """Rebuild the report of run RUN_ID from the ledger, the source of truth.

    Works for a run that was killed before it wrote its report: rows it left unsent are
    'cut_short'. Exit codes: 0 rebuilt, 2 the run or the ledger could not be read.
    """
    try:
        totals, files = rebuild_report(state_dir or default_state_dir(), run_id, out_dir)
    except ImporterError as error:
        fail(str(error))
    parts = ", ".join(
        f"{name} {count}" for name, count in totals.as_dict().items() if name != "rows"
    )
    click.echo(f"{totals.rows} rows: {parts}")
    if files.report_xlsx is not None:
        click.echo(f"report: {files.report_xlsx}")
    if files.report_html is not None:
        click.echo(f"html:   {files.report_html}")
    for note in files.notes:
        click.echo(f"note: {note}")
    click.echo(f"rows:   {files.rows_csv}")
    click.echo(f"summary: {files.summary_json}")
