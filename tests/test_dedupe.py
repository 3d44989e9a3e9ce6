"""The dedupe stage: first row wins, across chunks; rows without a key are never deduped."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importer import dedupe
from importer.contracts.contract import split_list
from importer.dedupe import Deduper, _DigestTable


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


def test_keys_are_readable_and_sets_are_sorted() -> None:
    frame = pd.DataFrame(
        {"email": ["a@x.io", "b@x.io", None], "offers": ["o2; o1", None, "o1"]},
        index=pd.Index([2, 3, 4], name="source_row"),
    )
    keys = Deduper(["email", "offers"], unordered=["offers"]).keys(frame)
    assert keys.tolist() == ["a@x.io\x1fo1;o2", None, None]


def test_many_keys_over_many_chunks_match_a_dict() -> None:
    """Tens of thousands of keys: the seen-table grows several times while rows stream."""
    rng = np.random.default_rng(9)
    values = [f"p{number}@x.io" for number in rng.integers(0, 40_000, size=60_000)]
    frame = emails(*values)
    deduper = Deduper(["email"])
    duplicates: dict[int, int] = {}
    for start in range(0, len(frame), 4_999):
        duplicates.update(deduper.split(frame.iloc[start : start + 4_999]).duplicates)
    assert duplicates == reference(frame, ["email"], set())


def reference(frame: pd.DataFrame, fields: list[str], unordered: set[str]) -> dict[int, int]:
    """Dedupe the obvious way: one dict of every key, one row at a time."""
    first: dict[tuple[object, ...], int] = {}
    duplicates = {}
    for row, *values in frame[fields].itertuples(name=None):
        if any(value is None for value in values):
            continue
        key = tuple(
            frozenset(split_list(value)) if name in unordered else value
            for name, value in zip(fields, values, strict=True)
        )
        kept = first.setdefault(key, row)
        if kept != row:
            duplicates[row] = kept
    return duplicates


def run_in_chunks(
    deduper: Deduper, frame: pd.DataFrame, sizes: list[int]
) -> tuple[pd.DataFrame, dict[int, int]]:
    """Split ``frame`` into chunks of the given sizes (the last one repeated), in order."""
    kept_parts, duplicates, start = [frame.iloc[:0]], {}, 0
    while start < len(frame):
        size = sizes[min(len(kept_parts) - 1, len(sizes) - 1)]
        result = deduper.split(frame.iloc[start : start + size])
        kept_parts.append(result.kept)
        duplicates.update(result.duplicates)
        start += size
    return pd.concat(kept_parts), duplicates


maybe_email = st.one_of(st.none(), st.sampled_from(["a@x.io", "b@x.io", "c@y.org", "ç@x.io"]))
offers = st.lists(st.sampled_from(["o1", "o2", "o3"]), min_size=1, max_size=3, unique=True)
maybe_offers = st.one_of(st.none(), offers.map(";".join), offers.map(" | ".join))
chunk_sizes = st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(maybe_email, maybe_offers), max_size=40), chunk_sizes)
def test_chunked_dedupe_equals_the_reference(
    cells: list[tuple[str | None, str | None]], sizes: list[int]
) -> None:
    index = pd.Index(range(2, 2 + len(cells)), name="source_row")
    frame = pd.DataFrame(
        {
            "email": [email for email, _ in cells],
            "offers": [offer for _, offer in cells],
            "other": [str(row) for row in index],
        },
        index=index,
        dtype=object,
    )
    for fields in (["email"], ["email", "offers"]):
        deduper = Deduper(fields, unordered=["offers"])
        kept, duplicates = run_in_chunks(deduper, frame, sizes)
        assert duplicates == reference(frame, fields, {"offers"})
        assert kept.equals(frame.drop(index=list(duplicates)))


@settings(max_examples=60, deadline=None)
@given(st.lists(maybe_email, max_size=30), chunk_sizes)
def test_dedupe_is_idempotent_and_partitions_rows(
    values: list[str | None], sizes: list[int]
) -> None:
    frame = emails(*values)
    kept, duplicates = run_in_chunks(Deduper(["email"]), frame, sizes)
    assert sorted([*kept.index, *duplicates]) == list(frame.index)
    again = Deduper(["email"]).split(kept)
    assert again.duplicates == {}
    assert again.kept.index.tolist() == kept.index.tolist()
    for row, first in duplicates.items():
        assert first < row
        assert frame.loc[first, "email"] == frame.loc[row, "email"]


words = st.integers(min_value=0, max_value=2**64 - 1)
# High words from a handful of values crowd the same slots: probing and claims collide.
digests = st.tuples(st.sampled_from([0, 1, 4096, 2**63, 2**64 - 1]) | words, words)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(digests, max_size=40), max_size=8), st.sampled_from([1, 2, 8]))
def test_digest_table_remembers_first_rows_like_a_dict(
    batches: list[list[tuple[int, int]]], slots: int
) -> None:
    table, first, row = _DigestTable(slots), {}, 0
    for batch in batches:
        unique = list(dict.fromkeys(batch))
        rows = np.arange(row, row + len(unique), dtype=np.int64)
        row += len(unique)
        high = np.array([high for high, _ in unique], dtype=np.uint64)
        low = np.array([low for _, low in unique], dtype=np.uint64)
        expected_seen = [digest in first for digest in unique]
        for digest, new_row in zip(unique, rows.tolist(), strict=True):
            first.setdefault(digest, new_row)
        kept, seen = table.first_rows(high, low, rows)
        assert kept.tolist() == [first[digest] for digest in unique]
        assert seen.tolist() == expected_seen


def test_keys_past_the_memory_table_are_deduped_on_disk_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sheet with more keys than the memory table holds gets the same verdicts."""
    rng = random.Random(5)
    values = [
        f"user{rng.randrange(3_000)}@x.io" if rng.random() > 0.1 else None for _ in range(6_000)
    ]
    frame = emails(*values)
    sizes = [700]
    expected = run_in_chunks(Deduper(["email"]), frame, sizes)
    monkeypatch.setattr(dedupe, "MEMORY_SLOTS", 1 << 10)  # 682 keys, then the disk
    deduper = Deduper(["email"])
    kept, duplicates = run_in_chunks(deduper, frame, sizes)
    assert deduper._spill is not None  # the disk table was used
    deduper.close()
    assert duplicates == expected[1] == reference(frame, ["email"], set())
    assert kept.equals(expected[0])
