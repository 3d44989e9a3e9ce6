"""Turn the values calamine gives into the text a person typed or sees, a cell or a column at once.

Whole numbers without ".0" (phones, ids, zips), other numbers as Python writes them, numbers
with a number format worth applying through it (``formats``), dates and times in ISO 8601
(``2025-07-01``, ``2025-07-01T09:30:00``, ``09:30:00``), durations as Excel's [h]:mm:ss,
booleans as TRUE and FALSE. ``row_text`` does it a cell at a time, the reference;
``column_text`` gives the same text a column at a time: a column of strings goes to Arrow as it
is, a column of numbers, integers or booleans is turned into text by column operations (numbers
formatted with zeros, ``00000`` or ``(000) 000-0000``, too), a column of several kinds a kind at
a time, and only what they do not cover (numbers with a fraction, percentages, dates and times,
other kinds) goes cell by cell.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from importer.read.columns import TEXT, text_column
from importer.read.formats import NumberText, ZeroPadded, number_text

__all__ = ["column_text", "row_text"]

_EXACT_FLOAT_LIMIT = 2.0**53


def row_text(
    row: Sequence[Any], formats: Mapping[int, NumberText] | None, first_col: int
) -> list[str]:
    """Return a row's values as text, its numbers shown through their formats if they have one.

    Args:
        row: The row's values, as calamine gives them.
        formats: How the row's formatted cells show numbers, by 0-based sheet column.
        first_col: The sheet column of the row's first value.
    """
    text = _TEXT.get
    cells = [value if type(value) is str else text(type(value), str)(value) for value in row]
    for column, show in (formats or {}).items():
        index = column - first_col
        if 0 <= index < len(row) and type(row[index]) is float:
            cells[index] = show(row[index])
    return cells


def column_text(values: list[Any], shown: Sequence[tuple[int, NumberText]] = ()) -> pa.Array:
    """Return a column of values as text, as ``row_text`` gives each.

    Args:
        values: The column's values, as calamine gives them.
        shown: The cells with a number format worth applying: position and how it shows.
    """
    kinds = set(map(type, values))
    if len(kinds) > 1 and kinds <= _BY_COLUMN_OPERATIONS:
        return _mixed(values, kinds, shown)
    kind = kinds.pop() if len(kinds) == 1 else None
    by_column = _COLUMN_TEXT.get(kind) if kind is not None else None
    if by_column is None:
        return text_column(_cells_text(values, shown))
    column = by_column(values)
    if kind is not float:  # only numbers are shown through a format
        return column
    by_format: dict[NumberText, list[int]] = {}
    for position, show in shown:
        by_format.setdefault(show, []).append(position)
    for show, positions in by_format.items():
        numbers = [values[position] for position in positions]
        if isinstance(show, ZeroPadded):
            texts = show.column(np.array(numbers, dtype=np.float64))
        else:
            texts = pa.array(list(map(show, numbers)), TEXT)
        column = pc.replace_with_mask(column, _mask(len(values), positions), texts)
    return column


def _mixed(
    values: list[Any], kinds: set[type], shown: Sequence[tuple[int, NumberText]]
) -> pa.Array:
    """Return a column of values of several kinds as text, each kind by its own column
    operation (dates among datetimes, numbers among strings)."""
    cells = np.empty(len(values), dtype=object)
    cells[:] = values
    types = np.empty(len(values), dtype=object)
    types[:] = list(map(type, values))
    formats = dict(shown)
    column = pa.repeat(pa.scalar("", TEXT), len(values))
    for kind in kinds:
        where = types == kind
        positions: list[int] = np.flatnonzero(where).tolist()
        kept = [(index, formats[at]) for index, at in enumerate(positions) if at in formats]
        part = column_text(cells[where].tolist(), kept if formats else ())
        column = pc.replace_with_mask(column, pa.array(where), part)
    return column


def _cells_text(values: list[Any], shown: Sequence[tuple[int, NumberText]]) -> list[str]:
    """Return a column's values as text, a cell at a time."""
    text = _TEXT.get
    cells = [value if type(value) is str else text(type(value), str)(value) for value in values]
    for position, show in shown:
        value = values[position]
        if type(value) is float:
            cells[position] = show(value)
    return cells


def _mask(length: int, positions: list[int]) -> pa.Array:
    """Return a boolean array of ``length``, true at the positions given."""
    mask = np.zeros(length, dtype=bool)
    mask[positions] = True
    return pa.array(mask)


def _strings(values: list[str]) -> pa.Array:
    """Return strings as Arrow text."""
    return text_column(values)


def _numbers(values: list[float]) -> pa.Array:
    """Return numbers as ``number_text`` writes them: whole ones as integers, by a column
    operation; the few with a fraction (or too large to be exact) cell by cell."""
    numbers = np.array(values, dtype=np.float64)
    whole = (np.floor(numbers) == numbers) & (np.abs(numbers) < _EXACT_FLOAT_LIMIT)
    column = pc.cast(pa.array(np.where(whole, numbers, 0).astype(np.int64)), TEXT)
    if whole.all():
        return column
    others = np.flatnonzero(~whole)
    texts = pa.array([number_text(float(numbers[position])) for position in others], TEXT)
    return pc.replace_with_mask(column, pa.array(~whole), texts)


def _integers(values: list[int]) -> pa.Array:
    """Return integers as text (those past 64 bits cell by cell)."""
    try:
        return pc.cast(pa.array(values, pa.int64()), TEXT)
    except (pa.ArrowInvalid, OverflowError):
        return text_column([str(value) for value in values])


def _booleans(values: list[bool]) -> pa.Array:
    """Return booleans as TRUE and FALSE."""
    return pc.if_else(pa.array(values, pa.bool_()), "TRUE", "FALSE").cast(TEXT)


def _datetimes(values: list[dt.datetime]) -> pa.Array:
    """Return dates and times in ISO 8601, a cell at a time: Python's datetimes reach numpy or
    Arrow no faster than ``isoformat`` turns them into text."""
    return text_column(list(map(_datetime_text, values)))


def _dates(values: list[dt.date]) -> pa.Array:
    """Return dates in ISO 8601, a cell at a time (as for datetimes)."""
    return text_column(list(map(dt.date.isoformat, values)))


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

_COLUMN_TEXT: dict[type, Callable[[Any], pa.Array]] = {
    str: _strings,
    float: _numbers,
    int: _integers,
    bool: _booleans,
    dt.datetime: _datetimes,
    dt.date: _dates,
}
"""How a column of values all of one kind becomes text, by that kind: by column operations, but
for dates and times (``_datetimes``)."""

_BY_COLUMN_OPERATIONS = frozenset((str, float, int, bool))
"""The kinds ``_COLUMN_TEXT`` turns into text by column operations: a column mixing only these
is taken a kind at a time; one mixing others, cell by cell (no faster a kind at a time)."""
