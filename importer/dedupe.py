"""The dedupe stage: the first row with a key wins; later rows with that key are duplicates.

The key is the contract's ``dedupe_key`` over values the map stage already normalized (emails
trimmed, NFC, lower-cased). Rows with no key (no email, where the vendor allows that) are never
deduped. State carries across chunks, so a whole sheet is deduped while it streams.

The keys seen so far are remembered as 128-bit digests (SipHash-2-4 under two keys) in a numpy
hash table, not as strings in a dict: each chunk is checked against it in one pass whatever the
number of keys before it, and a key costs 36 to 72 bytes however long it is. The table stops
growing at ``MEMORY_SLOTS`` (about 1.4 million keys); the keys after those go to a SQLite table
on disk, slower (about 7 µs a key) but flat in memory however long the sheet.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from importer.contracts.contract import Contract, split_list
from importer.mapping.normalize import TEXT, text_series

KEY_SEPARATOR = "\x1f"

Rows = npt.NDArray[np.int64]
Words = npt.NDArray[np.uint64]
Flags = npt.NDArray[np.bool_]

MEMORY_SLOTS = 1 << 21
"""The most slots the in-memory table grows to: 48 MB, about 1.4 million keys."""


@dataclass(frozen=True, slots=True)
class Deduped:
    """A chunk split into kept rows and, per duplicate row, the source row that was kept."""

    kept: pd.DataFrame
    duplicates: dict[int, int]


class Deduper:
    """Remember the first source row of every key seen so far in this input."""

    def __init__(
        self,
        key_fields: Sequence[str],
        *,
        unordered: Collection[str] = (),
        expected_keys: int | None = None,
    ) -> None:
        """Dedupe on ``key_fields`` (all must be present for a row to have a key).

        A field in ``unordered`` holds a list compared as a set: ``"b;a"`` is ``"a;b"``.
        ``expected_keys`` (about the sheet's rows, when known) sizes the memory table at once,
        rather than by doubling as keys come.
        """
        self._key_fields = tuple(key_fields)
        self._unordered = frozenset(unordered) & set(self._key_fields)
        self._seen = _DigestTable(_slots_for(expected_keys or 0))
        self._spill: _SpilledDigests | None = None

    @classmethod
    def for_contract(cls, contract: Contract, *, expected_keys: int | None = None) -> Deduper:
        """Return the deduper of a vendor's contract: its key, its list fields compared as sets."""
        return cls(
            contract.dedupe_key,
            unordered=[spec.path for spec in contract.fields if spec.as_set],
            expected_keys=expected_keys,
        )

    def close(self) -> None:
        """Drop the on-disk table of keys, if the input was big enough to need one."""
        if self._spill is not None:
            self._spill.close()
            self._spill = None

    def split(self, frame: pd.DataFrame) -> Deduped:
        """Return the rows of ``frame`` that are first of their key, and the duplicates.

        The index of ``frame`` holds the rows' numbers (integers), in input order.
        """
        keys = self._key_text(frame)
        present = np.flatnonzero(keys.notna().to_numpy())
        rows = np.asarray(frame.index[present], dtype=np.int64)
        codes, uniques = pd.factorize(keys.iloc[present])
        # factorize numbers keys in order of first appearance: a key's first row is where its
        # code is greater than every code before it.
        firsts = np.flatnonzero(np.diff(np.maximum.accumulate(codes), prepend=-1) > 0)
        kept, seen_before = self._first_rows(*_digests(uniques), rows[firsts])
        duplicate = seen_before[codes] | (firsts[codes] != np.arange(len(codes)))
        dropped = np.zeros(len(frame), dtype=bool)
        dropped[present[duplicate]] = True
        duplicates = dict(
            zip(rows[duplicate].tolist(), kept[codes[duplicate]].tolist(), strict=True)
        )
        return Deduped(frame[~dropped], duplicates)

    def _first_rows(self, high: Words, low: Words, rows: Rows) -> tuple[Rows, Flags]:
        """Return each new key's first row and whether it was seen before; remember new ones.

        Keys live in memory until the table reaches ``MEMORY_SLOTS``; the keys after that go to
        a table on disk, so memory stays flat however long the sheet.
        """
        if self._spill is None and self._seen.has_room(len(rows)):
            return self._seen.first_rows(high, low, rows)
        first, seen = self._seen.find(high, low, rows)
        new = np.flatnonzero(~seen)
        if len(new):
            if self._spill is None:
                self._spill = _SpilledDigests()
            first[new], seen[new] = self._spill.first_rows(high[new], low[new], rows[new])
        return first, seen

    def keys(self, frame: pd.DataFrame) -> pd.Series:
        """Return each row's key as text, or None where a key field is empty or unmapped."""
        keys = self._key_text(frame).astype(object)
        return keys.where(keys.notna(), None)

    def _key_text(self, frame: pd.DataFrame) -> pd.Series:
        """Return each row's key as ``TEXT``, missing where a key field is empty or unmapped."""
        if not self._key_fields or any(name not in frame for name in self._key_fields):
            return pd.Series(np.nan, index=frame.index, dtype=TEXT)
        parts = []
        for name in self._key_fields:
            values = frame[name]
            if name in self._unordered:
                values = values.map(_as_set, na_action="ignore")
            parts.append(pa.array(values.astype(TEXT).array))
        if len(parts) == 1:
            return text_series(parts[0], frame.index)
        # A row with a part missing has no key: the join is missing where any part is.
        separator = pa.scalar(KEY_SEPARATOR, pa.large_string())
        return text_series(pc.binary_join_element_wise(*parts, separator), frame.index)


def _slots_for(keys: int) -> int:
    """Return the memory table's slots for ``keys`` keys: a power of two, at most MEMORY_SLOTS."""
    slots = 1 << 12
    while slots < MEMORY_SLOTS and keys > slots * _DigestTable.MAX_LOAD:
        slots *= 2
    return slots


def _as_set(cell: str) -> str:
    return ";".join(sorted(split_list(cell)))


_HASH_KEYS = ("importer-dedupe1", "importer-dedupe2")
"""Two 16-byte SipHash keys: two independent 64-bit hashes make one 128-bit digest."""


def _digests(keys: pd.Index) -> tuple[Words, Words]:
    """Return a 128-bit digest of each key (SipHash-2-4 under two keys), as two 64-bit words."""
    texts = keys.to_numpy(dtype=object)
    high, low = (pd.util.hash_array(texts, hash_key=key, categorize=False) for key in _HASH_KEYS)
    return high, low


class _DigestTable:
    """An open-addressing hash table (linear probing) from 128-bit digests to row numbers.

    Three flat arrays of slots: 24 bytes a slot, kept between a third and two thirds full.
    Digests are uniformly random, so their high word's low bits pick the slot as they are.
    """

    EMPTY = np.iinfo(np.int64).min
    MAX_LOAD = 2 / 3

    def __init__(self, slots: int = 1 << 12) -> None:
        self._allocate(slots)

    def _allocate(self, slots: int) -> None:
        self._high: Words = np.zeros(slots, dtype=np.uint64)
        self._low: Words = np.zeros(slots, dtype=np.uint64)
        self._rows: Rows = np.full(slots, self.EMPTY, dtype=np.int64)
        self._count = 0

    def has_room(self, adding: int) -> bool:
        """Return whether ``adding`` more digests fit without growing past ``MEMORY_SLOTS``."""
        return self._count + adding <= MEMORY_SLOTS * self.MAX_LOAD

    def first_rows(self, high: Words, low: Words, rows: Rows) -> tuple[Rows, Flags]:
        """Return each digest's first row, and whether it was seen before; remember new ones.

        The digests must differ from each other; a new one is remembered with its row in
        ``rows``, which is also what is returned for it.
        """
        self._make_room(len(rows))
        return self._place(high, low, rows)

    def find(self, high: Words, low: Words, rows: Rows) -> tuple[Rows, Flags]:
        """Return each digest's first row, and whether it is held; remember nothing."""
        return self._place(high, low, rows, claim=False)

    def _make_room(self, adding: int) -> None:
        needed = self._count + adding
        if needed <= len(self._rows) * self.MAX_LOAD:
            return
        slots = len(self._rows)
        while needed > slots * self.MAX_LOAD:
            slots *= 2
        used = self._rows != self.EMPTY
        high, low, rows = self._high[used], self._low[used], self._rows[used]
        self._allocate(slots)
        self._place(high, low, rows)

    def _place(
        self, high: Words, low: Words, rows: Rows, *, claim: bool = True
    ) -> tuple[Rows, Flags]:
        """Look every digest up, probing all of them at once; claim empty slots for new ones."""
        mask = np.uint64(len(self._rows) - 1)
        slot = (high & mask).astype(np.intp)
        first = rows.copy()
        seen = np.zeros(len(rows), dtype=bool)
        pending = np.arange(len(rows))
        while pending.size:
            at = slot[pending]
            held = self._rows[at]
            empty = held == self.EMPTY
            same = ~empty & (self._high[at] == high[pending]) & (self._low[at] == low[pending])
            first[pending[same]] = held[same]
            seen[pending[same]] = True
            losers = (
                self._claim(at[empty], pending[empty], high, low, rows) if claim else pending[:0]
            )
            taken = ~empty & ~same
            slot[pending[taken]] = (at[taken] + 1) & int(mask)
            # A loser retries its slot, finds it taken by another digest and moves on.
            pending = np.concatenate([pending[taken], losers])
        return first, seen

    def _claim(
        self,
        slots: npt.NDArray[np.intp],
        claimants: npt.NDArray[np.intp],
        high: Words,
        low: Words,
        rows: Rows,
    ) -> npt.NDArray[np.intp]:
        """Give each empty slot to its first claimant; return the claimants left without one."""
        won, first = np.unique(slots, return_index=True)
        winners = claimants[first]
        self._high[won], self._low[won], self._rows[won] = (
            high[winners],
            low[winners],
            rows[winners],
        )
        self._count += len(winners)
        lost = np.ones(len(claimants), dtype=bool)
        lost[first] = False
        return claimants[lost]


class _SpilledDigests:
    """Digests and their first rows in a SQLite table on disk, for keys past the memory table.

    The file is made owner-only and unlinked as soon as it is open: nothing is left behind,
    even by a run that is killed. SQLite's page cache (``CACHE_KB``) is all it holds in memory.
    """

    CACHE_KB = 16_384

    def __init__(self) -> None:
        descriptor, path = tempfile.mkstemp(prefix="importer-dedupe-", suffix=".sqlite")
        os.close(descriptor)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.executescript(
                f"""
                PRAGMA journal_mode = OFF;
                PRAGMA synchronous = OFF;
                PRAGMA temp_store = MEMORY;
                PRAGMA cache_size = -{self.CACHE_KB};
                CREATE TABLE seen (
                    high INTEGER NOT NULL, low INTEGER NOT NULL, row INTEGER NOT NULL,
                    PRIMARY KEY (high, low)
                ) WITHOUT ROWID;
                CREATE TEMP TABLE chunk (
                    high INTEGER NOT NULL, low INTEGER NOT NULL, row INTEGER NOT NULL
                );
                """
            )
        finally:
            Path(path).unlink()

    def first_rows(self, high: Words, low: Words, rows: Rows) -> tuple[Rows, Flags]:
        """Return each digest's first row, and whether it was seen before; remember new ones."""
        signed_high, signed_low = high.view(np.int64).tolist(), low.view(np.int64).tolist()
        position = {
            pair: index for index, pair in enumerate(zip(signed_high, signed_low, strict=True))
        }
        first, seen = rows.copy(), np.zeros(len(rows), dtype=bool)
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO chunk VALUES (?, ?, ?)",
                zip(signed_high, signed_low, rows.tolist(), strict=True),
            )
            found = self._db.execute(
                "SELECT s.high, s.low, s.row FROM chunk c JOIN seen s "
                "ON s.high = c.high AND s.low = c.low"
            ).fetchall()
            self._db.execute("INSERT OR IGNORE INTO seen SELECT high, low, row FROM chunk")
            self._db.execute("DELETE FROM chunk")
        for found_high, found_low, row in found:
            index = position[found_high, found_low]
            first[index], seen[index] = row, True
        return first, seen

    def close(self) -> None:
        self._db.close()
