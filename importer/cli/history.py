"""The `history` command: list past runs from the ledger, newest first, with their totals."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import click

from importer.cli.console import fail
from importer.cli.params import state_option
from importer.errors import ImporterError
from importer.ledger import StateLocation, is_database_url, open_history, state_shown
from importer.ledger.interface import TOTALS, Run, RunHistory
from importer.pipeline.run import default_state_dir

DEFAULT_LIMIT = 20

_COLUMNS = ("started (UTC)", "run", "vendor", "account", "file", "status", *TOTALS)
_NUMERIC = frozenset(TOTALS)


@click.command()
@click.option("--vendor", help="List only this vendor's runs (see `importer vendors`).")
@state_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=DEFAULT_LIMIT,
    show_default=True,
    metavar="N",
    help="List the N newest runs.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the runs as a JSON list.")
def history(vendor: str | None, state_dir: Path | str | None, limit: int, as_json: bool) -> None:
    """List past runs, newest first: when, which vendor and account, which file, how each ended.

    A run's status is finished, aborted, running, or cut short (it was killed; `importer report
    --run RUN_ID` rebuilds its report). Totals count rows per status; unknown counts the failed
    rows whose outcome is in doubt (see `importer settle`). Reading the ledger takes no lock:
    a run in progress is listed, and never waits.

    Exit codes: 0 listed (or nothing to list), 2 the ledger could not be read.
    """
    state = state_dir or default_state_dir()
    try:
        reader = open_history(state)
        runs = [] if reader is None else _read(reader, vendor, limit + 1)
    except ImporterError as error:
        fail(str(error))
    more = len(runs) > limit
    runs = runs[:limit]
    if as_json:
        click.echo(json.dumps([_as_json(run) for run in runs], indent=2, ensure_ascii=False))
    if not runs:
        click.echo(_nothing(state, vendor, ledger=reader is not None), err=as_json)
        return
    if not as_json:
        _print_table([_cells(run) for run in runs])
        if more:
            click.echo(f"(the newest {limit} shown; --limit N lists more)")


def _nothing(state: StateLocation, vendor: str | None, *, ledger: bool) -> str:
    """Say in one line why there is nothing to list."""
    if not ledger:
        where = "database" if is_database_url(state) else "folder"
        return (
            f"no runs to list: no ledger in {state_shown(state)} (give --state the {where} your "
            "runs used)"
        )
    if vendor:
        return f"no runs of {vendor} in the ledger in {state_shown(state)}"
    return f"no runs in the ledger in {state_shown(state)} yet"


def _read(reader: RunHistory, vendor: str | None, limit: int) -> list[Run]:
    """Return the newest runs, and let the ledger go."""
    try:
        return reader.history(vendor=vendor, limit=limit)
    finally:
        reader.close()


def _cells(run: Run) -> list[str]:
    """Return a run's table cells: printable text, whatever the ledger holds."""
    texts = [
        _when(run.started_at),
        run.run_id,
        run.vendor,
        run.account,
        Path(run.source_file).name,
        run.ending,
        *(f"{int(run.totals.get(name, 0)):,}" for name in TOTALS),
    ]
    return [_printable(text) for text in texts]


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[index]) for row in [_COLUMNS, *rows]) for index in range(len(_COLUMNS))]
    for row in [_COLUMNS, *rows]:
        cells = [
            text.rjust(width) if name in _NUMERIC else text.ljust(width)
            for name, text, width in zip(_COLUMNS, row, widths, strict=True)
        ]
        click.echo("  ".join(cells).rstrip())


def _as_json(run: Run) -> dict[str, object]:
    return {
        "run_id": run.run_id,
        "vendor": run.vendor,
        "account": run.account,
        "source_file": run.source_file,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "status": run.ending,
        "totals": {name: int(run.totals.get(name, 0)) for name in ("rows", *TOTALS)},
    }


def _when(stamp: str) -> str:
    """Return an ISO 8601 time in UTC as ``2026-11-29 14:15:46``; anything else as it is."""
    try:
        return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return stamp


def _printable(text: str) -> str:
    """Replace control characters (a file name may hold any), so a line stays one line."""
    return "".join("?" if unicodedata.category(char)[0] == "C" else char for char in text)
