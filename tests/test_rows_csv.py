"""rows.csv written a chunk at a time, column-wise, is what the row-by-row path writes."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.errors import ReportError
from importer.lifecycle import SOURCE_ROW, Reason, RowOutcome, State
from importer.outcomes import ChunkOutcomes, SharedOutcome
from importer.report import rowscsv
from importer.report.cells import neutralize, neutralize_column
from importer.report.writer import ReportWriter
from tests.test_report_safety import LIVE_PAYLOADS

COLUMNS = ["name", "email", "note"]


def column_wise() -> Any:
    """Write even a chunk of one row column-wise (larger chunks only, outside tests)."""
    return patch.object(rowscsv, "MIN_ROWS", 1)


fragments = st.sampled_from(
    [
        *"ab1 =+-@|'\"&<>;!,._\t\r\n\x00\x07\x1c\x85\u00a0\u00ad\u180e\u2007\u200b\u2066",
        *"\ufeff\uff1d\ufe62\U000e0041\u0663\u02b0",
        "dde(",
        "DDE (",
        "cmd|x!",
        "ada@x.io",
    ]
)
text = st.one_of(st.text(max_size=6), st.lists(fragments, max_size=6).map("".join))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(text, max_size=30))
def test_neutralize_column_is_neutralize_of_each_value(values: list[str]) -> None:
    column = neutralize_column(pa.array(values, pa.large_string()))
    assert column.to_pylist() == [neutralize(value) for value in values]


@settings(max_examples=100, deadline=None)
@given(values=st.lists(text, max_size=30), skip=st.integers(0, 3))
def test_neutralize_column_reads_a_slice_of_a_32_bit_string_array(
    values: list[str], skip: int
) -> None:
    column = pa.array(["=pad", "dde(", "a|b!"][:skip] + values, pa.string()).slice(skip)
    assert neutralize_column(column).to_pylist() == [neutralize(value) for value in values]


def test_neutralize_column_defuses_every_known_payload() -> None:
    column = neutralize_column(pa.array(list(LIVE_PAYLOADS), pa.large_string()))
    assert column.to_pylist() == ["'" + payload for payload in LIVE_PAYLOADS]


OUTCOMES = [
    (State.CREATED, Reason.CREATED, "", 201, "v-1", 1),
    (State.FAILED, Reason.VALIDATION, "email is not valid: '=x'", None, None, 0),
    (State.FAILED, Reason.VENDOR_REJECTED, "-bad", 422, None, 2),
    (State.UNKNOWN, Reason.OUTCOME_UNKNOWN, "no answer", None, None, 3),
    (State.DUPLICATE, Reason.DUPLICATE_IN_FILE, "same key as row 2, which was kept", None, None, 0),
    (State.SKIPPED, Reason.DRY_RUN, "dry run: valid, not sent", None, "=id", 0),
]


def outcome(row: int, choice: int) -> RowOutcome:
    state, reason, message, http_status, vendor_id, attempts = OUTCOMES[choice]
    return RowOutcome(row, state, reason, message, http_status, vendor_id, attempts)


def written(
    folder: Path, chunks: list[tuple[pd.DataFrame, dict[int, RowOutcome]]], *, by_row: bool
):
    writer = ReportWriter(folder, COLUMNS, run_id="run-1")
    for frame, outcomes in chunks:
        if by_row:
            for row, values in zip(frame.index, frame.itertuples(index=False), strict=True):
                writer.write_row(outcomes[int(row)], list(values))
        else:
            with column_wise():
                writer.write(frame, outcomes)
    totals = writer.totals
    files = writer.finish({"run_id": "run-1"})
    contents = {
        name: path.read_bytes()
        for name in ("rows.csv", "unknown.csv", "to_fix.csv", "report.html")
        if (path := files.rows_csv.parent / name).exists()
    }
    for book in (files.report_xlsx, files.to_fix_xlsx):
        if book is not None:
            with zipfile.ZipFile(book) as package:
                contents |= {f"{book.name}/{n}": package.read(n) for n in package.namelist()}
    return contents, totals


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, len(OUTCOMES) - 1), text, text, st.one_of(st.none(), text)),
        max_size=25,
    ),
    chunk=st.integers(1, 9),
)
def test_a_chunk_at_a_time_writes_the_same_files_and_totals_as_row_by_row(
    rows: list[tuple[int, str, str, str | None]], chunk: int
) -> None:
    chunks = []
    for start in range(0, len(rows), chunk):
        part = list(enumerate(rows[start : start + chunk], start=start + 2))
        frame = pd.DataFrame(
            [[name, email, note] for _, (_, name, email, note) in part],
            index=pd.Index([row for row, _ in part], name=SOURCE_ROW),
            columns=COLUMNS,
            dtype=object,
        )
        chunks.append((frame, {row: outcome(row, choice) for row, (choice, *_) in part}))
    with tempfile.TemporaryDirectory() as by_chunk, tempfile.TemporaryDirectory() as by_row:
        fast, fast_totals = written(Path(by_chunk), chunks, by_row=False)
        slow, slow_totals = written(Path(by_row), chunks, by_row=True)
    assert fast == slow
    assert fast_totals == slow_totals


def test_shared_outcomes_are_a_mapping_like_a_dict(tmp_path: Path) -> None:
    single = {3: outcome(3, 1)}
    shared = SharedOutcome(np.array([5, 2, 4]), State.SKIPPED, Reason.DRY_RUN, "dry")
    outcomes = ChunkOutcomes(single, [shared])
    plain = {
        **single,
        **{row: RowOutcome(row, State.SKIPPED, Reason.DRY_RUN, "dry") for row in (5, 2, 4)},
    }
    assert dict(outcomes) == plain
    assert len(outcomes) == 4 and 4 in outcomes and 6 not in outcomes
    assert list(outcomes.values()) == list(plain.values())
    frame = pd.DataFrame({c: ["x"] * 4 for c in COLUMNS}, index=pd.Index([2, 3, 4, 5]))
    columns = outcomes.columns(frame.index)
    assert columns.status.tolist() == ["skipped", "failed", "skipped", "skipped"]
    with pytest.raises(ValueError, match=r"no outcome for source rows \[6\]"):
        outcomes.columns(pd.Index([2, 6]))
    groups = outcomes.groups(frame.index)
    assert [groups.status[group] for group in groups.group] == columns.status.tolist()
    assert [groups.message[group] for group in groups.group] == columns.message.tolist()
    assert groups.rows_per_group().tolist() == [3, 1]
    with pytest.raises(ValueError, match=r"no outcome for source rows \[6\]"):
        outcomes.groups(pd.Index([2, 6]))
    writer = ReportWriter(tmp_path, COLUMNS, run_id="run-1")
    with column_wise():
        writer.write(frame, outcomes)
    assert writer.totals.as_dict() == {
        "rows": 4,
        "created": 0,
        "conflicted": 0,
        "failed": 1,
        "duplicate": 0,
        "skipped": 3,
    }
    writer.abort()


def test_a_cell_that_is_not_text_is_written_as_text(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"name": ["a", 5], "email": [-1.5, None], "note": ["=x", float("nan")]},
        index=pd.Index([2, 3], name=SOURCE_ROW),
        dtype=object,
    )
    writer = ReportWriter(tmp_path, COLUMNS, run_id="run-1")
    with column_wise():
        writer.write(frame, {2: outcome(2, 0), 3: outcome(3, 0)})
    lines = writer.finish({}).rows_csv.read_text(encoding="utf-8-sig").splitlines()
    assert lines[1].endswith('"a","\'-1.5","\'=x"')
    assert lines[2].endswith('"5","",""')


def test_only_a_chunk_of_min_rows_or_more_is_written_column_wise(tmp_path: Path) -> None:
    rows = {row: [f"n{row}", "+1 555", "=x"] for row in range(2, 2 + rowscsv.MIN_ROWS)}
    frame = pd.DataFrame(
        list(rows.values()), index=pd.Index(list(rows), name=SOURCE_ROW), columns=COLUMNS
    )
    outcomes = {row: outcome(row, row % len(OUTCOMES)) for row in rows}
    short = frame.iloc[1:]
    assert rowscsv.chunk_lines(short, ChunkOutcomes(outcomes).groups(short.index)) is None
    assert rowscsv.chunk_lines(frame, ChunkOutcomes(outcomes).groups(frame.index)) is not None
    by_row, _ = written(tmp_path / "rows", [(frame, outcomes)], by_row=True)
    writer = ReportWriter(tmp_path / "chunk", COLUMNS, run_id="run-1")
    writer.write(frame, outcomes)
    writer.finish({})
    assert (tmp_path / "chunk" / "rows.csv").read_bytes() == by_row["rows.csv"]


def test_a_full_disk_while_rows_stream_is_a_report_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    frame = pd.DataFrame({c: ["x"] * 3 for c in COLUMNS}, index=pd.Index([2, 3, 4]))
    outcomes = {row: outcome(row, 5) for row in (2, 3, 4)}
    writer = ReportWriter(tmp_path, COLUMNS, run_id="run-1")
    monkeypatch.setattr(rowscsv, "csv_lines", disk_full)
    with column_wise(), pytest.raises(ReportError, match="No space left on device"):
        writer.write(frame, outcomes)
    monkeypatch.setattr(writer, "_csv", type("Full", (), {"writerow": disk_full})())
    with pytest.raises(ReportError, match="importer report --run run-1"):
        writer.write_row(outcome(5, 5), ["a", "b", "c"])
    writer.abort()
