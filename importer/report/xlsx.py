"""Build report.xlsx: a Summary sheet, then one sheet per status, as rows.csv is written.

The workbook is SpreadsheetML written directly into a zip (openpyxl took 11 s per 100,000
rows; this takes a small fraction of that). Each batch of rows.csv's fields, as the writer
wrote them, becomes row XML column-wise (``sheetxml``) and is spooled per sheet in private
temporary files (``ReportSheets``) until ``write_xlsx`` assembles the workbook, so memory
stays flat however many rows there are, and rows.csv is never read back.

What it holds: every failed, conflicted and duplicate row (the rows a person acts on), and the
first ``MAX_OTHER_ROWS`` created and skipped rows, in input order; the Summary sheet and
summary.json (``shown_notes``) say when rows were left out, and rows.csv always has every row.
A status with more rows than one sheet can hold continues on the next sheet ("failed (2)").

Every text cell is defused (``cells.neutralize``), stored as an inline string (never a formula
or an error code), rid of the characters XML cannot hold and cut to what Excel can hold. A
report wider than ``EXCEL_MAX_COLUMNS`` is not built at all (the writer says so in
summary.json): past it Excel calls the workbook corrupt.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from importer.lifecycle import Reason, Status
from importer.read.records import column_letter
from importer.report.sheetxml import EXCEL_MAX_CHARS, concatenated, rows_xml, text_xml
from importer.report.totals import Totals
from importer.report.zipstream import DeflatedPart, ZipWriter, deflated_text

__all__ = [
    "EXCEL_MAX_CHARS",
    "EXCEL_MAX_COLUMNS",
    "EXCEL_MAX_ROWS",
    "MAX_OTHER_ROWS",
    "STATUS_ORDER",
    "ReportSheets",
    "TableSheet",
    "shown_notes",
    "write_table_xlsx",
    "write_xlsx",
]

STATUS_ORDER = (
    Status.CREATED,
    Status.CONFLICTED,
    Status.FAILED,
    Status.DUPLICATE,
    Status.SKIPPED,
)
"""The order of the per-status sheets in report.xlsx."""

CAPPED = (Status.CREATED, Status.SKIPPED)
"""Statuses of which report.xlsx shows at most ``MAX_OTHER_ROWS`` rows; the others, all."""

MAX_OTHER_ROWS = 10_000
"""Rows of each capped status that report.xlsx shows (the first ones, in input order).

The workbook is for the rows a person acts on, which it shows every one of; of the rows that
need nothing (``created``, and ``skipped`` in a dry run) a sample is enough to see what they
look like, and rows.csv has them all. 10,000 rather than 100,000 nearly halves the workbook's
cost and size for a million-row sheet with 10% of problem rows."""

EXCEL_MAX_ROWS = 1_048_576
"""Rows per sheet that Excel can open, header included."""

EXCEL_MAX_COLUMNS = 16_384
"""Columns per sheet that Excel can open (XFD)."""

WIDTH_SAMPLE_ROWS = 200
"""Rows per sheet looked at to size its columns."""

XML_BATCH_ROWS = 16_384
XML_BATCH_BYTES = 8 << 20
"""Rows (or bytes of text) of a sheet gathered before they become XML: Arrow's cost per call
spread over many rows, and a wide sheet's batch still small."""

MIN_WIDTH, MAX_WIDTH = 8, 60

_NUMERIC_COLUMNS = frozenset({0, 4, 6})  # source_row, http_status, attempts
_STATUS_COLUMN = 1
_SUMMARY_HEADER = ("Field", "Value")
_HEADER_STYLE, _TITLE_STYLE = 1, 2  # cellXfs in _STYLES: bold on a fill, bold


def shown_notes(totals: Totals) -> list[str]:
    """Return what a person should know about the rows report.xlsx leaves out, if any."""
    return [
        f"report.xlsx shows the first {MAX_OTHER_ROWS:,} of the {count:,} {status.value} rows; "
        "rows.csv has every row"
        for status in CAPPED
        if (count := getattr(totals, status.value)) > MAX_OTHER_ROWS
    ]


class ReportSheets:
    """report.xlsx's sheets of rows, filled while rows.csv is written, their XML spooled aside.

    Every batch of rows.csv's fields (as written, defused) is sorted onto its status's sheets,
    as far as a capped status's cap allows; ``write_xlsx`` then assembles the workbook.
    """

    def __init__(self, header: Sequence[str], folder: Path) -> None:
        """Start the sheets of a report whose rows.csv has ``header``, spooled in ``folder``."""
        self.header = list(header)
        self.folder = folder
        """Where the sheets' rows are spooled (the run's hidden work folder)."""
        self._statuses = [
            _StatusRows(
                status, self.header, folder, cap=MAX_OTHER_ROWS if status in CAPPED else None
            )
            for status in STATUS_ORDER
        ]

    @property
    def parts(self) -> list[_Part]:
        """Return the worksheets of rows, in book order."""
        return [part for rows in self._statuses for part in rows.parts]

    def add(self, fields: Sequence[pa.Array]) -> None:
        """Add a batch of rows.csv's rows, given as its columns of text, in input order."""
        open_rows = [rows for rows in self._statuses if not rows.full]
        if not open_rows or not len(fields[0]):
            return
        statuses = fields[_STATUS_COLUMN]
        titles = pa.array([rows.title for rows in open_rows], statuses.type)
        which = pc.index_in(statuses, value_set=titles).fill_null(-1).to_numpy(False)
        for number, rows in enumerate(open_rows):
            positions = np.flatnonzero(which == number)[: rows.room]
            if len(positions):
                taken = pa.array(positions)
                rows.add([column.take(taken) for column in fields])

    def close(self) -> None:
        """Drop the spooled rows."""
        for part in self.parts:
            part.body.discard()


class TableSheet:
    """A workbook of one table's rows (such as to_fix.csv's), filled as the table is written."""

    def __init__(self, header: Sequence[str], title: str, folder: Path) -> None:
        """Start the sheet ``title`` under ``header``, its rows spooled in ``folder``."""
        self.header = list(header)
        self._rows = _StatusRows(title, self.header, folder, cap=None, numeric=frozenset())

    @property
    def parts(self) -> list[_Part]:
        """Return the worksheets, ``title``, then ``title (2)``... past Excel's row limit."""
        return self._rows.parts

    def add(self, columns: Sequence[pa.Array]) -> None:
        """Append a batch of rows, given as its columns of text (already defused)."""
        if len(columns[0]):
            self._rows.add(list(columns))

    def close(self) -> None:
        """Drop the spooled rows."""
        for part in self.parts:
            part.body.discard()


def write_xlsx(
    target: IO[bytes], sheets: ReportSheets, meta: Mapping[str, Any], totals: Totals
) -> None:
    """Build report.xlsx into ``target``: the Summary sheet, then the spooled sheets of rows.

    Args:
        target: The open file to write the workbook into.
        sheets: The rows, at most ``EXCEL_MAX_COLUMNS`` wide, sorted while rows.csv was written.
        meta: Facts about the run for the Summary sheet.
        totals: The counts for the Summary sheet.
    """
    _write_package(target, sheets.header, _summary_part(meta, totals), sheets.parts)


def write_table_xlsx(target: IO[bytes], table: TableSheet) -> None:
    """Write one table of the report (such as to_fix.csv) as a workbook of its rows.

    Every row is kept, in order, continuing on ``title (2)``... past Excel's row limit; cells
    stay text, as the CSV has them (already defused).
    """
    _write_package(target, table.header, None, table.parts)


@dataclass(slots=True)
class _Part:
    """One worksheet of rows: its XML deflated into a spool as it comes.

    Its columns are sized by a sample of its first rows: those added before its first XML is
    written (up to ``WIDTH_SAMPLE_ROWS``; fewer only for a sheet so wide that a batch of them
    reaches ``XML_BATCH_BYTES``).
    """

    title: str
    header: Sequence[str]
    body: DeflatedPart
    numeric: frozenset[int] = _NUMERIC_COLUMNS
    """The columns written as numbers (the report's row number, HTTP status, attempts)."""
    rows: int = 0
    """The rows added, written or pending."""
    sample: list[list[str]] = field(default_factory=list)
    pending: list[Sequence[pa.Array]] = field(default_factory=list)
    """Batches added but not yet turned into XML: a few large batches cost less than many."""
    pending_rows: int = 0
    pending_bytes: int = 0
    started: bool = False

    def add(self, columns: Sequence[pa.Array]) -> None:
        """Append a batch of rows below the ones already added."""
        wanted = WIDTH_SAMPLE_ROWS - len(self.sample)
        if wanted > 0:
            head = [column.slice(0, wanted).to_pylist() for column in columns]
            self.sample.extend(list(row) for row in zip(*head, strict=True))
        self.pending.append(columns)
        self.pending_rows += len(columns[0])
        self.pending_bytes += sum(column.nbytes for column in columns)
        self.rows += len(columns[0])
        if self.pending_rows >= XML_BATCH_ROWS or self.pending_bytes >= XML_BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write the pending rows' XML."""
        if not self.pending:
            return
        self._start()
        columns = [pa.concat_arrays(parts) for parts in zip(*self.pending, strict=True)]
        first = self.rows - self.pending_rows + 2
        self.body.write(concatenated(rows_xml(columns, first, self.numeric)))
        self.pending, self.pending_rows, self.pending_bytes = [], 0, 0

    def finish(self) -> DeflatedPart:
        """Write the rest of the worksheet and return it, closed."""
        self.flush()
        self._start()
        self.body.write(_sheet_tail(_table_ref(len(self.header), self.rows)).encode())
        self.body.close()
        return self.body

    def _start(self) -> None:
        """Write the worksheet's start and its header row, sized by the sample, once."""
        if not self.started:
            widths = _column_widths(self.header, self.sample)
            self.body.write((_sheet_head(widths) + _header_row(self.header)).encode())
            self.started = True


class _StatusRows:
    """Spread one status's rows over as many sheets as Excel's row limit needs, up to a cap."""

    def __init__(
        self,
        status: Status | str,
        header: Sequence[str],
        spools: Path,
        *,
        cap: int | None = None,
        numeric: frozenset[int] = _NUMERIC_COLUMNS,
    ) -> None:
        self.title = status.value if isinstance(status, Status) else status
        """The sheet's name, and the status its rows have."""
        self._header = header
        self._spools = spools
        self._cap = cap
        self._numeric = numeric
        self._per_sheet = EXCEL_MAX_ROWS - 1  # read at run time so tests can lower it
        self.shown = 0
        self.parts: list[_Part] = []
        self.parts.append(self._new_part())

    @property
    def full(self) -> bool:
        """Return whether the cap is reached, so that later rows are left out."""
        return self._cap is not None and self.shown >= self._cap

    @property
    def room(self) -> int | None:
        """Return how many more rows the cap lets in (None: no cap)."""
        return None if self._cap is None else max(self._cap - self.shown, 0)

    def add(self, columns: list[pa.Array]) -> None:
        """Add a batch of this status's rows, in input order, as far as the cap allows."""
        count = len(columns[0])
        if self._cap is not None:
            count = min(count, self._cap - self.shown)
        start = 0
        while start < count:
            if self.parts[-1].rows >= self._per_sheet:
                self.parts.append(self._new_part())
            part = self.parts[-1]
            taken = min(count - start, self._per_sheet - part.rows)
            part.add([column.slice(start, taken) for column in columns])
            start += taken
        self.shown += count

    def _new_part(self) -> _Part:
        number = len(self.parts) + 1
        title = self.title if number == 1 else f"{self.title} ({number})"
        spool = tempfile.TemporaryFile(dir=self._spools)  # noqa: SIM115 (closed by discard)
        body = DeflatedPart(spool)
        return _Part(title, self._header, body, numeric=self._numeric)


# --- The package ---------------------------------------------------------------------------

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

_STYLES = (
    f'{_DECLARATION}<styleSheet xmlns="{_MAIN}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/><bgColor indexed="64"/>'
    "</patternFill></fill></fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


@dataclass(frozen=True, slots=True)
class _SummaryPart:
    """The Summary sheet, small enough to build as one string."""

    rows_xml: str
    widths: list[int]


def _write_package(
    target: IO[bytes],
    header: Sequence[str],
    summary: _SummaryPart | None,
    parts: Sequence[_Part],
) -> None:
    """Write the zip: content types, relationships, workbook, styles, then every sheet."""
    first = [] if summary is None else ["Summary"]
    titles = [*first, *(part.title for part in parts)]
    rows = [part.rows for part in parts]
    small = {
        "[Content_Types].xml": _content_types(len(titles)),
        "_rels/.rels": _package_rels(),
        "xl/workbook.xml": _workbook(titles, rows, header, skip=len(first)),
        "xl/_rels/workbook.xml.rels": _workbook_rels(len(titles)),
        "xl/styles.xml": _STYLES,
    }
    if summary is not None:
        sheet = _sheet_head(summary.widths) + summary.rows_xml + _sheet_tail(None)
        small["xl/worksheets/sheet1.xml"] = sheet
    book = ZipWriter(target)
    for name, text in small.items():
        book.add(name, deflated_text(text, io.BytesIO()))
    for number, part in enumerate(parts, start=len(first) + 1):
        book.add(f"xl/worksheets/sheet{number}.xml", part.finish())
    book.close()


def _content_types(sheets: int) -> str:
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{_TYPE}.worksheet+xml"/>'
        for n in range(1, sheets + 1)
    )
    return (
        f"{_DECLARATION}"
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_TYPE}.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_TYPE}.styles+xml"/>'
        f"{overrides}</Types>"
    )


def _package_rels() -> str:
    return (
        f'{_DECLARATION}<Relationships xmlns="{_PACKAGE_RELS}">'
        f'<Relationship Id="rId1" Type="{_RELS}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )


def _workbook(
    titles: Sequence[str], rows: Sequence[int], header: Sequence[str], *, skip: int = 1
) -> str:
    """Return workbook.xml: the sheets in order, and each table sheet's autofilter range.

    The first ``skip`` sheets (the Summary) have no filter.
    """
    sheets = "".join(
        f'<sheet name="{_attribute(title)}" sheetId="{n}" r:id="rId{n}"/>'
        for n, title in enumerate(titles, start=1)
    )
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{index}" hidden="1">'
        f"{escape(_quoted_title(title))}!{_absolute(_table_ref(len(header), count))}"
        "</definedName>"
        for index, (title, count) in enumerate(zip(titles[skip:], rows, strict=True), start=skip)
    )
    return (
        f'{_DECLARATION}<workbook xmlns="{_MAIN}" xmlns:r="{_RELS}">'
        f"<bookViews><workbookView/></bookViews><sheets>{sheets}</sheets>"
        f"<definedNames>{filters}</definedNames></workbook>"
    )


def _workbook_rels(sheets: int) -> str:
    links = "".join(
        f'<Relationship Id="rId{n}" Type="{_RELS}/worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, sheets + 1)
    )
    styles = f'<Relationship Id="rId{sheets + 1}" Type="{_RELS}/styles" Target="styles.xml"/>'
    return f'{_DECLARATION}<Relationships xmlns="{_PACKAGE_RELS}">{links}{styles}</Relationships>'


def _sheet_head(widths: Sequence[int]) -> str:
    """Return a worksheet's start: the frozen header, the column widths.

    It has no ``<dimension>`` (an optional hint): it is written before the rows are counted.
    """
    columns = "".join(
        f'<col min="{n}" max="{n}" width="{w}" customWidth="1"/>'
        for n, w in enumerate(widths, start=1)
    )
    return (
        f'{_DECLARATION}<worksheet xmlns="{_MAIN}" xmlns:r="{_RELS}">'
        '<sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/><cols>{columns}</cols><sheetData>'
    )


def _sheet_tail(table: str | None) -> str:
    autofilter = f'<autoFilter ref="{table}"/>' if table else ""
    return f"</sheetData>{autofilter}</worksheet>"


def _table_ref(width: int, rows: int | None) -> str:
    """Return the range of a header and ``rows`` rows below it, ``width`` columns wide."""
    return f"A1:{column_letter(max(width, 1) - 1)}{(rows or 0) + 1}"


def _absolute(reference: str) -> str:
    """Return a range such as ``A1:J9`` as ``$A$1:$J$9``."""
    cells = []
    for cell in reference.split(":"):
        letters = cell.rstrip("0123456789")
        cells.append(f"${letters}${cell[len(letters) :]}")
    return ":".join(cells)


def _quoted_title(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _attribute(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def _header_row(names: Sequence[str]) -> str:
    cells = "".join(
        _text_cell(column_letter(i), 1, name, _HEADER_STYLE) for i, name in enumerate(names)
    )
    return f'<row r="1">{cells}</row>'


def _text_cell(letter: str, row: int, value: str, style: int = 0) -> str:
    styled = f' s="{style}"' if style else ""
    return (
        f'<c r="{letter}{row}"{styled} t="inlineStr"><is><t xml:space="preserve">'
        f"{text_xml(value)}</t></is></c>"
    )


def _column_widths(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[int]:
    """Return a width per column from the header and the given rows, clamped to 8..60."""
    widths = [len(name) for name in header]
    for row in rows:
        for index, value in enumerate(row[: len(widths)]):
            longest_line = max((len(line) for line in value.splitlines()), default=0)
            widths[index] = max(widths[index], longest_line)
    return [min(max(width + 2, MIN_WIDTH), MAX_WIDTH) for width in widths]


# --- The Summary sheet ---------------------------------------------------------------------


def _summary_part(meta: Mapping[str, Any], totals: Totals) -> _SummaryPart:
    """Return the Summary sheet: the run's facts, the totals, the count per reason, what shows."""
    rows = list(_summary_rows(meta, totals))
    texts = [["" if value is None else str(value) for value in row] for row in rows]
    lines = [_summary_line(1, _SUMMARY_HEADER, _HEADER_STYLE)]
    for number, (label, value) in enumerate(rows, start=2):
        if value is None:
            lines.append(_summary_line(number, [label] if label else [], _TITLE_STYLE))
        else:
            lines.append(_summary_line(number, [label, value]))
    return _SummaryPart("".join(lines), _column_widths(_SUMMARY_HEADER, texts))


def _summary_line(number: int, values: Sequence[str | int], style: int = 0) -> str:
    cells = "".join(
        f'<c r="{column_letter(i)}{number}"><v>{value}</v></c>'
        if isinstance(value, int)
        else _text_cell(column_letter(i), number, value, style)
        for i, value in enumerate(values)
    )
    return f'<row r="{number}">{cells}</row>'


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
    yield "", None
    yield "Rows in this workbook", None
    capped = ", ".join(status.value for status in CAPPED)
    yield (
        "Shown",
        (
            f"every row of the other statuses, and at most {MAX_OTHER_ROWS:,} rows each of "
            f"{capped} (the first ones); rows.csv has every row"
        ),
    )
    for note in shown_notes(totals):
        yield "Left out", note


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
