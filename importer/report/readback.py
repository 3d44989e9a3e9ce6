"""Read the finished rows.csv back, a batch of columns at a time, to build report.xlsx from it.

rows.csv is the run's own file (UTF-8 with a BOM, every field quoted), so Arrow's CSV reader
takes it in C, a block at a time. A row longer than a block, which Arrow cannot read, sends the
whole file through the csv module instead (``exact_batches``): slower, but any row length.
"""

from __future__ import annotations

import contextlib
import csv
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

from importer.report.sheetxml import TEXT

BLOCK_BYTES = 1 << 20
"""Bytes of rows.csv Arrow parses at a time; a row longer than this takes the exact reader.
Arrow's parsing memory grows with it (about 70 MB at 1 MB, 230 MB at 8 MB)."""

BATCH_BYTES = 4 << 20
"""Bytes of text per batch handed on: fewer, larger batches cost less per row downstream."""

EXACT_BATCH_ROWS = 10_000
"""Rows per batch of the exact reader."""

Batch = list[pa.Array]
"""A batch of rows as its columns, each of type ``TEXT``."""


class Unreadable(Exception):
    """Raised by ``fast_batches`` when Arrow cannot read the file (a row longer than a block)."""


def header(path: Path) -> tuple[list[str], int]:
    """Return rows.csv's header and the byte offset of the first row after it."""
    consumed = 0

    def lines(raw: Iterator[bytes]) -> Iterator[str]:
        nonlocal consumed
        for line in raw:
            encoding = "utf-8" if consumed else "utf-8-sig"
            consumed += len(line)
            yield line.decode(encoding)

    with path.open("rb") as raw, any_field_size():
        names = next(csv.reader(lines(raw)), [])
    return names, consumed


def fast_batches(path: Path, width: int, offset: int) -> Iterator[Batch]:
    """Yield rows.csv's rows after the header, read by Arrow a block at a time.

    Raises:
        Unreadable: If Arrow cannot read a block (a row longer than ``BLOCK_BYTES``); batches
            may have been yielded before.
    """
    names = [f"c{index}" for index in range(width)]
    with path.open("rb") as raw:
        if raw.seek(0, 2) <= offset:
            return
        raw.seek(offset)
        try:
            reader = pa_csv.open_csv(
                raw,
                read_options=pa_csv.ReadOptions(column_names=names, block_size=BLOCK_BYTES),
                parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(
                    column_types=dict.fromkeys(names, TEXT),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            yield from _combined(reader)
        except pa.ArrowInvalid as error:
            raise Unreadable(str(error)) from error


def _combined(reader: Iterator[pa.RecordBatch]) -> Iterator[Batch]:
    """Yield the reader's small batches joined into batches of about ``BATCH_BYTES``."""
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in reader:
        pending.append(batch)
        size += batch.nbytes
        if size >= BATCH_BYTES:
            yield _joined(pending)
            pending, size = [], 0
    if pending:
        yield _joined(pending)


def _joined(batches: list[pa.RecordBatch]) -> Batch:
    table = pa.Table.from_batches(batches)
    return [column.combine_chunks() for column in table.columns]


def exact_batches(path: Path, width: int) -> Iterator[Batch]:
    """Yield rows.csv's rows after the header, parsed by the csv module, whatever their length."""
    with path.open(encoding="utf-8-sig", newline="") as text, any_field_size():
        reader = csv.reader(text)
        next(reader, None)
        while True:
            rows = [row for _, row in zip(range(EXACT_BATCH_ROWS), reader, strict=False)]
            if not rows:
                return
            columns = zip(*(_fit(row, width) for row in rows), strict=True)
            yield [pa.array(column, TEXT) for column in columns]


def _fit(row: list[str], width: int) -> list[str]:
    """Pad or cut a row to the header's width (rows.csv rows always have it)."""
    return row[:width] + [""] * (width - len(row))


@contextlib.contextmanager
def any_field_size() -> Iterator[None]:
    """Let the csv module read cells of any length: rows.csv is the run's own file."""
    previous = csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(previous)
