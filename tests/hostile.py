"""Hostile and broken files, written on demand: what partners, web forms and old CRMs send.

Each ``Hostile`` writes one file and says, where its meaning is known, what a dry run must
make of it: the data rows it holds, by the row number a spreadsheet app shows, or a phrase of
the one-line refusal. The files are built here, byte by byte or with openpyxl, so that no test
depends on a file it cannot see.
"""

from __future__ import annotations

import codecs
import io
import random
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import openpyxl

__all__ = ["HOSTILE", "Hostile", "handmade_xlsx"]

MIB = 1024 * 1024
LEADS = "Full Name,Email\r\nAda Lovelace,ada@example.com\r\nBo Diddley,bo@example.com\r\n"
"""A small, valid leads sheet: the base of the files below that break one thing."""


@dataclass(frozen=True, slots=True)
class Hostile:
    """One hostile file and what a dry run must make of it.

    Attributes:
        name: The file's name, its suffix included (the suffix decides how it is read).
        content: Returns the file's bytes.
        rows: The data rows the file holds, by row number, when known: a run that reads the
            file (exit 0 or 1, or 2 after reading some) reports exactly these.
        refusal: A phrase the one-line ``importer: error:`` message must hold, when the file
            must be refused (exit 2).
        failed: Rows that must be reported failed: a row cut, shifted or over a limit never
            passes as if whole.
        other_rows: Rows that may also be reported as data until the header is found below
            title rows or a ``sep=`` line (issue 8); every one of ``rows`` still must be.
    """

    name: str
    content: Callable[[], bytes]
    rows: tuple[int, ...] | None = None
    refusal: str | None = None
    failed: tuple[int, ...] = ()
    other_rows: tuple[int, ...] = ()

    def write(self, folder: Path) -> Path:
        """Write the file into a folder and return its path."""
        path = folder / self.name
        path.write_bytes(self.content())
        return path


# --- text ----------------------------------------------------------------------------------------


def _text(text: str, encoding: str = "utf-8") -> Callable[[], bytes]:
    """Return a writer of text in an encoding, line endings untouched."""
    return lambda: text.encode(encoding)


def _garbage(size: int, seed: int) -> Callable[[], bytes]:
    """Return a writer of random bytes."""
    return lambda: random.Random(seed).randbytes(size)


def _png() -> bytes:
    """Return the start of a PNG image (signature and header chunk) and some pixels."""
    header = b"\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00\x90\x91h6"
    return b"\x89PNG\r\n\x1a\n" + header + random.Random(3).randbytes(2000)


def _zip_of(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """Return a zip archive of the given entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def _wide(columns: int, rows: int) -> Callable[[], bytes]:
    """Return a writer of a CSV file with a header of many columns, the first one a name."""

    def content() -> bytes:
        header = ",".join(["Full Name", "Email", *(f"c{n}" for n in range(2, columns))])
        body = "".join(
            ",".join([f"Person {r}", f"p{r}@example.com", *(["v"] * (columns - 2))]) + "\n"
            for r in range(rows)
        )
        return (header + "\n" + body).encode()

    return content


def _deep_quotes() -> bytes:
    """Return a CSV file whose cells are quotes inside quotes, thousands deep."""
    deep = '"' + '""' * 5000 + "x" + '""' * 5000 + '"'
    lines = [
        "Full Name,Notes",
        f"Ada,{deep}",
        '"""Bo"" ""the"" ""quoted""",""""""',
        '"Cy","a ""b"" c ""d"""',
        '"""""""""",x',
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


# --- workbooks -----------------------------------------------------------------------------------


def _book(rows: Iterable[Iterable[object]], title: str = "Leads") -> bytes:
    """Return an .xlsx workbook of one sheet, written by openpyxl."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _leads_book() -> bytes:
    return _book([("Full Name", "Email"), ("Ada", "ada@example.com"), ("Bo", "bo@example.com")])


def _truncated(keep: Callable[[int], int]) -> Callable[[], bytes]:
    """Return a writer of a valid workbook cut to ``keep(its size)`` bytes."""

    def content() -> bytes:
        whole = _leads_book()
        return whole[: keep(len(whole))]

    return content


_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    b'package/2006/content-types"><Default Extension="rels" ContentType="application/'
    b'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
    b'"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
    b'"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    b'spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
    b'.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    b'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/'
    b'workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    b'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships"><sheets><sheet name="Leads" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
    b'.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    b'openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/'
    b'sheet1.xml"/></Relationships>'
)
_SHEET = (
    b'<?xml version="1.0" encoding="UTF-8"?>%s<worksheet xmlns="http://schemas.openxmlformats.'
    b'org/spreadsheetml/2006/main"><sheetData>%s</sheetData></worksheet>'
)


def handmade_xlsx(sheet_data: bytes, doctype: bytes = b"") -> bytes:
    """Return a one-sheet .xlsx whose sheet XML is written here, byte for byte."""
    return _zip_of(
        [
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _RELS),
            ("xl/workbook.xml", _WORKBOOK),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
            ("xl/worksheets/sheet1.xml", _SHEET % (doctype, sheet_data)),
        ]
    )


def _inline(row: int, cells: Iterable[tuple[str, str]]) -> bytes:
    """Return a sheet XML row of inline-string cells, each (column letters, text)."""
    return (
        f'<row r="{row}">'
        + "".join(
            f'<c r="{column}{row}" t="inlineStr"><is><t>{text}</t></is></c>'
            for column, text in cells
        )
        + "</row>"
    ).encode()


def _letters(index: int) -> str:
    """Return the spreadsheet letters of a 0-based column index."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _bomb() -> bytes:
    """Return a workbook whose sheet unpacks to 24 MiB from a few tens of KiB."""
    row = b"<row>" + b"<c><v>1</v></c>" * 20 + b"</row>"
    header = _inline(1, [("A", "Full Name"), ("B", "Email")])
    return handmade_xlsx(header + row * (24 * MIB // len(row)))


def _billion_laughs() -> bytes:
    """Return a workbook whose sheet XML declares entities that expand exponentially."""
    entities = b"".join(
        b'<!ENTITY lol%d "%s">' % (level, b"&lol%d;" % (level - 1) * 10) for level in range(1, 10)
    )
    doctype = b'<!DOCTYPE lolz [<!ENTITY lol0 "lol">' + entities + b"]>"
    data = _inline(1, [("A", "Full Name")]) + _inline(2, [("A", "&lol9;")])
    return handmade_xlsx(data, doctype)


def _wide_book() -> bytes:
    """Return a workbook 20,000 columns wide (past Excel's 16,384), three rows tall."""
    names = [("A", "Full Name"), ("B", "Email")]
    names += [(_letters(n), f"c{n}") for n in range(2, 20_000)]
    rows = [
        [("A", f"Person {r}"), ("B", f"p{r}@example.com")]
        + [(_letters(n), "v") for n in range(2, 20_000)]
        for r in range(3)
    ]
    return handmade_xlsx(
        _inline(1, names) + b"".join(_inline(r + 2, row) for r, row in enumerate(rows))
    )


def _cached_formulas() -> bytes:
    """Return a workbook of formulas only, each with the value Excel saved for it."""
    return handmade_xlsx(
        b'<row r="1"><c r="A1" t="str"><f>"Full "&amp;"Name"</f><v>Full Name</v></c>'
        b'<c r="B1" t="str"><f>"Em"&amp;"ail"</f><v>Email</v></c></row>'
        b'<row r="2"><c r="A2" t="str"><f>UPPER("ada")</f><v>ADA</v></c>'
        b'<c r="B2" t="str"><f>"ada@"&amp;"example.com"</f><v>ada@example.com</v></c></row>'
        b'<row r="3"><c r="A3"><f>1+1</f><v>2</v></c><c r="B3" t="e"><f>1/0</f><v>#DIV/0!</v>'
        b"</c></row>"
    )


# --- the catalogue -------------------------------------------------------------------------------

_UTF16_TEXT = "Full Name,Email\r\nZoë,zoe@example.com\r\nBo,bo@example.com\r\n"
_EMOJI_TEXT = (
    "Full Name\tEmail\nA\u0301da \U0001f600\tada@example.com\n\U0001f468\u200d\U0001f469\tx\n"
)

HOSTILE: tuple[Hostile, ...] = (
    # Nothing, or nothing but a header.
    Hostile("empty.csv", _text(""), refusal="is empty"),
    Hostile("empty.xlsx", _text(""), refusal="is empty"),
    Hostile("header-only.csv", _text("Full Name,Email\r\n"), rows=()),
    Hostile("header-only.xlsx", lambda: _book([("Full Name", "Email")]), rows=()),
    Hostile("bom-only.csv", lambda: codecs.BOM_UTF8, refusal="no header row"),
    Hostile("blank-lines.csv", _text("\r\n\r\n   \r\n,,,\r\n\t\r\n"), refusal="no header row"),
    # Bytes that are not text.
    Hostile(
        "nul-bytes.csv",
        _text("Full Name,Email\n\x00Ada,ada@exa\x00mple.com\n\x00\x00\x00\nBo,bo@example.com\n"),
        rows=(2, 4),
    ),
    Hostile("all-nul.csv", lambda: b"\x00" * 4096, refusal="not CSV text"),
    Hostile("garbage.csv", _garbage(8192, seed=1), refusal="binary"),
    Hostile("garbage.xlsx", _garbage(8192, seed=2), refusal="not a readable workbook"),
    # Files under another name.
    Hostile("image.csv", _png, refusal="is a PNG image"),
    Hostile("image.xlsx", _png, refusal="not a readable workbook"),
    Hostile("archive.csv", lambda: _zip_of([("notes.txt", b"hello")]), refusal="zip archive"),
    Hostile(
        "archive.xlsx", lambda: _zip_of([("notes.txt", b"hello")]), refusal="no workbook inside"
    ),
    Hostile("workbook.csv", _leads_book, refusal="an .xlsx or .ods workbook under another name"),
    Hostile("text.xlsx", _text(LEADS), refusal="it holds text, not a workbook"),
    # Broken workbooks.
    Hostile("cut-third.xlsx", _truncated(lambda size: size // 3), refusal="truncated or damaged"),
    Hostile("cut-half.xlsx", _truncated(lambda size: size // 2), refusal="truncated or damaged"),
    Hostile("cut-tail.xlsx", _truncated(lambda size: size - 10), refusal="truncated or damaged"),
    Hostile("bomb.xlsx", _bomb, refusal="(a zip bomb?)"),
    Hostile("laughs.xlsx", _billion_laughs, refusal="is not a readable workbook"),
    Hostile(
        "escape.xlsx",
        lambda: _zip_of([("../../evil.sh", b"echo owned"), ("[Content_Types].xml", b"<x/>")]),
        refusal="points outside the workbook",
    ),
    # Broken structure.
    Hostile(
        "mixed-endings.csv",
        _text('Full Name,Email\r\nAda,a@x.io\nBo,b@x.io\rCy,"c\r\n@x.io"\r\nDi,d@x.io'),
        rows=(2, 3, 4, 5),
    ),
    Hostile(
        "ragged.csv",
        _text("Full Name,Email,Kind\nAda\nBo,bo@x.io\nCy,cy@x.io,lead,extra,more\n,,,,,,\nDi,,\n"),
        rows=(2, 3, 4, 6),
        failed=(4,),
    ),
    Hostile(
        "headers.csv",
        _text("Full Name,,Email,Email, ,Full Name,,\nAda,1,a@x.io,b@x.io,2,Ada L,3,4\n"),
        rows=(2,),
        failed=(2,),
    ),
    Hostile(
        "unclosed-quote.csv",
        _text('Full Name,Email\nAda,ada@x.io\n"Bo,bo@x.io\nCy,cy@x.io\n'),
        rows=(2,),
        refusal="row 3 cannot be parsed: a quote opened in it is never closed",
    ),
    Hostile(
        "unclosed-first.csv",
        _text('Full Name,Email\n"Ada,ada@x.io\nBo,bo@x.io\n'),
        refusal="row 2 cannot be parsed: a quote opened in it is never closed",
    ),
    Hostile(
        "long-cell.csv",
        _text(f"Full Name,Notes\nAda,short\nBo,{'y' * 1_000_001}\nCy,after\n"),
        rows=(2, 3, 4),
        failed=(3,),
    ),
    Hostile("deep-quotes.csv", _deep_quotes, rows=(2, 3, 4, 5)),
    Hostile(
        "report-names.csv",  # the sheet's columns come after the report's own in rows.csv
        _text("Full Name,status,source_row,reason\nAda,created,99,x\nBo,failed,2,y\n"),
        rows=(2, 3),
    ),
    Hostile("wide.csv", _wide(20_000, 3), rows=(2, 3, 4)),
    Hostile("wide.xlsx", _wide_book, rows=(2, 3, 4)),
    # Encodings.
    Hostile(
        "utf8-cp1252-tail.csv",
        lambda: "Full Name\nZoë\nplain\n".encode() + "Chloé\n".encode("cp1252"),
        refusal="mixes encodings",
    ),
    Hostile(
        "bom-cp1252-tail.csv",
        lambda: codecs.BOM_UTF8 + "Full Name\nZoë\nplain\n".encode() + "Chloé\n".encode("cp1252"),
        refusal="starts with a UTF-8 byte-order mark, but line 4 holds bytes that are not UTF-8",
    ),
    Hostile(
        "utf16-under-utf8-bom.csv",
        lambda: codecs.BOM_UTF8 + _UTF16_TEXT.encode("utf-16-le"),
        refusal="starts with a UTF-8 byte-order mark, but its text is not UTF-8",
    ),
    Hostile(
        "utf32-under-utf16-bom.csv",  # as salesforce-dataloader's csvtext_BOM_UTF32LE.csv
        lambda: codecs.BOM_UTF16_BE + _UTF16_TEXT.encode("utf-32-le"),
        refusal="starts with a UTF-16 byte-order mark, but its text is not UTF-16",
    ),
    Hostile(
        "utf16-cut.csv",
        lambda: codecs.BOM_UTF16_LE + _UTF16_TEXT.encode("utf-16-le") + b"X",
        refusal="but line 4 holds bytes that are not UTF-16 (0x58)",
    ),
    Hostile("utf16le-no-bom.csv", _text(_UTF16_TEXT, "utf-16-le"), rows=(2, 3)),
    Hostile("utf16be-no-bom.csv", _text(_UTF16_TEXT, "utf-16-be"), rows=(2, 3)),
    Hostile("emoji.tsv", _text(_EMOJI_TEXT), rows=(2, 3)),
    # Formulas.
    Hostile("formulas-cached.xlsx", _cached_formulas, rows=(2, 3)),
    Hostile(
        "formulas-uncalculated.xlsx",
        lambda: _book([('=CONCAT("Full ","Name")', "=1+1"), ("=A1", "=B1*2")]),
        refusal="has no header row",  # openpyxl saves no values: they are all blank
    ),
    # Issue 8: the header below title rows, and a sep= line, which is no row (as in Excel,
    # which hides it: the header is row 1, Ada row 2).
    Hostile("sep-line.csv", _text("sep=;\r\nFull Name;Email\r\nAda;ada@x.io\r\n"), rows=(2,)),
    Hostile(
        "title-rows.csv",
        _text(
            "Leads export\nGenerated 2024-05-01 by CRM\n\nFull Name,Email\nAda,a@x.io\nBo,b@x.io\n"
        ),
        rows=(5, 6),
    ),
)
"""Every hostile file, in the order the corpus test runs them."""
