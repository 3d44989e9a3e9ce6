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


_LIVE_FIRST = r"^[\t\r=+\-@\x{ff1d}\x{ff0b}\x{ff0d}\x{ff20}\x{fe66}\x{fe62}\x{fe63}\x{fe6b}]"
"""What ``neutralize`` always defuses, in RE2 syntax: a formula trigger, tab or CR first."""


def neutralize_column(values: pa.Array) -> pa.Array:
    """Return ``neutralize`` of every value of an Arrow string array (no nulls).

    Arrow's regex engine picks the values ``neutralize`` might change, and only those go
    through it, one at a time: the result is exactly ``neutralize``'s, at a fraction of the
    cost for the usual column where few values start like a formula.
    """
    maybe = pc.match_substring_regex(values, _MAYBE_LIVE)
    if pc.any(maybe).as_py():
        maybe = pc.and_(maybe, pc.invert(pc.starts_with(values, "'")))
    if not pc.any(maybe).as_py():
        return values
    candidates = values.filter(maybe)
    live = pc.match_substring_regex(candidates, _LIVE_FIRST)  # "+1 555 0100": no Python call
    quoted = pc.binary_join_element_wise(
        pa.scalar("'", values.type), candidates, pa.scalar("", values.type)
    )
    fixed = pc.if_else(live, quoted, candidates)
    if not pc.all(live).as_py():
        unsure = pc.invert(live)
        by_hand = [neutralize(value) for value in candidates.filter(unsure).to_pylist()]
        fixed = pc.replace_with_mask(fixed, unsure, pa.array(by_hand, values.type))
    return pc.replace_with_mask(values, maybe, fixed)


def csv_text(value: object) -> str:
    """Return a sheet value as defused text; a missing value becomes empty."""
    if isinstance(value, str):
        return neutralize(value)
    if value is None or pd.isna(value):  # type: ignore[call-overload]
        return ""
    return neutralize(str(value))
