"""The `settle` command: tell the ledger what a person found at the vendor for rows in doubt."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import click

from importer.cli.console import fail
from importer.cli.params import state_option
from importer.errors import ImporterError
from importer.ledger import open_run
from importer.ledger.settle import Finding, Settled, settle_rows
from importer.lifecycle import SOURCE_ROW
from importer.pipeline.run import default_state_dir
from importer.report.columns import PREFIX, UNKNOWN_COLUMNS

THERE = frozenset({"there", "found", "yes", "y", "present", "exists"})
MISSING = frozenset({"missing", "no", "n", "absent", "not found"})


@click.command()
@click.argument("unknown_csv", required=False, type=click.Path(path_type=Path))
@state_option
@click.option("--run", "run_id", help="The run whose rows --there and --missing name.")
@click.option("--there", metavar="ROWS", help="Rows found at the vendor, e.g. 4,7,10-12.")
@click.option("--missing", metavar="ROWS", help="Rows missing at the vendor, e.g. 5,9.")
def settle(
    unknown_csv: Path | None,
    state_dir: Path | str | None,
    run_id: str | None,
    there: str | None,
    missing: str | None,
) -> None:
    """Tell the ledger what you found at the vendor for rows whose outcome is unknown.

    A run writes unknown.csv beside its report when the vendor may have stored rows it cannot
    detect again (no vendor here offers a lookup). Check each at the vendor, write 'there' or
    'missing' in its 'found' column (and the vendor's id, if you have it), then pass the file.
    Or name rows by number: --run RUN_ID --there 4,7 --missing 9. Rows found there become
    created; only rows marked missing are sent again, by the next run.

    Exit codes: 0 every row named was settled, 2 some could not be (each is listed).
    """
    state = state_dir or default_state_dir()
    if unknown_csv is not None and (run_id or there or missing):
        fail("give either an unknown.csv file or --run with --there/--missing, not both")
    if unknown_csv is not None:
        by_run = _read_findings(unknown_csv)
    elif run_id and (there or missing):
        by_run = {
            run_id: [
                *(Finding(row, True) for row in _rows(there or "", "--there")),
                *(Finding(row, False) for row in _rows(missing or "", "--missing")),
            ]
        }
    else:
        fail("give the unknown.csv a run wrote, or --run RUN_ID with --there and/or --missing")
    refused = 0
    for each_run, findings in by_run.items():
        try:
            ledger, _ = open_run(state, each_run, lock=True)
        except ImporterError as error:
            fail(str(error))
        try:
            settled = settle_rows(ledger, each_run, findings)
        finally:
            ledger.close()
        _render(each_run, settled)
        refused += len(settled.refused)
    raise SystemExit(2 if refused else 0)


def _render(run_id: str, settled: Settled) -> None:
    already = f", {len(settled.already)} already settled so" if settled.already else ""
    click.echo(
        f"run {run_id}: {len(settled.there)} found there (now created), "
        f"{len(settled.missing)} missing (the next run sends them){already}"
    )
    for row, why in sorted(settled.refused.items()):
        click.echo(f"importer: error: row {row} not settled: {why}", err=True)


def _read_findings(path: Path) -> dict[str, list[Finding]]:
    """Read the rows a person marked in unknown.csv; rows left blank are left in doubt."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            lead = [name.strip().casefold() for name in next(reader, ())][: len(UNKNOWN_COLUMNS)]
            # A sheet with a column "found" or "message" gets them as importer_found...
            if [name.removeprefix(PREFIX) for name in lead] != list(UNKNOWN_COLUMNS):
                fail(
                    f"{path} is not an unknown.csv: its first columns must be "
                    f"{', '.join(UNKNOWN_COLUMNS)}"
                )
            by_run: dict[str, list[Finding]] = defaultdict(list)
            for line, cells in enumerate(reader, start=2):
                # By position: the sheet's own columns follow, and may repeat these names.
                row = dict(zip(UNKNOWN_COLUMNS, cells, strict=False))
                finding = _finding(row, path, line)
                if finding is not None:
                    by_run[row["run_id"].strip()].append(finding)
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror}")
    except (csv.Error, UnicodeDecodeError) as error:
        fail(f"cannot read {path} as CSV: {error}")
    if not by_run:
        fail(f"no row of {path} says 'there' or 'missing' in its found column: fill it in first")
    return by_run


def _finding(row: dict[str, str], path: Path, line: int) -> Finding | None:
    word = (row.get("found") or "").strip().lower()
    if not word:
        return None
    if word not in THERE | MISSING:
        fail(f"{path} line {line}: found is {word!r}; write 'there' or 'missing'")
    try:
        source_row = int((row.get(SOURCE_ROW) or "").strip())
    except ValueError:
        fail(f"{path} line {line}: source_row is not a row number")
    vendor_id = (row.get("vendor_id") or "").strip().lstrip("'") or None
    return Finding(source_row, word in THERE, vendor_id if word in THERE else None)


def _rows(text: str, option: str) -> list[int]:
    """Parse ``4,7,10-12`` into row numbers."""
    rows: list[int] = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        first, dash, last = part.partition("-")
        try:
            start, end = int(first), int(last) if dash else int(first)
        except ValueError:
            fail(f"{option} takes row numbers like 4,7,10-12, not {part!r}")
        rows.extend(range(start, end + 1))
    return rows
