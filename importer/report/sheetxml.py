"""Turn report rows into SpreadsheetML ``<row>`` elements a column at a time, with Arrow.

A million-row report cannot afford a Python object per cell: each column of a batch is
cleaned, defused, cut and escaped by Arrow's string kernels, and only the rare value that may
start a formula goes through ``cells.neutralize`` one at a time. Every text cell is an inline
string, so no cell can be read as a formula or an error code; whole numbers in the numeric
columns are numbers.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from importer.read.records import column_letter
from importer.report.cells import neutralize, neutralize_column

EXCEL_MAX_CHARS = 32_767
"""Characters per cell that Excel can hold."""

TEXT = pa.large_string()
"""The type of every column handed to this module (64-bit offsets: no batch can overflow)."""

_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]"
"""Characters XML 1.0 cannot hold (RE2 syntax); they are dropped, as openpyxl does."""

_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_NUMBER = r"^[0-9]{1,15}$"
"""A whole number Excel holds exactly."""


def text_xml(value: str) -> str:
    """Return a value as safe cell text, escaped for XML: one cell at a time, for small sheets."""
    text = neutralize(_ILLEGAL_RE.sub("", value))[:EXCEL_MAX_CHARS]
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def rows_xml(
    columns: Sequence[pa.Array], first_row: int, numeric: Collection[int] = ()
) -> pa.Array:
    """Return one ``<row>`` element per row of a batch, numbered from ``first_row``.

    Args:
        columns: The batch's columns, each of type ``TEXT`` without nulls.
        first_row: The sheet row number of the batch's first row.
        numeric: Positions of columns whose whole numbers are written as numbers.

    Returns:
        An array of ``TEXT``, one element per row; an empty cell is left out.
    """
    count = len(columns[0]) if columns else 0
    numbers = pa.array(np.arange(first_row, first_row + count, dtype=np.int64)).cast(TEXT)
    cells = [
        _cells(values, column_letter(index), numbers, number=index in numeric)
        for index, values in enumerate(columns)
    ]
    return pc.binary_join_element_wise(
        _text('<row r="'), numbers, _text('">'), *cells, _text("</row>"), _text("")
    )


def concatenated(elements: pa.Array) -> bytes:
    """Return the UTF-8 bytes of an array of ``TEXT`` elements, one after the other."""
    if not len(elements):
        return b""
    offsets = np.frombuffer(elements.buffers()[1], dtype=np.int64)
    start, end = offsets[elements.offset], offsets[elements.offset + len(elements)]
    data = elements.buffers()[2]
    return b"" if data is None else data[int(start) : int(end)].to_pybytes()


def _cells(values: pa.Array, letter: str, numbers: pa.Array, *, number: bool) -> pa.Array:
    """Return each value's ``<c>`` element, or an empty string for an empty value."""
    reference = (_text(f'<c r="{letter}'), numbers)
    text = _safe_text(values)
    cells = pc.binary_join_element_wise(
        *reference, _text('" t="inlineStr"><is><t xml:space="preserve">'), text,
        _text("</t></is></c>"), _text(""),
    )  # fmt: skip
    if number:
        whole = pc.match_substring_regex(values, _NUMBER)
        numbers_xml = pc.binary_join_element_wise(
            *reference, _text('"><v>'), values, _text("</v></c>"), _text("")
        )
        cells = pc.if_else(whole, numbers_xml, cells)
    return pc.if_else(pc.equal(text, ""), _text(""), cells)


def _safe_text(values: pa.Array) -> pa.Array:
    """Drop XML-illegal characters, defuse formulas, cut to Excel's limit, escape for XML."""
    text = pc.replace_substring_regex(values, _ILLEGAL, "")
    text = neutralize_column(text)
    text = pc.utf8_slice_codeunits(text, 0, EXCEL_MAX_CHARS)
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = pc.replace_substring(text, raw, escaped)
    return text


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, TEXT)
