"""Read a sheet of a workbook (.xlsx, .xlsm, .xlsb, .xls, .ods) with python-calamine.

Every cell comes out as the text a person would see or typed (``cells``): whole numbers without
".0" (phones, ids, zips), numbers of an .xlsx sheet through their format where it shows more
than the number (``02134`` for 2134 formatted ``00000``, percentages; see ``formats``), dates
and times in ISO 8601 (``2025-07-01``, ``2025-07-01T09:30:00``, ``09:30:00``), durations as
Excel's [h]:mm:ss, booleans as TRUE and FALSE. The header is found among the first rows read
one by one; the data rows are read a column at a time (``_SheetRows``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from itertools import chain, islice
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import python_calamine

from importer.errors import InputError
from importer.read.archive import check_sheet_extent, check_workbook
from importer.read.cells import column_text, row_text
from importer.read.columns import RowBuffer, Rows, fit_columns
from importer.read.formats import NumberText, RowFormats, sheet_formats
from importer.read.header import Header, find_header
from importer.read.limits import FLAGS, ReadLimits
from importer.read.records import BrokenRecord, NoHeaderError, Records, column_letter

__all__ = ["workbook_header", "workbook_rows"]


def workbook_header(
    path: Path, sheet: str | None, limits: ReadLimits, *, header_row: int | None = None
) -> tuple[str, Header, python_calamine.CalamineSheet]:
    """Choose a workbook's sheet and find its header, once the file is known to be safe.

    Args:
        path: The workbook.
        sheet: The sheet to read, by name; the first visible worksheet when omitted.
        limits: What the file, its archive and the sheet may hold.
        header_row: The header's row number, when the user gave it; else it is found.

    Returns:
        The name of the sheet chosen, its header, and the sheet as calamine loaded it (whole:
        loading takes as long as reading), for ``workbook_records`` to read once.

    Raises:
        InputError: If the workbook cannot be read, is not what its name says, goes past a
            limit, names no such sheet, or the sheet has no header row.
    """
    check_workbook(path, limits)
    with _workbook(path) as book:
        name = _choose_sheet(book, path, sheet)
        check_sheet_extent(path, name, limits)
        worksheet = book.get_sheet_by_name(name)
        first_col = worksheet.start[1] if worksheet.start else 0
        try:
            with (
                sheet_formats(path, name) as formats,
                closing(_worksheet_records(worksheet, limits, formats)) as records,
            ):
                header = find_header(records, path, limits, first_col, header_row)
        except NoHeaderError:
            others = ", ".join(repr(other) for other in book.sheet_names if other != name)
            hint = f"; choose another sheet: {others}" if others else ""
            raise InputError(f"{path}: sheet {name!r} has no header row{hint}") from None
    return name, header, worksheet


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


def workbook_rows(
    path: Path,
    sheet_name: str,
    limits: ReadLimits,
    loaded: python_calamine.CalamineSheet | None = None,
    *,
    header_row: int,
    width: int,
    chunk_rows: int,
) -> Iterator[Rows]:
    """Yield the data rows of a workbook's sheet (those below the header), ``chunk_rows`` of
    its rows at a time, from the sheet ``loaded`` by ``workbook_header`` if given, else
    loading it again (``workbook_header`` checked the file first).

    Raises:
        InputError: If a row number passes ``limits.max_rows``, after the rows before it.
    """
    with sheet_formats(path, sheet_name) as formats:
        if loaded is not None:
            yield from _SheetRows(
                loaded, path, limits, formats, header_row=header_row, width=width
            ).runs(chunk_rows)
            return
        with _workbook(path) as book:
            worksheet = book.get_sheet_by_name(sheet_name)
            reader = _SheetRows(
                worksheet, path, limits, formats, header_row=header_row, width=width
            )
            yield from reader.runs(chunk_rows)


class _SheetRows:
    """Turns a loaded sheet's rows into runs of data rows, a column at a time.

    A run's cells become text a column at a time (``cells.column_text``: a column of strings
    goes to Arrow as it is, numbers by column operations), its cells with a number format worth
    applying shown through it. A run with a row past the row limit or a cell over the cell limit
    is read row by row instead, the reference way.
    """

    def __init__(
        self,
        worksheet: python_calamine.CalamineSheet,
        path: Path,
        limits: ReadLimits,
        formats: RowFormats | None,
        *,
        header_row: int,
        width: int,
    ) -> None:
        self._worksheet = worksheet
        self._path = path
        self._limits = limits
        self._formats = formats
        self._header_row = header_row
        self._width = width
        self._first_col = (worksheet.start or (0, 0))[1]

    def runs(self, chunk_rows: int) -> Iterator[Rows]:
        """Yield the data rows, from at most ``chunk_rows`` rows of the sheet at a time.

        Raises:
            InputError: If a row number passes ``limits.max_rows``, after the rows before it.
        """
        rows = self._worksheet.iter_rows()
        first = next(rows, None)
        if first is None:
            return
        number = _first_number(self._worksheet, first)
        batch = [first, *islice(rows, chunk_rows - 1)]
        while batch:
            skip = max(0, min(len(batch), self._header_row + 1 - number))
            if skip < len(batch):
                yield from self._run(number + skip, batch[skip:])
            number += len(batch)
            batch = list(islice(rows, chunk_rows))

    def _run(self, number: int, values: list[list[Any]]) -> Iterator[Rows]:
        """Yield the data rows of consecutive sheet rows, the first numbered ``number``."""
        numbers = np.arange(number, number + len(values), dtype=np.int64)
        formats = self._row_formats(number, len(values))
        columns = None
        if numbers[-1] <= self._limits.max_rows and len(set(map(len, values))) == 1:
            columns = self._text_columns(values, formats)
        if columns is None:
            yield from self._exact_run(number, values, formats)
        else:
            yield fit_columns(numbers, columns, self._width)

    def _row_formats(self, number: int, count: int) -> dict[int, Mapping[int, NumberText]]:
        """Return the number formats of the cells of ``count`` rows from row ``number`` that
        have one, by the row's position among them, then by the cell's column."""
        if self._formats is None:
            return {}
        found = {}
        for position in range(count):
            formats = self._formats.row(number + position)
            if formats:
                found[position] = formats
        return found

    def _text_columns(
        self, values: list[list[Any]], formats: Mapping[int, Mapping[int, NumberText]]
    ) -> list[pa.Array] | None:
        """Return the cells of rows as columns of text; None if a cell is over the limit."""
        rows = formats.items()
        by_column = {
            column - self._first_col: [(at, shows[column]) for at, shows in rows if column in shows]
            for column in set().union(*formats.values())
        }
        limit = self._limits.max_cell_chars
        columns = []
        for index in range(len(values[0])):
            column = column_text(list(map(itemgetter(index), values)), by_column.get(index, ()))
            # Bytes are never fewer than characters: count the characters only when needed.
            if (
                pc.max(pc.binary_length(column)).as_py() > limit
                and pc.max(pc.utf8_length(column)).as_py() > limit
            ):
                return None
            columns.append(column)
        return columns

    def _exact_run(
        self,
        number: int,
        values: list[list[Any]],
        formats: Mapping[int, Mapping[int, NumberText]],
    ) -> Iterator[Rows]:
        """Yield the data rows of consecutive sheet rows read row by row, the reference way.

        Raises:
            InputError: If a row number passes ``limits.max_rows``, after the rows before it.
        """
        buffer = RowBuffer(self._path, self._header_row, self._width, self._limits)
        try:
            for position, row in enumerate(values):
                cells = row_text(row, formats.get(position), self._first_col)
                buffer.add(number + position, _checked(cells, self._first_col, self._limits))
        except InputError:
            if len(buffer):
                yield buffer.take()
            raise
        yield buffer.take()


def _first_number(worksheet: python_calamine.CalamineSheet, first: list[Any]) -> int:
    """Return the number of a sheet's first row, as the spreadsheet app shows it."""
    start_row = (worksheet.start or (0, 0))[0]
    # python-calamine 0.5+ yields the empty rows above the used range; older versions do not.
    padded = start_row > 0 and all(value == "" for value in first)
    return 1 if padded else start_row + 1


def _checked(cells: list[str], first_col: int, limits: ReadLimits) -> list[str] | BrokenRecord:
    """Return a row's cells, or a BrokenRecord if one is over the length limit."""
    if max(map(len, cells), default=0) > limits.max_cell_chars:
        return _without_long_cells(cells, first_col, limits)
    return cells


def _worksheet_records(
    worksheet: python_calamine.CalamineSheet, limits: ReadLimits, formats: RowFormats | None
) -> Records:
    """Yield each row of a worksheet as text, numbered as the spreadsheet app shows it.

    A row with a cell over the length limit comes as a BrokenRecord, that cell left out.
    """
    first_col = (worksheet.start or (0, 0))[1]
    rows = worksheet.iter_rows()
    first = next(rows, None)
    if first is None:
        return
    for number, row in enumerate(chain([first], rows), start=_first_number(worksheet, first)):
        shown = formats.row(number) if formats is not None else None
        yield number, _checked(row_text(row, shown, first_col), first_col, limits)


def _without_long_cells(cells: list[str], first_col: int, limits: ReadLimits) -> BrokenRecord:
    """Return a row as a BrokenRecord naming its longest cell, the long cells left empty."""
    limit = limits.max_cell_chars
    longest = max(range(len(cells)), key=lambda index: len(cells[index]))
    message = (
        f"has a cell of {len(cells[longest]):,} characters in column"
        f" {column_letter(first_col + longest)}, more than the limit of {limit:,} for a cell;"
        f" shorten it, or raise the limit with {FLAGS['max_cell_chars']} N"
    )
    return BrokenRecord(message, [cell if len(cell) <= limit else "" for cell in cells])
