"""The command line: parse, build the config, call the library, render, pick the exit code.

Exit codes: 0 no row failed; 1 some rows failed; 2 the run could not start or was aborted.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NoReturn

import click

from importer.contract import Contract, load_all, load_contract
from importer.errors import ConfigError, ImporterError
from importer.model import RowOutcome, Status
from importer.pipeline import RunConfig, RunResult, run_import
from importer.push import PushSettings
from importer.sandbox import SandboxOptions, serve

EXIT_OK, EXIT_ROWS_FAILED, EXIT_ABORTED = 0, 1, 2


class ConsoleObserver:
    """Show progress: a live line on a terminal, a plain log line now and then otherwise."""

    def __init__(self, *, live: bool, every_seconds: float = 5.0) -> None:
        """Render live (``\\r``-updated) when ``live``, else log every ``every_seconds``."""
        self._live = live
        self._every = every_seconds
        self._counts = dict.fromkeys((status.value for status in Status), 0)
        self._started = time.monotonic()
        self._last = 0.0

    def note(self, message: str) -> None:
        """Print a note on its own line."""
        self._clear()
        click.echo(f"importer: {message}", err=True)

    def rows_done(self, outcomes: Iterable[RowOutcome]) -> None:
        """Count the outcomes and redraw the progress line when it is time."""
        for outcome in outcomes:
            self._counts[outcome.status.value] += 1
        now = time.monotonic()
        if now - self._last >= (0.1 if self._live else self._every):
            self._last = now
            self._render()

    def finish(self) -> None:
        """End the live line."""
        self._clear()

    def _render(self) -> None:
        done = sum(self._counts.values())
        rate = done / max(time.monotonic() - self._started, 1e-6)
        counts = " ".join(f"{name} {count}" for name, count in self._counts.items() if count)
        line = f"{done} rows ({rate:.0f}/s): {counts}"
        if self._live:
            click.echo(f"\r\x1b[2K{line}", nl=False, err=True)
        else:
            click.echo(f"importer: progress {line}", err=True)

    def _clear(self) -> None:
        if self._live:
            click.echo("\r\x1b[2K", nl=False, err=True)


def fail(message: str) -> NoReturn:
    """Print a one-line error and exit with code 2."""
    click.echo(f"importer: error: {message}", err=True)
    sys.exit(EXIT_ABORTED)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="importer")
def main() -> None:
    """Import CSV and Excel sheets into vendors' HTTP APIs, accounting for every row.

    Exit codes: 0 no row failed, 1 some rows failed, 2 the run could not start or was aborted.
    """


@main.command()
def vendors() -> None:
    """List every vendor with its endpoint and the variables that hold its credentials."""
    for contract in load_all():
        variables = ", ".join(contract.credential_vars)
        click.echo(f"{contract.id}\t{contract.method} {contract.path}\t{variables}")
        click.echo(f"  {contract.title}: {contract.description}")


@main.command()
@click.argument("vendor")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, help="Port to listen on; 0 picks one.")
@click.option(
    "--empty",
    is_flag=True,
    help="Start with no existing records (by default the sandbox "
    "already holds a few people, so imports meet 409s).",
)
def sandbox(vendor: str, host: str, port: int, empty: bool) -> None:
    """Serve a local emulator of VENDOR until Ctrl-C (SIGINT) or SIGTERM.

    Once it accepts connections it prints its base URL. GET /__sandbox__/records lists the
    records it stored, each exactly as received. Its credentials are in sample_data/sandbox.env.
    """
    contract = _contract(vendor)

    def announce(url: str) -> None:
        click.echo(f"sandbox {contract.id} listening on {url} (Ctrl-C to stop)")
        sys.stdout.flush()

    try:
        serve(
            contract,
            host=host,
            port=port,
            options=SandboxOptions(preload=not empty),
            announce=announce,
        )
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error.strerror}")


@main.command()
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
@click.option(
    "--state",
    "state_dir",
    type=click.Path(path_type=Path),
    help="Folder for the run's state (the ledger of a later release).",
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
    "--concurrency",
    type=click.IntRange(1, 256),
    default=PushSettings().concurrency,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option("--dry-run", is_flag=True, help="Read, map, validate and dedupe; send nothing.")
@click.option(
    "--extras-to-open-object",
    is_flag=True,
    help="Send columns that fill no field into the vendor's open object (e.g. customFields), "
    "keyed by their header.",
)
def run(  # noqa: PLR0917 (click passes every option)
    sheet: Path,
    vendor: str,
    out_dir: Path,
    base_url: str | None,
    use_sandbox: bool,
    state_dir: Path | None,
    constants: Sequence[str],
    mapping_file: Path | None,
    sheet_name: str | None,
    concurrency: int,
    dry_run: bool,
    extras_to_open_object: bool,
) -> None:
    """Import SHEET (CSV or XLSX) into VENDOR and write a report of every row to --out."""
    if base_url and use_sandbox:
        fail("give either --base-url or --sandbox, not both")
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
        dry_run=dry_run,
        extras_to_open_object=extras_to_open_object,
        push=PushSettings(concurrency=concurrency),
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
    _render(result)
    sys.exit(result.exit_code)


def _render(result: RunResult) -> None:
    totals = result.totals.as_dict()
    parts = ", ".join(f"{name} {count}" for name, count in totals.items() if name != "rows")
    click.echo(f"{totals['rows']} rows: {parts}")
    if result.aborted:
        click.echo(f"importer: error: run aborted: {result.aborted}", err=True)
    click.echo(f"report: {result.files.report_xlsx}")
    click.echo(f"rows:   {result.files.rows_csv}")
    click.echo(f"summary: {result.files.summary_json}")


def _constants(pairs: Sequence[str]) -> dict[str, str]:
    constants: dict[str, str] = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or not field.strip():
            fail(f"--set needs FIELD=VALUE, got {pair!r}")
        constants[field.strip()] = value
    return constants


def _contract(vendor: str) -> Contract:
    try:
        return load_contract(vendor)
    except ConfigError as error:
        fail(str(error))
