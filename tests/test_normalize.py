"""The column-wise normalization (Arrow) gives exactly what Python's own rules give, cell by cell.

The reference below is the per-cell Python the map stage used before it was made column-wise:
``unicodedata`` NFC, ``re``'s Unicode ``\\s`` and ``\\d``, ``str.lower``, ``str.casefold``.
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.contracts.contract import FieldSpec, load_contract, split_list
from importer.mapping.normalize import WHITESPACE, normalize_values

LEADS = load_contract("offergrid-leads")
ORDERS = load_contract("offergrid-orders")
SPECS = [
    LEADS.field("fullName"),
    LEADS.field("email"),
    LEADS.field("phone"),
    LEADS.field("postalCode"),
    LEADS.field("source"),
    LEADS.field("notes"),
    LEADS.field("tags"),
    ORDERS.field("items[].offerId"),
]


def reference(cell: str, spec: FieldSpec) -> str | None:
    """Return what the map stage makes of one cell, by Python's rules."""
    text = unicodedata.normalize("NFC", cell)
    if spec.concept == "notes":
        text = re.sub(r"[^\S\n]+", " ", re.sub(r"\r\n?", "\n", text))
        text = re.sub(r" ?\n ?", "\n", text).strip()
    else:
        text = re.sub(r"\s+", " ", text).strip()
    if spec.type == "array" and spec.array is None:
        text = re.sub(r"\s*(?:,|:::|;|\|)\s*", ";", text)
        text = re.sub(r'(?:^|(?<=;))"([^";]*)"(?=;|$)', r"\1", text)
    elif spec.concept in ("email", "phone"):
        text = re.sub(r"\s+:::\s.*$", "", text)
    if spec.concept == "email":
        text = text.lower()
    if spec.enum:
        text = {value.casefold(): value for value in spec.enum}.get(text.casefold(), text)
    if spec.concept in ("phone", "postal_code"):
        text = re.sub(r"^(\d+)\.0+$", r"\1", text)
    if spec.as_set:
        text = ";".join(dict.fromkeys(split_list(text)))
    return text or None


# Whitespace of every kind, decomposed accents (NFC's work), digits of other scripts, the
# characters whose lower case differs between Python and Unicode's simple mapping (İ, ẞ),
# and the separators of list cells and Google Contacts' " ::: ".
ALPHABET = st.sampled_from(
    [*WHITESPACE, "a", "B", "z", "@", ".", "0", "7", "e\u0301", "\u0130", "\u1e9e", "\u0663",
     "\u00e9", "\uff21", ":::", " ::: ", ",", ";", "|", '"', "LINK", "Event", "\r\n", ".0"]
)  # fmt: skip
CELLS = st.lists(ALPHABET, max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(CELLS, min_size=1, max_size=40))
def test_every_field_kind_normalizes_as_python_would(cells: list[str]) -> None:
    for spec in SPECS:
        for dtype in (object, "str"):
            values = pd.Series(cells, dtype=dtype, index=range(5, 5 + len(cells)))
            got = normalize_values(values, spec)
            assert got.index.equals(values.index)
            assert [None if pd.isna(v) else v for v in got] == [
                reference(cell, spec) for cell in cells
            ], spec.path


def test_the_whitespace_set_is_pythons() -> None:
    assert "".join(chr(c) for c in range(0x110000) if re.fullmatch(r"\s", chr(c))) == WHITESPACE


def test_a_column_in_several_arrow_pieces_normalizes_whole() -> None:
    """A frame built by concatenation holds its text in several Arrow chunks."""
    pieces = [pd.Series(["Link", " a  b"], dtype="str"), pd.Series(["EVENT", ""], dtype="str")]
    values = pd.concat(pieces, ignore_index=True)
    got = normalize_values(values, LEADS.field("source"))
    assert [None if pd.isna(v) else v for v in got] == ["link", "a b", "event", None]
