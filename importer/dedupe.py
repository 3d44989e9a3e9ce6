"""The dedupe stage: the first row with a key wins; later rows with that key are duplicates.

The key is the contract's ``dedupe_key`` over values the map stage already normalized (emails
trimmed, NFC, lower-cased). Rows with no key (no email, where the vendor allows that) are never
deduped. State carries across chunks, so a whole sheet is deduped while it streams.

The keys seen so far are remembered as 16-byte BLAKE2b digests in a numpy hash table, not as
strings in a dict: each chunk is checked against it in one pass whatever the number of keys
before it, and a key costs 36 to 72 bytes however long it is (a 144-byte dict entry before).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from importer.contracts.contract import split_list

KEY_SEPARATOR = "\x1f"

Rows = npt.NDArray[np.int64]
Words = npt.NDArray[np.uint64]


@dataclass(frozen=True, slots=True)
class Deduped:
    """A chunk split into kept rows and, per duplicate row, the source row that was kept."""

    kept: pd.DataFrame
    duplicates: dict[int, int]


class Deduper:
    """Remember the first source row of every key seen so far in this input."""

    def __init__(self, key_fields: Sequence[str], *, unordered: Collection[str] = ()) -> None:
        """Dedupe on ``key_fields`` (all must be present for a row to have a key).

        A field in ``unordered`` holds a list compared as a set: ``"b;a"`` is ``"a;b"``.
        """
        self._key_fields = tuple(key_fields)
        self._unordered = frozenset(unordered) & set(self._key_fields)
        self._seen = _DigestTable()

    def split(self, frame: pd.DataFrame) -> Deduped:
        """Return the rows of ``frame`` that are first of their key, and the duplicates.

        The index of ``frame`` holds the rows' numbers (integers), in input order.
        """
        keys = self.keys(frame)
        present = np.flatnonzero(keys.notna().to_numpy())
        rows = np.asarray(frame.index[present], dtype=np.int64)
        codes, uniques = pd.factorize(keys.to_numpy()[present])
        # factorize numbers keys in order of first appearance, so this is each key's first row.
        firsts = np.unique(codes, return_index=True)[1]
        kept, seen_before = self._seen.first_rows(*_digests(uniques), rows[firsts])
        duplicate = seen_before[codes] | (firsts[codes] != np.arange(len(codes)))
        dropped = np.zeros(len(frame), dtype=bool)
        dropped[present[duplicate]] = True
        duplicates = dict(
            zip(rows[duplicate].tolist(), kept[codes[duplicate]].tolist(), strict=True)
        )
        return Deduped(frame[~dropped], duplicates)

    def keys(self, frame: pd.DataFrame) -> pd.Series:
        """Return each row's key as text, or None where a key field is empty or unmapped."""
        result = np.full(len(frame), None, dtype=object)
        if not self._key_fields or any(name not in frame for name in self._key_fields):
            return pd.Series(result, index=frame.index, dtype=object)
        parts = frame[list(self._key_fields)].astype(object)
        for name in self._unordered:
            parts[name] = parts[name].map(_as_set, na_action="ignore")
        complete = parts.notna().all(axis=1).to_numpy()
        # Only complete rows are joined: astype(str) would keep a missing part as NaN.
        text = parts[complete].astype(str)
        joined = text.iloc[:, 0]
        for name in text.columns[1:]:
            joined = joined + KEY_SEPARATOR + text[name]
        result[complete] = joined.to_numpy(dtype=object)
        return pd.Series(result, index=frame.index, dtype=object)


def _as_set(cell: str) -> str:
    return ";".join(sorted(split_list(cell)))


def _digests(keys: npt.NDArray[np.object_]) -> tuple[Words, Words]:
    """Return the 16-byte BLAKE2b digest of each key, as its high and low 64-bit words."""
    packed = b"".join(
        [
            hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()
            for key in keys
        ]
    )
    words = np.frombuffer(packed, dtype=np.uint64).reshape(-1, 2)
    return words[:, 0], words[:, 1]


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

    def first_rows(self, high: Words, low: Words, rows: Rows) -> tuple[Rows, npt.NDArray[np.bool_]]:
        """Return each digest's first row, and whether it was seen before; remember new ones.

        The digests must differ from each other; a new one is remembered with its row in
        ``rows``, which is also what is returned for it.
        """
        self._make_room(len(rows))
        return self._place(high, low, rows)

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

    def _place(self, high: Words, low: Words, rows: Rows) -> tuple[Rows, npt.NDArray[np.bool_]]:
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
            losers = self._claim(at[empty], pending[empty], high, low, rows)
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
