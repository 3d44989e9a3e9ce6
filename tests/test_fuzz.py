"""Fuzz the read and map stages: generated CSV bytes and workbooks, read, then mapped.

Whatever the file, reading and mapping raise nothing but ``InputError`` (a clear refusal), and
every data row is accounted for exactly once: a file read whole yields each of its data rows
once, numbered as a spreadsheet app shows it; a file refused mid-way yields exactly the rows
before the row it names; mapping keeps every row of every chunk.

The budget is modest by default, for ``make test``; ``IMPORTER_FUZZ=long`` (``make fuzz``)
runs thousands of examples per test.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from importer.contracts.contract import Contract, load_contract
from importer.errors import InputError
from importer.mapping import apply_mapping, plan_mapping
from importer.read import ReadLimits, open_sheet
from importer.read.sniff import DELIMITERS
from tests.hostile import handmade_xlsx

settings.register_profile(
    "fuzz",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz-long",
    max_examples=5_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
FUZZ = settings.get_profile("fuzz-long" if os.environ.get("IMPORTER_FUZZ") == "long" else "fuzz")
"""The budget: ``IMPORTER_FUZZ=long`` for the long one."""

CONTRACT: Contract = load_contract("offergrid-leads")
NAME_COLUMNS = ("Full Name", "Name", "Contact Name")
COLUMNS = (
    "Email",
    "E-mail Address",
    "Phone",
    "Mobile Phone",
    "Postal Code",
    "Country",
    "City",
    "Kind",
    "Type",
    "Tags",
    "Notes",
    "Address Line 1",
)
"""Headers the offergrid-leads contract maps, so that fuzzed values reach its normalizers."""

ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252")
SPECIAL = (
    '"',
    '""',
    '"x"',
    "\n",
    "\r",
    "\r\n",
    "\t",
    " ",
    "\xa0",
    "\u2028",
    "\x0c",
    "\x00",
    "e\u0301",
    "\u0308\u0308\u0308",
    "\U0001f600",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\u200b",
    "\ufeff",
    "\u202e",
    "=1+1",
    "@SUM(A1)",
    "ß",
    "İ",
    "Ω",
    "李",
    "ÿ",
    "€",
    "a@b.co",
    " A@Example.COM ",
    "+1 (555) 123-4567",
    "94102.0",
    "lead",
    "Customer",
    "a;b|c",
)
"""Pieces of cells that have broken readers: quotes, line breaks, marks, emoji, formulas."""


# --- what a reader must yield --------------------------------------------------------------------


def is_blank(cells: Sequence[str]) -> bool:
    """Return whether a row written with these cells is blank once read (NULs are dropped)."""
    return not "".join(cells).replace("\x00", "").strip()


@dataclass
class Reading:
    """What reading and mapping a file yielded."""

    columns: tuple[str, ...] = ()
    header_row: int | None = None
    rows: list[int] = field(default_factory=list)
    refusal: InputError | None = None


def read_and_map(path: Path, *, chunk_rows: int, limits: ReadLimits, constant: bool) -> Reading:
    """Open a file, read it in chunks and map each chunk; return what came out.

    Args:
        path: The file.
        chunk_rows: The most rows in a chunk.
        limits: The read limits.
        constant: Whether fullName is given as a constant (when the header may name no column
            for it), rather than found in the header.

    Only ``InputError`` is caught: any other exception fails the test.
    """
    reading = Reading()
    try:
        sheet = open_sheet(path, limits=limits)
        reading.columns = sheet.columns
        reading.header_row = sheet.header_row
        constants = {"fullName": "Fuzz"} if constant else None
        plan = plan_mapping(sheet.columns, CONTRACT, constants=constants)
        for chunk in sheet.chunks(chunk_rows):
            frame = chunk.frame
            assert tuple(frame.columns) == sheet.columns
            assert set(chunk.malformed) <= set(frame.index)
            assert all(isinstance(cell, str) for cell in frame.to_numpy().ravel())
            mapped = apply_mapping(frame, plan, CONTRACT)
            assert list(mapped.index) == list(frame.index)
            reading.rows.extend(int(number) for number in frame.index)
    except InputError as error:
        message = str(error)
        assert "\n" not in message
        assert path.name in message
        reading.refusal = error
    assert reading.rows == sorted(set(reading.rows)), "a row came twice or out of order"
    return reading


def check_rows(reading: Reading, expected: Sequence[int]) -> None:
    """Assert the rows read are the expected ones, or those before the row a refusal names."""
    if reading.refusal is None:
        assert reading.rows == list(expected)
        return
    event(f"refused: {_gist(str(reading.refusal))}")
    named = re.search(r"\brow (\d[\d,]*)", str(reading.refusal))
    before = int(named.group(1).replace(",", "")) if named else 0
    assert reading.rows == [number for number in expected if number < before]


def _gist(message: str) -> str:
    """Return a refusal's message without the file's path and numbers, to count its kind."""
    return re.sub(r"\d[\d,.]*", "N", message.split(" ", 1)[-1])[:70]


@contextmanager
def written(name: str, data: bytes) -> Iterator[Path]:
    """Write bytes to a file in a new temporary folder, for one example."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        yield path


limits_strategy = st.builds(
    lambda cell, row: ReadLimits(max_cell_chars=cell, max_row_chars=row),
    st.sampled_from([1_000_000, 5_000, 60]),
    st.sampled_from([10_000_000, 20_000, 200]),
)


# --- CSV files -----------------------------------------------------------------------------------


def short(value: object) -> str:
    """Return a value's repr with long text cut, for failure reports of huge cells."""
    if isinstance(value, str) and len(value) > 40:
        return f"{value[:20]!r} + ... ({len(value):,} characters)"
    if isinstance(value, list):
        return "[" + ", ".join(map(short, value)) + "]"
    return repr(value)


class _ShortRepr:
    """Shows a dataclass in hypothesis' failure reports with its long cells cut."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        fields = ", ".join(
            f"{name}={short(getattr(self, name))}"
            for name in self.__dataclass_fields__  # type: ignore[attr-defined]
        )
        printer.text(f"{type(self).__name__}({fields})")


@dataclass(frozen=True)
class CsvFile(_ShortRepr):
    """A CSV file as written: its header, rows, encoding and dialect (the header is never
    blank, so it is record 1)."""

    header: list[str]
    rows: list[list[str]]
    encoding: str
    delimiter: str
    quoting: int
    terminator: str

    def text(self) -> str:
        """Return the file's text, as csv.writer writes it."""
        buffer = io.StringIO()
        writer = csv.writer(
            buffer, delimiter=self.delimiter, quoting=self.quoting, lineterminator=self.terminator
        )
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return buffer.getvalue()

    def records(self) -> list[list[str]]:
        """Return the records the csv module reads back from the whole text, NULs dropped.

        csv.writer does not always write what it is given: it leaves a "\n" in a cell unquoted
        when the line terminator is "\r" (and a "\r" when it is "\n"), which ends the record.
        """
        text = self.text().replace("\x00", "")
        previous = csv.field_size_limit(sys.maxsize)
        try:
            return list(csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter))
        finally:
            csv.field_size_limit(previous)

    def round_trips(self) -> bool:
        """Return whether the text reads back as the header and rows written."""
        written = [[cell.replace("\x00", "") for cell in row] for row in [self.header, *self.rows]]
        return self.records() == written

    def data_rows(self, header_row: int | None = None) -> list[int]:
        """Return the row numbers of the records after the header that are not blank.

        The header is the first record that is not blank, or the row the reader found below
        title-like rows: a file that csv.writer did not write as given (a cell's lone "\r"
        ending its record) may start with a scrap of its header.
        """
        numbers = [
            number for number, row in enumerate(self.records(), start=1) if not is_blank(row)
        ]
        if header_row is None or not numbers:
            return numbers[1:]
        return [number for number in numbers if number > header_row]

    def first_row(self) -> int | None:
        """Return the number of the first record that is not blank, if any."""
        return next(
            (number for number, row in enumerate(self.records(), start=1) if not is_blank(row)),
            None,
        )


def _encodable(encoding: str) -> Callable[[str], bool]:
    """Return a test of whether a text can be written in an encoding."""

    def encodable(text: str) -> bool:
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            return False
        return True

    return encodable


def cells(delimiter: str, encoding: str, *, huge: bool = True) -> st.SearchStrategy[str]:
    """Return a strategy of cells: any text of the encoding, but no other delimiter.

    Other delimiters are left out so that the file's own delimiter is the only one that
    splits its records, whatever the sniffer weighs. Huge cells are left out of headers: the
    sniffer reads the first 64K characters, and needs a whole header in them.
    """
    others = "".join(set(DELIMITERS) - {delimiter})
    fits = _encodable(encoding)
    letters = st.characters(
        codec="utf-8" if encoding.startswith("utf") else encoding,
        exclude_categories=("Cc", "Cs"),
        exclude_characters=others,
    )
    special = [piece for piece in SPECIAL if fits(piece) and not set(piece) & set(others)]
    pieces = st.one_of(
        st.text(letters, max_size=12),
        st.sampled_from([*special, delimiter]),
        st.integers(1, 3).map(lambda size: "y" * 10**size * size),
    )
    if huge:
        pieces |= st.integers(300, 8_000).map(lambda size: "z" * size)
    return st.lists(pieces, max_size=4).map("".join)


@st.composite
def csv_files(draw: st.DrawFn) -> CsvFile:
    """Draw a CSV file: an encoding, a dialect, a header naming fullName, and ragged rows.

    Every row of the header's width comes before at most one other row (ragged or blank):
    the header's width is then the most common in any run of rows the sniffer samples.
    """
    encoding = draw(st.sampled_from(ENCODINGS))
    delimiter = draw(st.sampled_from(DELIMITERS))
    cell = cells(delimiter, encoding)
    names = st.one_of(st.sampled_from(COLUMNS), cells(delimiter, encoding, huge=False))
    others = draw(st.lists(names, max_size=5))
    header = draw(st.permutations([draw(st.sampled_from(NAME_COLUMNS)), *others]))
    if len(header) < 2:
        header.append(draw(st.sampled_from(COLUMNS)))
    width = len(header)
    first = st.builds(str.__add__, st.sampled_from(["Ada", "Zoë", "Bo"]), cell)
    full = st.builds(
        lambda head, tail: [head, *tail],
        first,
        st.lists(cell, min_size=width - 1, max_size=width - 1),
    )
    other = st.one_of(
        st.none(),
        st.lists(cell, max_size=width + 3),
        st.lists(st.sampled_from(["", " ", "\x00"]), max_size=width),
    )
    rows: list[list[str]] = []
    for row, extra in draw(st.lists(st.tuples(full, other), max_size=8)):
        rows += [row] if extra is None else [row, extra]
    return CsvFile(
        header=header,
        rows=rows,
        encoding=encoding,
        delimiter=delimiter,
        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC])),
        terminator=draw(st.sampled_from(["\r\n", "\n", "\r"])),
    )


@FUZZ
@example(  # a NUL in a line cut at the row limit let its rest be read as a row of its own
    file=CsvFile(
        ["Full Name", "Email"], [["Ada", "\x00" + "z" * 300], ["Bo", ""]], "utf-8", ",", 0, "\n"
    ),
    chunk_rows=1,
    limits=ReadLimits(max_row_chars=200),
    name="f.csv",
)
@example(  # a "\r\n" cut by the row limit after its "\r" left a blank record behind
    file=CsvFile(["Full Name"], [["Ada"], ["y" * 200], ["Bo"]], "utf-8", ",", 0, "\r\n"),
    chunk_rows=1,
    limits=ReadLimits(max_row_chars=200),
    name="f.csv",
)
@given(
    csv_files(), st.integers(1, 7), limits_strategy, st.sampled_from(("f.csv", "f.tsv", "f.txt"))
)
def test_csv_files_are_read_and_mapped_row_for_row(
    file: CsvFile, chunk_rows: int, limits: ReadLimits, name: str
) -> None:
    text = file.text()
    with written(name, text.encode(file.encoding)) as path:
        as_written = _read_as_written(path, file, text)
        # Misread or not written as given, the header may name no column for fullName.
        constant = not (as_written and file.round_trips())
        reading = read_and_map(path, chunk_rows=chunk_rows, limits=limits, constant=constant)
    event(f"{file.encoding}, {file.delimiter!r}: read as written: {as_written}")
    if as_written:
        if file.round_trips() and reading.refusal is None:
            # Written as given, the header names a column ("Full Name"): never a title.
            assert reading.header_row == file.first_row()
        check_rows(reading, file.data_rows(reading.header_row))


def _read_as_written(path: Path, file: CsvFile, text: str) -> bool:
    """Return whether the reader found the file's own delimiter and text.

    Only then is what it holds known for sure: a cp1252 file may be taken for another code
    page (whose letters differ, and may be blank where cp1252's are not).
    """
    try:
        sheet = open_sheet(path)
    except InputError:
        return True  # refused: check_rows holds the refusal to what it names
    if sheet.delimiter != file.delimiter:
        return False
    raw = path.read_bytes()
    return codecs.decode(raw, sheet.encoding or "utf-8", errors="replace") == text


@FUZZ
@given(st.binary(max_size=3000), st.sampled_from(("f.csv", "f.xlsx", "f.xls", "f.ods", "f.tsv")))
def test_any_bytes_get_an_answer(data: bytes, name: str) -> None:
    with written(name, data) as path:
        read_and_map(path, chunk_rows=3, limits=ReadLimits(), constant=True)


# --- workbooks -----------------------------------------------------------------------------------

_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

workbook_values = st.one_of(
    st.none(),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=15).map(
        lambda text: _ILLEGAL.sub("", text)
    ),
    st.sampled_from([piece for piece in SPECIAL if not _ILLEGAL.search(piece)]),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)),
    st.dates(dt.date(1900, 3, 1), dt.date(2100, 1, 1)),
    st.times(),
    st.integers(1, 40_000).map(lambda size: "w" * size),
)


def _value_blank(value: object) -> bool:
    """Return whether a cell openpyxl writes is blank once read (a formula has no value)."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.startswith("=") or not value.strip()
    return False


@dataclass(frozen=True)
class Workbook(_ShortRepr):
    """A one-sheet workbook as written: where its table starts, its header and rows."""

    top: int
    left: int
    header: list[str]
    rows: list[list[object]]

    def data(self) -> bytes:
        """Return the workbook's bytes, written by openpyxl."""
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        for offset, row in enumerate([self.header, *self.rows]):
            for column, value in enumerate(row, start=self.left):
                if value is not None:
                    sheet.cell(row=self.top + offset, column=column, value=value)
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()

    def data_rows(self) -> list[int]:
        """Return the row numbers of the rows that are not blank."""
        return [
            number
            for number, row in enumerate(self.rows, start=self.top + 1)
            if not all(map(_value_blank, row))
        ]


@st.composite
def workbooks(draw: st.DrawFn) -> Workbook:
    """Draw a workbook: its table anywhere near A1, a header naming fullName, ragged rows."""
    others = draw(st.lists(st.sampled_from(COLUMNS), max_size=5, unique=True))
    header = draw(st.permutations([draw(st.sampled_from(NAME_COLUMNS)), *others]))
    rows = draw(st.lists(st.lists(workbook_values, max_size=len(header) + 2), max_size=10))
    return Workbook(draw(st.integers(1, 4)), draw(st.integers(1, 4)), header, rows)


@FUZZ
@given(workbooks(), st.integers(1, 7), limits_strategy)
def test_workbooks_are_read_and_mapped_row_for_row(
    book: Workbook, chunk_rows: int, limits: ReadLimits
) -> None:
    with written("book.xlsx", book.data()) as path:
        reading = read_and_map(path, chunk_rows=chunk_rows, limits=limits, constant=False)
    check_rows(reading, book.data_rows())


# --- workbooks broken inside ---------------------------------------------------------------------

_TOKENS = (
    b"<row>",
    b"</row>",
    b'<row r="7">',
    b"<c>",
    b"</c>",
    b'<c r="C5" t="inlineStr"><is><t>x</t></is></c>',
    b'<c t="s"><v>0</v></c>',
    b'<c t="s"><v>7</v></c>',
    b"<v>1</v>",
    b'<c r="AB40"><v>2</v></c>',
    b'<x:c r="D3"><x:v>1</x:v></x:c>',
    b'<c r=""><v>3</v></c>',
    b'<c r="B2"/>',
    b"<f>1+1</f>",
    b'<c t="e"><v>#N/A</v></c>',
    b'<c t="b"><v>1</v></c>',
    b'<c t="d"><v>2024-01-01</v></c>',
    b'<c t="n"><v>1e308</v></c>',
    b'<c t="n"><v>nan</v></c>',
    b'<c t="n"><v>x</v></c>',
    b"&amp;",
    b"&#0;",
    b"&#xD800;",
    b"&lol;",
    b"<![CDATA[<c>]]>",
    b"<!-- <row r='99'> -->",
    b"<?pi x?>",
    b"\xff\xfe",
    b"\x00",
    b"<",
    b">",
    b'"',
    b"'",
    b"/",
)
"""Fragments of sheet XML that readers trip on; every reference in them is near A1."""

_FAR = re.compile(rb"[0-9]{5,}|[A-Za-z]{3,}[0-9]")


def _mutate(data: bytes, operations: list[tuple[int, int, int, int]]) -> bytes:
    """Apply deletions, copies and insertions of fragments to the bytes, each placed by
    fractions of the length so that they shrink well."""
    for kind, first, second, token in operations:
        start = first * len(data) // 100
        end = start + second * (len(data) - start) // 100
        if kind == 0:
            data = data[:start] + data[end:]
        elif kind == 1:
            data = data[:end] + data[start:end] + data[end:]
        else:
            data = data[:start] + _TOKENS[token % len(_TOKENS)] + data[start:]
    return data


def _sheet_xml(rows: list[list[str]]) -> bytes:
    """Return sheet XML rows of inline-string cells, the first row the header."""
    return b"".join(
        f'<row r="{number}">'.encode()
        + b"".join(
            f'<c r="{chr(65 + column)}{number}" t="inlineStr"><is><t>{text}</t></is></c>'.encode()
            for column, text in enumerate(row)
        )
        + b"</row>"
        for number, row in enumerate(rows, start=1)
    )


@FUZZ
@given(
    st.lists(
        st.lists(st.sampled_from(["Full Name", "Email", "a", "", "b@x.io", "&lt;"]), max_size=4),
        min_size=1,
        max_size=6,
    ),
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 100), st.integers(0, 100), st.integers(0, 99)),
        min_size=1,
        max_size=4,
    ),
    st.integers(1, 7),
)
def test_workbooks_broken_inside_get_an_answer(
    table: list[list[str]], operations: list[tuple[int, int, int, int]], chunk_rows: int
) -> None:
    sheet_xml = _mutate(_sheet_xml(table), operations)
    if _FAR.search(sheet_xml):
        event("skipped: a cell reference far from A1")
        return  # calamine would allocate it: test_read_limits checks those in a subprocess
    limits = ReadLimits(max_sheet_cells=100_000, max_rows=10_000, max_columns=1_000)
    with written("broken.xlsx", handmade_xlsx(sheet_xml)) as path:
        reading = read_and_map(path, chunk_rows=chunk_rows, limits=limits, constant=True)
    event("refused" if reading.refusal else "read")
