"""Data rows as columns of text: what both readers hand the chunks, however they read the rows.

A reader gives its rows either one record at a time (``RowBuffer``: the exact path, which applies
the rules below to each record) or as Arrow columns of text straight from a columnar parser
(``fit_columns``, which applies the same rules to whole columns and sends only the unusual rows,
found by a column operation, through the per-record code). The rules, the same for both:

- the rows down to the header's row are no data; a row past ``limits.max_rows`` stops reading;
- a blank row (every cell empty or whitespace) is dropped, its number skipped;
- a row is fitted to the header's width: padded with empty cells, or cut, and reported as
  malformed when the cells cut hold text (``fit_cells``);
- a ``BrokenRecord`` keeps what could be kept of its cells, and its row is malformed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from importer.errors import InputError
from importer.read.limits import FLAGS, ReadLimits
from importer.read.records import BrokenRecord, is_blank

__all__ = ["TEXT", "Column", "RowBuffer", "Rows", "fit_cells", "fit_columns", "text_column"]

TEXT = pa.large_string()
"""The Arrow type of every column: what pandas' ``str`` dtype holds."""

Column: TypeAlias = "pa.Array | pa.ChunkedArray"
"""A column of text, in one piece or several."""

_NOT_WHITESPACE_BELOW = "!"
_NON_ASCII_FROM = "\x80"
"""A cell that starts with a character from "!" up to "\\x7f" is surely not whitespace; any other
may be (an empty cell, a space, a no-break space...), and is looked at one by one."""


@dataclass(frozen=True, slots=True)
class Rows:
    """Data rows of a sheet, in file order, as columns of text of the header's width.

    Attributes:
        numbers: Each row's number as a spreadsheet app shows it, ascending (int64).
        columns: One Arrow array of text per header column, as long as ``numbers``, no nulls.
        malformed: Row number to a one-line message, for the rows among them cut to the
            header's width with text lost, or broken.
    """

    numbers: np.ndarray
    columns: tuple[Column, ...]
    malformed: Mapping[int, str]

    def __len__(self) -> int:
        return len(self.numbers)

    @classmethod
    def joined(cls, parts: Sequence[Rows]) -> Rows:
        """Return the rows of several runs, one after the other (columns are not copied)."""
        if len(parts) == 1:
            return parts[0]
        columns = tuple(
            pa.chunked_array([chunk for part in parts for chunk in _chunks(part.columns[index])])
            for index in range(len(parts[0].columns))
        )
        malformed = {number: text for part in parts for number, text in part.malformed.items()}
        return cls(np.concatenate([part.numbers for part in parts]), columns, malformed)

    def cut(self, start: int, stop: int) -> Rows:
        """Return the rows from position ``start`` up to ``stop`` (columns are not copied)."""
        numbers = self.numbers[start:stop]
        columns = tuple(column.slice(start, stop - start) for column in self.columns)
        malformed = self.malformed
        if malformed and len(numbers):
            first, last = numbers[0], numbers[-1]
            malformed = {n: text for n, text in malformed.items() if first <= n <= last}
        return Rows(numbers, columns, malformed if len(numbers) else {})


def _chunks(column: Column) -> list[pa.Array]:
    """Return the arrays a column is made of."""
    return column.chunks if isinstance(column, pa.ChunkedArray) else [column]


def text_column(cells: Sequence[str]) -> pa.Array:
    """Return a column of Python strings as an Arrow array of text."""
    return pa.array(cells, type=TEXT)


def fit_cells(cells: list[str], width: int) -> tuple[list[str], str]:
    """Pad or cut a row to ``width`` cells; say why when cutting drops text."""
    if len(cells) < width:
        return cells + [""] * (width - len(cells)), ""
    extra = cells[width:]
    if is_blank(extra):
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


class RowBuffer:
    """Collects a sheet's records one at a time as data rows, until taken as ``Rows``."""

    def __init__(self, path: Path, header_row: int, width: int, limits: ReadLimits) -> None:
        self._path = path
        self._header_row = header_row
        self._width = width
        self._max_rows = limits.max_rows
        self._numbers: list[int] = []
        self._rows: list[list[str]] = []
        self._malformed: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._numbers)

    def add(self, number: int, record: list[str] | BrokenRecord) -> None:
        """Keep a record as a data row, unless it is at or above the header or blank.

        Raises:
            InputError: If the row number is past ``limits.max_rows``.
        """
        if number <= self._header_row:
            return
        if number > self._max_rows:
            raise InputError(
                f"{self._path}: row {number:,} is past the limit of {self._max_rows:,} rows;"
                f" split the file, or raise the limit with {FLAGS['max_rows']} N"
            )
        if isinstance(record, BrokenRecord):
            cells, _ = fit_cells(record.cells, self._width)
            self._malformed[number] = f"row {record.message}"
        elif is_blank(record):
            return
        elif len(record) != self._width:
            cells, problem = fit_cells(record, self._width)
            if problem:
                self._malformed[number] = problem
        else:
            cells = record
        self._numbers.append(number)
        self._rows.append(cells)

    def take(self) -> Rows:
        """Return the rows collected so far, and start again empty."""
        rows = self._rows
        columns = tuple(text_column(list(map(itemgetter(i), rows))) for i in range(self._width))
        taken = Rows(np.array(self._numbers, dtype=np.int64), columns, self._malformed)
        self._numbers, self._rows, self._malformed = [], [], {}
        return taken


def fit_columns(numbers: np.ndarray, columns: Sequence[Column], width: int) -> Rows:
    """Return rows read as columns of text, their blank rows dropped, fitted to the header.

    Args:
        numbers: The rows' numbers, one per row of ``columns``; none at or above the header,
            none past the row limit.
        columns: Every cell the rows have, one array of text per column, no nulls; all the same
            length, as many as ``width`` or more or fewer.
        width: The header's width.
    """
    keep = _not_blank(columns)
    if keep is not None:
        numbers = numbers[keep]
        columns = [column.filter(pa.array(keep)) for column in columns]
    malformed = _cut_text(numbers, columns, width) if len(columns) > width else {}
    fitted = list(columns[:width])
    if len(fitted) < width:
        fitted += [pa.repeat(pa.scalar("", TEXT), len(numbers))] * (width - len(fitted))
    return Rows(numbers, tuple(fitted), malformed)


def _not_blank(columns: Sequence[Column]) -> np.ndarray | None:
    """Return which rows are not blank, or None when none is.

    A column operation finds the rows whose every cell may be whitespace (empty, or starting
    with a space, a control or a non-ASCII character); only those are looked at one by one.
    """
    maybe: pa.Array | None = None
    for column in columns:
        blankish = pc.or_(
            pc.less(column, _NOT_WHITESPACE_BELOW), pc.greater_equal(column, _NON_ASCII_FROM)
        )
        maybe = blankish if maybe is None else pc.and_(maybe, blankish)
        if not pc.any(maybe).as_py():
            return None
    if maybe is None:
        return None
    keep = np.ones(len(maybe), dtype=bool)
    for row in np.flatnonzero(maybe.to_numpy(zero_copy_only=False)):
        keep[row] = not is_blank([column[row].as_py() for column in columns])
    return None if keep.all() else keep


def _cut_text(numbers: np.ndarray, columns: Sequence[Column], width: int) -> dict[int, str]:
    """Return the malformed message of each row whose cells beyond the header hold text."""
    filled: pa.Array | None = None
    for column in columns[width:]:
        full = pc.not_equal(column, "")
        filled = full if filled is None else pc.or_(filled, full)
    if filled is None or not pc.any(filled).as_py():
        return {}
    malformed: dict[int, str] = {}
    for row in np.flatnonzero(filled.to_numpy(zero_copy_only=False)):
        _, problem = fit_cells([column[row].as_py() for column in columns], width)
        if problem:
            malformed[int(numbers[row])] = problem
    return malformed
