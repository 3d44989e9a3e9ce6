"""Find a sheet's header row: the first row, unless rows above the table look like a title.

Exports often start with a title block: ``Leads export``, ``Generated 2025-07-01``, a blank
line, then the real header. The header is the widest row among the first ``HEADER_SEARCH_ROWS``
non-blank rows that

- looks like a header: two or more non-empty cells, all distinct, mostly names rather than
  values (a number, a date, an email address, a web address, TRUE or FALSE: at most one cell
  in four);
- reaches further right than every row above it, none of which fills more than two cells (or a
  third of the header's width, for wide sheets): what a title block is made of; a title row of
  two names ("Report, Leads") needs a header two columns wider;
- has rows below it, most of which reach further right than the title block did; or, in a
  header-only export, has three names or more under title lines of one cell of text each.

A row that names a column common in exports ("Email", "Full Name", "Phone", ...) is never taken
for a title: a header whose other names are blank looks just like a one-cell title line.

So a sheet's first row stays its header whenever it is as wide as most rows below it, whatever
they hold: a data row of text is never taken for the header, and a true header never skipped.
When no row qualifies, the first non-blank row is the header, as it always was (a title block
of wide rows stays where it is: ``--header-row N`` names the row).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from importer.errors import InputError
from importer.read.limits import FLAGS, ReadLimits
from importer.read.records import BrokenRecord, NoHeaderError, column_letter, is_blank

__all__ = ["HEADER_SEARCH_ROWS", "Header", "find_header"]

HEADER_SEARCH_ROWS = 30
"""How many non-blank rows from the top may hold the header (rows above it are a title)."""

_LOOKAHEAD = 10
"""How many rows below a header candidate show whether the table is as wide as it."""

HEADER_ROW_FLAG = "--header-row"
"""The option that names the header row."""

_VALUE = re.compile(
    r"""[-+(]?[$€£¥]?\s*\d[\d,.\s]*%?\)?          # a number, an amount, a percentage
    |\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([T\s].*)?   # a date, maybe with a time
    |\d{1,2}:\d{2}(:\d{2})?\s*([ap]\.?m\.?)?    # a time
    |[^\s@]+@[^\s@]+\.[^\s@]+                   # an email address
    |(https?://|www\.)\S+                       # a web address
    |true|false""",
    re.IGNORECASE | re.VERBOSE,
)
"""Cells that hold a value rather than a column's name."""

_COLUMNS = frozenset(
    (
        "name", "full name", "first name", "last name", "contact name", "email", "e-mail",
        "email address", "e-mail address", "phone", "phone number", "mobile", "mobile phone",
        "company", "company name", "organization", "address", "street", "city", "state", "zip",
        "zip code", "postal code", "postcode", "country", "website", "id",
    )
)  # fmt: skip
"""Column names common in exports (compared ignoring case): a row naming one is a header, so
never a title to skip, whatever its shape (a header whose other names are blank looks like a
one-cell title line over a wider table)."""


@dataclass(frozen=True, slots=True)
class Header:
    """A sheet's header row and what it names.

    Attributes:
        row: Its row number, as a spreadsheet app shows it.
        columns: Its cells, trimmed and made unique ("Email (2)", "Column C" for a blank).
        notes: What a person should know about how it was found: rows skipped above it, or a
            header that does not look like one; one sentence each.
    """

    row: int
    columns: tuple[str, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the header search needs to know of a row."""

    span: int
    """The position of its last non-empty cell, counted from 1."""
    filled: int
    """How many of its cells are not empty."""
    values: tuple[str, ...]
    """Its non-empty cells that hold a value rather than a name."""
    distinct: bool
    """Whether its non-empty cells all differ, ignoring case."""
    names_a_column: bool
    """Whether one of its cells is a column name common in exports ("Email", "Full Name")."""

    @classmethod
    def of(cls, cells: Sequence[str]) -> _Shape:
        """Return the shape of a row of cells."""
        texts = [cell.strip() for cell in cells]
        filled = [text for text in texts if text]
        span = max((position + 1 for position, text in enumerate(texts) if text), default=0)
        values = tuple(text for text in filled if _VALUE.fullmatch(text))
        folded = {text.casefold() for text in filled}
        return cls(span, len(filled), values, len(folded) == len(filled), bool(folded & _COLUMNS))

    @property
    def single_text(self) -> bool:
        """Return whether the row is one cell of text: what a title line is."""
        return self.filled == 1 and not self.values

    @property
    def header_like(self) -> bool:
        """Return whether the row could name columns: two or more distinct names, mostly text.

        One name in four may look like a value ("2024"); two or three names may not.
        """
        return self.filled >= 2 and self.distinct and len(self.values) * 4 <= self.filled


def find_header(
    records: Iterable[tuple[int, list[str] | BrokenRecord]],
    path: Path,
    limits: ReadLimits,
    first_col: int = 0,
    row: int | None = None,
) -> Header:
    """Find the header among a sheet's first records, or take the row given.

    Args:
        records: The sheet's records from its first row, numbered, blank ones included.
        path: The file, for messages.
        limits: What the header may hold (its number of columns).
        first_col: The 0-based column of the records' first cell, to name blank headers.
        row: The header's row number, when the user gave it; else it is found.

    Raises:
        NoHeaderError: If the sheet holds only blank rows.
        InputError: If the header is broken or wider than the limit, or the row given is
            blank or past the end of the sheet.
    """
    if row is not None:
        return _given_header(records, path, limits, first_col, row)
    sample = _sample(records, path)
    if not sample:
        raise NoHeaderError(f"{path} has no header row (it holds only blank rows); add one")
    shapes = [_Shape.of(cells) for _, cells in sample]
    chosen = _header_index(shapes)
    number, cells = sample[chosen]
    columns = _columns(number, cells, path, limits, first_col)
    if chosen:
        first = sample[0][0]
        verbs = ("looks", "is") if first == number - 1 else ("look", "are")
        note = (
            f"the header is on row {number}: {_rows_above(first, number - 1)} {verbs[0]} like"
            f" a title and {verbs[1]} skipped ({HEADER_ROW_FLAG} N picks another row)"
        )
        return Header(number, columns, (note,))
    if shapes[0].values and not shapes[0].header_like:
        shown = ", ".join(repr(value) for value in shapes[0].values[:3])
        note = (
            f"row {number} is taken as the header, but it holds values, not column names"
            f" ({shown}); if the header is another row, pass {HEADER_ROW_FLAG} N"
        )
        return Header(number, columns, (note,))
    return Header(number, columns)


def _sample(
    records: Iterable[tuple[int, list[str] | BrokenRecord]], path: Path
) -> list[tuple[int, list[str]]]:
    """Return the first non-blank records, as many as the search looks at.

    A broken record, or a record that cannot be read, ends the sample unless it comes first:
    it is a data row, whose problem reading the data reports with the rows before it.
    """
    sample: list[tuple[int, list[str]]] = []
    rows = iter(records)
    while len(sample) < HEADER_SEARCH_ROWS + _LOOKAHEAD:
        try:
            number, cells = next(rows)
        except StopIteration:
            break
        except InputError:
            if not sample:
                raise
            break
        if isinstance(cells, BrokenRecord):
            if not sample:
                raise InputError(f"{path}: the header (row {number}) {cells.message}")
            break
        if not is_blank(cells):
            sample.append((number, cells))
    return sample


def _header_index(shapes: Sequence[_Shape]) -> int:
    """Return the index of the header row among the first non-blank rows (0: the first)."""
    chosen = 0
    for index, shape in enumerate(shapes[:HEADER_SEARCH_ROWS]):
        above = shapes[:index]
        if any(row.names_a_column for row in above):
            break  # a row naming "Email" or "Full Name" is a header, never a title
        if index and shape.header_like and _title_above(shape, above, shapes[index + 1 :]):
            chosen = index
    return chosen


def _title_above(header: _Shape, above: Sequence[_Shape], below: Sequence[_Shape]) -> bool:
    """Return whether the rows above a header-like row are a title over its table.

    They are if each is narrower than the header and fills at most two cells (a third of the
    header's width on wide sheets), and most rows below reach further right than any of them.
    A row of two or more names ("Report, Leads"; or a narrow table's own header, over a wider
    row) needs a header two columns wider at least. With no rows below (a header-only export),
    the title must be lines of one cell of text, over a header of three names or more.
    """
    widest = max(row.span for row in above)
    if widest >= header.span or any(row.filled > max(2, header.span // 3) for row in above):
        return False
    if any(row.header_like for row in above) and header.span < widest + 2:
        return False
    below = below[:_LOOKAHEAD]
    if not below:
        return header.filled >= 3 and all(row.single_text for row in above)
    return 2 * sum(row.span > widest for row in below) > len(below)


def _given_header(
    records: Iterable[tuple[int, list[str] | BrokenRecord]],
    path: Path,
    limits: ReadLimits,
    first_col: int,
    row: int,
) -> Header:
    """Return the header on the row the user gave, naming the rows above it that are skipped.

    Raises:
        InputError: If that row is blank, broken, or past the end of the sheet.
    """
    if row < 1:
        raise InputError(f"{HEADER_ROW_FLAG} must be a row number of 1 or more, not {row}")
    first_filled: int | None = None
    last = 0
    for number, cells in records:
        last = number
        if number < row:
            if first_filled is None and not is_blank(cells):
                first_filled = number
            continue
        if number > row or is_blank(cells):
            break
        if isinstance(cells, BrokenRecord):
            raise InputError(f"{path}: the header (row {number}) {cells.message}")
        columns = _columns(number, cells, path, limits, first_col)
        if first_filled is None:
            return Header(number, columns)
        verb = "is" if first_filled == row - 1 else "are"
        note = (
            f"the header is on row {row} ({HEADER_ROW_FLAG}):"
            f" {_rows_above(first_filled, row - 1)} {verb} skipped"
        )
        return Header(number, columns, (note,))
    if last >= row:
        raise InputError(
            f"{path}: row {row}, given as the header ({HEADER_ROW_FLAG}), is blank; give the"
            " number of the row that names the columns"
        )
    raise InputError(
        f"{path} has no row {row}, given as the header ({HEADER_ROW_FLAG}): its last row is"
        f" {last}; give the number of the row that names the columns"
    )


def _rows_above(first: int, last: int) -> str:
    """Return "row 3 above it" or "rows 1-3 above it"."""
    return f"row {first} above it" if first == last else f"rows {first}-{last} above it"


def _columns(
    number: int, cells: Sequence[str], path: Path, limits: ReadLimits, first_col: int
) -> tuple[str, ...]:
    """Return a header row's unique column names, within the column limit.

    Raises:
        InputError: If the header has more columns than the limit.
    """
    columns = _unique_columns(cells, first_col)
    if len(columns) > limits.max_columns:
        raise InputError(
            f"{path}: the header (row {number}) has {len(columns):,} columns, more than"
            f" the limit of {limits.max_columns:,}; raise it with {FLAGS['max_columns']} N"
        )
    return columns


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
        base = name or f"Column {column_letter(first_col + position)}"
        unique, count = base, 1
        while unique in taken:
            count += 1
            unique = f"{base} ({count})"
        taken.add(unique)
        columns.append(unique)
    return tuple(columns)
