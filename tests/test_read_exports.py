"""Sheets the way people export them (issue 8): title rows above the header, Excel's ``sep=``
line, and workbook cells read as the text the user sees, on real files written here."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from importer.cli import main
from importer.errors import InputError
from importer.read import Sheet, open_sheet
from importer.read.formats import RowFormats, format_text

HEADER = "First Name,Last Name,Email,Phone"
DATA = "Ada,Lovelace,ada@example.com,4155550101\nAlan,Turing,alan@example.com,4155550102\n"


def rows(sheet: Sheet) -> dict[int, dict[str, str]]:
    """Return every data row of a sheet by row number."""
    result: dict[int, dict[str, str]] = {}
    for chunk in sheet.chunks():
        result.update(chunk.frame.to_dict("index"))  # type: ignore[arg-type]
    return result


def write_csv(tmp_path: Path, text: str, name: str = "export.csv") -> Path:
    """Write text to a CSV file, newlines untouched, and return its path."""
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def write_xlsx(tmp_path: Path, rows_: list[list[object]], name: str = "export.xlsx") -> Path:
    """Write rows to the first sheet of a workbook, from A1, and return its path."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows_:
        sheet.append(row)
    path = tmp_path / name
    book.save(path)
    return path


# --- title rows above the header ------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "header_row"),
    [
        ("Leads export\n", 2),
        ("Leads export\nGenerated 2025-07-01\n\n", 4),
        ("Leads export,,,\n,,,\nGenerated:,2025-07-01,,\nOwner:,Ann,,\n\n\n", 7),
        ("\n\nLeads export\n\n", 5),
    ],
    ids=["one-title-row", "title-date-blank", "padded-key-value-block", "blank-lines-around"],
)
def test_csv_header_is_found_below_title_rows(tmp_path: Path, title: str, header_row: int) -> None:
    sheet = open_sheet(write_csv(tmp_path, title + HEADER + "\n" + DATA))
    assert sheet.header_row == header_row
    assert sheet.columns == ("First Name", "Last Name", "Email", "Phone")
    data = rows(sheet)
    assert sorted(data) == [header_row + 1, header_row + 2]
    assert data[header_row + 1]["Email"] == "ada@example.com"
    [note] = sheet.notes
    first = next(number for number, line in enumerate(title.splitlines(), 1) if line.strip(","))
    skipped = f"row {first} above it looks" if first == header_row - 1 else "rows"
    assert note.startswith(f"the header is on row {header_row}: {skipped}")
    assert note.endswith("(--header-row N picks another row)")


def test_title_rows_are_named_in_the_note(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "Leads export\nGenerated 2025-07-01\n\n" + HEADER + "\n" + DATA)
    assert open_sheet(path).notes == (
        "the header is on row 4: rows 1-3 above it look like a title and are skipped"
        " (--header-row N picks another row)",
    )


def test_header_only_file_below_title_rows_has_no_data(tmp_path: Path) -> None:
    sheet = open_sheet(write_csv(tmp_path, "Leads export\nGenerated 2025-07-01\n\n" + HEADER))
    assert (sheet.header_row, len(sheet.columns)) == (4, 4)
    assert list(sheet.chunks()) == []
    assert sheet.estimated_rows() == 0


def test_first_data_row_of_text_is_not_taken_for_the_header(tmp_path: Path) -> None:
    text = "Name,Company,City\nAda Lovelace,Analytical Engines,London\nAlan Turing,NPL,Teddington\n"
    sheet = open_sheet(write_csv(tmp_path, text))
    assert (sheet.header_row, sheet.columns, sheet.notes) == (1, ("Name", "Company", "City"), ())
    assert sorted(rows(sheet)) == [2, 3]


def test_header_with_blank_names_is_kept_above_wider_text_rows(tmp_path: Path) -> None:
    sheet = open_sheet(write_csv(tmp_path, "id,,name\nx,Ada,Lovelace\ny,Alan,Turing\n"))
    assert (sheet.header_row, sheet.columns) == (1, ("id", "Column B", "name"))


def test_two_column_header_is_kept_above_all_text_rows(tmp_path: Path) -> None:
    sheet = open_sheet(write_csv(tmp_path, "Name,Company\nAda,Engines\nAlan,NPL\n"))
    assert (sheet.header_row, sheet.notes) == (1, ())


def test_header_naming_a_common_column_is_kept_over_wider_rows(tmp_path: Path) -> None:
    # "Full Name" alone, its other columns unnamed, is shaped like a title line: its name says.
    text = "Full Name,,\nAda Lovelace,London,UK\nAlan Turing,Wilmslow,UK\n"
    sheet = open_sheet(write_csv(tmp_path, text))
    assert (sheet.header_row, sheet.columns, sheet.notes) == (1, ("Full Name",), ())
    assert sorted(rows(sheet)) == [2, 3]


def test_a_ragged_last_row_is_not_taken_for_the_header(tmp_path: Path) -> None:
    text = "Contact,Notes\nAda,\nsee,the,attached\n"
    sheet = open_sheet(write_csv(tmp_path, text))
    assert (sheet.header_row, sheet.columns) == (1, ("Contact", "Notes"))


def test_one_ragged_row_among_narrow_rows_is_not_taken_for_the_header(tmp_path: Path) -> None:
    text = "Contact,Notes\nAda,x\nsee,the,attached,file\nAlan,y\nGrace,z\n"
    sheet = open_sheet(write_csv(tmp_path, text))
    assert sheet.header_row == 1


def test_header_only_file_under_key_value_title_is_left_as_it_is(tmp_path: Path) -> None:
    # Without data rows, "Report,Leads" cannot be told from a narrow table's header.
    sheet = open_sheet(write_csv(tmp_path, "Report,Leads\n\n" + HEADER + "\n"))
    assert (sheet.header_row, sheet.columns) == (1, ("Report", "Leads"))


def test_key_value_title_is_not_taken_for_the_header(tmp_path: Path) -> None:
    text = "Report,Leads\nOwner,Ann\n\n" + HEADER + "\n" + DATA
    sheet = open_sheet(write_csv(tmp_path, text))
    assert (sheet.header_row, sheet.columns[0]) == (4, "First Name")


def test_header_of_values_is_kept_and_said_so(tmp_path: Path) -> None:
    text = "4155550100,ada@example.com,2025-07-01\n4155550101,alan@example.com,2025-07-02\n"
    sheet = open_sheet(write_csv(tmp_path, text))
    assert sheet.header_row == 1
    assert sheet.columns == ("4155550100", "ada@example.com", "2025-07-01")
    assert sheet.notes == (
        "row 1 is taken as the header, but it holds values, not column names ('4155550100',"
        " 'ada@example.com', '2025-07-01'); if the header is another row, pass --header-row N",
    )
    assert sorted(rows(sheet)) == [2]


def test_title_too_far_down_is_not_searched(tmp_path: Path) -> None:
    titles = "".join(f"Note {number}\n" for number in range(1, 32))
    sheet = open_sheet(write_csv(tmp_path, titles + HEADER + "\n" + DATA))
    assert (sheet.header_row, sheet.columns) == (1, ("Note 1",))


def test_single_column_sheet_keeps_its_first_row(tmp_path: Path) -> None:
    sheet = open_sheet(write_csv(tmp_path, "Email\nada@example.com\nalan@example.com\n"))
    assert (sheet.header_row, sheet.columns, sheet.notes) == (1, ("Email",), ())


def test_given_header_row_is_used_and_rows_above_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "Leads export\nFirst,Last\n" + HEADER + "\n" + DATA)
    sheet = open_sheet(path, header_row=3)
    assert (sheet.header_row, sheet.columns[0]) == (3, "First Name")
    assert sheet.notes == ("the header is on row 3 (--header-row): rows 1-2 above it are skipped",)
    assert sorted(rows(sheet)) == [4, 5]


def test_given_header_row_one_reads_the_title_as_header(tmp_path: Path) -> None:
    sheet = open_sheet(write_csv(tmp_path, "Leads export\n" + HEADER + "\n" + DATA), header_row=1)
    assert (sheet.header_row, sheet.columns, sheet.notes) == (1, ("Leads export",), ())
    assert sorted(rows(sheet)) == [2, 3, 4]


@pytest.mark.parametrize(
    ("header_row", "message"),
    [
        (2, r"row 2, given as the header \(--header-row\), is blank"),
        (9, r"has no row 9, given as the header \(--header-row\): its last row is 5"),
    ],
)
def test_given_header_row_blank_or_past_the_end_is_refused(
    tmp_path: Path, header_row: int, message: str
) -> None:
    path = write_csv(tmp_path, "Leads export\n\n" + HEADER + "\n" + DATA)
    with pytest.raises(InputError, match=message) as raised:
        open_sheet(path, header_row=header_row)
    assert "\n" not in str(raised.value)


def test_xlsx_header_below_a_merged_title(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["A1"] = "Leads export"
    sheet.merge_cells("A1:D1")
    sheet["A2"] = "Generated 2025-07-01"
    sheet.append([])
    sheet.append(HEADER.split(","))
    sheet.append(["Ada", "Lovelace", "ada@example.com", 4155550101])
    path = tmp_path / "titled.xlsx"
    book.save(path)
    read = open_sheet(path)
    assert (read.header_row, read.columns) == (4, tuple(HEADER.split(",")))
    assert rows(read) == {
        5: {
            "First Name": "Ada",
            "Last Name": "Lovelace",
            "Email": "ada@example.com",
            "Phone": "4155550101",
        }
    }
    assert read.notes[0].startswith("the header is on row 4: rows 1-3 above it look like a title")


def test_xlsx_given_header_row(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, [["Leads"], ["a", "b"], ["x", "y"], ["1", "2"]])
    sheet = open_sheet(path, header_row=3)
    assert (sheet.header_row, sheet.columns) == (3, ("x", "y"))
    assert rows(sheet) == {4: {"x": "1", "y": "2"}}


def test_xlsx_given_header_row_past_the_end(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, [["a", "b"], ["1", "2"]])
    with pytest.raises(InputError, match="has no row 7"):
        open_sheet(path, header_row=7)


# --- Excel's sep= line ----------------------------------------------------------------------


@pytest.mark.parametrize("first_line", ["sep=;", '"sep=;"', "SEP=;", "sep=;;;"])
def test_sep_line_names_the_delimiter_and_is_no_row(tmp_path: Path, first_line: str) -> None:
    text = first_line + "\r\nName;Email;City\r\nAda;ada@example.com;London, UK\r\n"
    sheet = open_sheet(write_csv(tmp_path, text))
    assert (sheet.delimiter, sheet.header_row, sheet.columns) == (";", 1, ("Name", "Email", "City"))
    assert rows(sheet) == {2: {"Name": "Ada", "Email": "ada@example.com", "City": "London, UK"}}
    assert sheet.notes == (
        "line 1 ('sep=;') names the delimiter, as Excel reads it, and is no row: rows are"
        " numbered as Excel shows them, from the line after it",
    )
    assert sheet.estimated_rows() == 1


def test_sep_line_wins_over_a_sniffed_delimiter(tmp_path: Path) -> None:
    # Every line holds more commas than pipes: only the sep= line says the pipe divides.
    text = "sep=|\nName, title|Notes\nAda, Countess|Wrote, the first, program\n"
    sheet = open_sheet(write_csv(tmp_path, text))
    assert sheet.columns == ("Name, title", "Notes")
    assert rows(sheet)[2]["Notes"] == "Wrote, the first, program"


def test_sep_line_in_utf16_with_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("sep=\t\nName\tEmail\nAda\tada@example.com\n".encode("utf-16"))
    sheet = open_sheet(path)
    assert (sheet.delimiter, sheet.columns) == ("\t", ("Name", "Email"))
    assert rows(sheet) == {2: {"Name": "Ada", "Email": "ada@example.com"}}


def test_sep_line_then_title_rows(tmp_path: Path) -> None:
    text = "sep=,\nLeads export\n\n" + HEADER + "\n" + DATA
    sheet = open_sheet(write_csv(tmp_path, text))
    assert sheet.header_row == 3
    assert sorted(rows(sheet)) == [4, 5]
    assert len(sheet.notes) == 2


def test_sep_line_alone_has_no_header(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="has no header row"):
        open_sheet(write_csv(tmp_path, "sep=;\n"))


def test_text_that_only_starts_like_sep_is_data(tmp_path: Path) -> None:
    sheet = open_sheet(write_csv(tmp_path, "sep=;x,b\n1,2\n"))
    assert (sheet.delimiter, sheet.columns, sheet.header_row) == (",", ("sep=;x", "b"), 1)


# --- workbook cells as the user sees them ---------------------------------------------------


def formatted_book(tmp_path: Path, *, start_row: int = 1, start_col: int = 1) -> Path:
    """Write a workbook of typed cells with the number formats people give them."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    header = ["Zip", "Zip+4", "Phone", "Phone 2", "Share", "Day", "At", "Code", "Plain", "SSN"]
    formats = [
        "00000",
        "00000-0000",
        "(000) 000-0000",
        "[<=9999999]###-####;(###) ###-####",
        "0.0%",
        "yyyy-mm-dd",
        "yyyy-mm-dd h:mm:ss",
        "@",
        "#,##0.00",
        "000-00-0000",
    ]
    values: list[list[object]] = [
        [2134, 21341234, 4155550123, 5550123, 0.125, dt.date(2025, 7, 1),
         dt.datetime(2025, 7, 1, 9, 30), 501, 1234.5, 12345678],
        [501, 501, 6175550199, 4155550123, 0.07, dt.date(2024, 2, 29),
         dt.datetime(2024, 2, 29, 23, 59, 59), "00501", 2, 123456789],
        ["02134", 2134.5, None, 0, 1, None, None, None, None, None],
    ]  # fmt: skip
    for offset, name in enumerate(header):
        sheet.cell(start_row, start_col + offset, name)
    for number, row in enumerate(values, start=start_row + 1):
        for offset, (value, code) in enumerate(zip(row, formats, strict=True)):
            cell = sheet.cell(number, start_col + offset, value)
            cell.number_format = code
    path = tmp_path / "formatted.xlsx"
    book.save(path)
    return path


FORMATTED = {
    "Zip": ["02134", "00501", "02134"],
    "Zip+4": ["02134-1234", "00000-0501", "2134.5"],
    "Phone": ["(415) 555-0123", "(617) 555-0199", ""],
    "Phone 2": ["555-0123", "(415) 555-0123", "-"],
    "Share": ["12.5%", "7%", "100%"],
    "Day": ["2025-07-01", "2024-02-29", ""],
    "At": ["2025-07-01T09:30:00", "2024-02-29T23:59:59", ""],
    "Code": ["501", "00501", ""],
    "Plain": ["1234.5", "2", ""],
    "SSN": ["012-34-5678", "123-45-6789", ""],
}
"""What each column of ``formatted_book`` reads as, row by row: what Excel shows for the
zero-padded and literal-digit formats; percentages, dates and plain numbers as typed."""


def columns_of(sheet: Sheet) -> dict[str, list[str]]:
    """Return a sheet's data cells column by column."""
    data = rows(sheet)
    return {column: [data[number][column] for number in sorted(data)] for column in sheet.columns}


def test_xlsx_numbers_read_through_their_formats(tmp_path: Path) -> None:
    sheet = open_sheet(formatted_book(tmp_path))
    assert sorted(rows(sheet)) == [2, 3, 4]
    assert columns_of(sheet) == FORMATTED


def test_xlsx_formats_follow_cells_away_from_a1(tmp_path: Path) -> None:
    # The table starts at C5: calamine's rows start at column C, the XML counts from A.
    sheet = open_sheet(formatted_book(tmp_path, start_row=5, start_col=3))
    assert sorted(rows(sheet)) == [6, 7, 8]
    assert columns_of(sheet) == FORMATTED


def test_xlsx_formats_are_per_cell_not_per_column(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, [["Zip", "Other"], [2134, 2134], [2134, 2134], [2134, 7]])
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet is not None
    sheet["A3"].number_format = "00000"
    sheet["B4"].number_format = "00000"
    book.save(path)
    assert rows(open_sheet(path)) == {
        2: {"Zip": "2134", "Other": "2134"},
        3: {"Zip": "02134", "Other": "2134"},
        4: {"Zip": "2134", "Other": "00007"},
    }


def test_xlsx_formats_of_the_sheet_chosen(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.append(["Name", "Zip"])
    first.append(["Ada", 501])
    second = book.create_sheet("Leads")
    second.append(["Zip", "Name"])
    second.append([501, "Alan"])
    second["A2"].number_format = "00000"
    path = tmp_path / "two.xlsx"
    book.save(path)
    assert rows(open_sheet(path)) == {2: {"Name": "Ada", "Zip": "501"}}
    assert rows(open_sheet(path, sheet="Leads")) == {2: {"Zip": "00501", "Name": "Alan"}}


def test_xlsx_formats_below_title_rows(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path, [["Leads export"], [], ["Name", "Zip", "Joined"], ["Ada", 2134, None]]
    )
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet is not None
    sheet["B4"].number_format = "00000"
    sheet["C4"] = dt.datetime(2025, 7, 1, 9, 30)
    book.save(path)
    read = open_sheet(path)
    assert read.header_row == 3
    assert rows(read) == {4: {"Name": "Ada", "Zip": "02134", "Joined": "2025-07-01T09:30:00"}}


def test_xlsx_formats_without_cell_references(tmp_path: Path) -> None:
    # Some writers leave out r="A1": cells are placed one after the other, as calamine does.
    source = write_xlsx(tmp_path, [["Name", "Zip"], ["Ada", 2134], ["Alan", 501]], "refs.xlsx")
    book = openpyxl.load_workbook(source)
    sheet = book.active
    assert sheet is not None
    for cell in ("B2", "B3"):
        sheet[cell].number_format = "00000"
    book.save(source)
    path = tmp_path / "norefs.xlsx"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(path, "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'(<c) r="[A-Z]+[0-9]+"', rb"\1", data)
                assert b'<c r="' not in data
            copy.writestr(item, data)
    assert rows(open_sheet(path)) == {
        2: {"Name": "Ada", "Zip": "02134"},
        3: {"Name": "Alan", "Zip": "00501"},
    }


def test_row_formats_are_read_a_row_ahead_in_row_order() -> None:
    def zero(value: float) -> str:
        return "zero"

    formats = RowFormats(iter([(3, {0: zero}), (9, {1: zero}), (5, {2: zero}), (12, {0: zero})]))
    assert formats.row(2) is None
    assert formats.row(3) == {0: zero}
    assert formats.row(4) is None
    assert formats.row(9) == {1: zero}
    # Row 5, listed after row 9, is passed over: Excel writes rows in ascending order.
    assert formats.row(10) is None
    assert formats.row(12) == {0: zero}
    assert formats.row(13) is None


@pytest.mark.parametrize(
    ("code", "value", "shown"),
    [
        ("00000", 2134, "02134"),
        ("00000", 123456, "123456"),
        ("00000", 2134.5, "2134.5"),
        ("00000", -5, "-5"),
        ("000000", 1234, "001234"),
        ("00000-0000", 21341234, "02134-1234"),
        ("000-000-0000", 4155550123, "415-555-0123"),
        ('"ZIP "00000', 501, "ZIP 00501"),
        ("[Red]00000;[Blue]-00000", 12, "00012"),
        ("[$-409]000-0000", 5550123, "555-0123"),
        ("00\\-000", 12345, "12-345"),
        ('0000000000;;"none"', 0, "0"),
        ("0%", 0.07, "7%"),
        ("0.00%", 1 / 3, "33.3333333333333%"),
        ("[Red]0.0%", -0.5, "-50%"),
    ],
)
def test_format_text(code: str, value: float, shown: str) -> None:
    show = format_text(code)
    assert show is not None
    assert show(float(value)) == shown


@pytest.mark.parametrize(
    "code", ["General", "0", "0.00", "#,##0", "$#,##0.00", "@", "yyyy-mm-dd", "0.00E+00", "#"]
)
def test_formats_that_show_the_plain_number_are_not_applied(code: str) -> None:
    assert format_text(code) is None


# --- end to end: importer run --dry-run -------------------------------------------------------


def dry_run(path: Path, out: Path, *options: str) -> tuple[list[list[str]], dict[str, Any]]:
    """Run ``importer run PATH --dry-run``; return rows.csv's rows and summary.json."""
    arguments = ["run", str(path), "--vendor", "offergrid-leads", "--dry-run", "--out", str(out)]
    result = CliRunner().invoke(main, [*arguments, *options])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    with (out / "rows.csv").open(encoding="utf-8-sig", newline="") as handle:
        reported = list(csv.reader(handle))
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return reported, summary


def test_dry_run_reports_each_row_once_by_its_spreadsheet_number(tmp_path: Path) -> None:
    text = (
        "Leads export\nGenerated 2025-07-01\n\nFull Name,Email,Zip\n"
        "Ada Lovelace,ada@example.com,02134\n\nAlan Turing,alan@example.com,00501\n"
        "Grace Hopper,grace@example.com,10001\n"
    )
    reported, summary = dry_run(write_csv(tmp_path, text), tmp_path / "out")
    header, *body = reported
    assert header[0] == "source_row"
    assert [row[0] for row in body] == ["5", "7", "8"]
    assert [row[header.index("Full Name")] for row in body] == [
        "Ada Lovelace",
        "Alan Turing",
        "Grace Hopper",
    ]
    assert summary["totals"]["rows"] == 3
    assert summary["header_row"] == 4
    assert summary["notes"][0].startswith("the header is on row 4: rows 1-3 above it look")


def test_dry_run_of_an_xlsx_export_with_a_title_and_formats(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["A1"] = "Leads export"
    sheet.merge_cells("A1:C1")
    sheet.append([])
    sheet.append(["Full Name", "Email", "Zip"])
    for number, (name, zip_code) in enumerate([("Ada", 2134), ("Alan", 501)], start=4):
        sheet.append([name, f"{name.lower()}@example.com", zip_code])
        sheet.cell(number, 3).number_format = "00000"
    path = tmp_path / "titled.xlsx"
    book.save(path)
    reported, summary = dry_run(path, tmp_path / "out")
    header, *body = reported
    assert [(row[0], row[header.index("Zip")]) for row in body] == [("4", "02134"), ("5", "00501")]
    assert summary["header_row"] == 3


def test_dry_run_with_a_sep_line_and_a_given_header_row(tmp_path: Path) -> None:
    text = "sep=;\nExport;\nFull Name;Email\nAda;ada@example.com\nAlan;alan@example.com\n"
    reported, summary = dry_run(write_csv(tmp_path, text), tmp_path / "out", "--header-row", "2")
    assert [row[0] for row in reported[1:]] == ["3", "4"]
    assert summary["delimiter"] == ";"
    assert summary["notes"][:2] == [
        "line 1 ('sep=;') names the delimiter, as Excel reads it, and is no row: rows are"
        " numbered as Excel shows them, from the line after it",
        "the header is on row 2 (--header-row): row 1 above it is skipped",
    ]


def test_dry_run_refuses_a_blank_header_row_in_one_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "Leads export\n\nFull Name,Email\nAda,ada@example.com\n")
    arguments = ["run", str(path), "--vendor", "offergrid-leads", "--dry-run", "--out"]
    result = CliRunner().invoke(main, [*arguments, str(tmp_path), "--header-row", "2"])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("importer: error:")]
    assert errors == [
        f"importer: error: {path}: row 2, given as the header (--header-row), is blank; give"
        " the number of the row that names the columns"
    ]
    assert "Traceback" not in result.output


def test_header_with_a_year_among_names_is_found_below_a_title(tmp_path: Path) -> None:
    text = "Leads export\n\nName,Email,City,2024\nAda,ada@example.com,London,12\n"
    sheet = open_sheet(write_csv(tmp_path, text))
    assert (sheet.header_row, sheet.columns) == (3, ("Name", "Email", "City", "2024"))


_NAME = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters=";|"),
    max_size=12,
)
"""Cells of any text but control characters and the other delimiters (the sniffer's business,
not the header's)."""


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(min_value=1, max_value=6),
    data=st.data(),
)
def test_a_header_as_wide_as_its_rows_is_always_row_one(
    tmp_path_factory: pytest.TempPathFactory, width: int, data: st.DataObject
) -> None:
    # Whatever the names and cells (all text, emails, blanks), a header whose last cell is
    # named, over rows no wider, is the header: title rows must be narrower than it.
    names = data.draw(st.lists(_NAME, min_size=width, max_size=width))
    names[-1] = names[-1].strip() or "last"
    assume(not names[0].strip('"').lower().startswith("sep="))
    body = data.draw(st.lists(st.lists(_NAME, min_size=1, max_size=width), min_size=0, max_size=8))
    path = tmp_path_factory.mktemp("prop") / "sheet.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        writer.writerows(body)
    sheet = open_sheet(path)
    assert sheet.header_row == 1
