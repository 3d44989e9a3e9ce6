"""Build report.xlsx: a Summary sheet, then one sheet per status, streamed from rows.csv.

Every text cell is defused (see ``neutralize``), stored as text (never a formula or an error
code) and cut to what Excel can hold; a status with more rows than one sheet can hold continues
on the next sheet. A report wider than ``EXCEL_MAX_COLUMNS`` is not built at all (the writer
says so in summary.json): past it Excel calls the workbook corrupt, and openpyxl gives up.
"""

from __future__ import annotations

import contextlib
import csv
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from importer.lifecycle import Reason, Status
from importer.report.cells import neutralize
from importer.report.totals import Totals

STATUS_ORDER = (
    Status.CREATED,
    Status.CONFLICTED,
    Status.FAILED,
    Status.DUPLICATE,
    Status.SKIPPED,
)
"""The order of the per-status sheets in report.xlsx."""

EXCEL_MAX_ROWS = 1_048_576
"""Rows per sheet that Excel can open, header included."""

EXCEL_MAX_CHARS = 32_767
"""Characters per cell that Excel can hold."""

EXCEL_MAX_COLUMNS = 16_384
"""Columns per sheet that Excel can open (XFD)."""

WIDTH_SAMPLE_ROWS = 200
"""Rows per sheet looked at to size its columns."""

MIN_WIDTH, MAX_WIDTH = 8, 60

_NUMERIC_COLUMNS = frozenset({0, 4, 6})  # source_row, http_status, attempts
_STATUS_COLUMN = 1
_SUMMARY_HEADER = ("Field", "Value")
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill(fill_type="solid", fgColor="DDEBF7")


def write_xlsx(target: IO[bytes], rows_csv: Path, meta: Mapping[str, Any], totals: Totals) -> None:
    """Build report.xlsx into ``target`` from the summary and rows.csv, streaming the rows.

    Args:
        target: The open file to write the workbook into.
        rows_csv: The finished rows.csv, at most ``EXCEL_MAX_COLUMNS`` wide.
        meta: Facts about the run for the Summary sheet.
        totals: The counts for the Summary sheet.
    """
    book = Workbook(write_only=True)
    _write_summary_sheet(book, meta, totals)
    with rows_csv.open(encoding="utf-8-sig", newline="") as file, _any_field_size():
        reader = csv.reader(file)
        header = next(reader)
        sheets = {status.value: _StatusSheets(book, status, header) for status in STATUS_ORDER}
        for row in reader:
            sheets[row[_STATUS_COLUMN]].append(row)
    for status_sheets in sheets.values():
        status_sheets.close()
    book.save(target)


@contextlib.contextmanager
def _any_field_size() -> Iterator[None]:
    """Read rows.csv whatever its cells' length: the run's own file, already accepted."""
    previous = csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _write_summary_sheet(book: Workbook, meta: Mapping[str, Any], totals: Totals) -> None:
    """Add the Summary sheet: the run's facts, the totals and the count per reason."""
    sheet = book.create_sheet("Summary")
    rows = list(_summary_rows(meta, totals))
    texts = [[label, "" if value is None else str(value)] for label, value in rows]
    _size_columns(sheet, _column_widths(_SUMMARY_HEADER, texts))
    sheet.freeze_panes = "A2"
    sheet.append(_header_cells(sheet, _SUMMARY_HEADER))
    for label, value in rows:
        if value is None:
            sheet.append([_bold_cell(sheet, label)] if label else [])
        else:
            sheet.append([_text(sheet, label), _value_cell(sheet, value)])


def _summary_rows(
    meta: Mapping[str, Any], totals: Totals
) -> Iterator[tuple[str, str | int | None]]:
    """Yield the Summary sheet's label-value pairs; a value of None marks a section title."""
    for key, value in meta.items():
        yield _label(key), _render(value)
    yield "", None
    yield "Totals", None
    for key, count in totals.as_dict().items():
        yield _label(key), count
    yield "", None
    yield "Rows per reason", None
    known = [reason.value for reason in Reason]
    for reason in [*known, *sorted(set(totals.by_reason) - set(known))]:
        if reason in totals.by_reason:
            yield reason, totals.by_reason[reason]


def _label(key: str) -> str:
    """Turn a snake_case key into a label for people."""
    return key.replace("_", " ").capitalize()


def _render(value: Any) -> str | int:
    """Render a meta value as a cell: whole numbers stay numbers, the rest becomes text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {_render(item)}" for key, item in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(_render(item)) for item in value)
    return str(value)


class _StatusSheets:
    """Spread one status's rows over as many sheets as Excel's row limit needs."""

    def __init__(self, book: Workbook, status: Status, header: Sequence[str]) -> None:
        """Open the status's first sheet; its header is written with the first rows."""
        self._book = book
        self._status = status
        self._header = header
        self._max_rows = EXCEL_MAX_ROWS - 1  # read at run time so tests can lower it
        self._parts: list[_TableSheet] = []
        self._current = self._open_part()

    def append(self, row: list[str]) -> None:
        """Add one rows.csv line, starting the next sheet when this one is full."""
        if self._current.rows >= self._max_rows:
            self._current.close()
            self._current = self._open_part()
        self._current.append(row)

    def close(self) -> None:
        """Write what is still buffered and finish the last sheet."""
        self._current.close()

    def _open_part(self) -> _TableSheet:
        """Create the next sheet right after this status's previous one."""
        number = len(self._parts) + 1
        title = self._status.value if number == 1 else f"{self._status.value} ({number})"
        index = None if not self._parts else self._book.index(self._parts[-1].sheet) + 1
        part = _TableSheet(self._book.create_sheet(title, index), self._header)
        self._parts.append(part)
        return part


class _TableSheet:
    """Write a header and rows to one write-only sheet, sizing columns from the first rows."""

    def __init__(self, sheet: Any, header: Sequence[str]) -> None:
        """Wrap ``sheet``; nothing is written until enough rows arrive to size the columns."""
        self.sheet = sheet
        self.rows = 0
        self._header = header
        self._pending: list[list[str]] | None = []

    def append(self, row: list[str]) -> None:
        """Add one row below the header."""
        self.rows += 1
        if self._pending is None:
            self.sheet.append(_report_cells(self.sheet, row))
            return
        self._pending.append(row)
        if len(self._pending) >= WIDTH_SAMPLE_ROWS:
            self._flush()

    def close(self) -> None:
        """Write any buffered rows and put the autofilter over the whole table."""
        self._flush()
        last = get_column_letter(max(len(self._header), 1))
        self.sheet.auto_filter.ref = f"A1:{last}{self.rows + 1}"

    def _flush(self) -> None:
        """Size the columns from the buffered rows, then write the header and those rows."""
        if self._pending is None:
            return
        _size_columns(self.sheet, _column_widths(self._header, self._pending))
        self.sheet.freeze_panes = "A2"
        self.sheet.append(_header_cells(self.sheet, self._header))
        for row in self._pending:
            self.sheet.append(_report_cells(self.sheet, row))
        self._pending = None


def _column_widths(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[int]:
    """Return a width per column from the header and the given rows, clamped to 8..60."""
    widths = [len(name) for name in header]
    for row in rows:
        for index, value in enumerate(row[: len(widths)]):
            longest_line = max((len(line) for line in value.splitlines()), default=0)
            widths[index] = max(widths[index], longest_line)
    return [min(max(width + 2, MIN_WIDTH), MAX_WIDTH) for width in widths]


def _size_columns(sheet: Any, widths: Sequence[int]) -> None:
    """Set the sheet's column widths; a write-only sheet needs them before its first row."""
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width


def _header_cells(sheet: Any, names: Sequence[str]) -> list[Any]:
    """Return the header row: bold text on a fill colour."""
    cells = [_bold_cell(sheet, name) for name in names]
    for cell in cells:
        cell.fill = _HEADER_FILL
    return cells


def _bold_cell(sheet: Any, text: str) -> Any:
    """Return a bold text cell."""
    cell = _text_cell(sheet, text)
    cell.font = _HEADER_FONT
    return cell


def _report_cells(sheet: Any, row: Sequence[str]) -> list[Any]:
    """Return the cells of one rows.csv line: numbers for the numeric columns, text otherwise."""
    return [
        _number_or_text(sheet, value) if index in _NUMERIC_COLUMNS else _text(sheet, value)
        for index, value in enumerate(row)
    ]


def _number_or_text(sheet: Any, value: str) -> Any:
    """Return an int for a whole number, nothing for an empty value, else a text cell."""
    if value.isdecimal():
        return int(value)
    return None if value == "" else _text(sheet, value)


def _value_cell(sheet: Any, value: str | int) -> Any:
    """Return a Summary value: numbers as they are, text as a defused text cell."""
    return value if isinstance(value, int) else _text(sheet, value)


def _text(sheet: Any, value: str) -> Any:
    """Return what to append for this text: the plain string when openpyxl types it as text."""
    text = _xlsx_text(value)
    if text.startswith("=") or text in ERROR_CODES:
        return _text_cell(sheet, text)
    return text  # a cell object per value would cost a fifth of the run time


def _text_cell(sheet: Any, value: str) -> Any:
    """Return a cell that Excel shows as this text, never as a formula or an error code."""
    cell = WriteOnlyCell(sheet, value=_xlsx_text(value))
    cell.data_type = "s"
    return cell


def _xlsx_text(value: str) -> str:
    """Drop characters Excel refuses, defuse formulas and cut the text to Excel's cell limit."""
    return neutralize(ILLEGAL_CHARACTERS_RE.sub("", value))[:EXCEL_MAX_CHARS]
