"""Tests for report.xlsx as written directly: real workbooks, opened by openpyxl and calamine."""

from __future__ import annotations

import csv
import json
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import python_calamine
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.lifecycle import Reason, RowOutcome, State
from importer.report import xlsx, zipstream
from importer.report.cells import neutralize
from importer.report.writer import ReportFiles, ReportWriter

COLUMNS = ["name", "email", "note"]
ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def outcome(row: int, state: State, reason: Reason, message: str = "") -> RowOutcome:
    return RowOutcome(source_row=row, state=state, reason=reason, message=message, attempts=1)


CREATED = (State.CREATED, Reason.CREATED)
FAILED = (State.FAILED, Reason.VALIDATION)
DUPLICATE = (State.DUPLICATE, Reason.DUPLICATE_IN_FILE)


def write(out: Path, rows: list[tuple[tuple[State, Reason], list[str]]]) -> ReportFiles:
    writer = ReportWriter(out, COLUMNS, run_id="run-1")
    for number, ((state, reason), cells) in enumerate(rows, start=2):
        writer.write_row(outcome(number, state, reason, message=cells[0]), cells)
    return writer.finish({"run_id": "run-1"})


def calamine_sheets(path: Path) -> dict[str, list[list[Any]]]:
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    return {name: book.get_sheet_by_name(name).to_python() for name in book.sheet_names}


def rows_csv_header(files: ReportFiles) -> list[str]:
    with files.rows_csv.open(encoding="utf-8-sig", newline="") as file:
        return next(csv.reader(file))


def expected_text(value: str) -> str:
    """What a text cell shows: the reference, one value at a time (XML reads CR as LF)."""
    shown = neutralize(ILLEGAL.sub("", value))[: xlsx.EXCEL_MAX_CHARS]
    return shown.replace("\r\n", "\n").replace("\r", "\n")


def test_calamine_and_openpyxl_read_the_same_rows(tmp_path: Path) -> None:
    rows = [(CREATED, [f"n{i}", f"e{i}@x.io", "new"]) for i in range(5)]
    rows += [(FAILED, ["=1+1", "bad", ""]), (DUPLICATE, ["José", "", "x&<y>"])]
    files = write(tmp_path, rows)
    assert files.report_xlsx is not None
    sheets = calamine_sheets(files.report_xlsx)
    assert list(sheets) == ["Summary", "created", "conflicted", "failed", "duplicate", "skipped"]
    book = openpyxl.load_workbook(files.report_xlsx)
    for title in ["created", "failed", "duplicate"]:
        from_openpyxl = [list(row) for row in book[title].iter_rows(values_only=True)]
        assert [[cell if cell is not None else "" for cell in row] for row in from_openpyxl] == [
            [cell if cell != "" else "" for cell in row] for row in sheets[title]
        ]
    assert sheets["failed"][0] == rows_csv_header(files)
    assert sheets["failed"][1][:3] == [7.0, "failed", "validation"]
    assert sheets["failed"][1][7:] == ["'=1+1", "bad", ""]
    assert sheets["duplicate"][1][7:] == ["José", "", "x&<y>"]
    assert book["created"].auto_filter.ref == "A1:J6"
    assert book["created"].freeze_panes == "A2"


def test_the_package_is_a_plain_spreadsheetml_zip(tmp_path: Path) -> None:
    files = write(tmp_path, [(CREATED, ["a", "b", "c"])])
    assert files.report_xlsx is not None
    with zipfile.ZipFile(files.report_xlsx) as package:
        assert package.testzip() is None
        names = set(package.namelist())
        workbook = package.read("xl/workbook.xml").decode()
    assert {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/styles.xml"} <= names
    assert "xl/worksheets/sheet6.xml" in names
    assert '<definedName name="_xlnm._FilterDatabase" localSheetId="1"' in workbook
    assert "'created'!$A$1:$J$2" in workbook


def test_capped_statuses_show_their_first_rows_and_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx, "MAX_OTHER_ROWS", 3)
    rows = [(CREATED, [f"c{i}", "", ""]) for i in range(6)]
    rows += [(FAILED, [f"f{i}", "", ""]) for i in range(5)]
    files = write(tmp_path, rows)
    assert files.report_xlsx is not None
    sheets = calamine_sheets(files.report_xlsx)
    assert [row[7] for row in sheets["created"][1:]] == ["c0", "c1", "c2"]
    assert [row[7] for row in sheets["failed"][1:]] == [f"f{i}" for i in range(5)]
    note = "report.xlsx shows the first 3 of the 6 created rows; rows.csv has every row"
    summary = json.loads(files.summary_json.read_text(encoding="utf-8"))
    assert note in summary["notes"]
    assert note in files.notes
    assert ["Left out", note] in sheets["Summary"]
    shown = [row for row in sheets["Summary"] if row and row[0] == "Shown"]
    assert shown and "at most 3 rows each of created, skipped" in shown[0][1]


def test_long_cells_and_line_breaks_show_as_written(tmp_path: Path) -> None:
    rows = [(CREATED, [f"n{i}", "x" * (40_000 * i), "a\nb"]) for i in range(3)]
    files = write(tmp_path, rows)
    assert files.report_xlsx is not None
    created = calamine_sheets(files.report_xlsx)["created"]
    expected = [[f"n{i}", "x" * min(40_000 * i, xlsx.EXCEL_MAX_CHARS), "a\nb"] for i in range(3)]
    assert [row[7:] for row in created[1:]] == expected


def test_a_header_cell_with_a_line_break_keeps_the_rows_after_it(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path, ["first\nname", "=x"], run_id="run-1")
    writer.write_row(outcome(2, *CREATED), ["Ann", "b"])
    files = writer.finish({})
    assert files.report_xlsx is not None
    created = calamine_sheets(files.report_xlsx)["created"]
    assert created[0][7:] == ["first\nname", "'=x"]
    assert created[1][7:] == ["Ann", "b"]


def test_an_empty_report_has_every_sheet_with_its_header(tmp_path: Path) -> None:
    files = write(tmp_path, [])
    assert files.report_xlsx is not None
    sheets = calamine_sheets(files.report_xlsx)
    for title in ["created", "conflicted", "failed", "duplicate", "skipped"]:
        assert sheets[title] == [rows_csv_header(files)]


cell_text = st.lists(
    st.sampled_from(
        [*"ab =+-@|'\"&<>;!\t\r\n\x00\x07\x1f\u200b\ufeff\uff1d\ufffe", "dde(", "José", "cmd|x!"]
    ),
    max_size=8,
).map("".join)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.tuples(cell_text, cell_text, cell_text), min_size=1, max_size=20))
def test_every_cell_shows_what_the_one_cell_reference_shows(
    values: list[tuple[str, str, str]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        files = write(Path(folder), [(CREATED, list(row)) for row in values])
        assert files.report_xlsx is not None
        book = openpyxl.load_workbook(files.report_xlsx)
        shown = [list(row[7:]) for row in book["created"].iter_rows(min_row=2, values_only=True)]
        for row in book["created"].iter_rows(min_row=2):
            assert all(cell.data_type in {"s", "n"} for cell in row if cell.value is not None)
    expected = [[expected_text(neutralize(cell)) or None for cell in row] for row in values]
    assert shown == expected


@pytest.mark.parametrize("limit", [zipstream.ZIP64_LIMIT, 0])
def test_the_zip_is_read_alike_with_and_without_zip64_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    monkeypatch.setattr(zipstream, "ZIP64_LIMIT", limit)  # 0: every entry past the limit
    rows = [(CREATED, [f"n{i}", f"e{i}@x.io", "new"]) for i in range(40)]
    rows += [(FAILED, ["=1+1", " spaced ", ""])]
    files = write(tmp_path, rows)
    assert files.report_xlsx is not None and files.to_fix_xlsx is not None
    for book in (files.report_xlsx, files.to_fix_xlsx):
        with zipfile.ZipFile(book) as package:
            assert package.testzip() is None
            assert all(item.compress_type == zipfile.ZIP_DEFLATED for item in package.infolist())
    sheets = calamine_sheets(files.report_xlsx)
    assert [row[7:] for row in sheets["created"][1:]] == [row[1] for row in rows[:40]]
    failed = openpyxl.load_workbook(files.report_xlsx)["failed"]
    assert [cell.value for cell in failed[2]][7:] == ["'=1+1", " spaced ", None]
    assert calamine_sheets(files.to_fix_xlsx)["to fix"][1][:3] == ["'=1+1", " spaced ", ""]


def test_a_deflated_part_holds_what_was_written_in_pieces(tmp_path: Path) -> None:
    pieces = [b"<row>" * n + "é".encode() for n in range(0, 3000, 7)]
    with (tmp_path / "spool").open("w+b") as spool:
        part = zipstream.DeflatedPart(spool)
        for piece in pieces:
            part.write(piece)
        part.close()
        with (tmp_path / "book.zip").open("wb") as target:
            book = zipstream.ZipWriter(target)
            book.add("a.xml", part)
            book.close()
    with zipfile.ZipFile(tmp_path / "book.zip") as package:
        assert package.read("a.xml") == b"".join(pieces)


def test_a_wide_sheet_keeps_every_cell_in_its_column(tmp_path: Path) -> None:
    names = [f"c{index}" for index in range(130)]  # more cells than one join takes
    writer = ReportWriter(tmp_path, names, run_id="run-1")
    rows = [
        [f"{row}-{index}" if (row + index) % 7 else "" for index in range(130)] for row in range(3)
    ]
    for number, cells in enumerate(rows, start=2):
        writer.write_row(outcome(number, *CREATED), cells)
    files = writer.finish({})
    assert files.report_xlsx is not None
    created = calamine_sheets(files.report_xlsx)["created"]
    assert [row[7:] for row in created[1:]] == rows
