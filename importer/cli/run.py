"""The `run` command: import a sheet into a vendor and report every row."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from importer.cli.console import ConsoleObserver, fail
from importer.cli.params import RateType, state_option
from importer.contracts.contract import RateLimit
from importer.errors import ImporterError
from importer.pipeline.run import RunConfig, RunResult, run_import
from importer.push.workers import PushSettings
from importer.read.limits import FLAGS, MIB, ReadLimits

_LIMITS = {
    "max_file_bytes": (MIB, "Read no file larger than N MB"),
    "max_unzipped_bytes": (
        MIB,
        "Refuse a workbook that unpacks to more than N MB; reading a sheet takes about twice "
        "its unpacked size in memory",
    ),
    "max_zip_ratio": (1, "Refuse a workbook part compressed more than N to 1, like a zip bomb"),
    "max_sheet_cells": (
        1,
        "Refuse a workbook sheet whose used range holds more than N cells; each takes about "
        "90 bytes of memory",
    ),
    "max_rows": (1, "Read no row past row N"),
    "max_columns": (1, "Refuse a header of more than N columns"),
    "max_cell_chars": (1, "Fail a row with a cell of more than N characters"),
    "max_row_chars": (1, "Fail a CSV row of more than N characters"),
}
"""The limits `run` can raise: ReadLimits field -> (what one unit of its option is worth, help)."""


def _limit_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add one option per read limit, e.g. --max-cell-chars N, with its default in the help."""
    defaults = ReadLimits()
    for name, (scale, text) in reversed(_LIMITS.items()):
        default = getattr(defaults, name) // scale
        command = click.option(
            FLAGS[name],
            name,
            type=click.IntRange(min=1),
            default=None,
            metavar="N",
            help=f"{text} (default {default:,}).",
        )(command)
    return command


def _read_limits(values: Mapping[str, int | None]) -> ReadLimits:
    """Return the read limits, raised where an option says so."""
    given = {name: value * _LIMITS[name][0] for name, value in values.items() if value is not None}
    return ReadLimits(**given)


@click.command()
@click.argument("sheet", type=click.Path(path_type=Path))
@click.option("--vendor", required=True, help="Vendor id (see `importer vendors`).")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for summary.json, rows.csv and report.xlsx.",
)
@click.option("--base-url", help="Vendor API base URL (default: the vendor's production URL).")
@click.option(
    "--sandbox",
    "use_sandbox",
    is_flag=True,
    help="Start an embedded sandbox of the vendor and import into it.",
)
@state_option
@click.option(
    "--account",
    help="Name the vendor account in the ledger (default: the vendor's base URL, normalized: "
    "a rotated key, a trailing / or :443 is still the same account).",
)
@click.option(
    "--set",
    "constants",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Give FIELD the same VALUE on every row (repeatable).",
)
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(path_type=Path),
    help="YAML/JSON file mapping vendor fields to sheet columns.",
)
@click.option("--sheet", "sheet_name", help="Worksheet to read (default: the first).")
@click.option(
    "--header-row",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="The row that names the columns, as the spreadsheet app numbers it (default: found: "
    "the first row, unless rows above the table look like a title).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=PushSettings().concurrency,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option("--dry-run", is_flag=True, help="Read, map, validate and dedupe; send nothing.")
@click.option(
    "--rate-limit",
    type=RateType(),
    default=None,
    help="Client-side limit, e.g. 100/min (default: the vendor's documented limit on "
    "its production URL, none elsewhere).",
)
@click.option(
    "--time-budget",
    type=click.FloatRange(min=1),
    default=None,
    metavar="SECONDS",
    help="Send nothing new after SECONDS, nor wait past them; the rows left are 'deferred' "
    "and a re-run sends them first.",
)
@click.option(
    "--resend-rejected",
    is_flag=True,
    help="Send again rows the vendor refused in an earlier run, even if they did not change.",
)
@click.option("--resend-unknown", is_flag=True, hidden=True)
@click.option(
    "--extras-to-open-object",
    is_flag=True,
    help="Send columns that fill no field into the vendor's open object (e.g. customFields), "
    "keyed by their header.",
)
@_limit_options
def run(  # noqa: PLR0917 (click passes every option)
    sheet: Path,
    vendor: str,
    out_dir: Path,
    base_url: str | None,
    use_sandbox: bool,
    state_dir: Path | None,
    account: str | None,
    constants: Sequence[str],
    mapping_file: Path | None,
    sheet_name: str | None,
    header_row: int | None,
    concurrency: int,
    dry_run: bool,
    rate_limit: RateLimit | None,
    time_budget: float | None,
    resend_rejected: bool,
    resend_unknown: bool,
    extras_to_open_object: bool,
    **limits: int | None,
) -> None:
    """Import SHEET (CSV or XLSX) into VENDOR and write a report of every row to --out."""
    if base_url and use_sandbox:
        fail("give either --base-url or --sandbox, not both")
    if resend_unknown:
        fail(
            "--resend-unknown is gone: it re-sent rows the vendor may hold. Check them at the "
            "vendor, mark each in the run's unknown.csv (found: there or missing) and run "
            "'importer settle unknown.csv'; the next run sends only the missing ones"
        )
    if account is not None and not account.strip():
        fail("--account needs a name, e.g. --account acme-production")
    config = RunConfig(
        sheet_path=sheet,
        vendor=vendor,
        out_dir=out_dir,
        base_url=base_url,
        use_sandbox=use_sandbox,
        state_dir=state_dir,
        constants=_constants(constants),
        mapping_file=mapping_file,
        sheet_name=sheet_name,
        header_row=header_row,
        dry_run=dry_run,
        extras_to_open_object=extras_to_open_object,
        resend_rejected=resend_rejected,
        account=account.strip() if account else None,
        rate_limit=rate_limit,
        push=PushSettings(concurrency=concurrency, max_run_seconds=time_budget),
        limits=_read_limits(limits),
    )
    observer = ConsoleObserver(live=sys.stderr.isatty())
    try:
        result = run_import(config, env=os.environ, observer=observer)
    except ImporterError as error:
        observer.finish()
        fail(str(error))
    except KeyboardInterrupt:
        observer.finish()
        fail("interrupted")
    observer.finish()
    _render(result, state_dir)
    sys.exit(result.exit_code)


def _render(result: RunResult, state_dir: Path | None) -> None:
    totals = result.totals.as_dict()
    parts = ", ".join(f"{name} {count}" for name, count in totals.items() if name != "rows")
    click.echo(f"{totals['rows']} rows: {parts}")
    if result.aborted:
        click.echo(f"importer: error: run aborted: {result.aborted}", err=True)
    if result.files.report_xlsx is not None:
        click.echo(f"report: {result.files.report_xlsx}")
    if result.files.report_html is not None:
        click.echo(f"html:   {result.files.report_html}")
    for note in result.files.notes:
        click.echo(f"note: {note}")
    click.echo(f"rows:   {result.files.rows_csv}")
    if result.files.to_fix_csv is not None:
        click.echo(f"to fix: {result.files.to_fix_csv} (fix these rows and import the file again)")
    click.echo(f"summary: {result.files.summary_json}")
    if result.files.unknown_csv is not None:
        state = f" --state {state_dir}" if state_dir else ""
        click.echo(
            f"unknown: {result.files.unknown_csv} (check these rows at the vendor, write there "
            f"or missing in 'found', then run: importer settle {result.files.unknown_csv}{state})"
        )


def _constants(pairs: Sequence[str]) -> dict[str, str]:
    constants: dict[str, str] = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or not field.strip():
            fail(f"--set needs FIELD=VALUE, got {pair!r}")
        constants[field.strip()] = value
    return constants
