"""Write a zip whose large parts were deflated while the run went, into spools of their own.

Python's ``zipfile`` deflates a part while it is written into the zip, one part at a time; a
report's sheets are filled side by side over the whole run. So each large part deflates its
bytes as they come (``DeflatedPart``), into a private temporary file, which then holds a
twelfth of them; ``ZipWriter`` copies the deflated bytes into place at the end, with the local
headers, the central directory and, past 4 GiB, the ZIP64 records that readers expect
(APPNOTE 6.3: local header, data, central directory, end records).
"""

from __future__ import annotations

import shutil
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

COMPRESS_LEVEL = 1
"""zlib level of the parts: the XML is repetitive, so level 1 is small and several times faster."""

ZIP64_LIMIT = 0xFFFF_FFFF
"""A size or offset at or past this needs the ZIP64 records (a module value so tests lower it)."""

_MARK, _MARK16 = 0xFFFF_FFFF, 0xFFFF
"""What a classic field holds when its value is in the ZIP64 records."""

_DEFLATED = 8
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_END64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<IIQI")
_VERSION, _VERSION64 = 20, 45
_UNIX = 3 << 8
"""The host system "made by" names: external attributes are Unix modes."""


@dataclass(slots=True)
class DeflatedPart:
    """A part's bytes, deflated (raw, as a zip holds them) into ``spool`` as they come."""

    spool: IO[bytes]
    crc: int = 0
    size: int = 0
    deflated: int = 0
    _compressor: zlib._Compress | None = field(
        default_factory=lambda: zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    )

    def write(self, data: bytes) -> None:
        """Add ``data`` after the bytes already written."""
        if self._compressor is None:
            raise RuntimeError("the part is already closed")
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        self._spool(self._compressor.compress(data))

    def close(self) -> None:
        """End the deflated stream; the part can then go into a zip."""
        if self._compressor is not None:
            self._spool(self._compressor.flush())
            self._compressor = None

    def discard(self) -> None:
        """Drop the spooled bytes."""
        self._compressor = None
        self.spool.close()

    def _spool(self, deflated: bytes) -> None:
        self.spool.write(deflated)
        self.deflated += len(deflated)


def deflated_text(text: str, spool: IO[bytes]) -> DeflatedPart:
    """Return a small part made of ``text`` in UTF-8, closed."""
    part = DeflatedPart(spool)
    part.write(text.encode("utf-8"))
    part.close()
    return part


@dataclass(frozen=True, slots=True)
class _Entry:
    name: bytes
    crc: int
    size: int
    deflated: int
    offset: int


class ZipWriter:
    """Write deflated parts one after the other into a zip, then its central directory."""

    def __init__(self, target: IO[bytes]) -> None:
        """Write into ``target``, an open file positioned where the zip starts (its start)."""
        self._target = target
        self._offset = 0
        self._entries: list[_Entry] = []
        now = time.localtime()
        self._date = (now.tm_year - 1980) << 9 | now.tm_mon << 5 | now.tm_mday
        self._time = now.tm_hour << 11 | now.tm_min << 5 | now.tm_sec // 2

    def add(self, name: str, part: DeflatedPart) -> None:
        """Write a closed part as the next entry: its local header, then its deflated bytes."""
        encoded = name.encode("ascii")
        entry = _Entry(encoded, part.crc, part.size, part.deflated, self._offset)
        wide = _sizes_need_zip64(entry)
        extra = struct.pack("<HHQQ", 1, 16, part.size, part.deflated) if wide else b""
        header = _LOCAL.pack(
            0x04034B50,
            _VERSION64 if wide else _VERSION,
            0,
            _DEFLATED,
            self._time,
            self._date,
            part.crc,
            _MARK if wide else part.deflated,
            _MARK if wide else part.size,
            len(encoded),
            len(extra),
        )
        self._write(header + encoded + extra)
        part.spool.seek(0)
        shutil.copyfileobj(part.spool, self._target, 1 << 20)
        self._offset += part.deflated
        self._entries.append(entry)

    def close(self) -> None:
        """Write the central directory and the end records."""
        start = self._offset
        for entry in self._entries:
            self._write(self._central(entry))
        size = self._offset - start
        count = len(self._entries)
        if count >= _MARK16 or size >= ZIP64_LIMIT or start >= ZIP64_LIMIT:
            end64 = self._offset
            self._write(
                _END64.pack(
                    0x06064B50, 44, _UNIX | _VERSION64, _VERSION64, 0, 0, count, count, size, start
                )
            )
            self._write(_LOCATOR64.pack(0x07064B50, 0, end64, 1))
            self._write(_END.pack(0x06054B50, 0, 0, _MARK16, _MARK16, _MARK, _MARK, 0))
        else:
            self._write(_END.pack(0x06054B50, 0, 0, count, count, size, start, 0))

    def _central(self, entry: _Entry) -> bytes:
        """Return an entry's central directory record, with a ZIP64 field for what is large."""
        large = list(_zip64_values(entry))
        extra = struct.pack(f"<HH{len(large)}Q", 1, 8 * len(large), *large) if large else b""
        version = _VERSION64 if large else _VERSION
        wide = _sizes_need_zip64(entry)
        return (
            _CENTRAL.pack(
                0x02014B50,
                _UNIX | version,
                version,
                0,
                _DEFLATED,
                self._time,
                self._date,
                entry.crc,
                _MARK if wide else entry.deflated,
                _MARK if wide else entry.size,
                len(entry.name),
                len(extra),
                0,
                0,
                0,
                0o600 << 16,
                _MARK if entry.offset >= ZIP64_LIMIT else entry.offset,
            )
            + entry.name
            + extra
        )

    def _write(self, data: bytes) -> None:
        self._target.write(data)
        self._offset += len(data)


def _sizes_need_zip64(entry: _Entry) -> bool:
    return entry.size >= ZIP64_LIMIT or entry.deflated >= ZIP64_LIMIT


def _zip64_values(entry: _Entry) -> Iterator[int]:
    """Yield the values a central ZIP64 field holds, in its order: sizes, then the offset."""
    if _sizes_need_zip64(entry):
        yield entry.size
        yield entry.deflated
    if entry.offset >= ZIP64_LIMIT:
        yield entry.offset
