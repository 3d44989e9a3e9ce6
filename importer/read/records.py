"""Find the header among a sheet's numbered records, and the data records after it.

Both readers yield every record of a sheet with the row number a spreadsheet app shows for it;
this module names the header's columns and drops blank rows, the same way for both kinds. A
record the reader could not take as it stands (a cell over the length limit) comes as a
``BrokenRecord``: its row fails with the message, and reading goes on.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from importer.errors import InputError
from importer.read.limits import FLAGS, ReadLimits

__all__ = [
    "BrokenRecord",
    "NoHeaderError",
    "Records",
    "column_letter",
    "data_records",
    "header_columns",
    "is_blank",
]


class NoHeaderError(InputError):
    """Raised when a sheet holds only blank rows, so it has no header row."""


@dataclass(frozen=True, slots=True)
class BrokenRecord:
    """A record that cannot be imported as it stands; its row fails with ``message``.

    Attributes:
        message: Why, for a person, a clause to follow "row": "has a cell of more than ...",
            with the limit and the option that raises it.
        cells: What could be kept of the row's cells, for the report; may be empty.
    """

    message: str
    cells: list[str] = field(default_factory=list)


Records = Generator[tuple[int, list[str] | BrokenRecord], None, None]
"""Every record of a sheet with its row number, header and blank rows included."""


def header_columns(
    records: Iterable[tuple[int, list[str] | BrokenRecord]],
    path: Path,
    limits: ReadLimits,
    first_col: int = 0,
) -> tuple[str, ...]:
    """Return the unique column names from the first non-blank record.

    Raises:
        NoHeaderError: If there is no such record.
        InputError: If the header is broken or has more columns than the limit.
    """
    for number, cells in records:
        if isinstance(cells, BrokenRecord):
            raise InputError(f"{path}: the header (row {number}) {cells.message}")
        if not is_blank(cells):
            columns = _unique_columns(cells, first_col)
            if len(columns) > limits.max_columns:
                raise InputError(
                    f"{path}: the header (row {number}) has {len(columns):,} columns, more than"
                    f" the limit of {limits.max_columns:,}; raise it with"
                    f" {FLAGS['max_columns']} N"
                )
            return columns
    raise NoHeaderError(f"{path} has no header row (it holds only blank rows); add one")


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


def column_letter(index: int) -> str:
    """Return the spreadsheet letters of a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def is_blank(cells: Sequence[str] | BrokenRecord) -> bool:
    """Return whether every cell is empty or whitespace (a broken record never is)."""
    return not isinstance(cells, BrokenRecord) and not "".join(cells).strip()


def data_records(
    records: Iterator[tuple[int, list[str] | BrokenRecord]], path: Path, limits: ReadLimits
) -> Iterator[tuple[int, list[str] | BrokenRecord]]:
    """Yield the non-blank records after the header (the first non-blank record).

    Raises:
        InputError: When a row number passes ``limits.max_rows``.
    """
    for _, cells in records:
        if not is_blank(cells):
            break
    for number, cells in records:
        if number > limits.max_rows:
            raise InputError(
                f"{path}: row {number:,} is past the limit of {limits.max_rows:,} rows; split"
                f" the file, or raise the limit with {FLAGS['max_rows']} N"
            )
        if not is_blank(cells):
            yield number, cells
