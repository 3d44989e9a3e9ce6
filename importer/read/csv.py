"""Read a CSV file, once its encoding and delimiter are known, as numbered records.

A record that spans lines (a quoted line break) is one row; NUL characters are dropped. Memory
stays bounded whatever the file holds: a line is read at most ``max_row_chars`` characters at a
time, and a cell may hold ``max_cell_chars`` (the csv module's field size limit, set only while
this reader parses). A row over a limit fails alone, as a ``BrokenRecord``, when the next row
can be found for sure (its quotes balance); otherwise reading stops with an InputError naming
the row, as it does for a quote never closed, which would fold the rest of the file into one
cell.
"""

from __future__ import annotations

import codecs
import csv
import io
from contextlib import closing
from pathlib import Path
from typing import TextIO

from importer.errors import InputError
from importer.read.header import Header, find_header
from importer.read.limits import FLAGS, ReadLimits
from importer.read.records import BrokenRecord, Records

__all__ = ["RecordReader", "csv_header", "csv_records"]

_QUOTE = '"'
_DRAIN_CHARS = 1 << 20


def csv_header(
    path: Path,
    encoding: str,
    delimiter: str,
    limits: ReadLimits,
    *,
    sep_line: bool = False,
    header_row: int | None = None,
) -> Header:
    """Find a CSV file's header row (or take the one given) and its unique column names."""
    with closing(csv_records(path, encoding, delimiter, limits, sep_line=sep_line)) as records:
        return find_header(records, path, limits, row=header_row)


def csv_records(
    path: Path, encoding: str, delimiter: str, limits: ReadLimits, *, sep_line: bool = False
) -> Records:
    """Yield each CSV record with its row number; a record spanning lines is one row.

    Args:
        path: The file.
        encoding: Its encoding.
        delimiter: Its delimiter.
        limits: What a row and a cell may hold.
        sep_line: Whether the first line is Excel's ``sep=;``, which is no row: Excel hides it,
            so the record after it is row 1.

    Raises:
        InputError: If the file cannot be read, or a row cannot be told from the next (a quote
            never closed, or a quoted cell over a limit).
    """
    return RecordReader(path, encoding, delimiter, limits).records(sep_line=sep_line)


class RecordReader:
    """Reads a CSV file's records one by one with the csv module, from a byte where one starts.

    This is the reference for what a record is and what its row number is; a faster reader may
    hand a stretch of the file over to it and take over again where it stops (``offset``).
    """

    def __init__(
        self,
        path: Path,
        encoding: str,
        delimiter: str,
        limits: ReadLimits,
        *,
        start: int = 0,
        number: int = 1,
    ) -> None:
        """Prepare to read from byte ``start``, numbering the first record ``number``."""
        self._path = path
        self._encoding = encoding
        self._delimiter = delimiter
        self._limits = limits
        self._start = start
        self._number = number
        self._text: TextIO | None = None
        self._lines: _Lines | None = None

    @property
    def lines(self) -> int:
        """Return how many physical lines have been read (more if a line was read in parts)."""
        return self._lines.read if self._lines else 0

    def offset(self) -> int | None:
        """Return the byte where the next record starts, while ``records`` is paused.

        Only called between records: there, the text is at a line's start. None when the
        decoder's state makes the position no plain byte offset (it never is for UTF-8 or a
        single-byte code page).
        """
        assert self._text is not None
        try:
            position = self._text.tell()
        except (OSError, ValueError):
            return None
        return position if position < 1 << 63 else None

    def records(self, *, sep_line: bool = False) -> Records:
        """Yield each record with its row number, from the start given to the end of the file.

        Args:
            sep_line: Whether the first line is Excel's ``sep=;``, which is no row.

        Raises:
            InputError: If the file cannot be read, or a row cannot be told from the next.
        """
        try:
            with self._open() as text:
                self._text = text
                self._lines = lines = _Lines(text, self._limits.max_row_chars)
                if sep_line:
                    next(lines, None)
                yield from _records(self._path, lines, self._delimiter, self._limits, self._number)
        except OSError as error:
            raise InputError(f"{self._path} cannot be read: {error.strerror or error}") from error
        finally:
            self._text = None

    def _open(self) -> TextIO:
        """Open the file as text at the start byte (a BOM is only skipped at byte 0)."""
        encoding = self._encoding
        if self._start and codecs.lookup(encoding).name == "utf-8-sig":
            encoding = "utf-8"
        raw = self._path.open("rb")
        try:
            raw.seek(self._start)
            return io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
        except BaseException:
            raw.close()
            raise


class _TooLong(Exception):
    """Raised by ``_Lines``, through the csv reader, when a record outgrows its limit."""


class _Lines:
    """The physical lines of a text for ``csv.reader``, read at most a limit at a time.

    It also counts the lines and characters the current record took, and notices when the
    text ended inside a record: what tells a quote never closed from a long cell.
    """

    def __init__(self, text: TextIO, max_chars: int) -> None:
        self._text = text
        self._max_chars = max_chars
        self.ended = False
        self.last = ""
        self.lines = 0
        self.chars = 0
        self.read = 0

    def begin_record(self) -> None:
        """Start counting the lines and characters of a new record."""
        self.lines = 0
        self.chars = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._text.readline(self._max_chars + 1)
        if not line:
            self.ended = True
            raise StopIteration
        self.lines += 1
        self.read += 1
        # Counted before NULs are dropped: a line cut at the limit must stay over it, or its
        # rest would be read as a row of its own.
        self.chars += len(line)
        self.last = line
        if self.chars > self._max_chars:
            raise _TooLong
        return line.replace("\x00", "")

    def drain(self, delimiter: str) -> tuple[int, int]:
        """Skip the rest of the last physical line.

        Returns:
            How many quotes the whole line held, and the length of its longest run of
            characters between delimiters (its longest cell, quotes aside).
        """
        pieces = self.last.split(delimiter)
        quotes, longest, run = self.last.count(_QUOTE), max(map(len, pieces)), len(pieces[-1])
        part = self.last
        while not part.endswith(("\n", "\r")):
            part = self._text.readline(_DRAIN_CHARS)
            if not part:
                self.ended = True
                break
            quotes += part.count(_QUOTE)
            pieces = part.split(delimiter)
            run += len(pieces[0])
            if len(pieces) > 1:
                longest = max(longest, run, *map(len, pieces[1:-1]))
                run = len(pieces[-1])
            longest = max(longest, run)
        if part.endswith("\r"):
            self._skip_line_feed()
        return quotes, longest

    def _skip_line_feed(self) -> None:
        """Skip the "\n" of a "\r\n" that a read limit cut after its "\r".

        Left there, it would end a blank record of its own, and number every row after it
        one too far.
        """
        position = self._text.tell()
        if self._text.read(1) != "\n":
            self._text.seek(position)


def _records(
    path: Path, lines: _Lines, delimiter: str, limits: ReadLimits, first: int = 1
) -> Records:
    """Yield each record the csv reader finds in the lines, numbered from ``first``, with the
    limits applied."""
    reader = csv.reader(lines, delimiter=delimiter)
    number = first - 1
    while True:
        number += 1
        lines.begin_record()
        cells: list[str] | BrokenRecord
        previous = csv.field_size_limit(limits.max_cell_chars)
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            cells = _cell_too_long(path, number, lines, error, limits)
        except _TooLong:
            cells = _row_too_long(path, number, lines, delimiter, limits)
        finally:
            csv.field_size_limit(previous)
        if lines.ended and not isinstance(cells, BrokenRecord):
            raise InputError(
                f"{path}: row {number} cannot be parsed: a quote opened in it is never closed,"
                f" so the file ends inside it, {lines.lines:,} lines on; close it or remove it"
            )
        yield number, cells


def _cell_too_long(
    path: Path, number: int, lines: _Lines, error: csv.Error, limits: ReadLimits
) -> BrokenRecord:
    """Fail a row whose cell is over the limit, or stop if the next row cannot be found.

    Raises:
        InputError: If the cell is quoted across lines or its quote does not close on its line
            (a quote never closed, most likely), or the csv reader failed for another reason.
    """
    if "field larger than field limit" not in str(error):
        raise InputError(
            f"{path}: row {number} cannot be parsed ({error}); check it for a quote that is"
            " never closed"
        ) from error
    limit, flag = limits.max_cell_chars, FLAGS["max_cell_chars"]
    if lines.lines > 1 or lines.last.count(_QUOTE) % 2:
        where = (
            f"runs over {lines.lines:,} lines and past {limit:,} characters, the limit for a cell"
            if lines.lines > 1
            else f"goes past {limit:,} characters, the limit for a cell, and its quote does not"
            " close on its line"
        )
        raise InputError(
            f"{path}: row {number} cannot be parsed: a quoted cell in it {where}; a quote is"
            " probably never closed: close it, or if the cell really is that long, raise the"
            f" limit with {flag} N"
        )
    return BrokenRecord(
        f"has a cell of more than {limit:,} characters, the limit for a cell; shorten it, or"
        f" raise the limit with {flag} N"
    )


def _row_too_long(
    path: Path, number: int, lines: _Lines, delimiter: str, limits: ReadLimits
) -> BrokenRecord:
    """Fail a row longer than the limit and skip the rest of its line, or stop reading.

    The message names the true cause: one cell over the cell limit, or the row as a whole.

    Raises:
        InputError: If the row spans lines or its quotes do not balance, so that where the next
            row starts is unknown (a quote never closed, most likely).
    """
    limit, flag = limits.max_row_chars, FLAGS["max_row_chars"]
    if lines.lines > 1:
        raise InputError(
            f"{path}: row {number} cannot be parsed: it goes past {limit:,} characters, the"
            f" limit for a row, over {lines.lines:,} lines; a quote is probably never closed:"
            f" close it, or if the row really is that long, raise the limit with {flag} N"
        )
    quotes, longest = lines.drain(delimiter)
    if quotes % 2:
        raise InputError(
            f"{path}: row {number} cannot be parsed: it is longer than {limit:,} characters,"
            f" the limit for a row, and a quote in it is never closed; close it, or if the row"
            f" really is that long, raise the limit with {flag} N"
        )
    if longest > limits.max_cell_chars:
        return BrokenRecord(
            f"has a cell of more than {limits.max_cell_chars:,} characters, the limit for a"
            f" cell; shorten it, or raise the limit with {FLAGS['max_cell_chars']} N"
        )
    return BrokenRecord(
        f"is longer than {limit:,} characters, the limit for a row; shorten it, or raise the"
        f" limit with {flag} N"
    )
