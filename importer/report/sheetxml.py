"""Turn report rows into SpreadsheetML ``<row>`` elements a column at a time, with Arrow.

A million-row report cannot afford a Python object per cell: each column of a batch is
cleaned, defused, cut and escaped by Arrow's string kernels, and only the rare value that may
start a formula goes through ``cells.neutralize`` one at a time. Every text cell is an inline
string, so no cell can be read as a formula or an error code; whole numbers in the numeric
columns are numbers.

A row's cells carry no reference (``r="H2"``): ECMA-376 makes it optional, a cell without one
is the next column, and Excel, LibreOffice, openpyxl and calamine read it so. An empty value is
an empty ``<c/>`` to keep the cells after it in their columns. The references were a fifth of
the XML and the part deflate shrinks least: without them report.xlsx is about 40% smaller and
deflated 30% faster. ``xml:space="preserve"`` is written only on a value with white space at
an end, the one place it matters.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from importer.report.cells import holds, neutralize, neutralize_column, string_bytes

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
        An array of ``TEXT``, one element per row: a ``<c>`` per column, in order, each without
        a reference (an empty value is an empty ``<c/>``, which keeps the next in its column).
    """
    count = len(columns[0]) if columns else 0
    numbers = pa.array(np.arange(first_row, first_row + count, dtype=np.int64)).cast(TEXT)
    pieces: list[pa.Array | pa.Scalar] = [_text('<row r="'), numbers, _text('">')]
    for index, values in enumerate(columns):
        if len(pieces) > _MAX_PIECES:  # a very wide sheet: join what it has so far
            pieces = [pc.binary_join_element_wise(*pieces, _text(""))]
        pieces.extend(_cell_pieces(values, number=index in numeric))
    return pc.binary_join_element_wise(*pieces, _text("</row>"), _text(""))


_MAX_PIECES = 240
"""Pieces of a row joined in one call, at most."""

_PLAIN, _SPACED, _EMPTY, _NUMBER_CELL = range(4)
_OPENING = pa.array(
    ['<c t="inlineStr"><is><t>', '<c t="inlineStr"><is><t xml:space="preserve">', "<c/>", "<c><v>"],
    TEXT,
)
_CLOSING = pa.array(["</t></is></c>", "</t></is></c>", "", "</v></c>"], TEXT)
"""How a cell opens and closes, by its kind: text, text with white space at an end (kept only
where the cell says so), empty, or a number."""

_XML_SPACE = np.zeros(256, dtype=bool)
_XML_SPACE[[*b" \t\n\r"]] = True
"""The bytes XML calls white space."""


def _cell_pieces(values: pa.Array, *, number: bool) -> list[pa.Array | pa.Scalar]:
    """Return the pieces that join into each value's ``<c>`` element."""
    text = _safe_text(values)
    starts, ends, data = string_bytes(text)
    kind = np.zeros(len(text), dtype=np.int8)
    if len(data):
        last = len(data) - 1
        first_byte, last_byte = data[np.minimum(starts, last)], data[np.maximum(ends - 1, 0)]
        kind[_XML_SPACE[first_byte] | _XML_SPACE[last_byte]] = _SPACED
    kind[ends == starts] = _EMPTY
    if number:  # a whole number is the same text after _safe_text
        kind[pc.match_substring_regex(values, _NUMBER).to_numpy(zero_copy_only=False)] = (
            _NUMBER_CELL
        )
    if len(kind) and (kind == kind[0]).all():
        return [_OPENING[int(kind[0])], text, _CLOSING[int(kind[0])]]
    kinds = pa.array(kind)
    return [_OPENING.take(kinds), text, _CLOSING.take(kinds)]


def concatenated(elements: pa.Array) -> bytes:
    """Return the UTF-8 bytes of an array of ``TEXT`` elements, one after the other."""
    if not len(elements):
        return b""
    offsets = np.frombuffer(elements.buffers()[1], dtype=np.int64)
    start, end = offsets[elements.offset], offsets[elements.offset + len(elements)]
    data = elements.buffers()[2]
    return b"" if data is None else data[int(start) : int(end)].to_pybytes()


def _safe_text(values: pa.Array) -> pa.Array:
    """Drop XML-illegal characters, defuse formulas, cut to Excel's limit, escape for XML.

    Each step runs only on a column whose bytes show it may change something: most columns
    hold no control character, no character past U+EFFF, no value too long and no ``&<>``.
    """
    text = values
    found = _found(text)
    if found & _CONTROL_OR_HIGH:
        text = pc.replace_substring_regex(text, _ILLEGAL, "")
    text = neutralize_column(text)
    starts, ends, _ = string_bytes(text)
    if len(starts) and (ends - starts).max() > EXCEL_MAX_CHARS:  # bytes >= characters
        text = pc.utf8_slice_codeunits(text, 0, EXCEL_MAX_CHARS)
    for flag, raw, escaped in _ESCAPES:
        if found & flag:
            text = pc.replace_substring(text, raw, escaped)
    return text


_CONTROL_OR_HIGH, _AMPERSAND, _LESS, _GREATER = 1, 2, 4, 8
_ESCAPES = ((_AMPERSAND, "&", "&amp;"), (_LESS, "<", "&lt;"), (_GREATER, ">", "&gt;"))


def _found(values: pa.Array) -> int:
    """Return which of the flags above a column's bytes may need (a superset)."""
    starts, ends, data = string_bytes(values)
    if not len(starts) or not len(data):
        return 0
    raw = data[starts[0] : ends[-1]]
    if not len(raw):
        return 0
    found = 0
    if raw.min() < 0x20 or raw.max() >= 0xEF:  # a control character, or U+F000 and past it
        found |= _CONTROL_OR_HIGH
    for flag, byte in ((_AMPERSAND, b"&"), (_LESS, b"<"), (_GREATER, b">")):
        if holds(raw, byte):
            found |= flag
    return found


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, TEXT)
