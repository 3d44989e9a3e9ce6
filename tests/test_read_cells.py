"""A workbook column turned into text at once reads as its cells turned into text one by one.

``cells.column_text`` takes column operations where a column holds values of one kind; on any
mix of the values calamine gives (numbers whole, fractional, huge, negative zero, infinite or
not a number; integers past 64 bits; booleans; dates and times with and without fractions of a
second; durations; strings; None), some of them formatted, it must give what ``row_text`` gives
each cell.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from importer.read.cells import column_text, row_text
from importer.read.formats import format_text
from tests.test_fuzz import FUZZ

FORMATS = [format_text(code) for code in ("00000", "(000) 000-0000", "0%", "000-00-0000")]

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**12), 10**12).map(float),
    st.sampled_from([0.0, -0.0, 2.0**53, 2.0**53 - 1, -(2.0**53), 1e300, 0.1, 2134.0, 0.125]),
)
values = st.one_of(
    numbers,
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    st.dates(),
    st.times(),
    st.timedeltas(),
    st.text(max_size=5),
    st.none(),
)
kinds = st.sampled_from(
    [
        numbers,
        st.datetimes(),
        st.dates(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.one_of(st.datetimes(), st.dates()),
        st.one_of(numbers, st.text(max_size=5)),
    ]
)


@st.composite
def columns(draw: st.DrawFn) -> tuple[list[Any], list[tuple[int, Any]]]:
    """Return a column of values, of one kind or mixed, and some of its cells' formats."""
    kind = draw(st.one_of(kinds, st.just(values)))
    column = draw(st.lists(kind, min_size=1, max_size=30))
    positions = draw(st.sets(st.integers(0, len(column) - 1), max_size=len(column)))
    shown = [(position, draw(st.sampled_from(FORMATS))) for position in sorted(positions)]
    return column, shown


@settings(FUZZ)
@given(columns())
def test_a_column_reads_as_its_cells(column_and_formats: tuple[list[Any], list]) -> None:
    column, shown = column_and_formats
    formats = dict(shown)
    expected = [row_text([value], {0: formats[row]} if row in formats else None, 0)[0]
                for row, value in enumerate(column)]  # fmt: skip
    assert column_text(column, shown).to_pylist() == expected


def test_datetimes_keep_milliseconds_only_where_they_have_a_fraction() -> None:
    column = [dt.datetime(2025, 7, 1, 9, 30), dt.datetime(1900, 1, 1, 0, 0, 1, 123_999)]
    assert column_text(column).to_pylist() == ["2025-07-01T09:30:00", "1900-01-01T00:00:01.123"]


def test_numbers_are_written_as_typed_and_through_their_format() -> None:
    column = [2134.0, 4155550123.0, 12.5, -0.0]
    zips = format_text("00000")
    assert column_text(column, [(0, zips)]).to_pylist() == ["02134", "4155550123", "12.5", "0"]
