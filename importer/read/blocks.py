"""Read a CSV file's data rows a block of bytes at a time, column-wise where the block is simple.

Most of a real CSV file is simple: every physical line is one record, its quotes (if any) open
and close cells on that line. Such a stretch parses with pyarrow's CSV reader at the speed of a
bare read, into Arrow columns of text. Whatever is not simple goes through the exact reader
(``csv.RecordReader``, the reference), which hands back at the first record boundary past the
stretch it was given. So every row comes out as the exact reader gives it: the same cells, the
same number.

A block is read from a record's first byte, cut after its last line feed, and is simple up to
the first line that holds a NUL, a lone carriage return (a line break of its own to the csv
module), or a quote that does not open a cell at its start and close it at its end (``""``
inside a cell aside), or that leaves its line inside quotes. Rows shorter than others get the
empty cells the exact reader would pad them with, as delimiters at their end, so that pyarrow
takes them; a row wider than the header ends the simple start. The simple start is parsed
column-wise, the exact reader reads on to the end of the line after it (the rest of its record,
if that has a quoted line break), and the next block starts there. A block is about twice the
simple start of the one before, so that what follows a problem is not looked at in vain; at its
least (64 KiB) a block that is mostly not simple is read exactly whole. No block is longer than
the cell and row limits, so no simple line can pass them. A UTF-8 file's bytes go to pyarrow as
they are; a single-byte code page's (cp1252...) are decoded and encoded as UTF-8 first; any
other encoding (UTF-16...) is read exactly throughout.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Generator, Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from importer.errors import InputError
from importer.read.columns import TEXT, RowBuffer, Rows, fit_columns
from importer.read.csv import RecordReader
from importer.read.limits import MIB, ReadLimits

__all__ = ["BLOCK_BYTES", "csv_rows"]

BLOCK_BYTES = 4 * MIB
"""The most bytes read at a time; less when a cell or a row may hold fewer characters."""

_QUOTE, _LF, _CR = ord('"'), ord("\n"), ord("\r")
_LEAST_BYTES = 64 * 1024
"""The least bytes read at a time: a block shrinks to about twice the simple start of the block
before it (so that it is not looked at in vain), down to this."""
_SMALL_SHARE = 4
"""A block of the least size whose simple start is shorter than a quarter of it is read exactly
whole: a file whose every other line holds a quoted line break costs a look at most."""
_NONE: tuple[None, int, int] = (None, 0, 0)
"""What ``_Blocks.read`` gives for a block with no line feed: no rows, read exactly whole."""


def csv_rows(
    path: Path,
    encoding: str,
    delimiter: str,
    limits: ReadLimits,
    *,
    header_row: int,
    width: int,
    chunk_rows: int,
    sep_line: bool = False,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[Rows]:
    """Yield a CSV file's data rows (those below the header), in runs of rows.

    Args:
        path: The file.
        encoding: Its encoding.
        delimiter: Its delimiter.
        limits: What it may hold.
        header_row: The header's row number.
        width: The header's number of columns.
        chunk_rows: The most rows in a run read record by record.
        sep_line: Whether the first line is Excel's ``sep=;``, which is no row.
        block_bytes: The most bytes read column-wise at a time; 0 reads every record exactly.

    Raises:
        InputError: As the exact reader does, after the rows before the problem.
    """
    codec = _block_codec(encoding) if block_bytes else None
    exact = _Exact(path, limits, header_row, width, chunk_rows)
    reader = RecordReader(path, encoding, delimiter, limits)
    resume = yield from exact.rows(reader, sep_line=sep_line, stop=codec is not None)
    if resume is None or codec is None:
        return
    most = max(1, min(block_bytes, limits.max_cell_chars, limits.max_row_chars))
    size, least = most, min(_LEAST_BYTES, most)
    blocks = _Blocks(codec, delimiter, width, limits)
    with path.open("rb") as raw:
        while resume is not None:
            start, number = resume
            raw.seek(start)
            data = raw.read(size)
            if not data:
                return
            end = len(data) if len(data) < size else data.rfind(b"\n") + 1
            small = end // _SMALL_SHARE if size <= least else 0
            rows, simple, until = blocks.read(data[:end], number, at_least=small) if end else _NONE
            if rows is not None:
                if len(rows):
                    yield rows
                start, number = start + simple, number + _line_count(data[:simple])
            whole = 0 < simple == end
            # A block read whole grows the next; else the next is about twice the simple start.
            size = min(most, 2 * size) if whole else max(least, min(most, 2 * simple))
            if whole:
                resume = start, number
                continue
            rest = data[simple : until or len(data)]
            lines = rest.count(b"\n") + rest.count(b"\r") - rest.count(b"\r\n")
            reader = RecordReader(path, encoding, delimiter, limits, start=start, number=number)
            resume = yield from exact.rows(reader, until=start + len(rest), lines=lines)


def _block_codec(encoding: str) -> str | None:
    """Return how a block's bytes become UTF-8: "utf-8" (as they are), or the single-byte code
    page to decode them with; None when the file can only be read exactly (UTF-16, UTF-32, a
    multi-byte code page, whose bytes may hold a quote or a delimiter inside a character)."""
    name = codecs.lookup(encoding).name
    if name in ("utf-8", "utf-8-sig"):
        return "utf-8"
    every_byte = bytes(range(256)).decode(name, errors="replace")
    ascii_kept = every_byte[:128] == bytes(range(128)).decode("ascii")
    return name if len(every_byte) == 256 and ascii_kept else None


def _line_count(data: bytes) -> int:
    """Return the number of lines in a simple stretch (no lone carriage return in it)."""
    return data.count(b"\n") + (not data.endswith(b"\n"))


class _Exact:
    """Reads stretches of the file exactly, into runs of rows."""

    def __init__(
        self, path: Path, limits: ReadLimits, header_row: int, width: int, chunk_rows: int
    ) -> None:
        self._header_row = header_row
        self._buffer = RowBuffer(path, header_row, width, limits)
        self._chunk_rows = chunk_rows

    def rows(
        self,
        reader: RecordReader,
        *,
        sep_line: bool = False,
        stop: bool = True,
        until: int = 0,
        lines: int = 0,
    ) -> Generator[Rows, None, tuple[int, int] | None]:
        """Yield the rows the reader reads, up to the end of the file, or when ``stop``, up to
        the first record boundary below the header at or past byte ``until``.

        Args:
            reader: The exact reader, not yet started.
            sep_line: Whether the reader starts on Excel's ``sep=;`` line.
            stop: Whether to stop at ``until``.
            until: The byte to stop at or after.
            lines: The physical lines from the reader's start up to ``until``: the position is
                asked for (a slow call) only once it has read as many.

        Returns:
            The byte where the next record starts and its number, or None at the end.

        Raises:
            InputError: As the reader does, after the rows read before the problem.
        """
        records = reader.records(sep_line=sep_line)
        with closing(records):
            try:
                for number, record in records:
                    self._buffer.add(number, record)
                    if len(self._buffer) >= self._chunk_rows:
                        yield self._buffer.take()
                    if stop and number >= self._header_row and reader.lines >= lines:
                        offset = reader.offset()
                        stop = offset is not None
                        if offset is not None and offset >= until:
                            yield from self._flush()
                            return offset, number + 1
            except InputError:
                yield from self._flush()
                raise
        yield from self._flush()
        return None

    def _flush(self) -> Iterator[Rows]:
        """Yield the rows collected, if any."""
        if len(self._buffer):
            yield self._buffer.take()


class _Blocks:
    """Tells how much of a block is simple, and parses that part column-wise."""

    def __init__(self, codec: str, delimiter: str, width: int, limits: ReadLimits) -> None:
        self._codec = codec
        self._delimiter = delimiter
        self._byte = ord(delimiter)
        self._width = width
        self._max_rows = limits.max_rows
        self._options = pa_csv.ParseOptions(
            delimiter=delimiter,
            quote_char='"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=True,
        )

    def read(self, block: bytes, number: int, *, at_least: int) -> tuple[Rows | None, int, int]:
        """Read the block's simple start column-wise.

        Args:
            block: Whole lines, from a record's first byte.
            number: The number of its first line.
            at_least: The shortest simple start worth reading apart from the rest.

        Returns:
            The rows of its simple start (None if it has none worth reading), the start's
            length, and where the line after it ends: the exact reader reads up to there (to the
            block's end when the start is too short), and the block reader takes over again.
        """
        # A line takes a byte at least: count them only near the limit.
        if number - 1 + len(block) > self._max_rows and (
            number - 1 + _line_count(block) > self._max_rows
        ):
            return None, 0, len(block)
        simple = self._simple_length(block)
        rows = self._parse(block[:simple], number) if simple else None
        if rows is None and simple:  # pyarrow refused it: a row of another width?
            padded = self._padded(block[:simple])
            rows = self._parse(padded, number) if padded else None
        if rows is None and simple:
            simple = self._uniform_length(block[:simple])
            rows = self._parse(block[:simple], number) if simple else None
            if rows is None:
                return None, 0, len(block)
        if simple == len(block):
            return rows, simple, simple
        if simple < at_least:
            return None, 0, len(block)
        return rows, simple, block.find(b"\n", simple) + 1 or len(block)

    def _simple_length(self, block: bytes) -> int:
        """Return how many bytes from the block's start are simple lines, cut at a line start."""
        bad = _first_problem(block, self._byte, self._codec)
        return len(block) if bad >= len(block) else block.rfind(b"\n", 0, bad) + 1

    def _padded(self, data: bytes) -> bytes | None:
        """Return simple lines with delimiters added to the end of the short ones, so that all
        have as many cells as the widest, if none is wider than the header: the empty cells
        the exact reader pads a short row with. None if one is wider."""
        cells, _, ends, filled = self._cells(data)
        most = cells[filled].max(initial=0)
        if most > self._width:
            return None
        short = filled[cells[filled] < most]
        positions = np.repeat(ends[short], most - cells[short])
        array = np.frombuffer(data, dtype=np.uint8)
        return np.insert(array, positions, np.uint8(self._byte)).tobytes()

    def _uniform_length(self, data: bytes) -> int:
        """Return how many bytes of simple lines from the start have as many cells as the
        first non-empty one, cut at a line start; 0 when all do."""
        cells, starts, _, filled = self._cells(data)
        if not len(filled):
            return 0
        other = filled[cells[filled] != cells[filled[0]]]
        return int(starts[other[0]]) if len(other) else 0

    def _cells(self, data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return, for simple lines, how many cells each has, where each starts and ends
        (before its line end), and which are not empty."""
        array = np.frombuffer(data, dtype=np.uint8)
        delimiters = np.flatnonzero(array == self._byte)
        if b'"' in data:
            quotes = np.flatnonzero(array == _QUOTE)
            delimiters = delimiters[(np.searchsorted(quotes, delimiters) & 1) == 0]
        feeds = np.flatnonzero(array == _LF)
        lines = _line_count(data)
        cells = np.bincount(np.searchsorted(feeds, delimiters), minlength=lines) + 1
        starts = np.concatenate(([0], feeds + 1))[:lines]
        ends = np.concatenate((feeds, [len(array)]))[:lines]
        ends -= (ends > starts) & (array[np.maximum(ends - 1, 0)] == _CR)
        return cells, starts, ends, np.flatnonzero(ends > starts)

    def _parse(self, data: bytes, number: int) -> Rows | None:
        """Return the rows of simple lines numbered from ``number``, or None if pyarrow does
        not take them (rows of different widths, text that is not UTF-8)."""
        text = data if self._codec == "utf-8" else data.decode(self._codec, "replace").encode()
        fields = self._first_width(text)
        if fields is None:
            return fit_columns(np.zeros(0, dtype=np.int64), [], self._width)
        names = [str(index) for index in range(fields)]
        try:
            # On this thread: pyarrow's pool gains little on two shared cores, and a parse it
            # refused on pool threads has hung or aborted the interpreter at exit (apache/arrow
            # issues 34314, 43892).
            table = pa_csv.read_csv(
                io.BytesIO(text),
                read_options=pa_csv.ReadOptions(
                    column_names=names, use_threads=False, block_size=len(text) + 1
                ),
                parse_options=self._options,
                convert_options=pa_csv.ConvertOptions(
                    column_types=dict.fromkeys(names, TEXT),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid:
            return None
        numbers = _row_numbers(text, number, table.num_rows)
        if numbers is None:
            return None
        return fit_columns(numbers, table.columns, self._width)

    def _first_width(self, text: bytes) -> int | None:
        """Return how many cells the first non-empty line has; None if every line is empty."""
        start = 0
        while start < len(text):
            end = text.find(b"\n", start)
            end = len(text) if end < 0 else end
            line = text[start:end].removesuffix(b"\r")
            if line:
                cells = next(csv.reader([line.decode(errors="replace")], delimiter=self._delimiter))
                return len(cells)
            start = end + 1
        return None


def _first_problem(data: bytes, delimiter: int, codec: str) -> int:
    """Return the position of the first byte that makes a block not simple, or its length."""
    bad = len(data)
    if codec == "utf-8" and data.startswith(codecs.BOM_UTF8):
        return 0  # pyarrow would drop it; the csv module keeps it in the first cell
    nul = data.find(b"\x00")
    if nul >= 0:
        bad = nul
    if b"\r" in data:
        bad = min(bad, _lone_carriage_return(data))
    if b'"' in data:
        bad = min(bad, _misplaced_quote(data, delimiter))
    return bad


def _lone_carriage_return(data: bytes) -> int:
    """Return the position of the first carriage return not followed by a line feed."""
    array = np.frombuffer(data, dtype=np.uint8)
    returns = np.flatnonzero(array == _CR)
    after = returns + 1
    lone = (after >= len(array)) | (array[np.minimum(after, len(array) - 1)] != _LF)
    found = np.flatnonzero(lone)
    return int(returns[found[0]]) if len(found) else len(data)


def _misplaced_quote(data: bytes, delimiter: int) -> int:
    """Return where the quotes first stop being cells quoted whole on their line.

    A quote after an even number of quotes on its line opens a cell: it must start the cell
    (after a delimiter, a line feed, the block's start, or the quote that closed a ``""``). The
    next one closes it: it must end the cell (before a delimiter, a line end, the block's end,
    or another quote). A line must hold an even number of them.
    """
    array = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(array == _QUOTE)
    feeds = np.flatnonzero(array == _LF)
    before = np.searchsorted(quotes, feeds)
    odd = np.flatnonzero(before & 1)
    bad = len(data)
    if len(odd) or len(quotes) % 2:
        line = int(odd[0]) if len(odd) else len(feeds)
        kept = int(before[line - 1]) if line else 0
        bad, quotes = int(quotes[kept]), quotes[:kept]
    opening, closing = quotes[0::2], quotes[1::2]
    previous = array[np.maximum(opening - 1, 0)]
    starts = (opening == 0) | (previous == delimiter) | (previous == _LF) | (previous == _QUOTE)
    following = array[np.minimum(closing + 1, len(array) - 1)]
    ends = (closing + 1 == len(array)) | np.isin(following, (delimiter, _CR, _LF, _QUOTE))
    for wrong in (opening[~starts], closing[~ends]):
        if len(wrong):
            bad = min(bad, int(wrong[0]))
    return bad


def _row_numbers(text: bytes, number: int, rows: int) -> np.ndarray | None:
    """Return the numbers of the non-empty lines of simple text, the first line ``number``;
    None if pyarrow found another count of rows."""
    lines = _line_count(text)
    if rows == lines:
        return np.arange(number, number + lines, dtype=np.int64)
    array = np.frombuffer(text, dtype=np.uint8)
    starts = np.concatenate(([0], np.flatnonzero(array == _LF) + 1))[:lines]
    first = array[np.minimum(starts, len(array) - 1)]
    second = array[np.minimum(starts + 1, len(array) - 1)]
    empty = (first == _LF) | ((first == _CR) & (second == _LF))
    filled = np.flatnonzero(~empty)
    return filled.astype(np.int64) + number if len(filled) == rows else None
