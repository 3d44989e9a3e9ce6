"""``make bench``: run every scenario module, merge their rows into bench/results.md.

Each module named in ``SCENARIOS`` lives in bench/ and exposes
``bench_rows(settings: table.Settings) -> list[table.Row]``; add a module's name to the list to
plug a scenario in. The driver records the machine (cores, RAM, CPU), Python and library
versions and the commit beside the table, and how long each module took::

    .venv/bin/python bench/run.py [--reps 3] [--quick] [--only dry_run] [--out bench/results.md]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from table import REPO, Row, Settings, render

SCENARIOS = ("dry_run", "push", "rate_limit")
"""The scenario modules of bench/, in the order they run (each: ``bench_rows(settings)``)."""

LIBRARIES = (
    "pandas",
    "numpy",
    "pyarrow",
    "pandera",
    "python-calamine",
    "httpx",
    "aiohttp",
    "email-validator",
)

Sections = list[tuple[str, float, list[Row]]]
"""Each scenario module's name, seconds taken and rows."""


def main() -> None:
    """Run the scenarios and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="runs per timed scenario")
    parser.add_argument("--quick", action="store_true", help="small inputs: check the bench")
    parser.add_argument("--only", action="append", help="run only this scenario module")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.md")
    args = parser.parse_args()
    started = time.perf_counter()
    sections: Sections = []
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        for name in args.only or SCENARIOS:
            module = importlib.import_module(name)
            work = Path(folder) / name
            work.mkdir()
            print(f"== {name}", flush=True)
            begun = time.perf_counter()
            rows = module.bench_rows(Settings(work=work, reps=args.reps, quick=args.quick))
            sections.append((name, time.perf_counter() - begun, rows))
            print(render(rows), flush=True)
    total = time.perf_counter() - started
    args.out.write_text(_results(sections, total, args), encoding="utf-8")
    print(f"bench: {total / 60:.1f} minutes; wrote {args.out}")


def _results(
    sections: list[tuple[str, float, list[Row]]], total: float, args: argparse.Namespace
) -> str:
    rows = [row for _, _, part in sections for row in part]
    timing = ", ".join(f"{name} {seconds:.0f} s" for name, seconds, _ in sections)
    return "\n".join(
        [
            "# Benchmark results",
            "",
            f"Written by `bench/run.py{''.join(' ' + word for word in sys.argv[1:])}` on "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, at commit {_commit()}.",
            f"Whole bench: {total / 60:.1f} minutes ({timing}); scenario modules: "
            f"{', '.join(SCENARIOS)}.",
            "Each figure is the median of its runs; each baseline was measured in the same run, "
            "beside it, so the ratios hold on a busy machine better than the seconds do.",
            "",
            render(rows),
            "",
            "## Machine",
            "",
            *_machine(),
            "",
        ]
    )


def _commit() -> str:
    def git(*words: str) -> str:
        done = subprocess.run(
            ["git", *words], cwd=REPO, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return f"`{commit}`" + (" (with uncommitted changes)" if git("status", "--porcelain") else "")


def _machine() -> list[str]:
    versions = []
    for name in LIBRARIES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return [
        f"- CPU: {_cpu_model()}, {os.cpu_count()} cores; RAM {_ram_gb():.1f} GB; "
        f"load average at the end {os.getloadavg()[0]:.1f}",
        f"- {platform.platform()}; Python {platform.python_version()}",
        f"- {', '.join(versions)}",
    ]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _ram_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
