"""Read a CSV or Excel-family file as a stream of text chunks numbered like a spreadsheet.

The read stage guesses nothing about meaning: every cell comes out as the text a person would
see, and every row keeps the number a spreadsheet app shows for it (the header is row 1 when the
file starts with it). Blank rows are dropped but still counted; rows wider than the header are
kept, cut to the header's width and reported in ``Chunk.malformed``.

CSV files are decoded by the encoding found in them (byte-order mark, then UTF-8, then
charset-normalizer) and split by the delimiter that divides their first records most evenly.
Workbooks (.xlsx, .xlsm, .xlsb, .xls, .ods) are read with python-calamine.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import math
from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path

import charset_normalizer
import pandas as pd
import python_calamine

from importer.errors import InputError
from importer.lifecycle import SOURCE_ROW

__all__ = ["CSV_SUFFIXES", "WORKBOOK_SUFFIXES", "Chunk", "Sheet", "open_sheet"]

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
"""File name endings read as delimited text."""

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
"""File name endings read as spreadsheet workbooks."""

DELIMITERS = (",", ";", "\t", "|")
"""Delimiters tried when sniffing a CSV file, in order of preference on a tie."""

_SNIFF_RECORDS = 50
_SNIFF_BLANK = "".join(DELIMITERS) + " \r\n"  # a record of only these is blank, whatever splits it
_SNIFF_CHARS = 64 * 1024
_BLOCK_BYTES = 1024 * 1024
_HEAD_BYTES = 64 * 1024
_EXACT_FLOAT_LIMIT = 2**53

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_BINARY_SIGNATURES = (
    (b"PK\x03\x04", "a zip archive (an .xlsx or .ods workbook under another name?)"),
    (b"\xd0\xcf\x11\xe0", "an Office binary file (an .xls workbook under another name?)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
)

_Records = Generator[tuple[int, list[str]], None, None]
"""Every record of a sheet with its row number, header and blank rows included."""

# Control bytes that do not occur in text (tab, newlines, form feed, SUB and ESC excepted).
_CONTROL_BYTES = frozenset(range(32)) - {9, 10, 11, 12, 13, 26, 27}

# Guesses from charset-normalizer that mean "some western single-byte code page".
_WESTERN = frozenset(
    {"cp1252", "latin_1", "iso8859_15", "cp850", "cp858", "cp437", "mac_roman", "mac_iceland"}
)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A run of data rows, each cell as text, indexed by spreadsheet row number.

    Attributes:
        frame: One row per data row, index named ``SOURCE_ROW``, the sheet's columns in order,
            every cell a ``str`` ("" when empty), dtype ``object``.
        malformed: Row number to a one-line message, for rows with more cells than the header.
            Such rows are still in ``frame``, cut to the header's width.
    """

    frame: pd.DataFrame
    malformed: Mapping[int, str]


@dataclass(frozen=True)
class Sheet:
    """A readable table: one CSV file or one sheet of a workbook, and how to read it.

    Attributes:
        path: The file.
        kind: ``"csv"`` for delimited text, ``"xlsx"`` for any workbook read by calamine.
        columns: Header cells, trimmed and made unique ("Email (2)", "Column C" for a blank).
        encoding: The encoding detected for a CSV file; ``None`` for a workbook.
        delimiter: The delimiter detected for a CSV file; ``None`` for a workbook.
        sheet_name: The sheet read from a workbook; ``None`` for a CSV file.
    """

    path: Path
    kind: str
    columns: tuple[str, ...]
    encoding: str | None
    delimiter: str | None
    sheet_name: str | None

    def estimated_rows(self) -> int | None:
        """Return about how many data rows a CSV file holds (its line count), for progress.

        Quoted line breaks make it an overestimate; a workbook answers None (unknown).
        """
        if self.kind != "csv":
            return None
        newline = "\n".encode(self.encoding or "utf-8").lstrip(b"\xff\xfe\xef\xbb\xbf")
        lines = 0
        with self.path.open("rb") as handle:
            while block := handle.read(1 << 20):
                lines += block.count(newline)
        return max(0, lines - 1)

    def chunks(self, chunk_rows: int = 10_000) -> Iterator[Chunk]:
        """Read the data rows from the start, ``chunk_rows`` at a time.

        Args:
            chunk_rows: The most data rows in one chunk.

        Returns:
            The chunks in file order; none when the sheet has a header but no data rows.

        Raises:
            ValueError: If ``chunk_rows`` is less than 1.
            InputError: If the file cannot be read (changed or broken since it was opened).
        """
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
        return _chunked(_data_records(self._records()), self.columns, chunk_rows)

    def _records(self) -> _Records:
        """Return every record of the file with its row number, header and blank rows included."""
        if self.kind == "csv":
            assert self.encoding is not None and self.delimiter is not None
            return _csv_records(self.path, self.encoding, self.delimiter)
        assert self.sheet_name is not None
        return _workbook_records(self.path, self.sheet_name)


def open_sheet(path: Path, *, sheet: str | None = None) -> Sheet:
    """Open a CSV or workbook file and read its header.

    Args:
        path: The file to read.
        sheet: The workbook sheet to read, by name; the first visible sheet when omitted.

    Returns:
        The sheet, ready to be read in chunks.

    Raises:
        InputError: If the file is missing, empty, of an unsupported kind, binary, broken,
            password-protected, has no header row, or names no such sheet.
    """
    path = Path(path)
    _check_file(path)
    if path.suffix.lower() in CSV_SUFFIXES:
        if sheet is not None:
            raise InputError(f"{path} is a CSV file, which has no sheets; drop the sheet option")
        return _open_csv(path)
    return _open_workbook(path, sheet)


def _check_file(path: Path) -> None:
    """Raise InputError unless the path is a non-empty file of a supported kind."""
    try:
        is_dir, is_file = path.is_dir(), path.is_file()
        size = path.stat().st_size if is_file else 0
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error
    if is_dir:
        raise InputError(f"{path} is a directory; pass a CSV or Excel file instead")
    if not is_file:
        raise InputError(f"{path} does not exist; check the file name and folder")
    if path.suffix.lower() not in CSV_SUFFIXES + WORKBOOK_SUFFIXES:
        supported = ", ".join(CSV_SUFFIXES + WORKBOOK_SUFFIXES)
        raise InputError(
            f"{path} has an unsupported file type {path.suffix or '(none)'!r};"
            f" save it as one of {supported}"
        )
    if size == 0:
        raise InputError(f"{path} is empty; export the sheet again, header row included")


# --- header and rows, shared by both kinds --------------------------------------------------


def _header_columns(
    records: Iterable[tuple[int, list[str]]], path: Path, first_col: int = 0
) -> tuple[str, ...]:
    """Return the unique column names from the first non-blank record."""
    for _, cells in records:
        if not _is_blank(cells):
            return _unique_columns(cells, first_col)
    raise InputError(f"{path} has no header row (it holds only blank rows); add one")


def _unique_columns(cells: Sequence[str], first_col: int = 0) -> tuple[str, ...]:
    """Trim header cells, name blank ones by column letter and number repeats.

    Blank cells after the last named one are dropped: they come from trailing delimiters or
    formatted but empty spreadsheet columns, not from a column anyone named.
    """
    names = [cell.strip() for cell in cells]
    while names and not names[-1]:
        names.pop()
    taken: set[str] = set()
    columns: list[str] = []
    for position, name in enumerate(names):
        base = name or f"Column {_column_letter(first_col + position)}"
        unique, count = base, 1
        while unique in taken:
            count += 1
            unique = f"{base} ({count})"
        taken.add(unique)
        columns.append(unique)
    return tuple(columns)


def _column_letter(index: int) -> str:
    """Return the spreadsheet letters of a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _is_blank(cells: Sequence[str]) -> bool:
    """Return whether every cell is empty or whitespace."""
    return not "".join(cells).strip()


def _data_records(records: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    """Yield the non-blank records after the header (the first non-blank record)."""
    for _, cells in records:
        if not _is_blank(cells):
            break
    for number, cells in records:
        if not _is_blank(cells):
            yield number, cells


def _chunked(
    records: Iterable[tuple[int, list[str]]], columns: Sequence[str], chunk_rows: int
) -> Iterator[Chunk]:
    """Group data records into chunks, fitting each to the header's width."""
    width = len(columns)
    numbers: list[int] = []
    rows: list[list[str]] = []
    malformed: dict[int, str] = {}
    for number, record in records:
        cells = record
        if len(record) != width:
            cells, problem = _fit(record, width)
            if problem:
                malformed[number] = problem
        numbers.append(number)
        rows.append(cells)
        if len(rows) == chunk_rows:
            yield _chunk(numbers, rows, malformed, columns)
            numbers, rows, malformed = [], [], {}
    if rows:
        yield _chunk(numbers, rows, malformed, columns)


def _fit(cells: list[str], width: int) -> tuple[list[str], str]:
    """Pad or cut a row to ``width`` cells; say why when cutting drops text."""
    if len(cells) < width:
        return cells + [""] * (width - len(cells)), ""
    extra = cells[width:]
    if _is_blank(extra):
        return cells[:width], ""
    while extra and not extra[-1].strip():
        extra = extra[:-1]
    shown = ", ".join(repr(cell if len(cell) <= 40 else cell[:39] + "…") for cell in extra[:5])
    more = f" and {len(extra) - 5} more" if len(extra) > 5 else ""
    problem = (
        f"row has {len(cells)} cells but the header has {width}; the cells beyond the header "
        f"({shown}{more}) suggest a shifted row: fix it in the sheet"
    )
    return cells[:width], problem


def _chunk(
    numbers: list[int], rows: list[list[str]], malformed: dict[int, str], columns: Sequence[str]
) -> Chunk:
    """Build a chunk from row numbers and rows of text."""
    index = pd.Index(numbers, dtype="int64", name=SOURCE_ROW)
    frame = pd.DataFrame(rows, index=index, columns=list(columns), dtype=object)
    return Chunk(frame=frame, malformed=malformed)


# --- CSV --------------------------------------------------------------------------------------


def _open_csv(path: Path) -> Sheet:
    """Detect a CSV file's encoding and delimiter, then read its header."""
    encoding = _detect_encoding(path)
    delimiter = _sniff_delimiter(_sample_text(path, encoding))
    with closing(_csv_records(path, encoding, delimiter)) as records:
        columns = _header_columns(records, path)
    return Sheet(path, "csv", columns, encoding, delimiter, None)


def _csv_records(path: Path, encoding: str, delimiter: str) -> _Records:
    """Yield each CSV record with its row number; a record spanning lines is one row."""
    number = 0
    try:
        with path.open(encoding=encoding, errors="replace", newline="") as text:
            lines = (line.replace("\x00", "") for line in text)
            for number, cells in enumerate(csv.reader(lines, delimiter=delimiter), start=1):
                yield number, cells
    except csv.Error as error:
        raise InputError(
            f"{path}: row {number + 1} cannot be parsed ({error}); check it for a quote that"
            " is never closed"
        ) from error
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error


def _sample_text(path: Path, encoding: str) -> str:
    """Return the first characters of a CSV file, decoded, without NUL characters."""
    try:
        with path.open(encoding=encoding, errors="replace", newline="") as text:
            return text.read(_SNIFF_CHARS).replace("\x00", "")
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error


def _sniff_delimiter(sample: str) -> str:
    """Return the delimiter that splits the sample's first records into the steadiest width.

    A candidate is judged by the share of records having its most common field count, then by
    their number, provided that count is above one. Records of only delimiters and whitespace
    are left out for every candidate alike, so that a blank row of two commas and a tab cannot
    vote for the tab. Ties go to the comma, then to the order of DELIMITERS.
    """
    scores = {delimiter: _steadiness(sample, delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: (scores[delimiter], delimiter == ","))
    return best if scores[best] > (0.0, 0) else ","


def _steadiness(sample: str, delimiter: str) -> tuple[float, int]:
    """Return the share and number of sampled records sharing the most common field count.

    Both are zero when that count is one (the delimiter splits nothing) or parsing fails.
    """
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    try:
        records = list(islice(reader, _SNIFF_RECORDS + 1))
    except csv.Error:
        return 0.0, 0
    if len(sample) >= _SNIFF_CHARS or len(records) > _SNIFF_RECORDS:
        records = records[:-1]  # the last one may be cut short by the sample's end
    widths = Counter(len(cells) for cells in records if "".join(cells).strip(_SNIFF_BLANK))
    if not widths:
        return 0.0, 0
    width, count = widths.most_common(1)[0]
    return (count / widths.total(), count) if width > 1 else (0.0, 0)


def _detect_encoding(path: Path) -> str:
    """Return the Python codec name to decode a CSV file with.

    A byte-order mark decides; then UTF-8 if the whole file decodes as UTF-8; then
    charset-normalizer's guess on the bytes around the first non-UTF-8 byte.

    Raises:
        InputError: If the file looks binary rather than text.
    """
    head = _read_head(path)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    _reject_binary_signature(path, head)
    utf16 = _bomless_utf16(head)
    if utf16:
        return utf16
    if _control_share(head) > 0.1:
        raise InputError(f"{path} looks like a binary file, not CSV text; export it as CSV")
    error_at = _first_utf8_error(path)
    if error_at is None:
        return "utf-8"
    return _guess_single_byte(path, _read_window(path, error_at))


def _read_head(path: Path) -> bytes:
    """Return the first bytes of a file."""
    try:
        with path.open("rb") as raw:
            return raw.read(_HEAD_BYTES)
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error


def _reject_binary_signature(path: Path, head: bytes) -> None:
    """Raise InputError if the bytes start like a known binary format."""
    for signature, what in _BINARY_SIGNATURES:
        if head.startswith(signature):
            raise InputError(
                f"{path} is {what}, not CSV text; save it as CSV or give it its real extension"
            )


def _bomless_utf16(head: bytes) -> str | None:
    """Return "utf-16-le" or "utf-16-be" for mostly-ASCII UTF-16 text without a BOM."""
    head = head[: len(head) - len(head) % 2]
    if not head:
        return None
    even_nuls = head[0::2].count(0) * 2 / len(head)
    odd_nuls = head[1::2].count(0) * 2 / len(head)
    if odd_nuls > 0.4 and even_nuls < 0.05:
        encoding = "utf-16-le"
    elif even_nuls > 0.4 and odd_nuls < 0.05:
        encoding = "utf-16-be"
    else:
        return None
    return encoding if _decodes(head, encoding) else None


def _control_share(head: bytes) -> float:
    """Return the share of bytes that never occur in text, or 0 for samples too short to judge."""
    if len(head) < 64:
        return 0.0
    return sum(1 for byte in head if byte in _CONTROL_BYTES) / len(head)


def _first_utf8_error(path: Path) -> int | None:
    """Return the offset of the first byte that is not valid UTF-8, or None if all are."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    try:
        with path.open("rb") as raw:
            while block := raw.read(_BLOCK_BYTES):
                decoder.decode(block)
                offset += len(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        return max(0, offset + error.start)
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error
    return None


def _read_window(path: Path, around: int) -> bytes:
    """Return up to 64 KiB of a file's bytes around an offset."""
    start = max(0, around - _HEAD_BYTES // 2)
    try:
        with path.open("rb") as raw:
            raw.seek(start)
            return raw.read(_HEAD_BYTES)
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error


def _guess_single_byte(path: Path, sample: bytes) -> str:
    """Return charset-normalizer's guess for non-UTF-8 bytes, preferring cp1252 for western text.

    charset-normalizer often cannot tell western code pages apart on little text (it has
    answered cp932 for a file whose only accent is "é"), so cp1252, what Excel writes in
    western locales, wins whenever an equally likely guess allows it and it decodes the bytes.

    Raises:
        InputError: If no encoding fits and the bytes hold control characters (binary data).
    """
    matches = list(charset_normalizer.from_bytes(sample))
    if not matches:
        if _control_share(sample) > 0.01:
            raise InputError(f"{path} looks like a binary file, not CSV text; export it as CSV")
        return "cp1252"
    best_chaos = matches[0].chaos
    western = any(
        match.encoding in _WESTERN or "cp1252" in match.could_be_from_charset
        for match in matches
        if match.chaos <= best_chaos + 0.01
    )
    if western and _decodes(sample, "cp1252"):
        return "cp1252"
    return codecs.lookup(matches[0].encoding).name


def _decodes(data: bytes, encoding: str) -> bool:
    """Return whether the bytes decode without error."""
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


# --- workbooks --------------------------------------------------------------------------------


def _open_workbook(path: Path, sheet: str | None) -> Sheet:
    """Choose a workbook's sheet and read its header."""
    with _workbook(path) as book:
        name = _choose_sheet(book, path, sheet)
        worksheet = book.get_sheet_by_name(name)
        first_col = worksheet.start[1] if worksheet.start else 0
        try:
            with closing(_worksheet_records(worksheet)) as records:
                columns = _header_columns(records, path, first_col)
        except InputError:
            others = ", ".join(repr(other) for other in book.sheet_names if other != name)
            hint = f"; choose another sheet: {others}" if others else ""
            raise InputError(f"{path}: sheet {name!r} has no header row{hint}") from None
    return Sheet(path, "xlsx", columns, None, None, name)


@contextmanager
def _workbook(path: Path) -> Iterator[python_calamine.CalamineWorkbook]:
    """Open a workbook, turning calamine's and the OS's errors into InputError."""
    try:
        with python_calamine.CalamineWorkbook.from_path(str(path)) as book:
            yield book
    except python_calamine.PasswordError as error:
        raise InputError(
            f"{path} is password-protected; save an unprotected copy and import that"
        ) from error
    except python_calamine.CalamineError as error:
        reason = " ".join(str(error).split())
        raise InputError(
            f"{path} is not a readable workbook ({reason}); open it and save it again as .xlsx"
        ) from error
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error


def _choose_sheet(book: python_calamine.CalamineWorkbook, path: Path, wanted: str | None) -> str:
    """Return the sheet to read: the one named, else the first visible worksheet."""
    names: list[str] = list(book.sheet_names)
    if not names:
        raise InputError(f"{path} has no sheets; open it and save it again as .xlsx")
    if wanted is None:
        visible = [
            meta.name
            for meta in book.sheets_metadata
            if meta.visible == python_calamine.SheetVisibleEnum.Visible
            and meta.typ == python_calamine.SheetTypeEnum.WorkSheet
        ]
        return visible[0] if visible else names[0]
    if wanted in names:
        return wanted
    folded = [name for name in names if name.strip().casefold() == wanted.strip().casefold()]
    if len(folded) == 1:
        return folded[0]
    available = ", ".join(repr(name) for name in names)
    raise InputError(f"{path} has no sheet named {wanted!r}; the sheets are {available}")


def _workbook_records(path: Path, sheet_name: str) -> _Records:
    """Yield each row of a workbook's sheet with its row number."""
    with _workbook(path) as book:
        yield from _worksheet_records(book.get_sheet_by_name(sheet_name))


def _worksheet_records(
    worksheet: python_calamine.CalamineSheet,
) -> _Records:
    """Yield each row of a worksheet as text, numbered as the spreadsheet app shows it."""
    start_row = worksheet.start[0] if worksheet.start else 0
    rows = worksheet.iter_rows()
    first = next(rows, None)
    if first is None:
        return
    # python-calamine 0.5+ yields the empty rows above the used range; older versions do not.
    padded = start_row > 0 and all(value == "" for value in first)
    first_number = 1 if padded else start_row + 1
    for number, row in enumerate(chain([first], rows), start=first_number):
        yield number, [value if type(value) is str else _cell_text(value) for value in row]


def _cell_text(value: object) -> str:
    """Return a cell's value as the text a person typed or sees."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, dt.datetime):
        timespec = "milliseconds" if value.microsecond else "seconds"
        return value.isoformat(sep=" ", timespec=timespec)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _duration_text(value)
    return "" if value is None else str(value)


def _number_text(value: float) -> str:
    """Return a float without a trailing ".0" when it is a whole number (phones, ids, zips)."""
    if math.isfinite(value) and value.is_integer() and abs(value) < _EXACT_FLOAT_LIMIT:
        return str(int(value))
    return repr(value)


def _duration_text(value: dt.timedelta) -> str:
    """Return a duration as Excel's [h]:mm:ss."""
    seconds = round(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{seconds:02d}"
