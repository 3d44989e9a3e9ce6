"""The dedupe stage: the first row with a key wins; later rows with that key are duplicates.

The key is the contract's ``dedupe_key`` over values the map stage already normalized (emails
trimmed, NFC, lower-cased). Rows with no key (no email, where the vendor allows that) are never
deduped. State carries across chunks, so a whole sheet is deduped while it streams.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import pandas as pd

from importer.contracts.contract import split_list

KEY_SEPARATOR = "\x1f"


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
        self._first_row: dict[str, int] = {}

    def split(self, frame: pd.DataFrame) -> Deduped:
        """Return the rows of ``frame`` that are first of their key, and the duplicates."""
        keys = self.keys(frame)
        present = keys.notna()
        first_in_chunk = present & ~keys.duplicated(keep="first")
        new = first_in_chunk & ~keys.isin(list(self._first_row))
        self._first_row.update(zip(keys[new], keys.index[new], strict=True))
        duplicate = present & ~new
        duplicates = dict(
            zip(keys.index[duplicate].tolist(), keys[duplicate].map(self._first_row), strict=True)
        )
        return Deduped(frame[~duplicate], duplicates)

    def keys(self, frame: pd.DataFrame) -> pd.Series:
        """Return each row's key, or None where a key field is empty or unmapped."""
        if not self._key_fields or any(name not in frame for name in self._key_fields):
            return pd.Series(None, index=frame.index, dtype=object)
        parts = frame[list(self._key_fields)]
        for name in self._unordered:
            parts = parts.assign(**{name: parts[name].map(_as_set, na_action="ignore")})
        complete = parts.notna().all(axis=1)
        if len(self._key_fields) == 1:
            joined = parts.iloc[:, 0]
        else:
            # Built row by row: astype(str) keeps missing parts as NaN under pandas 3.
            joined = pd.Series(
                [
                    KEY_SEPARATOR.join(map(str, values))
                    for values in parts.itertuples(index=False, name=None)
                ],
                index=frame.index,
                dtype=object,
            )
        return joined.where(complete, None).astype(object)


def _as_set(cell: str) -> str:
    return ";".join(sorted(split_list(cell)))
