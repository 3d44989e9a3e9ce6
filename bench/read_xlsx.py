"""Time the read stage on a lead workbook against bare python-calamine reading it.

Writes two seeded workbooks of ``--rows`` rows (openpyxl, a minute or so at 200,000): one
plain, one whose Phone, Zip and Score columns carry the formats ``(000) 000-0000``, ``00000``
and ``0%`` on every row, which the read stage shows through (``importer.read.formats``). Then,
for each, three runs of each, alternating, in this process: the bare calamine read issue 9 takes
as the baseline (``CalamineWorkbook.from_path(p).get_sheet_by_index(0).to_python()``), and
``open_sheet`` plus every chunk; it prints the medians of wall time and the least CPU time (the
machine may be shared).

    .venv/bin/python bench/read_xlsx.py --rows 200000
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import openpyxl
import python_calamine
from openpyxl.cell import WriteOnlyCell

from importer.read import open_sheet

HEADER = ["First Name", "Last Name", "Email", "Phone", "Company", "City", "State", "Zip"]
HEADER += ["Created", "Score"]
FORMATS = {3: "(000) 000-0000", 7: "00000", 9: "0%"}


def write_book(path: Path, rows: int, *, formatted: bool) -> None:
    """Write a seeded lead sheet, its numbers formatted or not."""
    rng = random.Random(7)
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Leads")
    sheet.append(HEADER)
    start = dt.datetime(2025, 7, 1, 9, 30)
    for number in range(rows):
        values = [
            f"First{number}",
            f"Last{number}",
            f"lead{number}@example.com",
            2_000_000_000 + rng.randrange(10**9),
            f"Company {number % 997}",
            "Boston",
            "MA",
            rng.randrange(1_000, 99_999),
            start + dt.timedelta(minutes=number),
            rng.random(),
        ]
        if not formatted:
            sheet.append(values)
            continue
        cells = [WriteOnlyCell(sheet, value=value) for value in values]
        for column, code in FORMATS.items():
            cells[column].number_format = code
        sheet.append(cells)
    book.save(path)


def timed(task: Callable[[], object]) -> tuple[float, float]:
    """Return the wall and CPU seconds (of this process, threads included) a task took."""
    wall, cpu = time.perf_counter(), time.process_time()
    task()
    return time.perf_counter() - wall, time.process_time() - cpu


def alternated(
    tasks: tuple[Callable[[], object], Callable[[], object]], times: int = 3
) -> list[tuple[float, float]]:
    """Run two tasks one after the other ``times`` times; return each one's median wall time
    and least CPU time."""
    runs: list[list[tuple[float, float]]] = [[], []]
    for _ in range(times):
        for task, spent in zip(tasks, runs, strict=True):
            spent.append(timed(task))
    return [(statistics.median(w for w, _ in spent), min(c for _, c in spent)) for spent in runs]


def bare_calamine(path: Path) -> None:
    """Load the first sheet with python-calamine and turn it into Python lists (issue 9's
    baseline)."""
    python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()


def read_stage(path: Path) -> int:
    """Open the sheet as the pipeline does and read every chunk; return the row count."""
    return sum(len(chunk.frame) for chunk in open_sheet(path).chunks())


def main() -> None:
    """Write the workbooks and print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as folder:
        for formatted in (False, True):
            path = Path(folder) / f"leads-{'formatted' if formatted else 'plain'}.xlsx"
            write_book(path, rows, formatted=formatted)
            assert read_stage(path) == rows
            bare, read = alternated(
                (lambda path=path: bare_calamine(path), lambda path=path: read_stage(path))
            )
            print(
                f"{path.name}: {rows:,} rows; bare calamine {bare[0]:.2f} s ({bare[1]:.2f} s"
                f" CPU), read stage {read[0]:.2f} s ({read[1]:.2f} s CPU): {read[0] / bare[0]:.2f}x"
                f" wall, {read[1] / bare[1]:.2f}x CPU"
            )


if __name__ == "__main__":
    main()
