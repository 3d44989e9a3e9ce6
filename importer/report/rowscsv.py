"""rows.csv's lines for a whole chunk at once, column-wise, as the csv module would write them.

The report's own columns are made once per outcome group and spread over the rows; each sheet
column is taken from the frame as Arrow text without a copy (or converted, when a caller's
frame holds objects), defused by ``cells.neutralize_column``, and the chunk is written by
Arrow's CSV writer with every field quoted and CRLF line ends: byte for byte what
``csv.writer`` with ``QUOTE_ALL`` writes, at a fraction of the cost per row. A chunk with a
cell that is not text (a caller's own frame), or a chunk of few rows, is left to the
row-by-row path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from importer.outcomes import OutcomeGroups
from importer.report.cells import neutralize_column
from importer.report.columns import REPORT_COLUMNS

TEXT = pa.large_string()
"""The type of every field handed on (64-bit offsets: no batch can overflow)."""

MIN_ROWS = 256
"""Fewer rows go row by row: Arrow costs about 0.1 ms per call on a column, a cell by hand 1 µs,
and a sheet of 20,000 columns comes 25 rows a chunk."""

OWN = len(REPORT_COLUMNS)
"""How many of the report's own fields come before a row's cells."""


@dataclass(frozen=True, slots=True)
class GroupFields:
    """The report's own fields of each outcome group, as written, and what counts them."""

    status: pa.Array
    reason: pa.Array
    message: pa.Array
    """The message as the vendor or a stage gave it (``fields`` holds it defused)."""
    rows: npt.NDArray[np.int64]
    """How many of the chunk's rows each group has."""
    fields: list[pa.Array]
    """status, reason, message, http_status, vendor_id, attempts: defused, one per group."""

    @classmethod
    def of(cls, groups: OutcomeGroups) -> GroupFields:
        """Return the fields of ``groups``' outcomes, each made once per group."""
        status = pa.array(groups.status, TEXT)
        reason = pa.array(groups.reason, TEXT)
        message = pa.array(groups.message, TEXT)
        vendor_id = pa.array(groups.vendor_id, TEXT).fill_null("")
        fields = [
            status,
            reason,
            neutralize_column(message),
            _numbers(pa.array(groups.http_status, pa.int64())),
            neutralize_column(vendor_id),
            _numbers(pa.array(groups.attempts, pa.int64())),
        ]
        return cls(status, reason, message, groups.rows_per_group(), fields)


@dataclass(frozen=True, slots=True)
class ChunkLines:
    """A chunk's rows.csv lines, and every field of its rows as written, column by column."""

    data: pa.Buffer
    fields: list[pa.Array]
    """The report's own columns (``OWN`` of them), then the sheet's cells, defused."""
    groups: GroupFields
    """The fields of the chunk's outcome groups, and how many rows each group has."""


def chunk_lines(frame: pd.DataFrame, outcomes: OutcomeGroups) -> ChunkLines | None:
    """Return rows.csv's lines for ``frame``'s rows with their outcomes, in frame order.

    Returns:
        The lines, or None when a cell of ``frame`` is neither text nor missing, or when the
        chunk has fewer than ``MIN_ROWS`` rows (a very wide sheet's).
    """
    if len(frame) < MIN_ROWS:
        return None
    cells = []
    for position in range(frame.shape[1]):
        column = text_column(frame.iloc[:, position])
        if column is None:
            return None
        cells.append(neutralize_column(column))
    groups = GroupFields.of(outcomes)
    fields = [*own_fields(outcomes, groups), *cells]
    return ChunkLines(csv_lines(fields), fields, groups)


def own_fields(outcomes: OutcomeGroups, groups: GroupFields) -> list[pa.Array]:
    """Return the report's own columns of a chunk's rows: each group's fields, spread by row."""
    group = pa.array(outcomes.group, pa.int64())
    source_row = pa.array(outcomes.source_row, pa.int64()).cast(TEXT)
    return [source_row, *(field.take(group) for field in groups.fields)]


def csv_lines(fields: Sequence[pa.Array]) -> pa.Buffer:
    """Return CSV lines of the given columns of text: every field quoted, CRLF line ends."""
    count = len(fields[0]) if fields else 0
    table = pa.Table.from_arrays(list(fields), names=[f"c{index}" for index in range(len(fields))])
    sink = pa.BufferOutputStream()
    options = pa_csv.WriteOptions(
        include_header=False, quoting_style="all_valid", eol="\r\n", batch_size=max(count, 1)
    )
    pa_csv.write_csv(table, sink, options)
    buffer: pa.Buffer = sink.getvalue()
    return buffer


def text_column(values: pd.Series) -> pa.Array | None:
    """Return a column as Arrow text, a missing value as empty; None if a cell is not text.

    A column of pandas' Arrow-backed text is taken as it is, without a copy.
    """
    if hasattr(values.array, "__arrow_array__"):
        column = pa.array(values.array)
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            return _filled(column.cast(TEXT))
    objects = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(objects, skipna=True) not in ("string", "empty"):
        return None
    return _filled(pa.array(objects, TEXT, from_pandas=True))


def _filled(column: pa.Array) -> pa.Array:
    return column.fill_null("") if column.null_count else column


def _numbers(values: pa.Array) -> pa.Array:
    """Return whole numbers as text, a missing one as empty."""
    return _filled(pc.cast(values, TEXT))
