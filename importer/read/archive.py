"""Check a workbook file before calamine opens it: what it really is, and what it would cost.

calamine trusts its input. It unpacks a workbook's parts as large as the zip directory declares
them, and allocates every cell of a sheet's used range, from its first to its farthest cell: a
1 MB zip bomb, or one far cell in a 2 KB file, is enough to take gigabytes or abort the process.
So, before calamine sees a file, this module:

- reads its first bytes, to refuse a file whose name does not say what it holds (an .xlsx
  named .xls, CSV text named .xlsx) or a password-protected one, with the fix;
- reads a zip's directory only, never its data, to refuse a bomb: too many entries, too many
  bytes unpacked, an entry compressed too well, a name that points outside the archive;
- finds the used range of the sheet to read (of every sheet, for .ods, which calamine loads
  all at once) by scanning its XML as a stream, and refuses one too big to hold.

Only ``.xlsx``/``.xlsm`` and ``.ods`` sheets are scanned; ``.xls`` (at most 65,536 x 256 cells)
and ``.xlsb`` (binary records) get the checks of their kind and size only.

Once a workbook is checked, ``styles_xml`` and ``sheet_xml`` hand its styles and a sheet's XML
to ``formats``, which reads what calamine leaves out: the cells' number formats.
"""

from __future__ import annotations

import html
import posixpath
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO

from importer.errors import InputError
from importer.read.limits import FLAGS, MIB, ReadLimits, over, size

__all__ = [
    "canonical_cells",
    "check_sheet_extent",
    "check_workbook",
    "column_number",
    "sheet_xml",
    "styles_xml",
]

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
_SCAN_BLOCK = 4 * MIB
_SMALL_PART = 16 * MIB

_SAME_KIND = {
    ".xlsx": (".xlsx", ".xlsm"),
    ".xlsb": (".xlsb",),
    ".ods": (".ods",),
    ".xls": (".xls",),
}
"""The real kind of a workbook to the file name endings calamine reads it by."""


def check_workbook(path: Path, limits: ReadLimits) -> None:
    """Refuse a workbook that is not what its name says, or whose archive is a bomb.

    Raises:
        InputError: naming the file, what is wrong, and what to do.
    """
    head = _head(path)
    if head.startswith(_ZIP):
        with _zip(path) as archive:
            _check_entries(path, archive.infolist(), limits)
            kind = _zip_kind(archive)
            _check_name(path, kind)
            if kind == ".ods":
                _check_ods(path, archive, limits)
    elif head.startswith(_OLE):
        if _encrypted(path):
            raise InputError(
                f"{path} is password-protected; save an unprotected copy and import that"
            )
        _check_name(path, ".xls")
    elif b"\x00" not in head and head.strip():
        what = "web page or XML" if head.lstrip().startswith(b"<") else "CSV"
        raise InputError(
            f"{path} is not a readable workbook: it holds text, not a workbook (a {what} file"
            f" named {path.suffix}?); if it is CSV, rename it to {path.stem}.csv, else open it"
            " and save it again as .xlsx"
        )


def check_sheet_extent(path: Path, sheet: str, limits: ReadLimits) -> None:
    """Refuse an .xlsx sheet whose used range is too big to hold, before calamine loads it.

    Raises:
        InputError: naming the sheet, its extent, the limit and the option that raises it.
    """
    if path.suffix.lower() not in _SAME_KIND[".xlsx"]:
        return
    with _zip(path) as archive:
        parts = _sheet_parts(archive, sheet)
        extent = _Extent(0, 0)
        for part in parts:
            with _entry(path, archive, part) as stream:
                extent = extent.union(_xlsx_extent(path, stream, limits))
    _check_extent(path, f"sheet {sheet!r}", extent, limits)


@dataclass(frozen=True, slots=True)
class _Extent:
    """A used range, from A1: its last row and last column, both counted from 1."""

    rows: int
    columns: int

    @property
    def cells(self) -> int:
        """Return how many cells calamine allocates for this range."""
        return self.rows * self.columns

    def union(self, other: _Extent) -> _Extent:
        """Return the range that holds both."""
        return _Extent(max(self.rows, other.rows), max(self.columns, other.columns))

    def exceeds(self, limits: ReadLimits) -> bool:
        """Return whether the range is past a limit (scanning can stop there)."""
        return (
            self.rows > limits.max_rows
            or self.columns > limits.max_columns
            or self.cells > limits.max_sheet_cells
        )


def _check_extent(path: Path, where: str, extent: _Extent, limits: ReadLimits) -> None:
    """Refuse a used range beyond the row, column or cell limit."""
    if extent.rows > limits.max_rows:
        raise InputError(
            f"{path}: {where}: cells reach row {extent.rows:,}, past the limit of"
            f" {limits.max_rows:,} rows; raise it with {FLAGS['max_rows']} N"
        )
    if extent.columns > limits.max_columns:
        raise InputError(
            f"{path}: {where}: cells reach column {extent.columns:,}, past the limit of"
            f" {limits.max_columns:,} columns; raise it with {FLAGS['max_columns']} N"
        )
    if extent.cells > limits.max_sheet_cells:
        raise InputError(
            f"{path}: {where}: cells reach row {extent.rows:,} and column {extent.columns:,},"
            f" {extent.cells:,} cells to hold in memory, more than the limit of"
            f" {limits.max_sheet_cells:,}; delete what lies beyond the data, save the sheet as"
            f" CSV, or raise the limit with {FLAGS['max_sheet_cells']} N"
        )


# --- the file's kind ---------------------------------------------------------------------------


def _head(path: Path) -> bytes:
    """Return the first bytes of a file."""
    try:
        with path.open("rb") as raw:
            return raw.read(4096)
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error


def _encrypted(path: Path) -> bool:
    """Return whether an Office binary file is an encrypted (password-protected) workbook."""
    try:
        with path.open("rb") as raw:
            start = raw.read(MIB)
            raw.seek(max(0, raw.seek(0, 2) - MIB))
            return _ENCRYPTED in start or _ENCRYPTED in raw.read(MIB)
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error


def _zip_kind(archive: zipfile.ZipFile) -> str | None:
    """Return the kind of workbook a zip archive holds (".xlsx", ".xlsb", ".ods"), if any."""
    names = {name.replace("\\", "/").lower() for name in archive.namelist()}
    if "mimetype" in names or "content.xml" in names:
        return ".ods"
    if any(name.endswith("workbook.bin") for name in names):
        return ".xlsb"
    if "[content_types].xml" in names:
        return ".xlsx"
    return None


def _check_name(path: Path, kind: str | None) -> None:
    """Refuse a file whose name ends in another kind than what it holds."""
    if kind is None:
        raise InputError(
            f"{path} is not a readable workbook: it is a zip archive with no workbook inside;"
            " open the sheet and save it again as .xlsx"
        )
    if path.suffix.lower() not in _SAME_KIND[kind]:
        raise InputError(
            f"{path} is an {kind} workbook named {path.suffix}; rename it to"
            f" {path.stem}{kind} and run again"
        )


# --- the zip directory -------------------------------------------------------------------------


@contextmanager
def _zip(path: Path) -> Iterator[zipfile.ZipFile]:
    """Open a zip archive's directory, turning a broken one into InputError."""
    try:
        with zipfile.ZipFile(path) as archive:
            yield archive
    except (zipfile.BadZipFile, EOFError, ValueError) as error:
        raise InputError(
            f"{path} is truncated or damaged ({error}); download or export it again"
        ) from error
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error


def _check_entries(path: Path, entries: list[zipfile.ZipInfo], limits: ReadLimits) -> None:
    """Refuse an archive with too many entries, too many bytes, a bomb or an escaping name."""
    if len(entries) > limits.max_zip_entries:
        raise InputError(
            f"{path} holds {len(entries):,} files inside, more than the {limits.max_zip_entries:,}"
            " a workbook may; open it and save it again"
        )
    for entry in entries:
        if _escapes(entry.filename):
            raise InputError(
                f"{path} holds an entry named {entry.filename!r}, which points outside the"
                " workbook: no spreadsheet app writes that; open it and save it again"
            )
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size >= limits.zip_ratio_floor_bytes and ratio > limits.max_zip_ratio:
            raise InputError(
                f"{path}: its part {entry.filename} unpacks to {size(entry.file_size)} from"
                f" {size(entry.compress_size)}, {ratio:,.0f} to 1, more than the limit of"
                f" {limits.max_zip_ratio} to 1 (a zip bomb?); if you trust the file, raise the"
                f" limit with {FLAGS['max_zip_ratio']} N"
            )
    unzipped = sum(entry.file_size for entry in entries)
    if unzipped > limits.max_unzipped_bytes:
        raise InputError(
            f"{path} unpacks to {over(unzipped, limits.max_unzipped_bytes)}; save the sheet as"
            f" CSV, or raise the limit with {FLAGS['max_unzipped_bytes']} N"
        )


def _escapes(name: str) -> bool:
    """Return whether an entry name is absolute or climbs out of the archive."""
    parts = name.replace("\\", "/").split("/")
    absolute = name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) is not None
    return absolute or ".." in parts


@contextmanager
def _entry(path: Path, archive: zipfile.ZipFile, name: str) -> Iterator[IO[bytes]]:
    """Open one entry of an archive as a stream, turning a broken one into InputError."""
    try:
        with archive.open(name) as stream:
            yield stream
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as error:
        raise InputError(
            f"{path} is damaged ({name}: {error}); download or export it again"
        ) from error


def _small_part(archive: zipfile.ZipFile, name: str) -> bytes | None:
    """Return an entry's bytes if it exists and is small, else None."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > _SMALL_PART:
        return None
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError):
        return None


# --- which part holds a sheet ------------------------------------------------------------------

_ATTRIBUTE = re.compile(rb"""([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _tags(data: bytes | None, local_name: bytes) -> Iterator[dict[str, str]]:
    """Yield the attributes of each element of a local name, keyed by local name, unescaped."""
    for found in re.finditer(rb"<(?:[\w.-]+:)?" + local_name + rb"\b([^>]*)>", data or b""):
        yield {
            key.split(b":")[-1].decode(): html.unescape(
                (double or single).decode("utf-8", "replace")
            )
            for key, double, single in _ATTRIBUTE.findall(found.group(1))
        }


def _sheet_parts(archive: zipfile.ZipFile, sheet: str) -> list[str]:
    """Return the XML part of a sheet, found through the workbook's links.

    If the links cannot be followed, return every part that looks like a worksheet: the
    largest of them then counts, which can only refuse more.
    """
    names = {name.replace("\\", "/").lstrip("/"): name for name in archive.namelist()}
    workbook = _target(archive, names, "_rels/.rels", type_suffix="/officeDocument")
    workbook = workbook or "xl/workbook.xml"
    folder, base = posixpath.split(workbook)
    rels = posixpath.join(folder, "_rels", base + ".rels")
    for attributes in _tags(_small_part(archive, names.get(workbook, workbook)), b"sheet"):
        if attributes.get("name") == sheet and "id" in attributes:
            part = _target(archive, names, rels, rid=attributes["id"])
            if part in names:
                return [names[part]]
    return [
        original
        for name, original in names.items()
        if "worksheets/" in name.lower() and name.lower().endswith(".xml")
    ]


def _target(
    archive: zipfile.ZipFile,
    names: dict[str, str],
    rels: str,
    *,
    type_suffix: str = "",
    rid: str = "",
) -> str | None:
    """Return the part a relationship of a .rels part points to, chosen by type or by id."""
    folder = posixpath.dirname(posixpath.dirname(rels))
    for attributes in _tags(_small_part(archive, names.get(rels, rels)), b"Relationship"):
        if rid:
            wanted = attributes.get("Id") == rid
        else:
            wanted = attributes.get("Type", "").endswith(type_suffix)
        if wanted and "Target" in attributes:
            target = attributes["Target"].replace("\\", "/")
            if target.startswith("/"):
                return posixpath.normpath(target).lstrip("/")
            return posixpath.normpath(posixpath.join(folder, target)).lstrip("/")
    return None


# --- the used range of an .xlsx sheet ----------------------------------------------------------

_SPACES = bytes.maketrans(b"\t\r\n", b"   ")
_C_TAGS = (b"<c ", b"<c>", b"<c/")
_CANONICAL = b'<c r="'
_LETTERS, _DIGITS = itemgetter(0), itemgetter(1)
_VALUED = re.compile(rb'<c r="([A-Za-z]+)([0-9]+)"[^>/]*>(?!</c>)')
_PREFIXED = re.compile(rb"<[\w.-]+:(?:c|row)[ >/]")
_TOKEN = re.compile(rb"<(?:[\w.-]+:)?(row|c)((?:[ /][^>]*)?)>")
_CELL_REF = re.compile(rb"""(?:^| )r=["']([A-Za-z]*)([0-9]*)["']""")
_EMPTY_CELL_END = re.compile(rb"</(?:[\w.-]+:)?c>")


def _xlsx_extent(path: Path, stream: IO[bytes], limits: ReadLimits) -> _Extent:
    """Return the used range of a worksheet's XML, read as a stream, or as much of it as
    shows it past a limit (the scan stops there).

    Cells that hold nothing (``<c r="Z9" s="1"/>``) do not count, as in calamine. When every
    cell is written ``<c r="A1"...`` (Excel and most writers), the references say it all and a
    fast scan reads them; otherwise cells are walked one by one, as calamine places them.
    """
    extent, letters = _Extent(0, 0), set[bytes]()
    for block in _blocks(path, stream):
        # A reference that is not letters then digits makes calamine fail: no need to read it.
        if not canonical_cells(block):
            return _walked_extent(path, stream, limits)
        found = _VALUED.findall(block)
        if found:
            letters.update(map(_LETTERS, found))
            rows = max(map(int, map(_DIGITS, found)))
            extent = extent.union(_Extent(rows, max(map(column_number, letters))))
            if extent.exceeds(limits):
                break
    return extent


def _walked_extent(path: Path, stream: IO[bytes], limits: ReadLimits) -> _Extent:
    """Return the used range by walking every row and cell, from the start of the stream."""
    stream.seek(0)
    walk = _Walk()
    for block in _blocks(path, stream):
        for token in _TOKEN.finditer(block):
            name, attributes = token.groups()
            reference = _CELL_REF.search(attributes) if attributes else None
            if name == b"row":
                if walk.extent.exceeds(limits):
                    return walk.extent
                walk.row(int(reference.group(2)) if reference and reference.group(2) else None)
            else:
                valued = not attributes.endswith(b"/") and not _EMPTY_CELL_END.match(
                    block, token.end()
                )
                walk.cell(
                    (reference.group(1), reference.group(2)) if reference else None, valued=valued
                )
    return walk.extent


class _Walk:
    """Places cells as calamine does: by their reference, else after the cell before them.

    Where unsure, it places them farther, never nearer: a row without a number follows the
    farthest row seen, and a cell without a reference follows the cell before it.
    """

    def __init__(self) -> None:
        self.current_row = 0
        self.current_column = 0
        self.extent = _Extent(0, 0)

    def row(self, number: int | None) -> None:
        """Start a row: the one numbered, else the next."""
        self.current_row = number if number else self.current_row + 1
        self.current_column = 0

    def cell(self, reference: tuple[bytes, bytes] | None, *, valued: bool) -> None:
        """Place a cell by its reference (letters, digits), else after the one before it."""
        row = self.current_row
        if reference and reference[0]:
            self.current_column = column_number(reference[0])
            row = int(reference[1]) if reference[1] else row
            self.current_row = max(self.current_row, row)
        else:
            self.current_column += 1
        if valued:
            self.extent = self.extent.union(_Extent(row, self.current_column))


def _blocks(path: Path, stream: IO[bytes]) -> Iterator[bytes]:
    """Yield a stream's bytes in blocks that end on a tag boundary, whitespace made spaces.

    Raises:
        InputError: If one tag is longer than a block (no spreadsheet app writes that).
    """
    tail = b""
    try:
        while block := stream.read(_SCAN_BLOCK):
            data = tail + block
            end = data.rfind(b">") + 1
            start = data.find(b"<", end)
            tail = data[start:] if start >= 0 else b""
            if len(tail) > _SCAN_BLOCK:
                raise InputError(f"{path} holds a tag longer than 4 MiB; open it and save it again")
            yield data[:end].translate(_SPACES)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as error:
        raise InputError(f"{path} is damaged ({error}); download or export it again") from error
    if tail:
        yield tail.translate(_SPACES)


def canonical_cells(block: bytes) -> bool:
    """Return whether every cell of a block of sheet XML starts ``<c r="``, unprefixed.

    Excel and most writers write every cell so; then a cell's reference says where it is.
    """
    return not _PREFIXED.search(block) and sum(map(block.count, _C_TAGS)) == block.count(_CANONICAL)


def column_number(letters: bytes) -> int:
    """Return the 1-based number of a column's letters (A -> 1, AA -> 27)."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - ord("A") + 1
    return number


# --- parts read once the workbook is checked --------------------------------------------------


def styles_xml(path: Path) -> bytes | None:
    """Return an .xlsx workbook's styles part, found through its links; None if it has none."""
    with _zip(path) as archive:
        names = {name.replace("\\", "/").lstrip("/"): name for name in archive.namelist()}
        workbook = _target(archive, names, "_rels/.rels", type_suffix="/officeDocument")
        folder, base = posixpath.split(workbook or "xl/workbook.xml")
        rels = posixpath.join(folder, "_rels", base + ".rels")
        part = _target(archive, names, rels, type_suffix="/styles") or "xl/styles.xml"
        return _small_part(archive, names.get(part, part))


@contextmanager
def sheet_xml(path: Path, sheet: str) -> Iterator[Iterator[bytes] | None]:
    """Open an .xlsx sheet's XML as a stream of blocks that end on a tag boundary.

    Yields:
        The blocks, whitespace made spaces; None if the sheet's part cannot be told apart.
    """
    with _zip(path) as archive:
        parts = _sheet_parts(archive, sheet)
        if len(parts) != 1:
            yield None
            return
        with _entry(path, archive, parts[0]) as stream:
            yield _blocks(path, stream)


# --- the used range of an .ods workbook --------------------------------------------------------

_ODS_TOKEN = re.compile(rb"<(/?)table:(table|table-row|table-cell|covered-table-cell)([ /][^>]*)?>")
_ODS_VALUED = re.compile(
    rb"office:(?:value|string-value|date-value|time-value|boolean-value)="
    rb"""|office:value-type=["']string|table:formula="""
)
_ROWS_REPEATED = re.compile(rb"""table:number-rows-repeated=["']([0-9]+)""")
_COLUMNS_REPEATED = re.compile(rb"""table:number-columns-repeated=["']([0-9]+)""")


def _check_ods(path: Path, archive: zipfile.ZipFile, limits: ReadLimits) -> None:
    """Refuse an .ods workbook whose sheets, all loaded at once by calamine, are too big."""
    tables = _OdsTables()
    with _entry(path, archive, "content.xml") as stream:
        for block in _blocks(path, stream):
            for token in _ODS_TOKEN.finditer(block):
                tables.token(*token.groups())
    _check_extent(path, "its sheets, all read at once", tables.extent(), limits)


class _OdsTables:
    """Sizes an .ods file's tables as calamine expands them: repeated rows and cells count,
    from the first row that holds a value to the last, up to each row's last value."""

    def __init__(self) -> None:
        self.cells = 0
        self.widest = 0
        self.tallest = 0
        self._start_table()

    def _start_table(self) -> None:
        self.row, self.last, self.width = 0, 0, 0
        self.first: int | None = None
        self.repeats, self.column, self.last_value = 1, 0, 0

    def token(self, closing: bytes, name: bytes, attributes: bytes | None) -> None:
        """Take one start or end tag of a table, a row or a cell."""
        attributes = attributes or b""
        if name == b"table":
            if closing:
                self._end_table()
            else:
                self._start_table()
        elif name == b"table-row":
            if closing:
                self._end_row()
            else:
                repeated = _ROWS_REPEATED.search(attributes)
                self.repeats = int(repeated.group(1)) if repeated else 1
                self.column = self.last_value = 0
                if attributes.endswith(b"/"):
                    self._end_row()
        elif not closing:
            repeated = _COLUMNS_REPEATED.search(attributes)
            self.column += int(repeated.group(1)) if repeated else 1
            if _ODS_VALUED.search(attributes):
                self.last_value = self.column

    def _end_row(self) -> None:
        if self.last_value:
            self.first = self.row if self.first is None else self.first
            self.last = self.row + self.repeats
            self.width = max(self.width, self.last_value)
        self.row += self.repeats
        self.repeats = 1

    def _end_table(self) -> None:
        if self.first is not None:
            height = self.last - self.first
            self.cells += height * self.width
            self.tallest = max(self.tallest, height)
            self.widest = max(self.widest, self.width)
        self._start_table()

    def extent(self) -> _Extent:
        """Return a range as tall as the tallest table and as big as all tables together."""
        self._end_table()  # a table the file never closes counts too
        if not self.cells:
            return _Extent(0, 0)
        return _Extent(max(self.tallest, -(-self.cells // self.widest)), self.widest)
