"""The read stage's limits and broken files, on real files written here: every file gets a
one-line answer naming the file, the row where it applies, the limit and the option that
raises it, in bounded memory, and a problem found mid-file still ends with a report."""

from __future__ import annotations

import csv
import json
import os
import struct
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest

from importer.config import RunConfig
from importer.errors import InputError
from importer.pipeline.run import run_import
from importer.read import ReadLimits, Sheet, open_sheet
from importer.read.limits import FLAGS
from importer.read.sheet import CHUNK_CELLS
from tests.conftest import CORPORA, REPO, SAMPLE_DATA

ENV = {"OFFERGRID_API_KEY": "sandbox-offergrid-key"}


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    """Write text (as UTF-8, newlines untouched) or bytes to a file and return its path."""
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def refusal(path: Path, limits: ReadLimits | None = None, **options: str) -> str:
    """Return the one-line message of the InputError that opening and reading the path raises."""
    with pytest.raises(InputError) as raised:
        sheet = open_sheet(path, limits=limits, **options)
        for _ in sheet.chunks():
            pass
    message = str(raised.value)
    assert "\n" not in message
    assert path.name in message
    return message


def rows(sheet: Sheet, chunk_rows: int = 10_000) -> dict[int, list[str]]:
    """Return every data row of a sheet by row number, as a list of cells."""
    return {
        number: list(cells)
        for chunk in sheet.chunks(chunk_rows)
        for number, cells in zip(chunk.frame.index, chunk.frame.to_numpy().tolist(), strict=True)
    }


def malformed(sheet: Sheet) -> dict[int, str]:
    """Return the messages of the rows that fail as malformed, by row number."""
    return {number: text for chunk in sheet.chunks() for number, text in chunk.malformed.items()}


def peak_reading(path: Path, **limits: int) -> tuple[str, float]:
    """Open and read a file in a fresh interpreter; return its answer and peak memory in MB.

    A fresh process measures only this file, and a regression that crashes calamine (it aborts
    on an allocation it cannot make) fails the test instead of killing the test run. The peak is
    the process's own high-water mark (VmHWM): ru_maxrss would carry over pytest's own peak.
    """
    script = f"""
import re, sys
from pathlib import Path
from importer.errors import InputError
from importer.read import ReadLimits, open_sheet
try:
    sheet = open_sheet(sys.argv[1], limits=ReadLimits(**{limits!r}))
    answer = f"read {{sum(len(chunk.frame) for chunk in sheet.chunks())}} rows"
except InputError as error:
    answer = str(error)
print(answer)
status = Path("/proc/self/status").read_text()
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024)
"""
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer, peak = done.stdout.strip().splitlines()
    return answer, float(peak)


# --- limits of a CSV file ----------------------------------------------------------------------


def test_limits_have_documented_defaults_and_an_option_each() -> None:
    limits = ReadLimits()
    assert limits.max_file_bytes == 2 * 1024**3
    assert limits.max_cell_chars == 1_000_000
    assert limits.max_rows == 10_000_000
    assert limits.max_columns == 100_000
    assert limits.max_zip_ratio == 100
    help_text = subprocess.run(
        [sys.executable, "-m", "importer", "run", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    for flag in FLAGS.values():
        assert flag in help_text
    with pytest.raises(ValueError, match="max_rows must be at least 1"):
        ReadLimits(max_rows=0)


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "big.csv", "email\n" + "a@b.co\n" * 200)
    message = refusal(path, ReadLimits(max_file_bytes=1000))
    assert "is 1.4 KiB, more than the limit of 1,000 bytes" in message
    assert "--max-file-mb N" in message


def test_cell_of_131073_characters_after_5000_rows_is_read(tmp_path: Path) -> None:
    text = "name,notes\n" + "".join(f"r{n},x\n" for n in range(5000)) + "long," + "y" * 131_073
    sheet = open_sheet(write(tmp_path, "notes.csv", text + "\nlast,z\n"))
    data = rows(sheet)
    assert len(data[5002][1]) == 131_073
    assert data[5003] == ["last", "z"]
    assert not malformed(sheet)


def test_cell_over_the_limit_fails_its_row_alone(tmp_path: Path) -> None:
    text = "name,notes\nada,short\nbo," + "y" * 1_000_001 + "\ncy,after\n"
    sheet = open_sheet(write(tmp_path, "long.csv", text))
    assert malformed(sheet) == {
        3: "row has a cell of more than 1,000,000 characters, the limit for a cell; shorten it,"
        " or raise the limit with --max-cell-chars N"
    }
    assert rows(sheet) == {2: ["ada", "short"], 3: ["", ""], 4: ["cy", "after"]}
    raised = open_sheet(
        write(tmp_path, "long.csv", text), limits=ReadLimits(max_cell_chars=2_000_000)
    )
    assert not malformed(raised)


def test_row_over_the_limit_fails_alone_and_names_its_true_cause(tmp_path: Path) -> None:
    wide = ",".join(["z" * 300] * 10)
    long_cell = "w" * 1500
    text = f"a,b\n1,2\n{wide}\n{long_cell},x\n3,4\n"
    limits = ReadLimits(max_row_chars=1000, max_cell_chars=1200)
    sheet = open_sheet(write(tmp_path, "wide.csv", text), limits=limits)
    problems = malformed(sheet)
    assert problems[3].startswith("row is longer than 1,000 characters, the limit for a row")
    assert problems[3].endswith("--max-row-chars N")
    assert problems[4].startswith("row has a cell of more than 1,200 characters")
    assert problems[4].endswith("--max-cell-chars N")
    assert rows(sheet)[5] == ["3", "4"]


def test_a_quarter_gigabyte_line_costs_neither_time_nor_memory(tmp_path: Path) -> None:
    path = tmp_path / "line.csv"
    with path.open("wb") as out:
        out.write(b"name,email\nada,ada@example.com\nbo,")
        block = b"x" * (64 * 1024 * 1024)
        for _ in range(4):  # 256 MiB is enough to tell bounded from unbounded
            out.write(block)
        out.write(b"\ncy,cy@example.com\n")
    answer, peak = peak_reading(path)
    assert answer == "read 3 rows"
    assert peak < 200, f"peak {peak:.0f} MB"


def test_unclosed_quote_never_folds_the_rows_after_it(tmp_path: Path) -> None:
    path = write(tmp_path, "quote.csv", 'a,b\n1,"never closed\n2,x\n3,y\n')
    message = refusal(path)
    assert "row 2 cannot be parsed: a quote opened in it is never closed" in message
    assert "3 lines on" in message


def test_unclosed_quote_in_a_big_file_is_not_called_a_long_cell(tmp_path: Path) -> None:
    text = 'a,b\n1,2\n3,"open\n' + "x,y\n" * 300_000
    message = refusal(write(tmp_path, "open.csv", text))
    assert (
        "row 3 cannot be parsed: a quoted cell in it runs over 250,000 lines and past 1,000,000"
        " characters, the limit for a cell; a quote is probably never closed" in message
    )
    assert "--max-cell-chars N" in message


def test_long_quoted_cell_whose_quote_does_not_close_on_its_line_stops(tmp_path: Path) -> None:
    text = 'a,b\n1,"' + "q" * 2000 + '\nstill in the cell"\n2,3\n'
    message = refusal(write(tmp_path, "q.csv", text), ReadLimits(max_cell_chars=1000))
    assert "row 2 cannot be parsed: a quoted cell in it goes past 1,000 characters" in message
    assert "and its quote does not close on its line" in message


def test_header_wider_than_the_column_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "wide.csv", "a,b,c,d,e,f\n1,2,3,4,5,6\n")
    message = refusal(path, ReadLimits(max_columns=5))
    assert "the header (row 1) has 6 columns, more than the limit of 5" in message
    assert "--max-columns N" in message


def test_lines_past_the_row_limit_are_refused_before_reading(tmp_path: Path) -> None:
    path = write(tmp_path, "many.csv", "email\n" + "a@b.co\n" * 10)
    message = refusal(path, ReadLimits(max_rows=5))
    assert "has 11 lines, more than the limit of 5 rows" in message
    assert "--max-rows N" in message


def test_rows_past_the_limit_in_a_file_without_line_feeds(tmp_path: Path) -> None:
    path = write(tmp_path, "mac.csv", "email\r" + "a@b.co\r" * 10)
    sheet = open_sheet(path, limits=ReadLimits(max_rows=5))
    chunks = sheet.chunks(2)
    assert [list(next(chunks).frame.index), list(next(chunks).frame.index)] == [[2, 3], [4, 5]]
    with pytest.raises(InputError, match=r"row 6 is past the limit of 5 rows.*--max-rows N"):
        next(chunks)


def test_wide_sheets_come_in_chunks_of_bounded_cells(tmp_path: Path) -> None:
    width = 20_000
    line = ",".join(["v"] * width) + "\n"
    path = write(tmp_path, "wide.csv", ",".join(f"c{n}" for n in range(width)) + "\n" + line * 60)
    sizes = [len(chunk.frame) for chunk in open_sheet(path).chunks(5000)]
    assert sizes == [CHUNK_CELLS // width] * 2 + [60 - 2 * (CHUNK_CELLS // width)]


def test_rows_read_before_a_problem_come_before_the_error(tmp_path: Path) -> None:
    text = "a,b\n" + "1,2\n" * 7 + '3,"open\n4,5\n'
    chunks = open_sheet(write(tmp_path, "late.csv", text)).chunks(5)
    assert len(next(chunks).frame) == 5
    assert list(next(chunks).frame.index) == [7, 8]
    with pytest.raises(InputError, match="row 9 cannot be parsed"):
        next(chunks)


# --- encodings ---------------------------------------------------------------------------------


def test_utf8_then_another_encoding_is_refused_naming_the_line(tmp_path: Path) -> None:
    data = "name\nZoë\nplain\n".encode() + "Chloé\n".encode("cp1252")
    message = refusal(write(tmp_path, "mixed.csv", data))
    assert "mixes encodings: it is UTF-8 text up to line 4" in message
    assert "(0xe9)" in message


def test_cp1252_then_utf8_is_refused_naming_both_lines(tmp_path: Path) -> None:
    data = b"name\n" + "Chloé\n".encode("cp1252") + b"x\n" * 3 + "Zoë\n".encode()
    message = refusal(write(tmp_path, "mixed.csv", data))
    assert "it is cp1252 text on line 2, but line 6 holds UTF-8 text" in message


def test_french_cp1252_with_no_break_spaces_is_not_taken_for_mixed(tmp_path: Path) -> None:
    text = "nom;note\nCAFÉ\xa0;«\xa0très bien\xa0»\nété\xa0;déjà vu\xa0!\n"
    sheet = open_sheet(write(tmp_path, "fr.csv", text.encode("cp1252")))
    assert sheet.encoding == "cp1252"
    assert rows(sheet)[2] == ["CAFÉ\xa0", "«\xa0très bien\xa0»"]


def test_mixed_line_endings_are_each_a_row(tmp_path: Path) -> None:
    sheet = open_sheet(write(tmp_path, "endings.csv", 'a,b\r\n1,2\n3,4\r5,"x\r\ny"\r\n6,7'))
    assert rows(sheet) == {2: ["1", "2"], 3: ["3", "4"], 4: ["5", "x\r\ny"], 5: ["6", "7"]}


# --- workbooks: the archive ----------------------------------------------------------------------

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
    '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
    '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
    '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/'
    'workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships"><sheets><sheet name="Leads" sheetId="1" r:id="rId7"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
    '.org/package/2006/relationships"><Relationship Id="rId7" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/'
    'sheet1.xml"/></Relationships>'
)
_SHEET_START = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="http://schemas.openxmlformats.'
    b'org/spreadsheetml/2006/main"><sheetData>'
)
_SHEET_END = b"</sheetData></worksheet>"


def xlsx(path: Path, sheet_data: Iterable[bytes], *extra: tuple[str, bytes]) -> Path:
    """Write a valid one-sheet .xlsx whose sheet XML holds the given rows, streamed."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(_SHEET_START)
            for block in sheet_data:
                sheet.write(block)
            sheet.write(_SHEET_END)
        for name, data in extra:
            archive.writestr(name, data)
    return path


def cell_rows(*rows: tuple[int, str]) -> list[bytes]:
    """Return sheet XML rows of inline-string cells: (row number, "A=text B=text")."""
    return [
        f'<row r="{number}">'.encode()
        + b"".join(
            f'<c r="{ref.split("=")[0]}{number}" t="inlineStr"><is><t>{ref.split("=")[1]}</t>'
            "</is></c>".encode()
            for ref in cells.split()
        )
        + b"</row>"
        for number, cells in rows
    ]


HEADER = (1, "A=email B=name")


def test_a_handmade_workbook_reads(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "ok.xlsx", cell_rows(HEADER, (2, "A=ada@x.io B=Ada")))
    sheet = open_sheet(path)
    assert (sheet.sheet_name, sheet.columns) == ("Leads", ("email", "name"))
    assert rows(sheet) == {2: ["ada@x.io", "Ada"]}


def test_zip_bomb_is_refused_from_its_directory_in_bounded_memory(tmp_path: Path) -> None:
    row = b"<row>" + b"<c><v>1</v></c>" * 10 + b"</row>"
    block = row * 10_000  # 1.6 MB of XML
    path = xlsx(tmp_path / "bomb.xlsx", [cell_rows(HEADER)[0], *[block] * 125])
    assert path.stat().st_size < 1024 * 1024
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("xl/worksheets/sheet1.xml").file_size > 190 * 1024 * 1024
    answer, peak = peak_reading(path)
    assert "its part xl/worksheets/sheet1.xml unpacks to 191.9 MiB from" in answer
    assert "more than the limit of 100 to 1 (a zip bomb?)" in answer
    assert "--max-zip-ratio N" in answer
    assert peak < 500, f"peak {peak:.0f} MB"  # 925 MB before the check
    # Told to trust the ratio, the used range still stops it before calamine allocates it.
    answer, peak = peak_reading(path, max_zip_ratio=10_000)
    assert "cells reach row 300,001 and column 10, 3,000,010 cells to hold in memory" in answer
    assert "--max-sheet-cells N" in answer
    assert peak < 500, f"peak {peak:.0f} MB"


def test_one_far_cell_in_a_tiny_file_is_refused(tmp_path: Path) -> None:
    far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    path = xlsx(tmp_path / "far.xlsx", [*cell_rows(HEADER), far])
    assert path.stat().st_size < 2000
    answer, peak = peak_reading(path)  # calamine aborts the process on this file
    assert "sheet 'Leads': cells reach row 1,048,576 and column 16,384" in answer
    assert "more than the limit of 3,000,000; delete what lies beyond the data" in answer
    assert peak < 200


@pytest.mark.parametrize(
    "far",
    [
        b'<row r="900000"><c><v>1</v></c><c><v>2</v></c></row>',  # cells placed without r
        b'<x:row r="900000"><x:c r="J900000"><x:v>1</x:v></x:c></x:row>',  # a prefixed name
        b'<row r="5"><c s="1" r="J900000"><v>1</v></c></row>',  # r not first
        b'<row r="5"><c\nr="J900000"><v>1</v></c></row>',  # a line break before r
    ],
    ids=["no-reference", "prefixed", "r-not-first", "line-break"],
)
def test_far_cells_written_every_way_are_found(tmp_path: Path, far: bytes) -> None:
    path = xlsx(tmp_path / "far.xlsx", [*cell_rows(HEADER), far])
    answer, _ = peak_reading(path, max_sheet_cells=1_000_000)
    assert "cells reach row 900,000 and column" in answer
    assert "--max-sheet-cells N" in answer


def test_far_cells_that_hold_nothing_do_not_count(tmp_path: Path) -> None:
    empty = b'<row r="1048576"><c r="XFD1048576" s="1"/><c r="XFC1048576" s="1"></c></row>'
    path = xlsx(tmp_path / "styled.xlsx", [*cell_rows(HEADER, (2, "A=a@x.io B=A")), empty])
    assert rows(open_sheet(path)) == {2: ["a@x.io", "A"]}


def test_workbook_rows_and_columns_past_the_limits(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "tall.xlsx", cell_rows(HEADER, (12, "A=a B=b")))
    message = refusal(path, ReadLimits(max_rows=10))
    assert "sheet 'Leads': cells reach row 12, past the limit of 10 rows" in message
    message = refusal(path, ReadLimits(max_columns=1))
    assert "cells reach column 2, past the limit of 1 columns; raise it with --max-columns N" in (
        message
    )


def test_workbook_cell_over_the_limit_fails_its_row_alone(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "cell.xlsx", cell_rows(HEADER, (2, f"A=a@x.io B={'n' * 50}")))
    sheet = open_sheet(path, limits=ReadLimits(max_cell_chars=40))
    assert malformed(sheet) == {
        2: "row has a cell of 50 characters in column B, more than the limit of 40 for a cell;"
        " shorten it, or raise the limit with --max-cell-chars N"
    }
    assert rows(sheet) == {2: ["a@x.io", ""]}


def test_archive_limits(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "book.xlsx", cell_rows(HEADER))
    message = refusal(path, ReadLimits(max_unzipped_bytes=1000))
    assert "unpacks to 1.6 KiB, more than the limit of 1,000 bytes" in message
    assert "--max-unzipped-mb N" in message
    assert "holds 5 files inside, more than the 4" in refusal(path, ReadLimits(max_zip_entries=4))


@pytest.mark.parametrize("name", ["../../evil.sh", "/etc/cron.d/evil", "C:\\evil.bat"])
def test_entry_that_points_outside_the_archive(tmp_path: Path, name: str) -> None:
    path = xlsx(tmp_path / "escape.xlsx", cell_rows(HEADER), (name, b"echo owned"))
    assert f"holds an entry named {name!r}, which points outside the workbook" in refusal(path)


def test_sizes_that_lie_are_refused_as_damage(tmp_path: Path) -> None:
    path = xlsx(
        tmp_path / "liar.xlsx", cell_rows(HEADER, *((n, "A=a B=b") for n in range(2, 3000)))
    )
    data = bytearray(path.read_bytes())
    entry = data.find(b"PK\x01\x02")
    while entry >= 0:  # every central directory record: declare the sheet 1,000 bytes
        name_length = struct.unpack_from("<H", data, entry + 28)[0]
        if data[entry + 46 : entry + 46 + name_length] == b"xl/worksheets/sheet1.xml":
            struct.pack_into("<I", data, entry + 24, 1000)
        entry = data.find(b"PK\x01\x02", entry + 4)
    path.write_bytes(bytes(data))
    assert "is damaged (Bad CRC-32 for file 'xl/worksheets/sheet1.xml')" in refusal(path)


# --- workbooks: the ods repeats ------------------------------------------------------------------


def ods(path: Path, table: str) -> Path:
    """Write a minimal .ods file around one table's XML."""
    namespaces = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:'
        'names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry '
        'manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.'
        'spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:'
        'media-type="text/xml"/></manifest:manifest>'
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {namespaces} '
        'office:version="1.2"><office:body><office:spreadsheet><table:table table:name="S">'
        '<table:table-row><table:table-cell office:value-type="string"><text:p>email</text:p>'
        f"</table:table-cell></table:table-row>{table}</table:table></office:spreadsheet>"
        "</office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", content)
    return path


def test_ods_repeated_cells_are_counted_as_calamine_expands_them(tmp_path: Path) -> None:
    bomb = (
        '<table:table-row table:number-rows-repeated="1000000"><table:table-cell '
        'table:number-columns-repeated="16384" office:value-type="float" office:value="1"/>'
        "</table:table-row>"
    )
    path = ods(tmp_path / "bomb.ods", bomb)
    assert path.stat().st_size < 2000
    answer, peak = peak_reading(path)
    assert "its sheets, all read at once: cells reach row 1,000,001 and column 16,384" in answer
    assert peak < 200


def test_ods_trailing_empty_repeats_cost_nothing(tmp_path: Path) -> None:
    rows_xml = (
        '<table:table-row><table:table-cell office:value-type="string"><text:p>a@x.io</text:p>'
        '</table:table-cell><table:table-cell table:number-columns-repeated="16383"/>'
        '</table:table-row><table:table-row table:number-rows-repeated="1048574">'
        '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>'
    )
    assert rows(open_sheet(ods(tmp_path / "lo.ods", rows_xml))) == {2: ["a@x.io"]}


# --- workbooks that are not what their name says -------------------------------------------------


@pytest.mark.parametrize(
    ("source", "name", "expected"),
    [
        ("calamine/merge_cells.xlsx", "export.xls", "is an .xlsx workbook named .xls; rename it"),
        ("calamine/merge_cells.xlsx", "export.ods", "is an .xlsx workbook named .ods; rename it"),
        ("calamine/merge_cells.xlsx", "export.xlsb", "is an .xlsx workbook named .xlsb"),
        ("calamine/pass_protected.xlsx", "export.xls", "is password-protected"),
    ],
)
def test_wrong_extension_gets_the_fix(
    tmp_path: Path, source: str, name: str, expected: str
) -> None:
    path = write(tmp_path, name, (CORPORA / source).read_bytes())
    message = refusal(path)
    assert expected in message
    if "rename" in expected:
        assert "rename it to export.xlsx and run again" in message


def test_ods_named_xlsx(tmp_path: Path) -> None:
    path = ods(tmp_path / "sheet.xlsx", "")
    assert "is an .ods workbook named .xlsx; rename it to sheet.ods" in refusal(path)


@pytest.mark.parametrize(
    ("data", "hint"),
    [
        ("email,name\na@x.io,A\n", "a CSV file named .xls?); if it is CSV, rename it to t.csv"),
        ("<html><table><tr><td>email</td></tr></table></html>", "a web page or XML file"),
    ],
    ids=["csv", "html"],
)
def test_text_named_as_a_workbook(tmp_path: Path, data: str, hint: str) -> None:
    message = refusal(write(tmp_path, "t.xls", data))
    assert "is not a readable workbook: it holds text" in message
    assert hint in message


def test_truncated_workbook(tmp_path: Path) -> None:
    whole = (SAMPLE_DATA / "leads.xlsx").read_bytes()
    path = write(tmp_path, "cut.xlsx", whole[: len(whole) * 2 // 3])
    assert "is truncated or damaged (File is not a zip file); download or export it again" in (
        refusal(path)
    )


# --- a problem found mid-run ---------------------------------------------------------------------


def leads(count: int) -> str:
    """Return a leads sheet of distinct valid rows, header included."""
    return "Full Name,Email,Kind\n" + "".join(
        f"Person {n},p{n}@example.com,lead\n" for n in range(count)
    )


def report_rows(out: Path) -> list[dict[str, str]]:
    with (out / "rows.csv").open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_long_cell_mid_run_fails_its_row_and_the_run_goes_on(tmp_path: Path) -> None:
    text = leads(250) + "Long," + "y" * 1_000_001 + ",lead\n" + "After,after@example.com,lead\n"
    config = RunConfig(
        sheet_path=write(tmp_path, "leads.csv", text),
        vendor="offergrid-leads",
        out_dir=tmp_path / "out",
        use_sandbox=True,
        chunk_rows=100,
    )
    result = run_import(config, env=ENV)
    assert result.exit_code == 1
    assert result.aborted is None
    report = {row["source_row"]: row for row in report_rows(tmp_path / "out")}
    assert len(report) == 252
    assert report["252"]["status"] == "failed"
    assert "--max-cell-chars N" in report["252"]["message"]
    assert report["253"]["status"] == report["2"]["status"] == "created"


def test_broken_row_after_6000_sent_ends_with_a_report_of_what_was_sent(tmp_path: Path) -> None:
    path = write(
        tmp_path, "leads.csv", leads(6000) + 'Open "quote,"q@example.com,lead\n' + leads(5)[20:]
    )
    out = tmp_path / "out"
    env = {key: value for key, value in os.environ.items() if key != "OFFERGRID_API_KEY"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "importer",
            "run",
            str(path),
            "--vendor",
            "offergrid-leads",
            "--out",
            str(out),
            "--sandbox",
            "--concurrency",
            "16",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "row 6002 cannot be parsed: a quote opened in it is never closed" in done.stderr
    report = report_rows(out)
    assert [int(row["source_row"]) for row in report] == list(range(2, 6002))
    assert {row["status"] for row in report} == {"created"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["totals"]["created"] == 6000
    assert "row 6002 cannot be parsed" in summary["aborted"]
    assert "the rows after it were not read" in summary["aborted"]
    assert not (out / "INCOMPLETE.txt").exists()


def test_a_file_broken_before_any_row_is_refused_whole(tmp_path: Path) -> None:
    config = RunConfig(
        sheet_path=write(tmp_path, "leads.csv", 'Full Name,Email\n"Ada,ada@x.io\n'),
        vendor="offergrid-leads",
        out_dir=tmp_path / "out",
        dry_run=True,
    )
    with pytest.raises(InputError, match="row 2 cannot be parsed"):
        run_import(config, env=ENV)
    assert not (tmp_path / "out" / "rows.csv").exists()
