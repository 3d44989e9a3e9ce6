"""Bring mapped values to their normal form, the same for every vendor.

Text is NFC-normalized and trimmed, runs of spaces become one (line breaks kept only in notes),
emails are lower-cased, enum values take the vendor's spelling, the numbers Excel stored for
phones and zips lose their ".0", and empty cells become None (absent).
"""

from __future__ import annotations

import pandas as pd

from importer.contracts.contract import FieldSpec, split_list

__all__ = [
    "MULTILINE_CONCEPTS",
    "NUMERIC_TEXT_CONCEPTS",
    "none_if_empty",
    "normalize_text",
    "normalize_values",
]

# Concepts whose line breaks are content (kept), unlike a name's or an email's.
MULTILINE_CONCEPTS = frozenset({"notes"})

# Concepts where Google Contacts puts several values in one cell ("a@x.io ::: b@y.io"); a field
# that takes one value takes the first.
FIRST_OF_MANY_CONCEPTS = frozenset({"email", "phone"})
_MORE_VALUES = r"\s+:::\s.*$"

# Concepts whose values spreadsheets like to turn into numbers ("94102.0", "4155550123.0").
NUMERIC_TEXT_CONCEPTS = frozenset({"phone", "postal_code"})


def normalize_values(values: pd.Series, spec: FieldSpec) -> pd.Series:
    """Trim, NFC-normalize and (for emails) lower-case; empty text becomes None.

    A field that lists a set (an order's offer ids) keeps its distinct values in their order,
    joined by ``;`` (dedupe compares them as a set).
    """
    text = normalize_text(values, multiline=spec.concept in MULTILINE_CONCEPTS)
    if spec.type == "array" and spec.array is None:
        text = _as_list(text)
    elif spec.concept in FIRST_OF_MANY_CONCEPTS:
        text = text.str.replace(_MORE_VALUES, "", regex=True)
    if spec.concept == "email" or spec.format == "email":
        text = text.str.lower()
    if spec.enum:
        canonical = {value.casefold(): value for value in spec.enum}
        text = text.map(lambda cell: canonical.get(cell.casefold(), cell))
    if spec.concept in NUMERIC_TEXT_CONCEPTS:
        text = text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    if spec.as_set:
        text = text.map(lambda cell: ";".join(dict.fromkeys(split_list(cell))))
    return none_if_empty(text)


def _as_list(text: pd.Series) -> pd.Series:
    """Return list cells with their items separated by ``;``, whatever the export used.

    Google Contacts writes ``a ::: b``, Mailchimp ``"a","b"``, most others ``a, b`` or
    ``a; b``: a field that takes a list splits on each.
    """
    items = text.str.replace(r"\s*(?:,|:::|;|\|)\s*", ";", regex=True)
    return items.str.replace(r'(?:^|(?<=;))"([^";]*)"(?=;|$)', r"\1", regex=True)


def normalize_text(values: pd.Series, *, multiline: bool = False) -> pd.Series:
    """Return the values as NFC text, trimmed, runs of spaces made one (lines kept if asked)."""
    text = values.astype(object).fillna("").astype(str).str.normalize("NFC")
    if multiline:
        text = text.str.replace(r"\r\n?", "\n", regex=True).str.replace(
            r"[^\S\n]+", " ", regex=True
        )
        return text.str.replace(r" ?\n ?", "\n", regex=True).str.strip()
    return text.str.replace(r"\s+", " ", regex=True).str.strip()


def none_if_empty(text: pd.Series) -> pd.Series:
    """Return normalized text with empty cells as None (absent)."""
    return text.astype(object).where(text != "", None)
