"""Benchmark: the offline stages of a dry run on a generated lead sheet, and the run end to end.

Generates a lead-sheet CSV with a fixed seed (5% invalid rows, 5% duplicates of earlier rows,
1% of addresses international), then times, in this one process: the bare
``pandas.read_csv(dtype=str)`` of it, and the read, map, validate and dedupe stages through the
importer's own functions, chunk by chunk as the pipeline calls them, and the memory the deduper
holds per key. Then it times ``importer run SHEET --vendor offergrid-leads --dry-run`` as a
subprocess, with its peak memory while streaming and while writing the report. Each figure is
printed beside what issue 9 measured before the dedupe and email fixes (at 1M rows). Not part of
``make test``::

    .venv/bin/python bench/offline.py --rows 1000000
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from importer.contracts.contract import load_contract
from importer.dedupe import Deduper
from importer.mapping import apply_mapping, plan_mapping
from importer.read import open_sheet
from importer.validate import build_schema, validate_chunk

VENDOR = "offergrid-leads"
COLUMNS = ["First Name", "Last Name", "Email", "Phone", "Company", "Source"]
FIRST = ["Ada", "Ava", "Ben", "Chen", "Dana", "Eli", "Fatima", "Grace", "José", "Priya", "Zoë"]
LAST = ["Brown", "García", "Kim", "Lopez", "Müller", "Nguyen", "Okafor", "Smith", "Tanaka"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example.co.uk", "ex.io"]
SOURCES = ["order", "link", "api_import", "manual", "event", ""]
BAD_EMAILS = ["{u}@", "{u}.example.com", "{u}@@example.com", "{u}..x@example.com", "{u} x@ex.io"]
INVALID_SHARE = 0.05
DUPLICATE_SHARE = 0.05
INTERNATIONAL_SHARE = 0.01
ISSUE_SECONDS_AT_1M = {"read_csv": 1.1, "dedupe": 61.0, "validate": 27.0, "run": 296.0}
"""What issue 9 measured at 1M rows before the dedupe and email fixes."""


@dataclass(frozen=True, slots=True)
class StageTimes:
    """Seconds spent in each offline stage over the whole sheet."""

    read: float
    map: float
    validate: float
    dedupe: float
    rows: int
    failed: int
    duplicates: int


def main() -> None:
    """Generate the sheet, time the stages and the dry run, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--chunk-rows", type=int, default=5_000, help="the pipeline's default")
    parser.add_argument("--skip-run", action="store_true", help="time the stages only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-offline-") as folder:
        sheet = Path(folder) / "leads.csv"
        started = time.perf_counter()
        write_sheet(sheet, args.rows, args.seed)
        generated = time.perf_counter() - started
        print(f"{args.rows:,} rows generated in {generated:.1f} s (seed {args.seed})")
        read_csv = timed(lambda: pd.read_csv(sheet, dtype=str, keep_default_na=False))
        stages = time_stages(sheet, args.chunk_rows)
        print_stages(args.rows, read_csv, stages)
        print(
            f"dedupe memory: {dedupe_bytes_per_key(args.rows, args.chunk_rows):.0f} bytes a key "
            "(issue: 144)"
        )
        if not args.skip_run:
            seconds, samples, summary = time_run(sheet, Path(folder) / "out")
            print_run(args.rows, read_csv, seconds, samples, summary)


def write_sheet(path: Path, rows: int, seed: int) -> None:
    """Write a lead sheet of ``rows`` rows: about 5% invalid and 5% duplicates of earlier rows."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(lead_rows(rows, random.Random(seed)))


def lead_rows(rows: int, rng: random.Random) -> Iterator[list[str]]:
    """Yield lead rows; a duplicate repeats an earlier row's email, spelled in upper case."""
    emails: list[str] = []
    for number in range(rows):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        user = f"{first}.{last}{number}".lower()
        if rng.random() >= INTERNATIONAL_SHARE:  # most addresses spell José as jose
            user = unicodedata.normalize("NFKD", user).encode("ascii", "ignore").decode()
        email = f"{user}@{rng.choice(DOMAINS)}"
        source = rng.choice(SOURCES)
        draw = rng.random()
        if draw < DUPLICATE_SHARE and emails:
            email = rng.choice(emails).upper()
        elif draw < DUPLICATE_SHARE + INVALID_SHARE:
            if rng.random() < 0.6:
                email = rng.choice(BAD_EMAILS).format(u=user)
            elif rng.random() < 0.5:
                first = last = ""
            else:
                source = "website"
        else:
            emails.append(email)
        phone = f"+1 {rng.randrange(200, 999)} {rng.randrange(100, 999)} {rng.randrange(10**4)}"
        yield [first, last, email, phone, f"{last} & Co", source]


def timed(work: Callable[[], object]) -> float:
    """Return the seconds one call of ``work`` takes."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def time_stages(sheet_path: Path, chunk_rows: int) -> StageTimes:
    """Run read, map, validate and dedupe over the sheet as the pipeline does, timing each."""
    contract = load_contract(VENDOR)
    sheet = open_sheet(sheet_path)
    plan = plan_mapping(sheet.columns, contract)
    schema = build_schema(contract)
    unordered = [spec.path for spec in contract.fields if spec.as_set]
    deduper = Deduper(contract.dedupe_key, unordered=unordered)
    seconds = dict.fromkeys(("read", "map", "validate", "dedupe"), 0.0)
    rows = failed = duplicates = 0
    clock = time.perf_counter()
    for chunk in sheet.chunks(chunk_rows):
        clock = _lap(seconds, "read", clock)
        mapped = apply_mapping(chunk.frame.drop(index=list(chunk.malformed)), plan, contract)
        clock = _lap(seconds, "map", clock)
        validated = validate_chunk(mapped, schema)
        clock = _lap(seconds, "validate", clock)
        deduped = deduper.split(validated.valid)
        clock = _lap(seconds, "dedupe", clock)
        rows += len(chunk.frame)
        failed += len(validated.failures) + len(chunk.malformed)
        duplicates += len(deduped.duplicates)
    return StageTimes(rows=rows, failed=failed, duplicates=duplicates, **seconds)


def dedupe_bytes_per_key(keys: int, chunk_rows: int) -> float:
    """Return the memory a Deduper holds per distinct key, after ``keys`` keys in chunks."""
    deduper = Deduper(["email"])
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for start in range(0, keys, chunk_rows):
        numbers = range(start, min(keys, start + chunk_rows))
        emails = [f"first.last{number}@example.com" for number in numbers]
        deduper.split(pd.DataFrame({"email": emails}, index=pd.Index(numbers), dtype=object))
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return held / max(keys, 1)


def _lap(seconds: dict[str, float], stage: str, since: float) -> float:
    now = time.perf_counter()
    seconds[stage] += now - since
    return now


def time_run(sheet: Path, out: Path) -> tuple[float, list[tuple[float, int]], dict[str, Any]]:
    """Run ``importer run --dry-run`` as a subprocess; return its seconds, RSS samples, summary.

    The samples are (seconds since start, resident MB), read from /proc every 0.2 s.
    """
    command = [sys.executable, "-m", "importer", "run", str(sheet), "--vendor", VENDOR]
    started = time.perf_counter()
    samples: list[tuple[float, int]] = []
    with subprocess.Popen(
        [*command, "--dry-run", "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as run:
        while run.poll() is None:
            samples.append((time.perf_counter() - started, _resident_mb(run.pid)))
            time.sleep(0.2)
        errors = run.stderr.read() if run.stderr else ""
    seconds = time.perf_counter() - started
    if run.returncode not in (0, 1):
        sys.exit(f"importer run failed ({run.returncode}):\n{errors[-2000:]}")
    # Linux reports ru_maxrss in KiB; the only child this process waited for is the run.
    samples.append((seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024))
    return seconds, samples, dict(json.loads((out / "summary.json").read_text()))


def _resident_mb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) // 1024 if found else 0


def print_stages(rows: int, read_csv: float, stages: StageTimes) -> None:
    """Print each stage's time, per row, and against the bare read and the issue's figure."""
    print(
        f"{stages.rows:,} rows read: {stages.failed:,} failed validation, "
        f"{stages.duplicates:,} duplicates"
    )
    print(f"{'stage':<22}{'seconds':>9}{'µs/row':>9}{'x read_csv':>12}{'issue at 1M':>13}")
    figures = [
        ("pandas.read_csv", read_csv, "read_csv"),
        ("read (importer)", stages.read, None),
        ("map", stages.map, None),
        ("validate", stages.validate, "validate"),
        ("dedupe", stages.dedupe, "dedupe"),
    ]
    for label, seconds, issue in figures:
        print(_line(label, seconds, rows, read_csv, issue))


def print_run(
    rows: int, read_csv: float, seconds: float, samples: list[tuple[float, int]], summary: Any
) -> None:
    """Print the end-to-end dry run: wall time, the run's own durations, peak memory."""
    print(_line("importer run --dry-run", seconds, rows, read_csv, "run"))
    durations = summary.get("durations_seconds", {})
    print(f"  its summary: {durations}, totals {summary.get('totals')}")
    # The run's "total" ends when the rows are streamed; report.xlsx is written after it.
    streamed = seconds - durations.get("report_xlsx", 0.0)
    during = max((mb for at, mb in samples[:-1] if at <= streamed), default=0)
    print(
        f"  peak RSS {samples[-1][1]:,} MB; sampled: {during:,} MB until the rows were streamed "
        f"(issue: 354 MB at 1M rows, 784 MB at 3M)"
    )


def _line(label: str, seconds: float, rows: int, read_csv: float, issue: str | None) -> str:
    before = f"{ISSUE_SECONDS_AT_1M[issue]:.1f} s" if issue else ""
    per_row = seconds / max(rows, 1) * 1e6
    return f"{label:<22}{seconds:>9.2f}{per_row:>9.2f}{seconds / read_csv:>11.1f}x{before:>13}"


if __name__ == "__main__":
    main()
