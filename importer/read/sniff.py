"""Find out what a file is before reading it: its kind, and a CSV file's encoding and delimiter.

A file is read only if it is a non-empty file whose name ends in a supported suffix. CSV files
are decoded by the encoding found in them (byte-order mark, then UTF-8, then charset-normalizer)
and split by the delimiter that divides their first records most evenly; files that look binary
are refused with a hint at what they really are, and so are files over the size limit and files
that mix encodings (UTF-8 and a code page), naming the line where one gives way to the other.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import charset_normalizer

from importer.errors import InputError
from importer.read.limits import FLAGS, ReadLimits, over

__all__ = [
    "CSV_SUFFIXES",
    "DELIMITERS",
    "WORKBOOK_SUFFIXES",
    "check_file",
    "detect_encoding",
    "sample_text",
    "sep_line",
    "sniff_delimiter",
]

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
"""File name endings read as delimited text."""

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
"""File name endings read as spreadsheet workbooks."""

DELIMITERS = (",", ";", "\t", "|")
"""Delimiters tried when sniffing a CSV file, in order of preference on a tie."""

_SNIFF_RECORDS = 50
_SNIFF_BLANK = "".join(DELIMITERS) + " \r\n"  # a record of only these is blank, whatever splits it
_SNIFF_CHARS = 64 * 1024
_BLOCK_BYTES = 1024 * 1024
_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class _Bom:
    """A byte-order mark: the codec that reads a file starting with it, and what it says."""

    mark: bytes
    encoding: str
    """The codec a file starting with the mark is read with (it drops the mark)."""
    codec: str
    """The codec of the bytes after the mark."""
    name: str


_BOMS = (
    _Bom(codecs.BOM_UTF32_LE, "utf-32", "utf-32-le", "UTF-32"),
    _Bom(codecs.BOM_UTF32_BE, "utf-32", "utf-32-be", "UTF-32"),
    _Bom(codecs.BOM_UTF8, "utf-8-sig", "utf-8", "UTF-8"),
    _Bom(codecs.BOM_UTF16_LE, "utf-16", "utf-16-le", "UTF-16"),
    _Bom(codecs.BOM_UTF16_BE, "utf-16", "utf-16-be", "UTF-16"),
)


_BINARY_SIGNATURES = (
    (b"PK\x03\x04", "a zip archive (an .xlsx or .ods workbook under another name?)"),
    (b"\xd0\xcf\x11\xe0", "an Office binary file (an .xls workbook under another name?)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
)

# Control bytes that do not occur in text (tab, newlines, form feed, SUB and ESC excepted).
_CONTROL_BYTES = frozenset(range(32)) - {9, 10, 11, 12, 13, 26, 27}

# UTF-8 for accented Latin letters, and for typographic quotes, dashes and the ellipsis.
_UTF8_TEXT = re.compile(rb"\xc3[\x80-\xbf]|\xc5[\x92\x93\xa0\xa1\xb8\xbd\xbe]|\xe2\x80[\x93-\xa6]")

# The same, and Greek, Cyrillic and three-byte UTF-8 (most other scripts), seldom made by chance.
_UTF8_LETTERS = re.compile(
    _UTF8_TEXT.pattern + rb"|[\xce-\xd3][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}"
)

# Guesses from charset-normalizer that mean "some western single-byte code page".
_WESTERN = frozenset(
    {"cp1252", "latin_1", "iso8859_15", "cp850", "cp858", "cp437", "mac_roman", "mac_iceland"}
)


def check_file(path: Path, limits: ReadLimits) -> None:
    """Raise InputError unless the path is a non-empty file of a supported kind and size."""
    try:
        is_dir, is_file = path.is_dir(), path.is_file()
        size = path.stat().st_size if is_file else 0
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error
    if is_dir:
        raise InputError(f"{path} is a directory; pass a CSV or Excel file instead")
    if not is_file:
        raise InputError(f"{path} does not exist; check the file name and folder")
    if path.suffix.lower() not in CSV_SUFFIXES + WORKBOOK_SUFFIXES:
        supported = ", ".join(CSV_SUFFIXES + WORKBOOK_SUFFIXES)
        raise InputError(
            f"{path} has an unsupported file type {path.suffix or '(none)'!r};"
            f" save it as one of {supported}"
        )
    if size == 0:
        raise InputError(f"{path} is empty; export the sheet again, header row included")
    if size > limits.max_file_bytes:
        raise InputError(
            f"{path} is {over(size, limits.max_file_bytes)}; split it, or raise the limit"
            f" with {FLAGS['max_file_bytes']} N"
        )


def sample_text(path: Path, encoding: str) -> str:
    """Return the first characters of a CSV file, decoded, without NUL characters."""
    try:
        with path.open(encoding=encoding, errors="replace", newline="") as text:
            return text.read(_SNIFF_CHARS).replace("\x00", "")
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error


_SEP_LINE = re.compile(r'"?sep=([^\w\s"]|\t)"?\1*[ ]*(?:\r\n|\n|\r|\Z)', re.IGNORECASE)
"""Excel's first line naming the delimiter: ``sep=;``, maybe quoted, maybe followed by that
delimiter again (a sheet app that saved the line as a row of cells)."""


def sep_line(sample: str) -> str | None:
    """Return the delimiter named by Excel's ``sep=`` first line, if the sample starts with one.

    Excel writes ``sep=;`` (or ``sep=,``) as line 1 of a CSV file for some locales, and reads
    it as the delimiter, showing the header as row 1.
    """
    found = _SEP_LINE.match(sample)
    return found.group(1) if found else None


def sniff_delimiter(sample: str) -> str:
    """Return the delimiter that splits the sample's first records into the steadiest width.

    A candidate is judged by the share of records having its most common field count, then by
    their number, provided that count is above one. Records of only delimiters and whitespace
    are left out for every candidate alike, so that a blank row of two commas and a tab cannot
    vote for the tab. Ties go to the comma, then to the order of DELIMITERS.
    """
    scores = {delimiter: _steadiness(sample, delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: (scores[delimiter], delimiter == ","))
    return best if scores[best] > (0.0, 0) else ","


def _steadiness(sample: str, delimiter: str) -> tuple[float, int]:
    """Return the share and number of sampled records sharing the most common field count.

    Both are zero when that count is one (the delimiter splits nothing) or parsing fails.
    """
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    try:
        records = list(islice(reader, _SNIFF_RECORDS + 1))
    except csv.Error:
        return 0.0, 0
    if len(sample) >= _SNIFF_CHARS or len(records) > _SNIFF_RECORDS:
        records = records[:-1]  # the last one may be cut short by the sample's end
    widths = Counter(len(cells) for cells in records if "".join(cells).strip(_SNIFF_BLANK))
    if not widths:
        return 0.0, 0
    width, count = widths.most_common(1)[0]
    return (count / widths.total(), count) if width > 1 else (0.0, 0)


def detect_encoding(path: Path) -> str:
    """Return the Python codec name to decode a CSV file with.

    A byte-order mark decides, if the whole file decodes as it says; then UTF-8 if the whole
    file decodes as UTF-8; then charset-normalizer's guess on the bytes around the first
    non-UTF-8 byte.

    Raises:
        InputError: If the file looks binary rather than text, or its text does not decode as
            its byte-order mark says or as one encoding throughout.
    """
    head = _read_head(path)
    for bom in _BOMS:
        if head.startswith(bom.mark):
            _check_bom_text(path, head, bom)
            return bom.encoding
    _reject_binary_signature(path, head)
    utf16 = _bomless_utf16(head)
    if utf16:
        return utf16
    if _control_share(head) > 0.1:
        raise InputError(f"{path} looks like a binary file, not CSV text; export it as CSV")
    not_utf8 = _first_utf8_error(path)
    if not_utf8 is None:
        return "utf-8"
    if not_utf8.after_utf8:
        raise InputError(
            f"{path} mixes encodings: it is UTF-8 text up to line {not_utf8.line}, which holds"
            f" a byte that is not UTF-8 ({not_utf8.byte:#04x}); save the whole file again as"
            " UTF-8 (in Excel: CSV UTF-8)"
        )
    encoding = _guess_single_byte(path, _read_window(path, not_utf8.offset))
    late = _late_utf8_line(path, not_utf8) if _single_byte(encoding) else None
    if late is not None:
        raise InputError(
            f"{path} mixes encodings: it is {encoding} text on line {not_utf8.line}, but"
            f" line {late} holds UTF-8 text; save the whole file again as UTF-8 (in Excel:"
            " CSV UTF-8)"
        )
    return encoding


def _read_head(path: Path) -> bytes:
    """Return the first bytes of a file."""
    try:
        with path.open("rb") as raw:
            return raw.read(_HEAD_BYTES)
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error


def _check_bom_text(path: Path, head: bytes, bom: _Bom) -> None:
    """Refuse a file whose text is not in the encoding its byte-order mark says.

    Read as the mark says, UTF-32 or UTF-16 text under the wrong mark comes out a quarter or
    more NUL characters (or every character out of place); a code page's byte, a lone
    surrogate or a cut-off last character do not decode at all. Either way the reader would
    replace or drop characters without a word, or find no rows.

    Raises:
        InputError: naming the file, the mark, and the line that does not decode.
    """
    sample = head[len(bom.mark) :].decode(bom.codec, errors="replace")
    nuls = sample.count("\x00")
    if nuls > 4 and nuls * 4 > len(sample):
        raise InputError(
            f"{path} starts with a {bom.name} byte-order mark, but its text is not {bom.name}"
            " (it reads as NUL characters); save it again as UTF-8 (in Excel: CSV UTF-8)"
        )
    bad = _first_undecodable(path, bom)
    if bad is not None:
        line, byte = bad
        raise InputError(
            f"{path} mixes encodings: it starts with a {bom.name} byte-order mark, but line"
            f" {line} holds bytes that are not {bom.name} ({byte:#04x}); save the whole file"
            " again as UTF-8 (in Excel: CSV UTF-8)"
        )


def _first_undecodable(path: Path, bom: _Bom) -> tuple[int, int] | None:
    """Return the line and first byte of the first bytes after a mark that do not decode."""
    decoder = codecs.getincrementaldecoder(bom.codec)()
    lines = 1
    try:
        with path.open("rb") as raw:
            raw.seek(len(bom.mark))
            while block := raw.read(_BLOCK_BYTES):
                try:
                    lines += decoder.decode(block).count("\n")
                except UnicodeDecodeError as error:
                    before = error.object[: error.start].decode(bom.codec, errors="replace")
                    return lines + before.count("\n"), error.object[error.start]
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:  # the file ends inside a character
        return lines, error.object[error.start]
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error
    return None


def _reject_binary_signature(path: Path, head: bytes) -> None:
    """Raise InputError if the bytes start like a known binary format."""
    for signature, what in _BINARY_SIGNATURES:
        if head.startswith(signature):
            raise InputError(
                f"{path} is {what}, not CSV text; save it as CSV or give it its real extension"
            )


def _bomless_utf16(head: bytes) -> str | None:
    """Return "utf-16-le" or "utf-16-be" for mostly-ASCII UTF-16 text without a BOM."""
    head = head[: len(head) - len(head) % 2]
    if not head:
        return None
    even_nuls = head[0::2].count(0) * 2 / len(head)
    odd_nuls = head[1::2].count(0) * 2 / len(head)
    if odd_nuls > 0.4 and even_nuls < 0.05:
        encoding = "utf-16-le"
    elif even_nuls > 0.4 and odd_nuls < 0.05:
        encoding = "utf-16-be"
    else:
        return None
    return encoding if _decodes(head, encoding) else None


def _control_share(head: bytes) -> float:
    """Return the share of bytes that never occur in text, or 0 for samples too short to judge."""
    if len(head) < 64:
        return 0.0
    return sum(1 for byte in head if byte in _CONTROL_BYTES) / len(head)


@dataclass(frozen=True, slots=True)
class _NotUtf8:
    """Where a file stops being UTF-8: the first byte that is not."""

    offset: int
    byte: int
    line: int
    """Its line number, counted from 1."""
    after_utf8: bool
    """Whether UTF-8 text of letters beyond ASCII came before it (the file mixes encodings)."""


def _first_utf8_error(path: Path) -> _NotUtf8 | None:
    """Return the first byte that is not valid UTF-8, or None if all are."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines, utf8_text = 0, 1, False
    try:
        with path.open("rb") as raw:
            while block := raw.read(_BLOCK_BYTES):
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as error:
                    start = max(0, error.start - len(error.object) + len(block))
                    before = block[:start]
                    return _NotUtf8(
                        offset=offset + start,
                        byte=error.object[error.start],
                        line=lines + before.count(b"\n"),
                        after_utf8=utf8_text or _has_utf8_text(before),
                    )
                offset += len(block)
                lines += block.count(b"\n")
                utf8_text = utf8_text or _has_utf8_text(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:  # the file ends inside a multi-byte sequence
        return _NotUtf8(offset, error.object[error.start], lines, utf8_text)
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error
    return None


def _single_byte(encoding: str) -> bool:
    """Return whether an encoding gives one character per byte (cp1252, latin-1...)."""
    high = bytes(range(128, 256))
    return len(high.decode(encoding, errors="replace")) == len(high)


def _has_utf8_text(data: bytes) -> bool:
    """Return whether bytes hold UTF-8 text beyond ASCII that a code page would not make."""
    return not data.isascii() and _UTF8_LETTERS.search(data) is not None


def _late_utf8_line(path: Path, not_utf8: _NotUtf8) -> int | None:
    """Return the line of the first UTF-8 accent or quote mark after the first non-UTF-8 byte.

    Only sequences that are nonsense in a single-byte code page count ("Ã©", "â€™"), so
    that a western file is never taken for a mixed one by chance.
    """
    lines = not_utf8.line
    try:
        with path.open("rb") as raw:
            raw.seek(not_utf8.offset)
            while block := raw.read(_BLOCK_BYTES):
                found = _UTF8_TEXT.search(block)
                if found:
                    return lines + block.count(b"\n", 0, found.start())
                lines += block.count(b"\n")
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error
    return None


def _read_window(path: Path, around: int) -> bytes:
    """Return up to 64 KiB of a file's bytes around an offset."""
    start = max(0, around - _HEAD_BYTES // 2)
    try:
        with path.open("rb") as raw:
            raw.seek(start)
            return raw.read(_HEAD_BYTES)
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error


def _guess_single_byte(path: Path, sample: bytes) -> str:
    """Return charset-normalizer's guess for non-UTF-8 bytes, preferring cp1252 for western text.

    charset-normalizer often cannot tell western code pages apart on little text (it has
    answered cp932 for a file whose only accent is "é"), so cp1252, what Excel writes in
    western locales, wins whenever an equally likely guess allows it and it decodes the bytes.

    Raises:
        InputError: If no encoding fits and the bytes hold control characters (binary data).
    """
    matches = list(charset_normalizer.from_bytes(sample))
    if not matches:
        if _control_share(sample) > 0.01:
            raise InputError(f"{path} looks like a binary file, not CSV text; export it as CSV")
        return "cp1252"
    best_chaos = matches[0].chaos
    western = any(
        match.encoding in _WESTERN or "cp1252" in match.could_be_from_charset
        for match in matches
        if match.chaos <= best_chaos + 0.01
    )
    if western and _decodes(sample, "cp1252"):
        return "cp1252"
    return codecs.lookup(matches[0].encoding).name


def _decodes(data: bytes, encoding: str) -> bool:
    """Return whether the bytes decode without error."""
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True
