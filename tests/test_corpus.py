"""Every corpus file and every hostile file gets a clear answer from a dry run, in-process.

A run ends with exit 0, 1 or 2, never a traceback or a hang. Exit 2 prints exactly one line
``importer: error: ...`` that names the file. A run that reads the file reports every data row
it holds exactly once in rows.csv, and summary.json's totals add up to them. Where a file's
meaning is known (its data rows, a cell's text, the phrase of its refusal), it is asserted.
"""

from __future__ import annotations

import csv
import faulthandler
import json
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from importer.cli import main
from importer.report.writer import REPORT_COLUMNS
from tests.conftest import CORPORA
from tests.hostile import HOSTILE, Hostile

HANG_SECONDS = 20
"""A run that takes longer is taken for a hang and fails its test."""

STATUSES = ("created", "conflicted", "failed", "duplicate", "skipped")

CORPUS_FILES = sorted(
    path for path in CORPORA.rglob("*") if path.is_file() and path.suffix != ".md"
)

CORPUS_ROWS: dict[str, tuple[int, ...]] = {
    "calamine/merge_cells.xlsx": (2,),
    "calamine/temperature-in-middle.xlsx": (5, 6),  # the table starts at B4
    "csv-spectrum/comma_in_quotes.csv": (2,),
    "csv-spectrum/latin1.csv": (2, 3),
    "csv-spectrum/newlines.csv": (2, 3, 4),  # a record spanning lines is one row
    "csv-spectrum/newlines_cr.csv": (2, 3, 4),
    "csv-spectrum/newlines_crlf.csv": (2, 3, 4),
    "csv-spectrum/quotes_and_newlines.csv": (2, 3),
    "csv-spectrum/simple.csv": (2,),
    "csvkit/mac_newlines.csv": (2, 3),
    "csvkit/null_byte.csv": (2,),
    "csvkit/test_utf16_little.csv": (2, 3),
    "csvkit/test_utf8_bom.csv": (2, 3),
    "frictionless-py/blank-headers.csv": (2, 3),
    "frictionless-py/blank-rows-multiple.csv": (2, 3),
    "frictionless-py/bom.csv": (2, 3),
    "frictionless-py/cast-int-to-string-issue-1251.xlsx": (2, 3),
    "frictionless-py/defective-rows.csv": (2, 3),
    "frictionless-py/duplicate-headers.csv": (2, 3),
    "frictionless-py/issue-1009-semicolon.csv": (2,),
    "frictionless-py/issue-1138.csv": tuple(range(2, 9)),
    "frictionless-py/issue-312.xlsx": (2, 3, 4, 6),
    "frictionless-py/latin1.csv": (2, 3),
    "frictionless-py/leading-zeros.csv": (2, 3, 4),
    "frictionless-py/sheets.xlsx": (2,),
    "frictionless-py/skip-rows.csv": (3, 4, 5),  # the comment line above the header is a title
    "frictionless-py/structure-errors.csv": (2, 3, 5),
    "frictionless-py/table-with-accents.csv": tuple(range(2, 640)),
    "salesforce-dataloader/csvtext_BOM_UTF16BE.csv": (2, 3),
    "w3c-csvw/test055.csv": (3, 5),
}
"""The data rows each readable corpus file holds, by the row number a spreadsheet app shows."""

CORPUS_REFUSALS: dict[str, str] = {
    "calamine/issue252.xlsx": "is not a readable workbook",
    "calamine/pass_protected.xlsx": "is password-protected",
    "csvkit/sheets.xlsx": "sheet 'not this one' has no header row; choose another sheet: 'data'",
    "openpyxl/null_archive.xlsx": "a zip archive with no workbook inside",
    "python-calamine/empty_file.xlsx": "is empty",
}
"""The phrase of the refusal of each corpus file that cannot be read as it stands."""

CORPUS_CELLS: dict[str, dict[int, dict[str, str]]] = {
    "csv-spectrum/comma_in_quotes.csv": {2: {"city": "Anytown, WW", "zip": "08123"}},
    "csv-spectrum/latin1.csv": {3: {"c": "©"}},  # byte 0xa9 (SOURCES.md says é)
    "csv-spectrum/quotes_and_newlines.csv": {2: {"b": 'ha \n"ha" \nha'}},
    "csvkit/null_byte.csv": {2: {"a": "", "b": "2"}},
    "csvkit/test_utf16_little.csv": {3: {"c": "ʤ"}},
    "frictionless-py/bom.csv": {3: {"id": "2", "name": "中国人"}},
    "frictionless-py/duplicate-headers.csv": {2: {"id": "1101", "id (3)": "001101"}},
    "frictionless-py/latin1.csv": {3: {"name": "©"}},
    "frictionless-py/leading-zeros.csv": {4: {"value": "00003"}},
    "frictionless-py/cast-int-to-string-issue-1251.xlsx": {2: {"A": "001", "C": "1"}},
    "calamine/temperature-in-middle.xlsx": {6: {"label": "fahrenheit", "value": "72"}},
    "salesforce-dataloader/csvtext_BOM_UTF16BE.csv": {3: {"column3": "row2-3"}},
}
"""Cells whose text is known, by file, row number and column: encodings and zeros survive."""


def dry_run(path: Path, out: Path, *options: str) -> Result:
    """Run ``importer run PATH --dry-run`` in-process; fail the test if it hangs.

    offergrid-leads requires fullName, which no corpus header names: a constant lets every
    file reach its rows whatever its header.
    """
    arguments = ["run", str(path), "--vendor", "offergrid-leads", "--dry-run", "--out", str(out)]
    return invoke([*arguments, "--set", "fullName=Corpus Lead", *options], path)


def inspected(path: Path, *options: str) -> Result:
    """Run ``importer inspect PATH --json`` in-process; fail the test if it hangs."""
    arguments = ["inspect", str(path), "--vendor", "offergrid-leads", "--json"]
    return invoke([*arguments, "--set", "fullName=Corpus Lead", *options], path)


def invoke(arguments: list[str], path: Path) -> Result:
    """Run the command line in-process; fail the test if it hangs."""
    results: list[Result] = []
    worker = threading.Thread(
        target=lambda: results.append(CliRunner().invoke(main, arguments)), daemon=True
    )
    # A hang in native code holding the GIL would also stop join(): dump and exit then.
    faulthandler.dump_traceback_later(HANG_SECONDS * 3, exit=True)
    try:
        worker.start()
        worker.join(HANG_SECONDS)
    finally:
        faulthandler.cancel_dump_traceback_later()
    if worker.is_alive():
        pytest.fail(f"importer {arguments[0]} {path.name} still runs after {HANG_SECONDS} s")
    return results[0]


@dataclass(frozen=True, slots=True)
class Reported:
    """One row of rows.csv: the report's own columns, and the sheet's cells by column."""

    source_row: int
    status: str
    reason: str
    cells: dict[str, str]


def reported_rows(out: Path) -> list[Reported]:
    """Return the rows of a run's rows.csv.

    The report's own columns are read by position: a sheet may have a column of the same
    name ("status", "source_row"), which follows them in rows.csv.
    """
    width = len(REPORT_COLUMNS)
    previous = csv.field_size_limit(sys.maxsize)
    try:
        with (out / "rows.csv").open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            # A sheet with a column named like one of them gets it as importer_<name>.
            assert tuple(name.removeprefix("importer_") for name in header[:width]) == (
                REPORT_COLUMNS
            )
            return [
                Reported(
                    source_row=int(cells[0]),
                    status=cells[1],
                    reason=cells[2],
                    cells=dict(zip(header[width:], cells[width:], strict=True)),
                )
                for cells in reader
            ]
    finally:
        csv.field_size_limit(previous)


def check_answer(
    result: Result, path: Path, out: Path, refusal: str | None = None
) -> list[Reported] | None:
    """Assert a dry run gave a clear answer; return its reported rows, if it read the file.

    Args:
        result: The run.
        path: The file it read.
        out: Its --out folder.
        refusal: A phrase its error line must hold, when the file must be refused.
    """
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output
    assert result.exit_code in {0, 1, 2}, output
    errors = [line for line in output.splitlines() if line.startswith("importer: error:")]
    if result.exit_code == 2:
        assert len(errors) == 1, output
        assert path.name in errors[0]
        if refusal is not None:
            assert refusal in errors[0]
    else:
        assert not errors, output
        assert refusal is None, f"{path.name} was read, not refused: {output}"
    if not (out / "rows.csv").exists():
        assert result.exit_code == 2, output
        return None
    rows = reported_rows(out)
    numbers = [row.source_row for row in rows]
    assert len(set(numbers)) == len(numbers), "a row is reported twice"
    assert numbers == sorted(numbers)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    totals = summary["totals"]
    assert totals["rows"] == len(rows) == sum(totals[status] for status in STATUSES)
    for status in STATUSES:
        assert totals[status] == sum(row.status == status for row in rows)
    assert sum(summary["reasons"].values()) == len(rows)
    if result.exit_code != 2:
        assert result.exit_code == (1 if totals["failed"] else 0)
    return rows


@pytest.mark.parametrize(
    "path", CORPUS_FILES, ids=[str(path.relative_to(CORPORA)) for path in CORPUS_FILES]
)
def test_corpus_file_gets_a_clear_answer(path: Path, tmp_path: Path) -> None:
    name = path.relative_to(CORPORA).as_posix()
    out = tmp_path / "out"
    rows = check_answer(dry_run(path, out), path, out, CORPUS_REFUSALS.get(name))
    if name in CORPUS_ROWS:
        assert rows is not None
        assert tuple(row.source_row for row in rows) == CORPUS_ROWS[name]
    by_number = {row.source_row: row.cells for row in rows or []}
    for number, cells in CORPUS_CELLS.get(name, {}).items():
        assert {column: by_number[number][column] for column in cells} == cells
    check_inspection(inspected(path), path, rows)


def check_inspection(result: Result, path: Path, rows: list[Reported] | None) -> None:
    """Assert inspect gave a clear answer that predicts what the dry run reported."""
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output
    if rows is None:  # the dry run refused the file: so must inspect
        assert result.exit_code == 2, output
        errors = [line for line in output.splitlines() if line.startswith("importer: error:")]
        assert len(errors) == 1, output
        assert path.name in errors[0]
        return
    assert result.exit_code == 0, output
    preview = json.loads(result.stdout)
    predicted = preview["predicted"]
    if preview["stopped"] is None:
        assert preview["rows"] == len(rows)
        assert predicted.get("failed", 0) == sum(row.status == "failed" for row in rows)
        assert predicted.get("duplicate", 0) == sum(row.status == "duplicate" for row in rows)
        assert predicted.get("to send", 0) == sum(row.status == "skipped" for row in rows)


def test_every_corpus_file_has_a_known_meaning() -> None:
    names = {path.relative_to(CORPORA).as_posix() for path in CORPUS_FILES}
    described = CORPUS_ROWS.keys() | CORPUS_REFUSALS.keys()
    assert names == described
    assert CORPUS_CELLS.keys() <= CORPUS_ROWS.keys()


def test_a_workbook_sheet_chosen_by_name(tmp_path: Path) -> None:
    path = CORPORA / "csvkit" / "sheets.xlsx"
    out = tmp_path / "out"
    rows = check_answer(dry_run(path, out, "--sheet", "data"), path, out)
    assert rows is not None
    assert [row.source_row for row in rows] == [2, 3, 4, 5, 6]
    assert rows[0].cells["date"] == "1971-01-01"
    assert rows[0].cells["boolean"] == "TRUE"
    assert rows[1].status == "failed"  # a cell beyond the header: a shifted row?
    assert rows[4].cells["text"] == "Unicode! Σ"


@pytest.mark.parametrize("hostile", HOSTILE, ids=[hostile.name for hostile in HOSTILE])
def test_hostile_file_gets_a_clear_answer(hostile: Hostile, tmp_path: Path) -> None:
    path = hostile.write(tmp_path)
    out = tmp_path / "out"
    rows = check_answer(dry_run(path, out), path, out, hostile.refusal)
    check_inspection(inspected(path), path, rows)
    if hostile.rows is None:
        return
    if hostile.refusal is None:
        assert rows is not None, f"{hostile.name} was refused"
    numbers = {row.source_row for row in rows or []}
    assert set(hostile.rows) <= numbers <= set(hostile.rows) | set(hostile.other_rows)
    failed = {row.source_row for row in rows or [] if row.status == "failed"}
    assert set(hostile.failed) <= failed
