"""Find the header among a sheet's numbered records, and the data records after it.

Both readers yield every record of a sheet with the row number a spreadsheet app shows for it;
this module names the header's columns and drops blank rows, the same way for both kinds.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Sequence
from pathlib import Path

from importer.errors import InputError

__all__ = ["Records", "data_records", "header_columns", "is_blank"]

Records = Generator[tuple[int, list[str]], None, None]
"""Every record of a sheet with its row number, header and blank rows included."""


def header_columns(
    records: Iterable[tuple[int, list[str]]], path: Path, first_col: int = 0
) -> tuple[str, ...]:
    """Return the unique column names from the first non-blank record."""
    for _, cells in records:
        if not is_blank(cells):
            return _unique_columns(cells, first_col)
    raise InputError(f"{path} has no header row (it holds only blank rows); add one")


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
        base = name or f"Column {_column_letter(first_col + position)}"
        unique, count = base, 1
        while unique in taken:
            count += 1
            unique = f"{base} ({count})"
        taken.add(unique)
        columns.append(unique)
    return tuple(columns)


def _column_letter(index: int) -> str:
    """Return the spreadsheet letters of a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def is_blank(cells: Sequence[str]) -> bool:
    """Return whether every cell is empty or whitespace."""
    return not "".join(cells).strip()


def data_records(records: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    """Yield the non-blank records after the header (the first non-blank record)."""
    for _, cells in records:
        if not is_blank(cells):
            break
    for number, cells in records:
        if not is_blank(cells):
            yield number, cells
