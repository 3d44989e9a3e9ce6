"""The columnar CSV reader gives exactly the chunks the exact, record-by-record reader gives.

``Sheet.block_bytes`` set to 0 reads every record with the csv module (the reference); any other
size parses the simple stretches of each block with pyarrow. On random CSV text full of what
tells them apart (quotes in every place, quoted line breaks, blank lines, short and long rows,
CRLF and lone CR, a BOM, NULs, code pages, cells and rows past the limits), both must give the same
chunks: the same row numbers, cells and malformed rows, and the same refusal after them.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from importer.errors import InputError
from importer.read import ReadLimits, Sheet, open_sheet
from importer.read.blocks import BLOCK_BYTES
from importer.read.sheet import TEXT_DTYPE
from tests.test_fuzz import FUZZ

CLEAN = (
    "a",
    "Ada",
    "x y",
    " ",
    "\t",
    "é",
    "李",
    "€",
    "\xa0",
    "\x1c",
    ";",
    "\u2028",
    "\x85",
    "\x0c",
)
"""Pieces of cells that keep a line simple, quoted or not."""
MESSY = (",", '"', '""', "\n", "\r", "\r\n", "\x00", "\ufeff")
"""Pieces of cells that may make a line no simple record of its own."""
ENDINGS = ("\n", "\n", "\r\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\n \n", "\n,,\n", "\n\x00\n")


@st.composite
def cells(draw: st.DrawFn, *, messy: bool) -> str:
    """Return a cell as written in a CSV line: plain, quoted whole, or raw (quotes anywhere)."""
    pieces = st.sampled_from(CLEAN + MESSY if messy else CLEAN)
    text = "".join(draw(st.lists(pieces, max_size=4)))
    quoting = draw(st.sampled_from(["plain", "plain", "quoted", "raw" if messy else "quoted"]))
    if quoting == "quoted":
        return '"' + text.replace('"', '""') + '"'
    if quoting == "plain":
        return text.translate({ord(char): None for char in '",\r\n'})
    return text


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    """Return the text of a CSV file: a header, then rows of cells, most of them clean."""
    width = draw(st.integers(1, 4))
    text = ",".join("ABCD"[:width])
    one_in = draw(st.sampled_from([2, 8, 30, 0]))  # how often a row is messy; 0: never
    for _ in range(draw(st.integers(0, 30))):
        messy = one_in > 0 and draw(st.integers(1, one_in)) == 1
        count = draw(st.sampled_from([width] * 8 + [width - 1, width + 1, 0]))
        line = ",".join(draw(cells(messy=messy)) for _ in range(count))
        text += draw(st.sampled_from(ENDINGS if messy else ENDINGS[:4])) + line
    return text + draw(st.sampled_from(["", "\n", "\r\n", "\n\n"]))


@contextmanager
def written(data: bytes) -> Iterator[Path]:
    """Write bytes to a CSV file in a new temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_bytes(data)
        yield path


def read_all(sheet: Sheet, chunk_rows: int) -> tuple[list[tuple[pd.DataFrame, dict]], str]:
    """Return each chunk's frame and malformed rows, and the refusal after them ("" if none)."""
    chunks = []
    try:
        for chunk in sheet.chunks(chunk_rows):
            chunks.append((chunk.frame, dict(chunk.malformed)))
    except InputError as error:
        return chunks, str(error)
    return chunks, ""


def assert_same_chunks(sheet: Sheet, block_bytes: int, chunk_rows: int) -> str:
    """Assert reading column-wise in blocks gives what reading record by record gives; return
    the refusal after the rows ("" if none)."""
    exact, refused = read_all(dataclasses.replace(sheet, block_bytes=0), chunk_rows)
    fast, fast_refused = read_all(dataclasses.replace(sheet, block_bytes=block_bytes), chunk_rows)
    assert fast_refused == refused
    assert len(fast) == len(exact)
    for (frame, malformed), (reference, reference_malformed) in zip(fast, exact, strict=True):
        pd.testing.assert_frame_equal(frame, reference)
        assert set(frame.dtypes) <= {TEXT_DTYPE}
        assert malformed == reference_malformed
    return refused


@settings(FUZZ, suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.filter_too_much])
@given(
    text=csv_texts(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]),
    block_bytes=st.sampled_from([1, 16, 64, 256, 4096, BLOCK_BYTES]),
    chunk_rows=st.integers(1, 5),
    limits=st.sampled_from(
        [
            ReadLimits(),
            ReadLimits(),
            ReadLimits(max_cell_chars=6),
            ReadLimits(max_row_chars=12),
            ReadLimits(max_cell_chars=40, max_row_chars=60),
        ]
    ),
)
@example(
    text='A,B\n"x\ny",1\n\n,,\nz,2\r\n"q""",3,\n',
    encoding="utf-8",
    block_bytes=16,
    chunk_rows=2,
    limits=ReadLimits(),
)
def test_blocks_read_as_the_exact_reader(
    text: str, encoding: str, block_bytes: int, chunk_rows: int, limits: ReadLimits
) -> None:
    data = text.encode(encoding, errors="replace")
    with written(data) as path:
        try:
            sheet = open_sheet(path, limits=limits)
        except InputError as error:
            event(f"not opened: {str(error).split(' ', 1)[1][:40]}")
            return
        event("refused" if assert_same_chunks(sheet, block_bytes, chunk_rows) else "read whole")


@pytest.mark.parametrize(
    "text",
    [
        'A,B\n1,"two\nlines"\n3,4\n',
        "A,B\n1,2\n\n\n3,4\r\n\r\n5,6",
        'A,B\n1,a"b"\n"x"y,2\n 3,"4"\n',
        "A,B\n1,2,3\n4,5,\n6\n7,8",
        "A,B\n1,\x002\n3,4\r5,6\n",
        "A,B\n\ufeff1,2\n",
        "A;B\n1;2\n",
        'Title\n\nA,B,C\n1,2,3\n"4",",",6\n',
        "sep=;\nA;B\n1;2\n3;4\n",
    ],
)
@pytest.mark.parametrize("block_bytes", [3, 9, 64, BLOCK_BYTES])
def test_blocks_read_known_cases_as_the_exact_reader(
    tmp_path: Path, text: str, block_bytes: int
) -> None:
    path = tmp_path / "known.csv"
    path.write_text(text, encoding="utf-8", newline="")
    assert_same_chunks(open_sheet(path), block_bytes, chunk_rows=2)


def test_a_quoted_line_break_stays_in_its_row_in_a_large_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    rows = [f"{number},Name {number}" for number in range(2, 5000)]
    rows[1000] = '1002,"first line\nsecond line"'
    path.write_text("Id,Name\n" + "\n\n".join(rows) + "\n", encoding="utf-8")
    chunks = list(open_sheet(path).chunks(1_000))
    index = [number for chunk in chunks for number in chunk.frame.index]
    ids = [int(cell) for chunk in chunks for cell in chunk.frame["Id"]]
    assert len(index) == len(rows)
    assert index[:3] == [2, 4, 6]  # every other line is blank
    assert index[1000:1002] == [2002, 2004]  # one row, as a spreadsheet app shows it
    assert ids == list(range(2, 5000))
    assert_same_chunks(open_sheet(path), 4096, 1_000)
