"""Scenarios of the offline path for ``make bench``: dry runs beside the bare reads of the files.

Inputs are lead sheets made with a fixed seed by ``offline.lead_rows`` (5% invalid rows, 5%
duplicates of earlier rows): a 1M-row CSV, a 200k-row XLSX (written by openpyxl, shared strings
as Excel writes them) and a 5M-row CSV. Each timed run is ``importer run SHEET --vendor
offergrid-leads --dry-run`` in its own process, reports included, start-up included; its
baseline, run just before it, is the bare read of the same file in its own process, timed
around the read alone (imports excluded), so the ratio is if anything unkind to the importer.
Peak memory is each run's own maximum resident set (``wait4``). The note beside each timing
also gives the run's own time after start-up and imports (summary.json's
``durations_seconds.total``) against the same baseline; the verdict is on the wall time.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from offline import COLUMNS, VENDOR, lead_rows, write_sheet
from openpyxl import Workbook  # a dev dependency, like the bench
from table import Row, Settings, median, python, run_measured, spread

SEED = 9
CSV_ROWS, XLSX_ROWS, BIG_ROWS = 1_000_000, 200_000, 5_000_000
QUICK_ROWS = {CSV_ROWS: 20_000, XLSX_ROWS: 5_000, BIG_ROWS: 100_000}
BIG_RUNS = 2
"""Runs at 5M rows: two (about 40 s each), for the time budget of ``make bench``."""

CSV_TARGET, XLSX_TARGET, MEMORY_LIMIT_MB, MEMORY_GROWTH = 4.0, 2.0, 1024, 1.2

_BARE_CSV = (
    "import sys, time, pandas\n"
    "started = time.perf_counter()\n"
    "pandas.read_csv(sys.argv[1], dtype=str)\n"
    "print(time.perf_counter() - started)\n"
)
_BARE_XLSX = (
    "import sys, time, python_calamine\n"
    "started = time.perf_counter()\n"
    "book = python_calamine.CalamineWorkbook.from_path(sys.argv[1])\n"
    "book.get_sheet_by_index(0).to_python()\n"
    "print(time.perf_counter() - started)\n"
)


def bench_rows(settings: Settings) -> list[Row]:
    """Time the CSV and XLSX dry runs against the bare reads; measure peak memory at 1M and 5M."""

    def size(rows: int) -> int:
        return QUICK_ROWS[rows] if settings.quick else rows

    csv_sheet = settings.work / "leads.csv"
    write_sheet(csv_sheet, size(CSV_ROWS), SEED)
    print(f"generated {size(CSV_ROWS):,} CSV rows", flush=True)
    csv_runs = _runs(csv_sheet, _BARE_CSV, settings)
    xlsx_sheet = settings.work / "leads.xlsx"
    _write_xlsx(xlsx_sheet, size(XLSX_ROWS))
    print(f"generated {size(XLSX_ROWS):,} XLSX rows", flush=True)
    xlsx_runs = _runs(xlsx_sheet, _BARE_XLSX, settings)
    big_sheet = settings.work / "big.csv"
    write_sheet(big_sheet, size(BIG_ROWS), SEED)
    print(f"generated {size(BIG_ROWS):,} CSV rows", flush=True)
    big_peaks = [_dry_run(big_sheet, settings.work / "big-out")[1] for _ in range(BIG_RUNS)]
    big_sheet.unlink()
    return [
        _time_row(f"{size(CSV_ROWS):,}-row CSV dry run, reports included", csv_runs, "bare "
                  "`pandas.read_csv(dtype=str)`", CSV_TARGET),
        _time_row(f"{size(XLSX_ROWS):,}-row XLSX dry run, reports included", xlsx_runs,
                  "bare python-calamine read", XLSX_TARGET),
        *_memory_rows(size(CSV_ROWS), csv_runs[2], size(BIG_ROWS), big_peaks),
    ]  # fmt: skip


Runs = tuple[list[float], list[float], list[int], list[float]]
"""The bare reads' seconds, the dry runs' seconds, their peaks (MB) and their own seconds."""


def _runs(sheet: Path, bare: str, settings: Settings) -> Runs:
    """Return the bare reads' and the dry runs' figures, alternating."""
    reads, runs, peaks, owns = [], [], [], []
    for number in range(settings.reps):
        reads.append(_bare_read(bare, sheet))
        out = settings.work / f"{sheet.stem}-out"
        seconds, peak = _dry_run(sheet, out)
        runs.append(seconds)
        peaks.append(peak)
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        owns.append(float(summary["durations_seconds"]["total"]))
        print(
            f"  {sheet.name} run {number + 1}: read {reads[-1]:.2f} s, dry run {seconds:.1f} s, "
            f"peak {peak} MB",
            flush=True,
        )
    return reads, runs, peaks, owns


def _bare_read(program: str, sheet: Path) -> float:
    done = subprocess.run(
        [python(), "-c", program, str(sheet)], capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def _dry_run(sheet: Path, out: Path) -> tuple[float, int]:
    """Return the wall seconds and peak MB of one ``importer run --dry-run``."""
    command = [python(), "-m", "importer", "run", str(sheet), "--vendor", VENDOR, "--dry-run"]
    seconds, code, peak = run_measured(
        [*command, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    if code not in (0, 1):
        sys.exit(f"importer run {sheet.name} --dry-run ended with exit {code}")
    return seconds, peak


def _time_row(scenario: str, runs: Runs, label: str, target: float) -> Row:
    reads, seconds, _, owns = runs
    ratio = median(seconds) / median(reads)
    own = median(owns)
    return Row(
        scenario=scenario,
        measured=median(seconds),
        unit="s",
        baseline=median(reads),
        baseline_label=label,
        target=f"≤ {target:g}x",
        met=ratio <= target,
        runs=len(seconds),
        note=f"{spread(seconds, 's')}; baseline {spread(reads, 's')}; the run's own time "
        f"after start-up and imports (summary.json): {own:.2f} s, {own / median(reads):.2f}x",
    )


def _memory_rows(rows: int, peaks: list[int], big_rows: int, big_peaks: list[int]) -> list[Row]:
    small, big = median(peaks), median(big_peaks)
    return [
        Row(
            scenario=f"peak memory, {rows:,}-row CSV dry run",
            measured=small,
            unit="MB",
            target=f"< {MEMORY_LIMIT_MB:,} MB",
            met=small < MEMORY_LIMIT_MB,
            runs=len(peaks),
            note=spread(peaks, "MB"),
        ),
        Row(
            scenario=f"peak memory, {big_rows:,}-row CSV dry run",
            measured=big,
            unit="MB",
            baseline=small,
            baseline_label=f"{rows:,} rows",
            target=f"≤ {MEMORY_GROWTH:g}x and < {MEMORY_LIMIT_MB:,} MB",
            met=big <= MEMORY_GROWTH * small and big < MEMORY_LIMIT_MB,
            runs=len(big_peaks),
            note=f"{spread(big_peaks, 'MB')}; {BIG_RUNS} runs at this size, for the time budget",
        ),
    ]


def _write_xlsx(path: Path, rows: int) -> None:
    """Write the lead sheet as an XLSX file, the way a spreadsheet program saves one."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Leads")
    sheet.append(COLUMNS)
    for row in lead_rows(rows, random.Random(SEED)):
        sheet.append(row)
    book.save(path)
