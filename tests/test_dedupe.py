"""The dedupe stage: first row wins, across chunks; rows without a key are never deduped."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.dedupe import Deduper


def emails(*values: str | None, start: int = 2) -> pd.DataFrame:
    index = pd.Index(range(start, start + len(values)), name="source_row")
    return pd.DataFrame({"email": list(values)}, index=index, dtype=object)


def test_first_row_wins_and_duplicates_point_at_it() -> None:
    result = Deduper(["email"]).split(emails("a@x.io", "b@x.io", "a@x.io", None, None))
    assert result.kept.index.tolist() == [2, 3, 5, 6]
    assert result.duplicates == {4: 2}


def test_state_carries_across_chunks() -> None:
    deduper = Deduper(["email"])
    deduper.split(emails("a@x.io", start=2))
    second = deduper.split(emails("b@x.io", "a@x.io", start=3))
    assert second.kept.index.tolist() == [3]
    assert second.duplicates == {4: 2}


def test_missing_key_column_dedupes_nothing() -> None:
    frame = pd.DataFrame({"name": ["a", "a"]}, index=pd.Index([2, 3], name="source_row"))
    result = Deduper(["email"]).split(frame)
    assert result.kept.index.tolist() == [2, 3]
    assert result.duplicates == {}


keys = st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"])), max_size=30)


@settings(max_examples=60, deadline=None)
@given(keys, st.integers(min_value=1, max_value=7))
def test_dedupe_is_idempotent_and_partitions_rows(values: list[str | None], size: int) -> None:
    frame = emails(*values)
    deduper = Deduper(["email"])
    kept_parts, duplicates = [], {}
    for start in range(0, len(frame), size):
        result = deduper.split(frame.iloc[start : start + size])
        kept_parts.append(result.kept)
        duplicates.update(result.duplicates)
    kept = pd.concat(kept_parts) if kept_parts else frame.iloc[:0]
    assert sorted([*kept.index, *duplicates]) == list(frame.index)
    again = Deduper(["email"]).split(kept)
    assert again.duplicates == {}
    assert again.kept.index.tolist() == kept.index.tolist()
    for row, first in duplicates.items():
        assert first < row
        assert frame.loc[first, "email"] == frame.loc[row, "email"]
