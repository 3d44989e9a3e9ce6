"""Read a sheet of a workbook (.xlsx, .xlsm, .xlsb, .xls, .ods) with python-calamine.

Every cell comes out as the text a person would see or typed: whole numbers without ".0"
(phones, ids, zips), numbers of an .xlsx sheet through their format where it shows more than
the number (``02134`` for 2134 formatted ``00000``, percentages; see ``formats``), dates and
times in ISO 8601 (``2025-07-01``, ``2025-07-01T09:30:00``, ``09:30:00``), durations as
Excel's [h]:mm:ss, booleans as TRUE and FALSE.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from itertools import chain
from pathlib import Path
from typing import Any

import python_calamine

from importer.errors import InputError
from importer.read.archive import check_sheet_extent, check_workbook
from importer.read.formats import NumberText, RowFormats, number_text, sheet_formats
from importer.read.header import Header, find_header
from importer.read.limits import FLAGS, ReadLimits
from importer.read.records import BrokenRecord, NoHeaderError, Records, column_letter

__all__ = ["workbook_header", "workbook_records"]


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


def workbook_records(
    path: Path,
    sheet_name: str,
    limits: ReadLimits,
    loaded: python_calamine.CalamineSheet | None = None,
) -> Records:
    """Yield each row of a workbook's sheet with its row number (``workbook_header`` checked
    the file first), from the sheet ``loaded`` by it if given, else loading it again."""
    with sheet_formats(path, sheet_name) as formats:
        if loaded is not None:
            yield from _worksheet_records(loaded, limits, formats)
            return
        with _workbook(path) as book:
            yield from _worksheet_records(book.get_sheet_by_name(sheet_name), limits, formats)


def _worksheet_records(
    worksheet: python_calamine.CalamineSheet, limits: ReadLimits, formats: RowFormats | None
) -> Records:
    """Yield each row of a worksheet as text, numbered as the spreadsheet app shows it.

    A row with a cell over the length limit comes as a BrokenRecord, that cell left out.
    """
    start_row, first_col = worksheet.start or (0, 0)
    rows = worksheet.iter_rows()
    first = next(rows, None)
    if first is None:
        return
    # python-calamine 0.5+ yields the empty rows above the used range; older versions do not.
    padded = start_row > 0 and all(value == "" for value in first)
    first_number = 1 if padded else start_row + 1
    text = _TEXT.get
    for number, row in enumerate(chain([first], rows), start=first_number):
        cells = [value if type(value) is str else text(type(value), str)(value) for value in row]
        if formats is not None:
            shown = formats.row(number)
            if shown:
                _show_formatted(cells, row, shown, first_col)
        if max(map(len, cells), default=0) > limits.max_cell_chars:
            yield number, _without_long_cells(cells, first_col, limits)
        else:
            yield number, cells


def _show_formatted(
    cells: list[str], values: Sequence[object], shown: Mapping[int, NumberText], first_col: int
) -> None:
    """Show a row's numbers through their cells' formats, in place."""
    for column, show in shown.items():
        index = column - first_col
        if 0 <= index < len(values):
            value = values[index]
            if type(value) is float:
                cells[index] = show(value)


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


def _datetime_text(value: dt.datetime) -> str:
    """Return a date and time in ISO 8601: 2025-07-01T09:30:00, milliseconds if it has them."""
    return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")


def _duration_text(value: dt.timedelta) -> str:
    """Return a duration as Excel's [h]:mm:ss."""
    seconds = round(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{seconds:02d}"


_TEXT: dict[type, Callable[[Any], str]] = {
    float: number_text,
    bool: lambda value: "TRUE" if value else "FALSE",
    int: str,
    dt.datetime: _datetime_text,
    dt.date: dt.date.isoformat,
    dt.time: dt.time.isoformat,
    dt.timedelta: _duration_text,
    type(None): lambda _: "",
}
"""How each kind of value calamine gives becomes the text a person typed or sees, by its exact
type (one look-up a cell: a sheet has millions); any other is shown by ``str``."""
