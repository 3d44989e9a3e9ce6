"""Read a CSV or Excel-family file as a stream of text chunks numbered like a spreadsheet.

The read stage guesses nothing about meaning: every cell comes out as the text a person would
see, and every row keeps the number a spreadsheet app shows for it (the header is row 1 when the
file starts with it). The header is found below title rows (``header``), or given; the rows
above it are no data. Blank rows are dropped but still counted; rows wider than the header are
kept, cut to the header's width and reported in ``Chunk.malformed``.

This module holds the ``Sheet`` and ``Chunk`` types and ``open_sheet``; the file's kind, encoding
and delimiter are found by ``sniff``, and its rows come from ``blocks`` (CSV: column-wise where the
file is simple, else record by record by ``csv``) or ``workbook``, as columns of text (``columns``),
within the ``limits`` that keep memory bounded (a workbook is checked by ``archive`` first).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from importer.errors import InputError
from importer.lifecycle import SOURCE_ROW
from importer.read.blocks import BLOCK_BYTES, csv_rows
from importer.read.columns import Column, Rows
from importer.read.csv import csv_header
from importer.read.limits import FLAGS, ReadLimits
from importer.read.sniff import (
    CSV_SUFFIXES,
    WORKBOOK_SUFFIXES,
    check_file,
    detect_encoding,
    sample_text,
    sep_line,
    sniff_delimiter,
)
from importer.read.workbook import workbook_header, workbook_rows

__all__ = [
    "CHUNK_CELLS",
    "CSV_SUFFIXES",
    "TEXT_DTYPE",
    "WORKBOOK_SUFFIXES",
    "Chunk",
    "Sheet",
    "open_sheet",
]

TEXT_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)
"""The dtype of every column of a chunk: pandas' ``str``, held in Arrow."""

CHUNK_CELLS = 500_000
"""The most cells in one chunk: a sheet of 16,384 columns comes 30 rows at a time, so that a
chunk, copied by each stage after read, stays tens of megabytes however wide the sheet."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A run of data rows, each cell as text, indexed by spreadsheet row number.

    Attributes:
        frame: One row per data row, its index the row numbers (int64, named ``SOURCE_ROW``),
            the sheet's columns in order, each of pandas' ``str`` dtype (``TEXT_DTYPE``: Arrow
            text, what ``pandas.read_csv(dtype=str)`` gives), never missing: "" when empty.
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
        limits: What the file may hold (rows, cells, cell length...).
        header_row: The header's row number; the data rows are the rows below it.
        notes: What a person should know about how the sheet was read (title rows skipped
            above the header, a ``sep=`` line), one sentence each, for the run to show.
        sep_line: Whether a CSV file's first line is Excel's ``sep=;``, which is no row.
        preloaded: The workbook sheet calamine loaded to find the header, for the first read
            of the rows to take (then it is dropped): calamine loads a sheet whole, which
            takes as long as reading it, so an import loads it once.
        block_bytes: The most bytes of a CSV file parsed column-wise at a time (``blocks``);
            0 reads every record with the exact reader, the reference the fast path matches.
    """

    path: Path
    kind: str
    columns: tuple[str, ...]
    encoding: str | None
    delimiter: str | None
    sheet_name: str | None
    limits: ReadLimits = field(default_factory=ReadLimits)
    header_row: int = 1
    notes: tuple[str, ...] = ()
    sep_line: bool = False
    preloaded: list[Any] = field(default_factory=list, repr=False, compare=False)
    block_bytes: int = field(default=BLOCK_BYTES, repr=False, compare=False)

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
        return max(0, lines - self.header_row - self.sep_line)

    def chunks(self, chunk_rows: int = 10_000) -> Iterator[Chunk]:
        """Read the data rows from the start, ``chunk_rows`` at a time.

        A chunk holds fewer rows when the sheet is so wide that ``chunk_rows`` rows would hold
        more than ``CHUNK_CELLS`` cells. When reading fails mid-file, the rows read before the
        problem come first as a chunk of their own, then the InputError.

        Args:
            chunk_rows: The most data rows in one chunk.

        Returns:
            The chunks in file order; none when the sheet has a header but no data rows.

        Raises:
            ValueError: If ``chunk_rows`` is less than 1.
            InputError: If a row cannot be told from the next (a quote never closed), the file
                goes past the row limit, or it cannot be read (changed or broken since it was
                opened); the message names the row.
        """
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
        chunk_rows = min(chunk_rows, max(1, CHUNK_CELLS // max(1, len(self.columns))))
        return _chunked(self._rows(chunk_rows), self.columns, chunk_rows)

    def _rows(self, chunk_rows: int) -> Iterator[Rows]:
        """Return the data rows of the file in runs, read by the reader of its kind."""
        width = len(self.columns)
        if self.kind == "csv":
            assert self.encoding is not None and self.delimiter is not None
            return csv_rows(
                self.path,
                self.encoding,
                self.delimiter,
                self.limits,
                header_row=self.header_row,
                width=width,
                chunk_rows=chunk_rows,
                sep_line=self.sep_line,
                block_bytes=self.block_bytes,
            )
        assert self.sheet_name is not None
        loaded = self.preloaded.pop() if self.preloaded else None
        return workbook_rows(
            self.path,
            self.sheet_name,
            self.limits,
            loaded,
            header_row=self.header_row,
            width=width,
            chunk_rows=chunk_rows,
        )


def open_sheet(
    path: Path,
    *,
    sheet: str | None = None,
    limits: ReadLimits | None = None,
    header_row: int | None = None,
) -> Sheet:
    """Open a CSV or workbook file and find its header row.

    Args:
        path: The file to read.
        sheet: The workbook sheet to read, by name; the first visible sheet when omitted.
        limits: What the file may hold; ``ReadLimits()`` when omitted.
        header_row: The header's row number, as a spreadsheet app shows it; found when
            omitted (the first row, unless rows above the table look like a title).

    Returns:
        The sheet, ready to be read in chunks.

    Raises:
        InputError: If the file is missing, empty, of an unsupported kind, binary, broken,
            password-protected, not what its name says, past a limit, has no header row,
            names no such sheet, or the header row given is blank or past its end.
    """
    path = Path(path)
    limits = limits or ReadLimits()
    check_file(path, limits)
    if path.suffix.lower() in CSV_SUFFIXES:
        if sheet is not None:
            raise InputError(f"{path} is a CSV file, which has no sheets; drop the sheet option")
        return _open_csv(path, limits, header_row)
    return _open_workbook(path, sheet, limits, header_row)


def _open_csv(path: Path, limits: ReadLimits, header_row: int | None) -> Sheet:
    """Detect a CSV file's encoding and delimiter, then find its header."""
    encoding = detect_encoding(path)
    sample = sample_text(path, encoding)
    named = sep_line(sample)
    delimiter = named or sniff_delimiter(sample)
    header = csv_header(
        path, encoding, delimiter, limits, sep_line=named is not None, header_row=header_row
    )
    notes = header.notes
    if named is not None:
        shown = "'sep=' and a tab" if named == "\t" else repr(f"sep={named}")
        notes = (
            f"line 1 ({shown}) names the delimiter, as Excel reads it, and is no row: rows are"
            " numbered as Excel shows them, from the line after it",
            *notes,
        )
    sheet = Sheet(
        path,
        "csv",
        header.columns,
        encoding,
        delimiter,
        None,
        limits,
        header_row=header.row,
        notes=notes,
        sep_line=named is not None,
    )
    lines = (sheet.estimated_rows() or 0) + 1
    if lines > limits.max_rows:
        raise InputError(
            f"{path} has {lines:,} lines, more than the limit of {limits.max_rows:,} rows;"
            f" split it, or raise the limit with {FLAGS['max_rows']} N"
        )
    return sheet


def _open_workbook(
    path: Path, sheet: str | None, limits: ReadLimits, header_row: int | None
) -> Sheet:
    """Choose a workbook's sheet and find its header."""
    name, header, loaded = workbook_header(path, sheet, limits, header_row=header_row)
    return Sheet(
        path,
        "xlsx",
        header.columns,
        None,
        None,
        name,
        limits,
        header_row=header.row,
        notes=header.notes,
        preloaded=[loaded],
    )


def _chunked(rows: Iterator[Rows], columns: Sequence[str], chunk_rows: int) -> Iterator[Chunk]:
    """Cut runs of data rows into chunks of ``chunk_rows`` rows (the last one fewer).

    When the rows fail mid-way, the rows read so far are yielded before the error.
    """
    pending: list[Rows] = []
    count = 0
    while True:
        try:
            run = next(rows)
        except StopIteration:
            break
        except InputError:
            if count:
                yield _chunk(Rows.joined(pending), columns)
            raise
        pending.append(run)
        count += len(run)
        if count < chunk_rows:
            continue
        whole = Rows.joined(pending)
        start = 0
        while count - start >= chunk_rows:
            yield _chunk(whole.cut(start, start + chunk_rows), columns)
            start += chunk_rows
        pending = [whole.cut(start, count)] if start < count else []
        count -= start
    if count:
        yield _chunk(Rows.joined(pending), columns)


def _chunk(rows: Rows, columns: Sequence[str]) -> Chunk:
    """Build a chunk from rows of text columns, each column made one contiguous array."""
    index = pd.Index(rows.numbers, dtype="int64", name=SOURCE_ROW)
    frame = pd.DataFrame(
        {
            name: pd.array(_contiguous(column), dtype=TEXT_DTYPE)
            for name, column in zip(columns, rows.columns, strict=True)
        },
        index=index,
        columns=list(columns),
        copy=False,
    )
    return Chunk(frame=frame, malformed=dict(rows.malformed))


def _contiguous(column: Column) -> pa.Array:
    """Return a column as one array (copied only if it is in pieces), as stages after read
    expect of a column."""
    if not isinstance(column, pa.ChunkedArray):
        return column
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
