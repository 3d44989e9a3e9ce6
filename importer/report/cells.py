"""Make cell values safe to open: defused against CSV injection (OWASP).

A spreadsheet app runs a cell as a formula when its text starts with ``=``, ``+``, ``-`` or
``@``; apps also take their full-width (U+FF1D, U+FF0B, U+FF0D, U+FF20) and small-form
(U+FE66, U+FE62, U+FE63, U+FE6B) twins, skip leading blanks, line breaks and invisible
characters (zero-width space, byte order mark...) before them, and some run a bare
``DDE(...)`` or a ``cmd|' /C calc'!A0`` remote reference. Such a value gets a leading ``'``,
which every spreadsheet app shows as text; everything else is left alone.

As OWASP recommends, this also quotes harmless values that look like formulas: a phone number
``+1 555 0100`` becomes ``'+1 555 0100`` and a negative number ``-5`` becomes ``'-5``. The
source sheet and the vendor keep the value as it was; only the report shows the quote.

Quotes that try to close a cell and start a new one (``x",=1+1`` or ``x;=1+1`` for a
semicolon-separated locale) are the CSV writer's job: the report files quote every field.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_BLANKS = (
    r"\s\"\x00-\x20\x7f-\xa0\xad\u061c\u180e\u200b-\u200f\u2028-\u202f\u205f-\u2064"
    r"\u2066-\u206f\u3000\ufeff\ufff9-\ufffb\U000e0000-\U000e007f"
)
"""What an app may skip before a formula: white space, line breaks, control and zero-width
characters, byte order marks, direction marks, and a double quote that tries to end a cell."""

_TRIGGERS = "=+\\-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b"
"""The characters that start a formula: ASCII, full-width and small-form ``= + - @``."""

_LIVE = re.compile(
    rf"""
    [\t\r]                          # OWASP: a tab or carriage return first, on its own
    | [{_BLANKS}]*                  # anything an app may skip, then
      (?: [{_TRIGGERS}]             #   a formula trigger
        | dde \s* \(                #   a bare DDE( call
        | [\w.]+ \| [^!]* !         #   a DDE remote reference: cmd|' /C calc'!A0
      )
    """,
    re.IGNORECASE | re.VERBOSE,
)


def neutralize(value: str) -> str:
    """Prefix a value a spreadsheet app could run as a formula with a single quote.

    The result is never live and neutralizing it again leaves it as it is.

    Args:
        value: A cell value as it will be written.

    Returns:
        The value, with a leading ``'`` if it starts (after any blanks, line breaks, invisible
        characters or double quotes) with ``= + - @`` or their full-width or small-form twins,
        ``DDE(`` or a ``cmd|...!`` reference, or if it starts with a tab or carriage return.
    """
    return "'" + value if _LIVE.match(value) else value


_ADDED_QUOTE = re.compile("'(?=" + _LIVE.pattern + "\n)", re.IGNORECASE | re.VERBOSE)


def strip_added_quotes(values: pd.Series) -> pd.Series:
    """Remove the leading ``'`` that ``neutralize`` put before a value, where it did.

    For a file the tool wrote and a person gives back (a fixed to_fix.csv): the value then
    reaches the vendor as it was typed. A quote before anything ``neutralize`` leaves alone
    (``'tis``) stays.
    """
    text = values.astype(object).fillna("").astype(str)
    return text.str.replace(_ADDED_QUOTE, "", n=1, regex=True)


_MAYBE_LIVE = (
    r"^[\t\r]|^[^\pL\pN]*(?:[=+\-@\x{ff1d}\x{ff0b}\x{ff0d}\x{ff20}\x{fe66}\x{fe62}\x{fe63}\x{fe6b}]"
    r"|(?i:dde))|\|"
)
"""A superset of what ``neutralize`` defuses, in RE2 syntax: a value it would change has a tab
or CR first, a formula trigger or ``dde`` after characters that are neither letters nor digits
(every character an app may skip is one of those), or the ``|`` of a remote reference. A value
that starts with ``'`` is never changed."""

_RISKY_FIRST = np.zeros(256, dtype=bool)
_RISKY_FIRST[[*range(0x21), ord('"'), *b"=+-@", *range(0x7F, 0x100)]] = True
"""First bytes of a value ``neutralize`` may change whatever follows: a blank, a control or
non-ASCII character (every other blank, and the full-width and small-form triggers, are
non-ASCII), a double quote, or a formula trigger. ``d`` and ``|`` are looked at apart."""

_SURE_FIRST = np.zeros(256, dtype=bool)
_SURE_FIRST[[*b"\t\r=+-@"]] = True
"""First bytes that make ``neutralize`` quote a value whatever follows."""

_D = np.zeros(256, dtype=bool)
_D[[*b"dD", *range(0x80, 0x100)]] = True
_E = np.zeros(256, dtype=bool)
_E[[*b"eE", *range(0x80, 0x100)]] = True


def neutralize_column(values: pa.Array) -> pa.Array:
    """Return ``neutralize`` of every value of an Arrow string array (no nulls).

    The first bytes of each value (and whether it holds a ``|``) pick, with numpy, the few
    values ``neutralize`` might change; a value that starts with a formula trigger is quoted
    at once, and the rest of those are narrowed by Arrow's regex engine and then go through
    ``neutralize`` one at a time. The result is exactly ``neutralize``'s, at a fraction of its
    cost: a usual column costs one scan of its bytes for ``|`` and three bytes per value.
    """
    sure, unsure = _quote_candidates(values)
    if unsure.any():
        positions = np.flatnonzero(unsure)
        maybe = values.take(pa.array(positions))
        regex = pc.match_substring_regex(maybe, _MAYBE_LIVE).to_numpy(zero_copy_only=False)
        positions, texts = positions[regex], maybe.filter(pa.array(regex)).to_pylist()
        live = np.array([_LIVE.match(text) is not None for text in texts], dtype=bool)
        sure[positions[live]] = True
    if not sure.any():
        return values
    if sure.all():  # a column of phone numbers such as +1 555 0100
        return pc.binary_join_element_wise(
            pa.scalar("'", values.type), values, pa.scalar("", values.type)
        )
    quoted = pc.binary_join_element_wise(
        pa.scalar("'", values.type), values.filter(pa.array(sure)), pa.scalar("", values.type)
    )
    return pc.replace_with_mask(values, pa.array(sure), quoted)


def _quote_candidates(values: pa.Array) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Return which values ``neutralize`` surely quotes, and which it might, by their bytes."""
    starts, ends, data = string_bytes(values)
    count = len(starts)
    if not len(data):
        return np.zeros(count, dtype=bool), np.zeros(count, dtype=bool)
    filled = ends > starts
    first = data[np.minimum(starts, len(data) - 1)]
    first = np.where(filled, first, ord("'"))  # an empty value is never changed
    sure = _SURE_FIRST[first]
    unsure = _RISKY_FIRST[first] & ~sure
    # "dde(" (any case): the second and third bytes say whether a "d" value may be one
    d_first = np.flatnonzero(((first | 0x20) == ord("d")) & (ends - starts >= 3))
    if len(d_first):
        at = starts[d_first]
        unsure[d_first] |= _D[data[at + 1]] & _E[data[at + 2]]
    pipes = byte_positions(data[starts[0] : ends[-1]], b"|") if count else np.empty(0, np.int64)
    if len(pipes):  # a remote reference, such as cmd|' /C calc'!A0
        rows = np.unique(np.searchsorted(ends, pipes + starts[0], side="right"))
        unsure[rows] |= first[rows] != ord("'")
    return sure, unsure


SCAN_BYTES = 1 << 22
"""Bytes looked through at a time for a byte: a copy this size at most, however long a cell."""


def holds(data: npt.NDArray[np.uint8], byte: bytes) -> bool:
    """Return whether ``data`` holds ``byte`` (a fast search, a slice at a time)."""
    return any(
        byte in data[start : start + SCAN_BYTES].tobytes()
        for start in range(0, len(data), SCAN_BYTES)
    )


def byte_positions(data: npt.NDArray[np.uint8], byte: bytes) -> npt.NDArray[np.int64]:
    """Return where ``byte`` is in ``data``, looked for a slice at a time."""
    found = [
        np.flatnonzero(part == byte[0]) + start
        for start in range(0, len(data), SCAN_BYTES)
        if byte in (part := data[start : start + SCAN_BYTES]).tobytes()
    ]
    return np.concatenate(found).astype(np.int64) if found else np.empty(0, np.int64)


def string_bytes(
    values: pa.Array,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """Return where each value of an Arrow string array starts and ends in its bytes, and them.

    No copy is made: the offsets and the bytes are the array's own buffers, seen by numpy.
    """
    width = np.int64 if pa.types.is_large_string(values.type) else np.int32
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=width)[
        values.offset : values.offset + len(values) + 1
    ]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.empty(0, np.uint8)
    )
    wide: npt.NDArray[np.int64] = offsets.astype(np.int64, copy=False)
    return wide[:-1], wide[1:], data


def csv_text(value: object) -> str:
    """Return a sheet value as defused text; a missing value becomes empty."""
    if isinstance(value, str):
        return neutralize(value)
    if value is None or pd.isna(value):  # type: ignore[call-overload]
        return ""
    return neutralize(str(value))
