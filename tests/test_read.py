"""Tests for the read stage, on real files: the shared corpora and files written here."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer.errors import InputError
from importer.lifecycle import SOURCE_ROW
from importer.read import Chunk, Sheet, open_sheet
from importer.read.sheet import TEXT_DTYPE

CORPORA = Path(__file__).parent / "corpora"


def rows(sheet: Sheet, chunk_rows: int = 10_000) -> dict[int, dict[str, str]]:
    """Return every data row of a sheet by row number."""
    result: dict[int, dict[str, str]] = {}
    for chunk in sheet.chunks(chunk_rows):
        result.update(chunk.frame.to_dict("index"))  # type: ignore[arg-type]
    return result


def malformed(sheet: Sheet, chunk_rows: int = 10_000) -> dict[int, str]:
    """Return the malformed-row messages of a sheet by row number (their first clause)."""
    return {
        number: text.split(";")[0]
        for chunk in sheet.chunks(chunk_rows)
        for number, text in chunk.malformed.items()
    }


def test_malformed_row_message_shows_the_cells_beyond_the_header(tmp_path: Path) -> None:
    path = tmp_path / "shifted.csv"
    path.write_text("name,email\nAda,ada@x.io\nBo,Smith,bo@x.io,,\n")
    (chunk,) = open_sheet(path).chunks()
    assert chunk.malformed == {
        3: "row has 5 cells but the header has 2; the cells beyond the header ('bo@x.io') "
        "suggest a shifted row: fix it in the sheet"
    }
    assert chunk.frame.loc[3].tolist() == ["Bo", "Smith"]


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    """Write text (as UTF-8, newlines untouched) or bytes to a file and return its path."""
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# --- the shape of a chunk -------------------------------------------------------------------


def test_chunk_frame_is_text_indexed_by_source_row() -> None:
    sheet = open_sheet(CORPORA / "csv-spectrum" / "comma_in_quotes.csv")
    [chunk] = list(sheet.chunks())
    assert isinstance(chunk, Chunk)
    assert chunk.frame.index.name == SOURCE_ROW
    assert chunk.frame.index.dtype == "int64"
    assert list(chunk.frame.columns) == list(sheet.columns)
    assert set(chunk.frame.dtypes) == {TEXT_DTYPE}
    assert str(TEXT_DTYPE) == "str"
    assert not chunk.frame.isna().any().any()
    assert all(isinstance(cell, str) for cell in chunk.frame.to_numpy().ravel())
    assert chunk.malformed == {}


def test_comma_in_quotes_and_leading_zero_stay_in_cell() -> None:
    sheet = open_sheet(CORPORA / "csv-spectrum" / "comma_in_quotes.csv")
    assert (sheet.kind, sheet.encoding, sheet.delimiter, sheet.sheet_name) == (
        "csv",
        "utf-8",
        ",",
        None,
    )
    assert sheet.columns == ("first", "last", "address", "city", "zip")
    assert rows(sheet) == {
        2: {
            "first": "John",
            "last": "Doe",
            "address": "120 any st.",
            "city": "Anytown, WW",
            "zip": "08123",
        }
    }


def test_leading_zeros_survive() -> None:
    sheet = open_sheet(CORPORA / "frictionless-py" / "leading-zeros.csv")
    assert sheet.columns == ("value",)
    assert sheet.delimiter == ","
    assert rows(sheet) == {2: {"value": "01"}, 3: {"value": "002"}, 4: {"value": "00003"}}


# --- encodings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "columns", "last_row"),
    [
        ("csvkit/test_utf8_bom.csv", ("foo", "bar", "baz"), {"foo": "4", "bar": "5", "baz": "ʤ"}),
        ("frictionless-py/bom.csv", ("id", "name"), {"id": "2", "name": "中国人"}),
    ],
)
def test_utf8_bom_is_stripped(
    relative: str, columns: tuple[str, ...], last_row: dict[str, str]
) -> None:
    sheet = open_sheet(CORPORA / relative)
    assert sheet.encoding == "utf-8-sig"
    assert sheet.columns == columns
    assert rows(sheet)[3] == last_row


def test_utf16_little_endian_with_bom() -> None:
    sheet = open_sheet(CORPORA / "csvkit" / "test_utf16_little.csv")
    assert sheet.encoding == "utf-16"
    assert sheet.columns == ("a", "b", "c")
    assert rows(sheet) == {2: {"a": "1", "b": "2", "c": "3"}, 3: {"a": "4", "b": "5", "c": "ʤ"}}


def test_utf16_big_endian_with_bom() -> None:
    sheet = open_sheet(CORPORA / "salesforce-dataloader" / "csvtext_BOM_UTF16BE.csv")
    assert sheet.encoding == "utf-16"
    assert sheet.columns == ("column1", "column2", "column3")
    assert rows(sheet)[3] == {"column1": "row2-1", "column2": "row2-2", "column3": "row2-3"}


def test_utf16_without_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "u16.csv", "name,city\nJosé,Zürich\n".encode("utf-16-le"))
    sheet = open_sheet(path)
    assert sheet.encoding == "utf-16-le"
    assert rows(sheet) == {2: {"name": "José", "city": "Zürich"}}


@pytest.mark.parametrize("relative", ["csv-spectrum/latin1.csv", "frictionless-py/latin1.csv"])
def test_latin1_file_is_read_as_cp1252(relative: str) -> None:
    # Both files hold byte 0xA9, which is "©" in Latin-1 and in cp1252 alike.
    sheet = open_sheet(CORPORA / relative)
    assert sheet.encoding == "cp1252"
    assert list(rows(sheet).values())[-1][sheet.columns[-1]] == "©"


def test_french_cp1252_semicolon_export() -> None:
    sheet = open_sheet(CORPORA / "frictionless-py" / "table-with-accents.csv")
    assert (sheet.encoding, sheet.delimiter) == ("cp1252", ";")
    assert sheet.columns[:4] == ("Classement", "Quartier", "Date", "Année")
    data = rows(sheet)
    assert len(data) == 638
    assert min(data) == 2
    assert data[2]["Année"] == "2013"
    assert data[2]["Occupancy rate"] == "0,611553068"
    assert all(len(row) == len(sheet.columns) for row in data.values())


def test_cp1252_after_many_ascii_rows(tmp_path: Path) -> None:
    ascii_rows = b"".join(b"r%d,plain\n" % number for number in range(5000))
    tail = "Café Müller,5 €\n".encode("cp1252")
    sheet = open_sheet(write(tmp_path, "late.csv", b"name,price\n" + ascii_rows + tail))
    assert sheet.encoding == "cp1252"
    assert rows(sheet)[5002] == {"name": "Café Müller", "price": "5 €"}


def test_nul_bytes_are_dropped() -> None:
    sheet = open_sheet(CORPORA / "csvkit" / "null_byte.csv")
    assert sheet.columns == ("a", "b", "c")
    assert rows(sheet) == {2: {"a": "", "b": "2", "c": "3"}}


# --- delimiters -----------------------------------------------------------------------------


def test_semicolon_with_leading_zero() -> None:
    sheet = open_sheet(CORPORA / "frictionless-py" / "issue-1009-semicolon.csv")
    assert sheet.delimiter == ";"
    assert rows(sheet) == {2: {"fieldNameA": "0123", "fieldNameB": "c"}}


def test_semicolon_with_trailing_delimiter_is_not_malformed() -> None:
    sheet = open_sheet(CORPORA / "frictionless-py" / "issue-1138.csv")
    assert sheet.delimiter == ";"
    assert sheet.columns == ("Zeit [MEZ]", "Wasserstand", "Status")
    data = rows(sheet)
    assert malformed(sheet) == {}
    assert data[2] == {
        "Zeit [MEZ]": "09.07.2013 12:00:00",
        "Wasserstand": "146",
        "Status": "nicht qualitätsgesichert",
    }


def test_tab_delimited(tmp_path: Path) -> None:
    path = write(tmp_path, "tabs.tsv", "name\tnote\nSmith, J\ta, b, c\nDoe, K\tx\n")
    sheet = open_sheet(path)
    assert sheet.delimiter == "\t"
    assert rows(sheet) == {
        2: {"name": "Smith, J", "note": "a, b, c"},
        3: {"name": "Doe, K", "note": "x"},
    }


def test_pipe_delimited(tmp_path: Path) -> None:
    sheet = open_sheet(write(tmp_path, "pipes.txt", "id|email|zip\n1|a@x.org|02134\n"))
    assert sheet.delimiter == "|"
    assert rows(sheet) == {2: {"id": "1", "email": "a@x.org", "zip": "02134"}}


def test_quoted_delimiters_do_not_count(tmp_path: Path) -> None:
    text = 'name;note\n"Smith, J";"a, b, c, d"\n"Doe, K";"x, y"\n'
    sheet = open_sheet(write(tmp_path, "quoted.csv", text))
    assert sheet.delimiter == ";"
    assert rows(sheet)[2] == {"name": "Smith, J", "note": "a, b, c, d"}


def test_one_column_file_uses_comma(tmp_path: Path) -> None:
    sheet = open_sheet(write(tmp_path, "emails.csv", "email\na@x.org\nb;c@x.org\n"))
    assert sheet.delimiter == ","
    assert rows(sheet) == {2: {"email": "a@x.org"}, 3: {"email": "b;c@x.org"}}


# --- records, newlines and row numbers ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "newline"),
    [("newlines.csv", "\n"), ("newlines_crlf.csv", "\r\n"), ("newlines_cr.csv", "\r")],
)
def test_embedded_newline_stays_in_one_row(name: str, newline: str) -> None:
    sheet = open_sheet(CORPORA / "csv-spectrum" / name)
    assert rows(sheet) == {
        2: {"a": "1", "b": "2", "c": "3"},
        3: {"a": f"Once upon {newline}a time", "b": "5", "c": "6"},
        4: {"a": "7", "b": "8", "c": "9"},
    }


def test_quotes_and_newlines() -> None:
    sheet = open_sheet(CORPORA / "csv-spectrum" / "quotes_and_newlines.csv")
    assert rows(sheet) == {2: {"a": "1", "b": 'ha \n"ha" \nha'}, 3: {"a": "3", "b": "4"}}


def test_cr_only_line_endings() -> None:
    sheet = open_sheet(CORPORA / "csvkit" / "mac_newlines.csv")
    assert rows(sheet) == {
        2: {"a": "1", "b": "2", "c": "3"},
        3: {"a": "Once upon\ra time", "b": "5", "c": "6"},
    }


def test_row_numbers_count_blank_lines_and_multiline_records(tmp_path: Path) -> None:
    text = '\n,,\nname,email\n\nAnn,a@x.org\n"Bob\nSmith",b@x.org\r\n  ,  \nCy,c@x.org'
    sheet = open_sheet(write(tmp_path, "numbers.csv", text))
    assert sheet.columns == ("name", "email")
    assert rows(sheet) == {
        5: {"name": "Ann", "email": "a@x.org"},
        6: {"name": "Bob\nSmith", "email": "b@x.org"},
        8: {"name": "Cy", "email": "c@x.org"},
    }


def test_rows_of_only_delimiters_are_skipped_but_counted() -> None:
    sheet = open_sheet(CORPORA / "w3c-csvw" / "test055.csv")
    data = rows(sheet)
    assert sorted(data) == [3, 5]
    assert data[5]["On Street"] == "EMERSON ST"


def test_trailing_delimiter_only_rows_are_skipped() -> None:
    sheet = open_sheet(CORPORA / "frictionless-py" / "blank-rows-multiple.csv")
    assert rows(sheet) == {
        2: {"id": "1101", "name": "John", "age": "30"},
        3: {"id": "1102", "name": "Julie", "age": "26"},
    }


def test_comment_line_above_the_header_is_skipped_and_below_it_is_data() -> None:
    sheet = open_sheet(CORPORA / "frictionless-py" / "skip-rows.csv")
    assert (sheet.header_row, sheet.columns) == (2, ("id", "name"))
    assert sheet.notes == (
        "the header is on row 2: row 1 above it looks like a title and is skipped"
        " (--header-row N picks another row)",
    )
    assert rows(sheet) == {
        3: {"id": "1", "name": "english"},
        4: {"id": "# it's a comment!", "name": ""},
        5: {"id": "2", "name": "中国人"},
    }
    assert malformed(sheet) == {}


# --- ragged rows ----------------------------------------------------------------------------


def test_short_rows_are_padded_and_long_rows_cut() -> None:
    sheet = open_sheet(CORPORA / "frictionless-py" / "defective-rows.csv")
    assert rows(sheet) == {
        2: {"id": "1101", "name": "John", "age": ""},
        3: {"id": "1102", "name": "Julie", "age": "26"},
    }
    assert malformed(sheet) == {3: "row has 4 cells but the header has 3"}


def test_structure_errors() -> None:
    sheet = open_sheet(CORPORA / "frictionless-py" / "structure-errors.csv")
    data = rows(sheet)
    assert sorted(data) == [2, 3, 5]
    assert data[5] == {"id": "1", "name": "2", "age": "3"}
    assert malformed(sheet) == {5: "row has 6 cells but the header has 3"}


def test_trailing_empty_cells_are_not_malformed(tmp_path: Path) -> None:
    sheet = open_sheet(write(tmp_path, "trailing.csv", "a,b\n1,2,,\n3,4, \n5,6,x\n"))
    assert rows(sheet) == {
        2: {"a": "1", "b": "2"},
        3: {"a": "3", "b": "4"},
        4: {"a": "5", "b": "6"},
    }
    assert malformed(sheet) == {4: "row has 3 cells but the header has 2"}


# --- headers --------------------------------------------------------------------------------


def test_duplicate_headers_are_numbered() -> None:
    sheet = open_sheet(CORPORA / "frictionless-py" / "duplicate-headers.csv")
    assert sheet.columns == ("id", "name", "id (2)", "age", "id (3)")
    assert rows(sheet)[2]["id (3)"] == "001101"


def test_blank_header_is_named_by_column_letter() -> None:
    sheet = open_sheet(CORPORA / "frictionless-py" / "blank-headers.csv")
    assert sheet.columns == ("id", "Column B", "age")
    assert rows(sheet)[3] == {"id": "1102", "Column B": "Julie", "age": "26"}


def test_header_cells_are_trimmed_and_made_unique(tmp_path: Path) -> None:
    path = write(tmp_path, "headers.csv", " Email ,Email,, Email (2) ,Column C,\n1,2,3,4,5,\n")
    sheet = open_sheet(path)
    assert sheet.columns == ("Email", "Email (2)", "Column C", "Email (2) (2)", "Column C (2)")
    assert list(rows(sheet)[2].values()) == ["1", "2", "3", "4", "5"]


def test_header_is_the_first_non_blank_record(tmp_path: Path) -> None:
    sheet = open_sheet(write(tmp_path, "late-header.csv", ";;\n\n id ; name \n7;Ann\n"))
    assert sheet.delimiter == ";"
    assert sheet.columns == ("id", "name")
    assert rows(sheet) == {4: {"id": "7", "name": "Ann"}}


def test_header_only_file_has_no_chunks(tmp_path: Path) -> None:
    sheet = open_sheet(write(tmp_path, "header.csv", "a,b\n,\n"))
    assert sheet.columns == ("a", "b")
    assert list(sheet.chunks()) == []


# --- chunking -------------------------------------------------------------------------------


def test_small_chunks_hold_the_same_rows_as_one_chunk() -> None:
    sheet = open_sheet(CORPORA / "frictionless-py" / "table-with-accents.csv")
    [whole] = list(sheet.chunks(chunk_rows=100_000))
    small = list(sheet.chunks(chunk_rows=2))
    assert len(small) == 319
    assert all(len(chunk.frame) == 2 for chunk in small)
    pd.testing.assert_frame_equal(pd.concat([chunk.frame for chunk in small]), whole.frame)


def test_malformed_rows_follow_their_chunk() -> None:
    sheet = open_sheet(CORPORA / "frictionless-py" / "structure-errors.csv")
    chunks = list(sheet.chunks(chunk_rows=2))
    assert [list(chunk.frame.index) for chunk in chunks] == [[2, 3], [5]]
    assert [dict(chunk.malformed) for chunk in chunks] == [
        {},
        {
            5: "row has 6 cells but the header has 3; the cells beyond the header ('4', '5', "
            "'6') suggest a shifted row: fix it in the sheet"
        },
    ]


def test_chunks_can_be_read_again() -> None:
    sheet = open_sheet(CORPORA / "csv-spectrum" / "newlines.csv")
    assert rows(sheet) == rows(sheet, chunk_rows=1)


def test_chunk_rows_must_be_positive() -> None:
    sheet = open_sheet(CORPORA / "csv-spectrum" / "simple.csv")
    with pytest.raises(ValueError, match="chunk_rows"):
        sheet.chunks(0)


cell_text = st.text(st.characters(exclude_categories=("Cs", "Cc"), include_characters="\t\r\n"))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    records=st.lists(st.lists(cell_text, min_size=3, max_size=3), max_size=30),
    style=st.sampled_from([("\r\n", False), ("\n", True)]),
)
def test_every_written_row_is_read_back_once(
    tmp_path: Path, records: list[list[str]], style: tuple[str, bool]
) -> None:
    # A bare CR in a cell is only quoted when CR is part of the line terminator.
    terminator, quote_all = style
    buffer = io.StringIO()
    if quote_all:
        writer = csv.writer(buffer, lineterminator=terminator, quoting=csv.QUOTE_ALL)
    else:
        writer = csv.writer(buffer, lineterminator=terminator)
    writer.writerow(["name", "email", "phone"])
    writer.writerows(records)
    sheet = open_sheet(write(tmp_path, "property.csv", buffer.getvalue()))
    expected = {
        number: dict(zip(sheet.columns, record, strict=True))
        for number, record in enumerate(records, start=2)
        if "".join(record).strip()
    }
    assert sheet.delimiter == ","
    assert rows(sheet, chunk_rows=7) == expected


# --- workbooks ------------------------------------------------------------------------------


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    """Write a workbook: typed cells from row 3 with a blank row, and a second sheet."""
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Contacts"
    first.append([])
    first.append([])
    first.append(["Name", "Phone", "Zip", "Joined", "Active", "Score", "Seen", "At", "Name"])
    first.append(
        [
            "Ann",
            4155550123,
            "02134",
            dt.date(2024, 1, 31),
            True,
            12.5,
            dt.datetime(2024, 1, 31, 8, 30),
            dt.time(8, 30),
            "Annie",
        ]
    )
    first.append([None, None, None])
    first.append(["Bob", 2.0, "00501", None, False, -0.25, None, None, None])
    leads = book.create_sheet("Leads")
    leads["C2"] = "email"
    leads["E2"] = "source"
    leads["C3"] = "cy@x.org"
    leads["E3"] = "fair"
    leads["F4"] = "stray"
    path = tmp_path / "book.xlsx"
    book.save(path)
    return path


def test_workbook_cells_read_as_typed_text(workbook: Path) -> None:
    sheet = open_sheet(workbook)
    assert (sheet.kind, sheet.sheet_name, sheet.encoding, sheet.delimiter) == (
        "xlsx",
        "Contacts",
        None,
        None,
    )
    columns = ("Name", "Phone", "Zip", "Joined", "Active", "Score", "Seen", "At", "Name (2)")
    assert sheet.columns == columns
    data = rows(sheet)
    assert data == {
        4: dict(
            zip(
                columns,
                [
                    "Ann",
                    "4155550123",
                    "02134",
                    "2024-01-31",
                    "TRUE",
                    "12.5",
                    "2024-01-31T08:30:00",
                    "08:30:00",
                    "Annie",
                ],
                strict=True,
            )
        ),
        6: dict(zip(columns, ["Bob", "2", "00501", "", "FALSE", "-0.25", "", "", ""], strict=True)),
    }


def test_workbook_chunks_match_and_repeat(workbook: Path) -> None:
    sheet = open_sheet(workbook)
    [whole] = list(sheet.chunks())
    small = list(sheet.chunks(chunk_rows=1))
    assert [list(chunk.frame.index) for chunk in small] == [[4], [6]]
    pd.testing.assert_frame_equal(pd.concat([chunk.frame for chunk in small]), whole.frame)
    assert set(whole.frame.dtypes) == {TEXT_DTYPE}


def test_second_sheet_by_name_keeps_column_letters(workbook: Path) -> None:
    sheet = open_sheet(workbook, sheet="Leads")
    assert sheet.sheet_name == "Leads"
    assert sheet.columns == ("email", "Column D", "source")
    assert rows(sheet) == {
        3: {"email": "cy@x.org", "Column D": "", "source": "fair"},
        4: {"email": "", "Column D": "", "source": ""},
    }
    assert malformed(sheet) == {4: "row has 4 cells but the header has 3"}


def test_unknown_sheet_names_the_sheets(workbook: Path) -> None:
    with pytest.raises(InputError, match="'Contacts', 'Leads'") as raised:
        open_sheet(workbook, sheet="Customers")
    assert "Customers" in str(raised.value)


def test_workbook_header_below_blank_rows() -> None:
    sheet = open_sheet(CORPORA / "calamine" / "temperature-in-middle.xlsx")
    assert sheet.columns == ("label", "value")
    assert rows(sheet) == {
        5: {"label": "celsius", "value": "22.2222"},
        6: {"label": "fahrenheit", "value": "72"},
    }


def test_workbook_types_from_corpus() -> None:
    sheet = open_sheet(CORPORA / "csvkit" / "sheets.xlsx", sheet="data")
    assert sheet.columns == (
        "text",
        "date",
        "integer",
        "boolean",
        "float",
        "datetime",
        "empty_column",
    )
    data = rows(sheet)
    assert data[2] == {
        "text": "Chicago Reader",
        "date": "1971-01-01",
        "integer": "40",
        "boolean": "TRUE",
        "float": "1",
        "datetime": "1971-01-01T04:14:00",
        "empty_column": "",
    }
    assert data[3]["float"] == "1.27"
    assert malformed(sheet) == {3: "row has 8 cells but the header has 7"}


def test_workbook_text_keeps_leading_zeros() -> None:
    sheet = open_sheet(CORPORA / "frictionless-py" / "cast-int-to-string-issue-1251.xlsx")
    assert [row["A"] for row in rows(sheet).values()] == ["001", "002"]


def test_workbook_blank_and_duplicate_headers() -> None:
    sheet = open_sheet(CORPORA / "frictionless-py" / "issue-312.xlsx")
    assert sheet.columns == ("id", "name", "Column C", "name (2)")


def test_workbook_empty_first_sheet_points_to_others() -> None:
    with pytest.raises(InputError, match="'data', 'ʤ'"):
        open_sheet(CORPORA / "csvkit" / "sheets.xlsx")


@pytest.mark.parametrize(
    ("relative", "message"),
    [
        ("calamine/pass_protected.xlsx", "password-protected"),
        ("calamine/issue252.xlsx", "not a readable workbook"),
        ("openpyxl/null_archive.xlsx", "not a readable workbook"),
        ("python-calamine/empty_file.xlsx", "is empty"),
    ],
)
def test_unreadable_workbooks(relative: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as raised:
        open_sheet(CORPORA / relative)
    assert Path(relative).name in str(raised.value)
    assert "\n" not in str(raised.value)


def test_csv_named_as_workbook(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a readable workbook"):
        open_sheet(write(tmp_path, "fake.xlsx", "a,b\n1,2\n"))


# --- files that are not sheets --------------------------------------------------------------


def one_line_error(path: Path, **options: str) -> str:
    """Return the message of the InputError that opening the path raises."""
    with pytest.raises(InputError) as raised:
        open_sheet(path, **options)
    message = str(raised.value)
    assert "\n" not in message
    assert path.name in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert "does not exist" in one_line_error(tmp_path / "nope.csv")


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "folder.csv").mkdir()
    assert "is a directory" in one_line_error(tmp_path / "folder.csv")


def test_empty_file(tmp_path: Path) -> None:
    assert "is empty" in one_line_error(write(tmp_path, "empty.csv", b""))


def test_blank_file_has_no_header(tmp_path: Path) -> None:
    assert "no header row" in one_line_error(write(tmp_path, "blank.csv", ",,\n  \n\n"))


def test_unsupported_extension_lists_supported_ones(tmp_path: Path) -> None:
    message = one_line_error(write(tmp_path, "data.json", "{}"))
    assert "'.json'" in message
    assert ".csv" in message
    assert ".xlsx" in message


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
        (CORPORA / "calamine" / "merge_cells.xlsx").read_bytes(),
        bytes((n * 7919 + 13) % 256 for n in range(4096)),
    ],
    ids=["png", "xlsx-renamed", "noise"],
)
def test_binary_file_named_csv(tmp_path: Path, data: bytes) -> None:
    assert "CSV" in one_line_error(write(tmp_path, "binary.csv", data))


def test_sheet_option_on_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "plain.csv", "a\n1\n")
    assert "no sheets" in one_line_error(path, sheet="Sheet1")


def test_unclosed_quote_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path, "quote.csv", 'a,b\n1,"never closed\n' + "x,y\n" * 40_000)
    sheet = open_sheet(path)
    with pytest.raises(InputError, match="row 2 cannot be parsed"):
        list(sheet.chunks())
