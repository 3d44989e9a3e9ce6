"""Bring mapped values to their normal form, the same for every vendor.

Text is NFC-normalized and trimmed, runs of spaces become one (line breaks kept only in notes),
emails are lower-cased, enum values take the vendor's spelling, the numbers Excel stored for
phones and zips lose their ".0", and empty cells become missing (absent).

The work is done a column at a time with Arrow's compute functions, whose results are exactly
Python's for these steps: the whitespace they collapse is the set ``str.isspace`` names
(``WHITESPACE``), and the steps whose Unicode rules differ between Arrow and Python (lower case,
``\\d``) run in Arrow on ASCII values only, in Python on the few others. Values come back as
pandas' Arrow-backed ``str`` dtype, missing (NaN) where empty.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from importer.contracts.contract import FieldSpec, split_list

__all__ = [
    "MULTILINE_CONCEPTS",
    "NUMERIC_TEXT_CONCEPTS",
    "TEXT",
    "arrow_text",
    "none_if_empty",
    "normalize_text",
    "normalize_values",
    "text_series",
]

TEXT = pd.StringDtype("pyarrow", na_value=np.nan)
"""pandas' default string dtype (``dtype=str``), Arrow-backed: the dtype of mapped values."""

# Concepts whose line breaks are content (kept), unlike a name's or an email's.
MULTILINE_CONCEPTS = frozenset({"notes"})

# Concepts where Google Contacts puts several values in one cell ("a@x.io ::: b@y.io"); a field
# that takes one value takes the first. After whitespace is collapsed the separator is " ::: ".
FIRST_OF_MANY_CONCEPTS = frozenset({"email", "phone"})
_MORE_VALUES = r" ::: .*$"

# Concepts whose values spreadsheets like to turn into numbers ("94102.0", "4155550123.0").
NUMERIC_TEXT_CONCEPTS = frozenset({"phone", "postal_code"})
_WHOLE_NUMBER = re.compile(r"^(\d+)\.0+$")

WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
"""Every character Python's ``\\s`` and ``str.strip()`` take for whitespace (29 of them)."""
_SPACE_CLASS = "".join(f"\\x{{{ord(char):x}}}" for char in WHITESPACE)


def normalize_values(values: pd.Series, spec: FieldSpec) -> pd.Series:
    """Trim, NFC-normalize and (for emails) lower-case; empty text becomes missing.

    A field that lists a set (an order's offer ids) keeps its distinct values in their order,
    joined by ``;`` (dedupe compares them as a set).
    """
    text = _normalized(arrow_text(values), multiline=spec.concept in MULTILINE_CONCEPTS)
    if spec.type == "array" and spec.array is None:
        text = _by_unique(text, _as_list)
    elif spec.concept in FIRST_OF_MANY_CONCEPTS and _any(pc.match_substring(text, " ::: ")):
        text = pc.replace_substring_regex(text, _MORE_VALUES, "")
    if spec.concept == "email" or spec.format == "email":
        text = _ascii_or_python(text, pc.utf8_lower, str.lower)
    if spec.enum:
        canonical = {value.casefold(): value for value in spec.enum}
        text = _by_unique(text, lambda cell: canonical.get(cell.casefold(), cell))
    if spec.concept in NUMERIC_TEXT_CONCEPTS and _any(pc.match_substring(text, ".0")):
        text = _ascii_or_python(
            text,
            lambda ascii: pc.replace_substring_regex(ascii, r"^([0-9]+)\.0+$", r"\1"),
            lambda cell: _WHOLE_NUMBER.sub(r"\1", cell),
        )
    if spec.as_set:
        text = _by_unique(text, lambda cell: ";".join(dict.fromkeys(split_list(cell))))
    return text_series(_absent_if_empty(text), values.index)


def _as_list(cell: str) -> str:
    """Return a list cell with its items separated by ``;``, whatever the export used.

    Google Contacts writes ``a ::: b``, Mailchimp ``"a","b"``, most others ``a, b`` or
    ``a; b``: a field that takes a list splits on each.
    """
    items = re.sub(r"\s*(?:,|:::|;|\|)\s*", ";", cell)
    return re.sub(r'(?:^|(?<=;))"([^";]*)"(?=;|$)', r"\1", items)


def normalize_text(values: pd.Series, *, multiline: bool = False) -> pd.Series:
    """Return the values as NFC text, trimmed, runs of spaces made one (lines kept if asked).

    Missing values become empty text; the result has the ``TEXT`` dtype.
    """
    return text_series(_normalized(arrow_text(values), multiline=multiline), values.index)


def none_if_empty(text: pd.Series) -> pd.Series:
    """Return normalized text with empty cells as missing (absent)."""
    return text.where(text != "")


def _any(flags: pa.Array) -> bool:
    """Return whether any flag is set: a substring search first spares a regex pass."""
    return bool(pc.any(flags).as_py())


def _absent_if_empty(text: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)


def arrow_text(values: pd.Series) -> pa.Array:
    """Return a column's cells as Arrow text, a missing cell as empty.

    Raises:
        TypeError: When a cell is neither text nor missing (Arrow refuses to guess).
    """
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        array = pa.array(values.array)
        if isinstance(array, pa.ChunkedArray):  # a frame built by concatenation: one piece
            array = array.combine_chunks()
    else:
        cells = values.to_numpy(dtype=object)
        try:
            array = pa.array(cells, pa.large_string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers from a caller's own frame
            array = pa.array([_cell_text(cell) for cell in cells], pa.large_string())
    return array.fill_null("") if array.null_count else array


def text_series(array: pa.Array, index: pd.Index) -> pd.Series:
    """Return Arrow text as a pandas ``TEXT`` series over ``index``, without copying."""
    return pd.Series(pd.array(array, dtype=TEXT), index=index, copy=False)


def _cell_text(cell: object) -> str | None:
    return None if cell is None or (isinstance(cell, float) and np.isnan(cell)) else str(cell)


def _normalized(text: pa.Array, *, multiline: bool) -> pa.Array:
    """Return the text NFC-normalized, trimmed, with runs of whitespace made one space.

    Arrow finds the few values whose whitespace is not already so (a tab, two spaces, a space
    at either end); only those are rewritten, by Python's own rules.
    """
    text = _nfc(text)
    unusual = pc.match_substring_regex(text, _UNUSUAL_LINES if multiline else _UNUSUAL_SPACES)
    if not pc.any(unusual).as_py():
        return text
    return _where(text, unusual, _tidy_lines if multiline else _tidy_spaces)


_OTHER_SPACE = "[" + _SPACE_CLASS.replace("\\x{20}", "") + "]"
_UNUSUAL_SPACES = f"{_OTHER_SPACE}|  |^ | $"
_UNUSUAL_LINES = _OTHER_SPACE.replace("\\x{a}", "") + "|  | \n|\n |^[ \n]|[ \n]$"


def _tidy_spaces(cell: str) -> str:
    """Return a cell with runs of whitespace made one space, trimmed (Python's ``\\s``)."""
    return " ".join(cell.split())


def _tidy_lines(cell: str) -> str:
    """Return a cell with its line breaks kept as ``\\n`` and other runs of whitespace one space."""
    cell = re.sub(r"[^\S\n]+", " ", re.sub(r"\r\n?", "\n", cell))
    return re.sub(r" ?\n ?", "\n", cell).strip()


def _nfc(text: pa.Array) -> pa.Array:
    """Return the text in NFC, as ``unicodedata`` normalizes it.

    ASCII text is already NFC. Arrow normalizes the rest; a value Arrow changes is normalized
    again by ``unicodedata``, so a difference in Unicode versions cannot make Arrow's answer
    the one kept.
    """
    other = pc.invert(pc.string_is_ascii(text))
    if not pc.any(other).as_py():
        return text
    changed = pc.and_(other, pc.not_equal(pc.utf8_normalize(text, "NFC"), text))
    if not pc.any(changed).as_py():
        return text
    return _where(text, changed, lambda cell: unicodedata.normalize("NFC", cell))


def _ascii_or_python(
    text: pa.Array, arrow: Callable[[pa.Array], pa.Array], python: Callable[[str], str]
) -> pa.Array:
    """Apply a step with Arrow to the ASCII values and with Python to the others."""
    done = arrow(text)
    other = pc.invert(pc.string_is_ascii(text))
    return _where(done, other, python, source=text) if pc.any(other).as_py() else done


def _where(
    text: pa.Array,
    mask: pa.Array,
    python: Callable[[str], str],
    *,
    source: pa.Array | None = None,
) -> pa.Array:
    """Return ``text`` with the values at ``mask`` replaced by ``python`` of ``source``'s."""
    positions = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    values = (text if source is None else source).take(pa.array(positions)).to_pylist()
    replaced = pa.array([python(value) for value in values], pa.large_string())
    picks = np.arange(len(text))
    picks[positions] = len(text) + np.arange(len(positions))
    return pa.concat_arrays([text.cast(pa.large_string()), replaced]).take(pa.array(picks))


def _by_unique(text: pa.Array, python: Callable[[str], str]) -> pa.Array:
    """Apply ``python`` once per distinct value (an enum's few, a list field's cells)."""
    encoded = pc.dictionary_encode(text)
    uniques = encoded.dictionary.to_pylist()
    mapped = pa.array([python(value) for value in uniques], pa.large_string())
    return mapped.take(encoded.indices)
