"""What every benchmark scenario returns to ``bench/run.py``: rows of one results table.

A scenario module (listed in ``run.SCENARIOS``) exposes ``bench_rows(settings) -> list[Row]``.
Each row is a median over its runs with the baseline measured in the same run beside it, so
that a shared, noisy machine still gives an honest ratio.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Settings:
    """What the driver hands every scenario."""

    work: Path
    """A temporary folder of this bench run, for generated inputs and outputs."""
    reps: int = 3
    """Runs of each timed scenario (the table shows medians)."""
    quick: bool = False
    """Smaller inputs, to check that the bench itself works."""


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the results table.

    Attributes:
        scenario: What was measured, for a person.
        measured: The median of the runs.
        unit: The unit of ``measured`` and ``baseline`` ("s", "MB", "rows/s", "%").
        baseline: The median of the baseline, measured in the same run, if there is one.
        baseline_label: What the baseline is.
        ratio: ``measured / baseline`` unless the scenario says better (e.g. a fraction).
        target: The target, as the README states it ("≤ 4x").
        met: Whether the target holds; None when the row has no target.
        runs: How many runs the median is of.
        note: Anything a reader needs (the spread of the runs, counts...).
    """

    scenario: str
    measured: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    runs: int = 1
    note: str = ""

    def ratio_or_computed(self) -> float | None:
        """Return the ratio to the baseline."""
        if self.ratio is not None:
            return self.ratio
        if self.baseline:
            return self.measured / self.baseline
        return None


def median(values: Sequence[float]) -> float:
    """Return the median of the runs."""
    return float(statistics.median(values))


def spread(values: Sequence[float], unit: str) -> str:
    """Return the runs as ``1.2-1.5 s`` for the note column."""
    if len(values) < 2:
        return ""
    return f"runs {_number(min(values))}-{_number(max(values))} {unit}"


def timed(work: Callable[[], object]) -> float:
    """Return the wall seconds one call of ``work`` takes."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


_SPAWNER = (
    "import os, resource, sys\n"
    "code = os.spawnv(os.P_WAIT, sys.argv[2], sys.argv[2:])\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "open(sys.argv[1], 'w').write(f'{code} {peak}')\n"
)
"""Starts the measured command from a small process of its own. A child's peak (``ru_maxrss``)
counts the pages of the process it was forked from, and keeps them through ``exec``: started
by the bench itself, which holds a generated 5M-row sheet's worth of memory, a run of
``python -c pass`` would peak at the bench's 500 MB."""


def run_measured(command: Sequence[str], **options: object) -> tuple[float, int, int]:
    """Run a command; return its wall seconds, exit code and peak resident memory in MB.

    The peak is the command's own, measured from a small process that starts it (``_SPAWNER``),
    so it counts neither the bench's memory nor another run's.
    """
    with tempfile.TemporaryDirectory(prefix="bench-peak-") as folder:
        report = Path(folder) / "peak"
        started = time.perf_counter()
        subprocess.run(  # noqa: PLW1510 (the command's own code is in the report)
            [sys.executable, "-c", _SPAWNER, str(report), *command], **options
        )
        seconds = time.perf_counter() - started
        code, peak = map(int, report.read_text(encoding="utf-8").split())
    return seconds, code, peak // 1024  # KiB on Linux


def python() -> str:
    """Return the interpreter that runs the importer (this venv's)."""
    return sys.executable


def render(rows: Sequence[Row]) -> str:
    """Return the rows as a Markdown table."""
    lines = [
        "| scenario | median | baseline (same run) | ratio | target | met | runs | note |",
        "|---|---:|---|---:|---|---|---:|---|",
    ]
    for row in rows:
        baseline = (
            f"{row.baseline_label}: {_number(row.baseline)} {row.unit}"
            if row.baseline is not None
            else row.baseline_label
        )
        ratio = row.ratio_or_computed()
        met = {True: "yes", False: "**no**", None: ""}[row.met]
        lines.append(
            f"| {row.scenario} | {_number(row.measured)} {row.unit} | {baseline} | "
            f"{'' if ratio is None else f'{ratio:.2f}x'} | {row.target} | {met} | {row.runs} | "
            f"{row.note} |"
        )
    return "\n".join(lines)


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"
