"""Show an .xlsx sheet's numbers as Excel does where calamine cannot: by their number format.

calamine gives a cell's value, never its number format. Dates it recognises itself, and a plain
number reads well as it is ("4155550123", "12.5"), but some formats carry what the value lacks:
a zip code stored as the number 2134 with the format ``00000`` shows ``02134``. So numbers are
shown through their format when it is one of these (the rest keep the plain number, which is
what the user typed: ``1234.5``, not ``$1,234.50``):

- digits padded with zeros or set among literal characters: ``00000`` (zip codes), ``00000-0000``
  (ZIP+4), ``000000``, ``(000) 000-0000`` and ``000-000-0000`` (phones), ``000-00-0000`` (SSN),
  and Excel's phone format ``[<=9999999]###-####;(###) ###-####``; for whole numbers from 0 up
  (others keep the plain number, as no such format is meant for them);
- percentages (``0%``, ``0.00%``): the value times 100 and ``%``, at full precision, as the user
  typed it (``12.5%``; Excel may round what it shows).

The workbook's styles say which cell styles carry such a format (``styles.xml``: ``numFmts``
and ``cellXfs``); only when one does is the sheet's XML read a second time, as a stream beside
calamine's rows, to learn which cells use them (their ``s`` attribute). So a workbook without
such formats costs nothing more, and memory stays a row's worth whatever the sheet's size.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from importer.read.archive import canonical_cells, column_number, sheet_xml, styles_xml

__all__ = ["NumberText", "RowFormats", "ZeroPadded", "number_text", "sheet_formats"]

NumberText = Callable[[float], str]
"""How a number is shown: a number in, its text out."""

_EXACT_FLOAT_LIMIT = 2**53
_XLSX = (".xlsx", ".xlsm")
_PERCENT_IDS = {9: "0%", 10: "0.00%"}
"""Excel's built-in formats worth applying (the others show the plain number, or a date)."""

_NUM_FMT = re.compile(rb"""<(?:[\w.-]+:)?numFmt\b((?:[^>"']|"[^"]*"|'[^']*')*)>""")
_CELL_XFS = re.compile(rb"<(?:[\w.-]+:)?cellXfs\b[^>]*>(.*?)</(?:[\w.-]+:)?cellXfs>", re.DOTALL)
_XF = re.compile(rb"<(?:[\w.-]+:)?xf\b([^>]*)>")
_ATTRIBUTE = re.compile(rb"""([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_TOKEN = re.compile(rb"<(?:[\w.-]+:)?(row|c)((?:[ /][^>]*)?)>")
_CELL_START = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"')
_REF = re.compile(rb"""(?:^| )r=["']([A-Za-z]*)([0-9]*)["']""")
_STYLE = re.compile(rb"""(?:^| )s=["']([0-9]+)["']""")


def number_text(value: float) -> str:
    """Return a number as typed: no trailing ".0" on a whole number (phones, ids, zips)."""
    if value.is_integer() and -_EXACT_FLOAT_LIMIT < value < _EXACT_FLOAT_LIMIT:
        return str(int(value))  # not inf or nan: is_integer() is False for them
    return repr(value)


# --- number formats -----------------------------------------------------------------------------

_EMPTY_PLACEHOLDER = {"0": "0", "#": "", "?": " "}
_LITERALS = frozenset("$-+/():!^&'~{}<>= ")
"""Characters a format shows as they are without quotes (Excel's list, less those with a
meaning here)."""
_PART = re.compile(r'\[([^\]]*)\]|"([^"]*)"|\\(.)|_(.)|([0#?])|(.)', re.DOTALL)
"""One part of a format section: [bracketed], "quoted", \\escaped, _spaced, a placeholder, or
another character."""
_CONDITION = re.compile(r"(<=|>=|<>|<|>|=)(-?[0-9.]+)")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
}


@dataclass(frozen=True, slots=True)
class _Digits:
    """A format section of digit placeholders among literal text, e.g. ``(000) 000-0000``.

    Attributes:
        parts: Literal text, or a placeholder: ``0`` (a digit or 0), ``#`` (a digit or
            nothing), ``?`` (a digit or a space), each as ``(placeholder, True)``.
        condition: The section's ``[<=9999999]``, as an operator and a number, if it has one.
    """

    parts: tuple[tuple[str, bool], ...]
    condition: tuple[str, float] | None

    @property
    def changes_numbers(self) -> bool:
        """Return whether the section shows some whole number other than as plain digits."""
        zeros = sum(1 for text, placeholder in self.parts if placeholder and text == "0")
        return zeros > 1 or any(not placeholder for _, placeholder in self.parts)

    def holds(self, value: float) -> bool:
        """Return whether the section's condition holds for a value (or it has none)."""
        return self.condition is None or _COMPARE[self.condition[0]](value, self.condition[1])

    def show(self, value: int) -> str:
        """Return a whole number of 0 or more as the section shows it."""
        digits = str(value) if value else ""
        slots = sum(1 for _, placeholder in self.parts if placeholder)
        overflow, digits = digits[: max(0, len(digits) - slots)], digits[-slots:] if digits else ""
        pad = slots - len(digits)
        shown: list[str] = []
        slot = 0
        for text, placeholder in self.parts:
            if not placeholder:
                shown.append(text)
                continue
            if slot == 0:
                shown.append(overflow)  # digits beyond the placeholders go to the first
            shown.append(_EMPTY_PLACEHOLDER[text] if slot < pad else digits[slot - pad])
            slot += 1
        return "".join(shown)


def format_text(code: str) -> NumberText | None:
    """Return how a number format shows numbers, if it is one worth applying, else None.

    Worth applying: a percentage, or digits padded with zeros or among literal characters.
    """
    sections = _sections(code)
    if not sections:
        return None
    if _is_percent(sections[0]):
        return _percent_text
    digits = [_digits(section) for section in sections]
    first = digits[0]
    if first is None or not any(section and section.changes_numbers for section in digits):
        return None
    if len(digits) < 3 and not any(section and section.condition for section in digits):
        # The first section shows every number from 0 up.
        if {text for text, placeholder in first.parts if placeholder} == {"0"}:
            return ZeroPadded(first)
        return _whole_numbers(first.show)
    return _DigitsText(tuple(digits)).show


class ZeroPadded:
    """Shows whole numbers from 0 up through a section of zeros among literal text (``00000``,
    ``(000) 000-0000``), other numbers plain: a cell at a time, or a column at a time."""

    def __init__(self, section: _Digits) -> None:
        self._section = section
        self._slots = sum(1 for _, placeholder in section.parts if placeholder)
        slot = iter(range(self._slots))
        # Digits padded to the placeholders fill a template in one call: ``(000) 000-0000`` is
        # "({0[0]}{0[1]}{0[2]}) ..."; a number with more digits than placeholders is rare.
        self._template = "".join(
            f"{{0[{next(slot)}]}}" if placeholder else text.replace("{", "{{").replace("}", "}}")
            for text, placeholder in section.parts
        )
        self._zeros_alone = len(section.parts) == self._slots

    def __call__(self, value: float) -> str:
        """Return a number as the format shows it."""
        if not (value.is_integer() and 0 <= value < _EXACT_FLOAT_LIMIT):
            return number_text(value)
        digits = str(int(value))
        if self._zeros_alone:
            return digits.zfill(self._slots)
        if len(digits) > self._slots:
            return self._section.show(int(value))
        return self._template.format(digits.zfill(self._slots))

    def column(self, values: np.ndarray) -> pa.Array:
        """Return numbers (float64) as the format shows each, by column operations; numbers
        that are not whole, or have more digits than the placeholders, a cell at a time."""
        whole = (np.floor(values) == values) & (values >= 0) & (values < _EXACT_FLOAT_LIMIT)
        digits = pc.cast(pa.array(np.where(whole, values, 0).astype(np.int64)), pa.large_string())
        padded = pc.utf8_lpad(digits, self._slots, "0")
        if self._zeros_alone:
            shown = padded
        else:
            whole &= pc.utf8_length(digits).to_numpy() <= self._slots
            placeholder = iter(range(self._slots))
            pieces = [
                pc.utf8_slice_codeunits(padded, (at := next(placeholder)), at + 1)
                if is_placeholder
                else pa.scalar(text, pa.large_string())
                for text, is_placeholder in self._section.parts
            ]
            shown = pc.binary_join_element_wise(*pieces, pa.scalar("", pa.large_string()))
        if whole.all():
            return shown
        others = pa.array([self(float(value)) for value in values[~whole]], pa.large_string())
        return pc.replace_with_mask(shown, pa.array(~whole), others)


def _whole_numbers(show_whole: Callable[[int], str]) -> NumberText:
    """Return a way to show whole numbers from 0 up through ``show_whole``, others plain."""

    def show(value: float) -> str:
        if value.is_integer() and 0 <= value < _EXACT_FLOAT_LIMIT:
            return show_whole(int(value))
        return number_text(value)

    return show


def _percent_text(value: float) -> str:
    """Return a fraction as the percentage typed: 0.125 -> "12.5%" (float noise rounded off)."""
    return number_text(float(f"{value * 100:.15g}")) + "%"


@dataclass(frozen=True, slots=True)
class _DigitsText:
    """Shows whole numbers through a format's sections, chosen as Excel chooses them."""

    sections: tuple[_Digits | None, ...]

    def show(self, value: float) -> str:
        """Return a number as the format shows it; other than a whole number from 0 up, plain."""
        if not (0 <= value < _EXACT_FLOAT_LIMIT and value.is_integer()):
            return number_text(value)
        section = self._section(value)
        return section.show(int(value)) if section else number_text(value)

    def _section(self, value: float) -> _Digits | None:
        """Return the section for a number of 0 or more, None if it is not one of digits."""
        conditional = [section for section in self.sections if section and section.condition]
        if conditional:
            for section in conditional:
                if section.holds(value):
                    return section
            rest = [section for section in self.sections if not (section and section.condition)]
            return rest[0] if rest else None
        if value == 0 and len(self.sections) > 2:
            return self.sections[2]
        return self.sections[0]


def _sections(code: str) -> list[str]:
    """Split a format code on the semicolons that are not quoted or escaped."""
    sections: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in code:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            sections.append("".join(current))
            current = []
            continue
        current.append(char)
    sections.append("".join(current))
    return sections


def _is_percent(section: str) -> bool:
    """Return whether a section shows a percentage of plain digits (``0%``, ``#,##0.00%``)."""
    bare = re.sub(r"\[[^\]]*\]", "", section).strip()
    return bare.endswith("%") and bool(bare[:-1]) and set(bare[:-1]) <= set("0#?.,")


def _digits(section: str) -> _Digits | None:
    """Parse a section of digit placeholders and literal text; None if it holds anything else."""
    condition = None
    parts: list[tuple[str, bool]] = []
    for found in _PART.finditer(section):
        bracketed, quoted, escaped, spaced, placeholder, other = found.groups()
        if bracketed is not None:
            compared = _CONDITION.fullmatch(bracketed)
            if compared:
                condition = (compared.group(1), float(compared.group(2)))
            elif not _colour_or_locale(bracketed):
                return None
        elif placeholder is not None:
            parts.append((placeholder, True))
        elif other is not None and other not in _LITERALS:
            return None  # a decimal point, a thousands separator, text, a date: not digits
        else:
            # Quoted text, an escaped character, a literal one; "_x" is a space as wide as x.
            parts.append((" " if spaced is not None else quoted or escaped or other or "", False))
    if not any(placeholder for _, placeholder in parts):
        return None
    return _Digits(tuple(parts), condition)


def _colour_or_locale(bracketed: str) -> bool:
    """Return whether a bracketed part changes nothing in the text: a colour or a locale."""
    return (
        bracketed.isalpha()
        or bracketed.lower().startswith("color")
        or (bracketed.startswith("$-") and bracketed[2:].isalnum())
    )


# --- the workbook's styles ----------------------------------------------------------------------


def style_formats(styles: bytes | None) -> dict[int, NumberText]:
    """Return the cell styles (``cellXfs`` indexes) whose number format is worth applying."""
    if not styles:
        return {}
    codes = dict(_PERCENT_IDS)
    for found in _NUM_FMT.finditer(styles):
        attributes = _attributes(found.group(1))
        if attributes.get("numFmtId", "").isdigit() and "formatCode" in attributes:
            codes[int(attributes["numFmtId"])] = attributes["formatCode"]
    shows = {number: format_text(code) for number, code in codes.items()}
    section = _CELL_XFS.search(styles)
    formats: dict[int, NumberText] = {}
    for index, xf in enumerate(_XF.finditer(section.group(1) if section else b"")):
        number = _attributes(xf.group(1)).get("numFmtId", "0")
        shown = shows.get(int(number)) if number.isdigit() else None
        if shown is not None:
            formats[index] = shown
    return formats


def _attributes(text: bytes) -> dict[str, str]:
    """Return a tag's attributes by local name, unescaped."""
    return {
        key.split(b":")[-1].decode(): html.unescape((double or single).decode("utf-8", "replace"))
        for key, double, single in _ATTRIBUTE.findall(text)
    }


# --- which cells carry them ---------------------------------------------------------------------


class RowFormats:
    """The formats of a sheet's cells, row by row, read from its XML as calamine's rows come.

    Both go down the sheet in row order (Excel writes rows in ascending order), so the XML is
    read one row ahead and memory holds one row; a row the XML lists out of order is passed
    over, and keeps its plain numbers.
    """

    def __init__(self, rows: Iterator[tuple[int, dict[int, NumberText]]]) -> None:
        self._rows = rows
        self._next: tuple[int, dict[int, NumberText]] | None = None
        self._started = False

    def row(self, number: int) -> Mapping[int, NumberText] | None:
        """Return the formats of a row's cells by 0-based column, None if it has none.

        Rows are asked for in ascending order; asking for one passes over those above it.
        """
        if not self._started:
            self._next, self._started = next(self._rows, None), True
        while self._next is not None and self._next[0] < number:
            self._next = next(self._rows, None)
        if self._next is None or self._next[0] != number:
            return None
        cells = self._next[1]
        self._next = next(self._rows, None)
        return cells


@contextmanager
def sheet_formats(path: Path, sheet: str) -> Iterator[RowFormats | None]:
    """Open the cell formats of a workbook's sheet; None when there are none worth applying.

    Only .xlsx and .xlsm workbooks are read so; other kinds yield None.
    """
    if path.suffix.lower() not in _XLSX:
        yield None
        return
    formats = style_formats(styles_xml(path))
    if not formats:
        yield None
        return
    with sheet_xml(path, sheet) as blocks:
        yield RowFormats(_formatted_cells(blocks, formats)) if blocks is not None else None


def _formatted_cells(
    blocks: Iterator[bytes], formats: Mapping[int, NumberText]
) -> Iterator[tuple[int, dict[int, NumberText]]]:
    """Yield each row that has cells of the given styles: its number, and their formats by
    0-based column.

    Where every cell starts ``<c r="``, each ``s="N"`` of a style given is found first (far
    rarer than cells, so quicker to search), then the reference of the cell it is in.
    """
    by_style = {str(index).encode(): shown for index, shown in formats.items()}
    style = re.compile(rb' s="(' + b"|".join(sorted(by_style)) + rb')"')
    columns: dict[bytes, int] = {}
    row, cells = b"", dict[int, NumberText]()
    for block in blocks:
        if not canonical_cells(block):
            yield from _walked_cells(block, blocks, formats, int(row or 0), cells)
            return
        for found in style.finditer(block):
            # Only a cell's own tag: not a row's style, nor text that looks like one.
            cell = _CELL_START.match(block, block.rfind(b"<", 0, found.start()))
            if cell is None:
                continue
            letters, number = cell.groups()
            if number != row:
                if cells:
                    yield int(row), cells
                row, cells = number, {}
            column = columns.get(letters)
            if column is None:
                column = columns[letters] = column_number(letters) - 1
            cells[column] = by_style[found.group(1)]
    if cells:
        yield int(row), cells


def _walked_cells(
    block: bytes,
    blocks: Iterator[bytes],
    formats: Mapping[int, NumberText],
    row: int,
    cells: dict[int, NumberText],
) -> Iterator[tuple[int, dict[int, NumberText]]]:
    """Yield the rows of formatted cells by walking every row and cell, as calamine places them:
    by their reference, else after the one before them (for XML without references)."""
    column = -1
    for data in chain([block], blocks):
        for token in _TOKEN.finditer(data):
            name, attributes = token.groups()
            reference = _REF.search(attributes) if attributes else None
            if name == b"row":
                number = int(reference.group(2)) if reference and reference.group(2) else row + 1
                column = -1
            else:
                number = row
                if reference and reference.group(1):
                    column = column_number(reference.group(1)) - 1
                    number = int(reference.group(2)) if reference.group(2) else row
                else:
                    column += 1
            if number != row:
                if cells:
                    yield row, cells
                row, cells = number, {}
            style = _STYLE.search(attributes) if name == b"c" and attributes else None
            if style and int(style.group(1)) in formats:
                cells[column] = formats[int(style.group(1))]
    if cells:
        yield row, cells
