"""Tests for importer.report.writer: real files in a temporary folder, reloaded and checked."""

from __future__ import annotations

import csv
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.lifecycle import SOURCE_ROW, Reason, RowOutcome, State, Status
from importer.report import xlsx
from importer.report.totals import WHITESPACE, failure_problem, failure_problems
from importer.report.writer import REPORT_COLUMNS, ReportFiles, ReportWriter, neutralize

COLUMNS = ["name", "email", "note"]
STATUS_SHEETS = ["created", "conflicted", "failed", "duplicate", "skipped"]
META = {"run_id": "r-1", "vendor": "acme", "source_file": "leads.csv", "durations": {"read": 1.5}}
REASON_OF = {
    Status.CREATED: Reason.CREATED,
    Status.CONFLICTED: Reason.ALREADY_EXISTS,
    Status.FAILED: Reason.VALIDATION,
    Status.DUPLICATE: Reason.DUPLICATE_IN_FILE,
    Status.SKIPPED: Reason.DRY_RUN,
}
FORMULAS = ['=HYPERLINK("http://x","y")', "+1-555", "-2+3", "@SUM(A1)", "\tfoo", "\rbar"]


def make_frame(rows: Mapping[int, Sequence[str]], columns: Sequence[str] = COLUMNS) -> pd.DataFrame:
    """Return a chunk as the pipeline hands it over: str values indexed by source row."""
    index = pd.Index(list(rows), name=SOURCE_ROW)
    return pd.DataFrame(
        [list(values) for values in rows.values()], index=index, columns=list(columns)
    )


def outcome(row: int, status: Status = Status.CREATED, **fields: Any) -> RowOutcome:
    """Return an outcome for ``row`` with the usual reason for ``status``."""
    return RowOutcome(source_row=row, state=State(status.value), reason=REASON_OF[status], **fields)


def read_rows(files: ReportFiles) -> list[dict[str, str]]:
    """Return rows.csv as dicts, read the way Excel-minded scripts read it."""
    with files.rows_csv.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))


def sheet_rows(files: ReportFiles, title: str) -> list[tuple[Any, ...]]:
    """Return the data rows (header dropped) of one sheet of report.xlsx."""
    sheet = openpyxl.load_workbook(files.report_xlsx)[title]
    return list(sheet.iter_rows(min_row=2, values_only=True))


def write_report(
    out_dir: Path, rows: Mapping[int, Sequence[str]], outcomes: Sequence[RowOutcome]
) -> ReportFiles:
    """Write one chunk and finish the report."""
    writer = ReportWriter(out_dir, COLUMNS, run_id="run-1")
    writer.write(make_frame(rows), {o.source_row: o for o in outcomes})
    return writer.finish(META)


@pytest.fixture
def mixed(tmp_path: Path) -> ReportFiles:
    """Return a finished report over two chunks with every status."""
    writer = ReportWriter(tmp_path / "out" / "run", COLUMNS, run_id="run-1")
    writer.write(
        make_frame({2: ["Ann", "a@x.io", ""], 3: ["Bob", "b@x.io", "vip"]}),
        {
            2: outcome(2, http_status=201, vendor_id="v-2", attempts=1),
            3: outcome(3, Status.FAILED, message="bad email", http_status=422, attempts=2),
        },
    )
    writer.write(
        make_frame({5: ["Cy", "c@x.io", ""], 4: ["Di", "d@x.io", ""], 6: ["Ed", "", ""]}),
        {
            4: outcome(4, Status.CONFLICTED, http_status=409, attempts=1),
            5: outcome(5, Status.DUPLICATE, message="same as row 2"),
            6: outcome(6, Status.SKIPPED),
            99: outcome(99),  # not in the chunk: ignored
        },
    )
    return writer.finish(META)


def test_rows_csv_has_header_then_one_line_per_row_in_frame_order(mixed: ReportFiles) -> None:
    raw = mixed.rows_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = read_rows(mixed)
    assert list(rows[0]) == [*REPORT_COLUMNS, *COLUMNS]
    assert [row[SOURCE_ROW] for row in rows] == ["2", "3", "5", "4", "6"]
    assert rows[1] == {
        SOURCE_ROW: "3",
        "status": "failed",
        "reason": "validation",
        "message": "bad email",
        "http_status": "422",
        "vendor_id": "",
        "attempts": "2",
        "name": "Bob",
        "email": "b@x.io",
        "note": "vip",
    }
    assert rows[0]["vendor_id"] == "v-2"
    assert rows[4]["http_status"] == ""


def test_summary_json_totals_add_up_and_match_rows_csv(mixed: ReportFiles) -> None:
    summary = json.loads(mixed.summary_json.read_text(encoding="utf-8"))
    statuses = Counter(row["status"] for row in read_rows(mixed))
    reasons = Counter(row["reason"] for row in read_rows(mixed))
    assert {key: summary[key] for key in META} == META
    totals = summary["totals"]
    assert totals["rows"] == 5 == sum(totals[status] for status in STATUS_SHEETS)
    assert {status: totals[status] for status in STATUS_SHEETS if totals[status]} == statuses
    assert summary["reasons"] == reasons


def test_totals_count_rows_written(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path, COLUMNS, run_id="run-1")
    writer.write(make_frame({2: ["a", "b", "c"]}), {2: outcome(2)})
    writer.write(make_frame({3: ["a", "b", "c"]}), {3: outcome(3, Status.FAILED)})
    assert writer.totals.as_dict()["rows"] == 2
    assert (writer.totals.created, writer.totals.failed) == (1, 1)
    writer.abort()


def test_xlsx_has_summary_then_one_sheet_per_status_with_its_rows(mixed: ReportFiles) -> None:
    book = openpyxl.load_workbook(mixed.report_xlsx)
    assert book.sheetnames == ["Summary", *STATUS_SHEETS]
    for title in STATUS_SHEETS:
        header = [cell.value for cell in book[title][1]]
        assert header == [*REPORT_COLUMNS, *COLUMNS]
    assert sheet_rows(mixed, "created") == [
        (2, "created", "created", None, 201, "v-2", 1, "Ann", "a@x.io", None)
    ]
    failed = sheet_rows(mixed, "failed")
    assert failed == [
        (3, "failed", "validation", "bad email", 422, None, 2, "Bob", "b@x.io", "vip")
    ]
    assert [row[0] for row in sheet_rows(mixed, "conflicted")] == [4]
    assert [row[0] for row in sheet_rows(mixed, "duplicate")] == [5]
    assert [row[0] for row in sheet_rows(mixed, "skipped")] == [6]


def test_xlsx_sheets_are_readable(mixed: ReportFiles) -> None:
    book = openpyxl.load_workbook(mixed.report_xlsx)
    for title in STATUS_SHEETS:
        sheet = book[title]
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref.startswith("A1:J")
        assert all(cell.font.bold for cell in sheet[1])
        assert all(cell.fill.fgColor.rgb.endswith("DDEBF7") for cell in sheet[1])
        widths = [sheet.column_dimensions[letter].width for letter in "ABCDEFGHIJ"]
        assert all(8 <= width <= 60 for width in widths)
    assert book["failed"].column_dimensions["B"].width == len("status") + 2


def test_xlsx_summary_shows_meta_totals_and_reasons(mixed: ReportFiles) -> None:
    pairs = dict(sheet_rows(mixed, "Summary"))
    assert pairs["Run id"] == "r-1"
    assert pairs["Source file"] == "leads.csv"
    assert pairs["Durations"] == "read: 1.5"
    assert pairs["Rows"] == 5
    assert pairs["Failed"] == 1
    assert pairs["validation"] == 1
    assert pairs["dry_run"] == 1


def test_empty_statuses_still_get_a_sheet_with_header(tmp_path: Path) -> None:
    files = ReportWriter(tmp_path, COLUMNS, run_id="run-1").finish(META)
    book = openpyxl.load_workbook(files.report_xlsx)
    assert book.sheetnames == ["Summary", *STATUS_SHEETS]
    for title in STATUS_SHEETS:
        assert book[title].max_row == 1
        assert book[title]["A1"].value == SOURCE_ROW
    assert json.loads(files.summary_json.read_text(encoding="utf-8"))["totals"]["rows"] == 0


def test_status_over_the_sheet_limit_continues_on_a_numbered_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx, "EXCEL_MAX_ROWS", 3)  # header + 2 rows per sheet
    rows = {row: [f"n{row}", "", ""] for row in range(2, 8)}
    statuses = [Status.CREATED] * 5 + [Status.FAILED]
    files = write_report(
        tmp_path, rows, [outcome(r, s) for r, s in zip(rows, statuses, strict=True)]
    )
    book = openpyxl.load_workbook(files.report_xlsx)
    assert book.sheetnames == [
        "Summary",
        "created",
        "created (2)",
        "created (3)",
        "conflicted",
        "failed",
        "duplicate",
        "skipped",
    ]
    assert [row[0] for row in sheet_rows(files, "created (2)")] == [4, 5]
    assert [row[0] for row in sheet_rows(files, "created (3)")] == [6]
    assert book["created (3)"].freeze_panes == "A2"


@pytest.mark.parametrize("value", FORMULAS)
def test_formula_like_values_are_neutralized_in_both_files(tmp_path: Path, value: str) -> None:
    files = write_report(
        tmp_path, {2: [value, "ok", value]}, [outcome(2, message=value, vendor_id=value)]
    )
    row = read_rows(files)[0]
    for column in ["name", "note", "message", "vendor_id"]:
        assert row[column] == "'" + value
    assert row["email"] == "ok"
    sheet = openpyxl.load_workbook(files.report_xlsx)["created"]
    for cell in sheet[2]:
        assert cell.data_type != "f"
    values = [cell.value for cell in sheet[2]]
    # XML turns a stored carriage return into a line feed on reading; the quote is what matters.
    expected = "'" + value.replace("\r", "\n")
    assert values[3] == values[5] == values[7] == values[9] == expected


def test_no_cell_becomes_a_formula_or_an_error_code(tmp_path: Path) -> None:
    values = ["=1+1", "#N/A", "#REF!"]
    files = write_report(tmp_path, {2: values}, [outcome(2, message="=cmd|' /C calc'!A0")])
    sheet = openpyxl.load_workbook(files.report_xlsx)["created"]
    assert all(cell.data_type in {"s", "n"} for cell in sheet[2] if cell.value is not None)
    assert [cell.value for cell in sheet[2]][7:] == ["'=1+1", "#N/A", "#REF!"]


def test_neutralize_prefixes_only_formula_triggers() -> None:
    assert [neutralize(value) for value in FORMULAS] == ["'" + value for value in FORMULAS]
    assert neutralize("-5") == "'-5"
    assert neutralize(" =x") == "' =x"  # an app may skip the blank
    for value in ["", "plain", "5", "a=b", " x", "'=x", "José", "red|green", "x;=1"]:
        assert neutralize(value) == value


def test_control_characters_do_not_crash_and_are_removed_in_xlsx(tmp_path: Path) -> None:
    values = ["a\x00b", "bell\x07", "\x1b[31mred"]
    files = write_report(tmp_path, {2: values}, [outcome(2, message="x\x00=y")])
    assert [read_rows(files)[0][column] for column in COLUMNS] == values
    row = sheet_rows(files, "created")[0]
    assert row[7:] == ("ab", "bell", "[31mred")
    assert row[3] == "x=y"


def test_a_control_character_hiding_a_formula_is_still_neutralized(tmp_path: Path) -> None:
    files = write_report(tmp_path, {2: ["\x00=SUM(A1)", "", ""]}, [outcome(2)])
    assert sheet_rows(files, "created")[0][7] == "'=SUM(A1)"


def test_overlong_values_are_cut_to_excel_cell_limit(tmp_path: Path) -> None:
    long = "x" * 40_000
    files = write_report(tmp_path, {2: [long, "", ""]}, [outcome(2)])
    assert read_rows(files)[0]["name"] == long
    assert len(sheet_rows(files, "created")[0][7]) == 32_767


def test_non_ascii_round_trips(tmp_path: Path) -> None:
    values = ["José", "山田", "party 🎉"]
    files = write_report(tmp_path, {2: values}, [outcome(2, message="ça marche", vendor_id="ü")])
    row = read_rows(files)[0]
    assert [row[column] for column in COLUMNS] == values
    assert (row["message"], row["vendor_id"]) == ("ça marche", "ü")
    assert sheet_rows(files, "created")[0][7:] == tuple(values)


def test_summary_json_keeps_non_ascii_readable(tmp_path: Path) -> None:
    files = ReportWriter(tmp_path, COLUMNS, run_id="run-1").finish({"source_file": "山田.xlsx"})
    assert '"source_file": "山田.xlsx"' in files.summary_json.read_text(encoding="utf-8")


def test_missing_values_are_written_empty(tmp_path: Path) -> None:
    frame = make_frame({2: ["a", "b", "c"]})
    frame.loc[2, "note"] = None
    writer = ReportWriter(tmp_path, COLUMNS, run_id="run-1")
    writer.write(frame, {2: outcome(2)})
    assert read_rows(writer.finish(META))[0]["note"] == ""


def test_a_row_without_outcome_raises_and_writes_nothing(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path, COLUMNS, run_id="run-1")
    with pytest.raises(ValueError, match=r"no outcome for source rows \[3\]"):
        writer.write(make_frame({2: ["a", "", ""], 3: ["b", "", ""]}), {2: outcome(2)})
    assert writer.totals.rows == 0
    assert read_rows(writer.finish(META)) == []


def test_a_chunk_with_other_columns_raises(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path, COLUMNS, run_id="run-1")
    with pytest.raises(ValueError, match="differ"):
        writer.write(make_frame({2: ["a", "b"]}, columns=["name", "email"]), {2: outcome(2)})
    writer.abort()


def test_abort_leaves_the_last_complete_report_and_a_note(tmp_path: Path) -> None:
    finished = write_report(tmp_path, {2: ["a", "", ""]}, [outcome(2)])
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    writer = ReportWriter(tmp_path, COLUMNS, run_id="run-2")
    writer.write(make_frame({2: ["b", "", ""]}), {2: outcome(2, Status.FAILED)})
    writer.abort()
    writer.abort()
    after = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    note = after.pop("INCOMPLETE.txt").decode()
    assert after == before  # the earlier run's complete report, untouched
    assert "Run run-2 started writing its report here" in note
    assert "complete report of run" in note
    assert "importer report --run run-2" in note
    assert read_rows(finished)[0]["status"] == "created"
    with pytest.raises(RuntimeError):
        writer.write(make_frame({3: ["a", "", ""]}), {3: outcome(3)})
    with pytest.raises(RuntimeError):
        writer.finish(META)


outcome_lists = st.lists(
    st.tuples(st.sampled_from(list(Status)), st.text(max_size=8)), min_size=0, max_size=40
)


@settings(max_examples=30, deadline=None)
@given(items=outcome_lists, chunk=st.integers(min_value=1, max_value=15))
def test_every_row_written_is_counted_once_and_lands_on_its_status_sheet(
    items: list[tuple[Status, str]], chunk: int
) -> None:
    outcomes = [outcome(row, status, message=text) for row, (status, text) in enumerate(items, 2)]
    with tempfile.TemporaryDirectory() as folder:
        writer = ReportWriter(Path(folder), COLUMNS, run_id="run-1")
        for start in range(0, len(outcomes), chunk):
            part = outcomes[start : start + chunk]
            rows = {o.source_row: [o.message, "", ""] for o in part}
            writer.write(make_frame(rows), {o.source_row: o for o in part})
        files = writer.finish(META)
        written = read_rows(files)
        assert writer.totals.rows == len(written) == len(items)
        counts = Counter(row["status"] for row in written)
        book = openpyxl.load_workbook(files.report_xlsx)
        for title in STATUS_SHEETS:
            assert book[title].max_row - 1 == counts[title] == getattr(writer.totals, title)
        summary = json.loads(files.summary_json.read_text(encoding="utf-8"))
        assert summary["totals"]["rows"] == len(items)


def test_whitespace_is_what_str_strip_takes_away() -> None:
    everything = (chr(code) for code in range(sys.maxunicode + 1))
    assert "".join(char for char in everything if char.isspace()) == WHITESPACE


problem_text = st.one_of(
    st.text(max_size=12),
    st.lists(
        st.sampled_from(["email", ": ", " (", "; ", "'x'", '"y', "'", " ", "\n", "\u3000", "é"]),
        max_size=10,
    ).map("".join),
    st.text(alphabet="ab ", min_size=75, max_size=90),
)


@settings(max_examples=200, deadline=None)
@given(
    messages=st.lists(problem_text, min_size=1, max_size=10),
    reason=st.sampled_from([Reason.VALIDATION, Reason.VENDOR_REJECTED]),
)
def test_failure_problems_of_a_column_are_each_rows_failure_problem(
    messages: list[str], reason: Reason
) -> None:
    reasons = pa.array([reason.value] * len(messages), pa.large_string())
    problems = failure_problems(reasons, pa.array(messages, pa.large_string()))
    expected = [failure_problem(RowOutcome(2, State.FAILED, reason, text)) for text in messages]
    assert problems.to_pylist() == expected
