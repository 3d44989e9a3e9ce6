"""A chunk's outcomes: one by one where rows differ, in blocks where rows share one fate.

A dry run's valid rows all end ``skipped`` / ``dry_run`` with one message: a million of them
are a block of row numbers, not a million ``RowOutcome`` objects (two seconds to make, more to
read back). ``ChunkOutcomes`` is still a mapping from source row to ``RowOutcome``, made on
demand, for whoever reads it row by row; the report and the totals read it as groups of rows
that share one outcome (``groups``: a group number per row, each field once per group), or as
columns (``columns``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence, ValuesView
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from importer.lifecycle import STATUS_OF, Reason, RowOutcome, State, Status

Rows = npt.NDArray[np.int64]

_STATUS_TEXT = {state: status.value for state, status in STATUS_OF.items()}
_REASON_TEXT = {reason: reason.value for reason in Reason}
"""Each state's status and each reason as plain text, read without an enum lookup per row."""


@dataclass(frozen=True, slots=True)
class SharedOutcome:
    """The same outcome for many rows: only their numbers differ."""

    rows: Rows
    state: State
    reason: Reason
    message: str = ""

    @property
    def status(self) -> Status:
        """Return the report status the rows' state is shown as."""
        return STATUS_OF[self.state]

    def one(self, row: int) -> RowOutcome:
        """Return the outcome of one of the rows."""
        return RowOutcome(row, self.state, self.reason, self.message)


@dataclass(frozen=True, slots=True)
class OutcomeColumns:
    """The outcomes of a chunk's rows in frame order, as columns (rows.csv's first columns)."""

    source_row: Rows
    status: npt.NDArray[np.object_]
    reason: npt.NDArray[np.object_]
    message: npt.NDArray[np.object_]
    http_status: npt.NDArray[np.object_]
    """The HTTP status as a number, or None."""
    vendor_id: npt.NDArray[np.object_]
    """The vendor's id, or None."""
    attempts: npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class OutcomeGroups:
    """The outcomes of a chunk's rows in frame order, as one group number per row.

    The rows of a group share one outcome (a shared block's, or a single row's); each field of
    the outcomes is a list with one item per group, so a column of the report is made once per
    group and spread over the rows by their group numbers.
    """

    source_row: Rows
    group: npt.NDArray[np.intp]
    """Per row, the position of its outcome in the lists below."""
    status: list[str]
    reason: list[str]
    message: list[str]
    http_status: list[int | None]
    vendor_id: list[str | None]
    attempts: list[int]

    @classmethod
    def of(
        cls, source_row: Rows, group: npt.NDArray[np.intp], outcomes: Sequence[RowOutcome]
    ) -> OutcomeGroups:
        """Return the groups whose outcomes are ``outcomes``, in order."""
        return cls(
            source_row=source_row,
            group=group,
            status=[_STATUS_TEXT[outcome.state] for outcome in outcomes],
            reason=[_REASON_TEXT[outcome.reason] for outcome in outcomes],
            message=[outcome.message for outcome in outcomes],
            http_status=[outcome.http_status for outcome in outcomes],
            vendor_id=[outcome.vendor_id for outcome in outcomes],
            attempts=[outcome.attempts for outcome in outcomes],
        )

    def rows_per_group(self) -> npt.NDArray[np.int64]:
        """Return how many of the chunk's rows each group has (0 for a row not in the chunk)."""
        counts: npt.NDArray[np.int64] = np.bincount(self.group, minlength=len(self.status))
        return counts


class ChunkOutcomes(Mapping[int, RowOutcome]):
    """Every row's outcome in a chunk: single ones by row, and shared ones in blocks."""

    def __init__(
        self, single: Mapping[int, RowOutcome] | None = None, shared: Sequence[SharedOutcome] = ()
    ) -> None:
        """Hold ``single`` outcomes and ``shared`` blocks; a row must be in only one of them."""
        self.single = dict(single or {})
        self.shared = tuple(block for block in shared if len(block.rows))
        self._block_of: dict[int, int] | None = None

    def __getitem__(self, row: int) -> RowOutcome:
        if row in self.single:
            return self.single[row]
        return self.shared[self._blocks()[row]].one(row)

    def __contains__(self, row: object) -> bool:
        return row in self.single or row in self._blocks()

    def __iter__(self) -> Iterator[int]:
        yield from self.single
        for block in self.shared:
            yield from block.rows.tolist()

    def __len__(self) -> int:
        return len(self.single) + sum(len(block.rows) for block in self.shared)

    def values(self) -> ValuesView[RowOutcome]:
        """Return every outcome, the single ones first, each block's made as it is read."""
        return _Values(self)

    def counts(self) -> Iterator[tuple[Status, Reason, str, int]]:
        """Yield (status, reason, message, rows) per shared block; single ones count one each."""
        for outcome in self.single.values():
            yield outcome.status, outcome.reason, outcome.message, 1
        for block in self.shared:
            yield block.status, block.reason, block.message, len(block.rows)

    def columns(self, index: pd.Index) -> OutcomeColumns:
        """Return the outcomes of the rows of ``index``, in its order, as columns.

        Raises:
            ValueError: If a row of ``index`` has no outcome.
        """
        count = len(index)
        fields = _empty_columns(np.asarray(index, dtype=np.int64))
        found = np.zeros(count, dtype=bool)
        for block in self.shared:
            at = index.get_indexer(pd.Index(block.rows))
            at = at[at >= 0]
            found[at] = True
            fields.status[at] = block.status.value
            fields.reason[at] = block.reason.value
            fields.message[at] = block.message
        if self.single:
            at = index.get_indexer(pd.Index(list(self.single)))
            for position, outcome in zip(at.tolist(), self.single.values(), strict=True):
                if position < 0:
                    continue
                found[position] = True
                fields.status[position] = outcome.status.value
                fields.reason[position] = outcome.reason.value
                fields.message[position] = outcome.message
                fields.http_status[position] = outcome.http_status
                fields.vendor_id[position] = outcome.vendor_id
                fields.attempts[position] = outcome.attempts
        if not found.all():
            missing = fields.source_row[~found].tolist()
            raise ValueError(f"no outcome for source rows {missing[:10]} ({len(missing)} in all)")
        return fields

    def groups(self, index: pd.Index) -> OutcomeGroups:
        """Return the outcomes of the rows of ``index``, in its order, as groups.

        Raises:
            ValueError: If a row of ``index`` has no outcome.
        """
        rows = np.asarray(index, dtype=np.int64)
        group = np.full(len(rows), -1, dtype=np.intp)
        for number, block in enumerate(self.shared):
            _place(group, index, block.rows, np.array([number], dtype=np.intp))
        if self.single:
            keys = np.fromiter(self.single, dtype=np.int64, count=len(self.single))
            numbers = np.arange(len(self.shared), len(self.shared) + len(keys), dtype=np.intp)
            _place(group, index, keys, numbers)
        if (group < 0).any():
            missing = rows[group < 0].tolist()
            raise ValueError(f"no outcome for source rows {missing[:10]} ({len(missing)} in all)")
        shared = [block.one(int(block.rows[0])) for block in self.shared]
        return OutcomeGroups.of(rows, group, [*shared, *self.single.values()])

    def _blocks(self) -> dict[int, int]:
        """Return which shared block holds each row (made once, for row-by-row readers)."""
        if self._block_of is None:
            self._block_of = {
                row: number
                for number, block in enumerate(self.shared)
                for row in block.rows.tolist()
            }
        return self._block_of


class _Values(ValuesView[RowOutcome]):
    """The outcomes of a ChunkOutcomes, read without a lookup per row."""

    _mapping: ChunkOutcomes

    def __iter__(self) -> Iterator[RowOutcome]:
        yield from self._mapping.single.values()
        for block in self._mapping.shared:
            for row in block.rows.tolist():
                yield block.one(row)


def as_chunk_outcomes(outcomes: Mapping[int, RowOutcome]) -> ChunkOutcomes:
    """Return ``outcomes`` as ChunkOutcomes (single ones, when given a plain mapping)."""
    return outcomes if isinstance(outcomes, ChunkOutcomes) else ChunkOutcomes(outcomes)


def _place(
    group: npt.NDArray[np.intp], index: pd.Index, rows: Rows, numbers: npt.NDArray[np.intp]
) -> None:
    """Set ``group`` at the positions of ``rows`` in ``index`` (rows not in it are left out).

    ``numbers`` holds one group number per row of ``rows``, or one for them all.
    """
    at = index.get_indexer(pd.Index(rows))
    found = at >= 0
    group[at[found]] = numbers if numbers.size == 1 else numbers[found]


def _empty_columns(rows: Rows) -> OutcomeColumns:
    count = len(rows)
    return OutcomeColumns(
        source_row=rows,
        status=np.full(count, "", dtype=object),
        reason=np.full(count, "", dtype=object),
        message=np.full(count, "", dtype=object),
        http_status=np.full(count, None, dtype=object),
        vendor_id=np.full(count, None, dtype=object),
        attempts=np.zeros(count, dtype=np.int64),
    )
