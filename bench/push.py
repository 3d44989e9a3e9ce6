"""Benchmark: the push against a minimal aiohttp client, and what the durable ledger costs.

Each scenario serves the OfferGrid leads sandbox as its own process (``importer sandbox
offergrid-leads --empty --latency-ms N``: answers delayed N ms plus up to 50% jitter). On that
one sandbox, runs alternate: ``importer run`` with its durable ledger, then
``bench/minimal_client.py`` (about 40 lines of aiohttp: no ledger, no retries, no limiter)
posting the very bodies the importer sends, built from the same generated sheet by the
importer's own stages (each run's emails carry a tag of their own, so no run meets another's
records). The importer's rate is rows created over its push time (``durations_seconds.push``
of summary.json: first request to last outcome committed); the minimal client's is rows
answered 201 over first request to last answer. The ledger's cost is the same run with its
state folder on tmpfs, where fsync costs nothing. Figures are medians; each baseline is
measured in the same run, alternating, beside its figure. ``make bench`` runs it through
``bench/run.py`` (``bench_rows``); alone::

    .venv/bin/python bench/push.py [--reps 3] [--quick] [--markdown]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from table import Row, Settings, median, python, render, spread

VENDOR = "offergrid-leads"
PATH = "/reseller/customers"
KEY = "sandbox-offergrid-key"
ENV = {**os.environ, "OFFERGRID_API_KEY": KEY, "PYTHONUNBUFFERED": "1"}
MINIMAL = Path(__file__).with_name("minimal_client.py")
TMPFS = Path("/dev/shm")
COLUMNS = ["First Name", "Last Name", "Email", "Phone", "City", "Country", "Notes"]
FIRST = ["Ada", "Ava", "Ben", "Chen", "Dana", "Eli", "Fatima", "Grace", "José", "Priya", "Zoë"]
LAST = ["Brown", "García", "Kim", "Lopez", "Müller", "Nguyen", "Okafor", "Smith", "Tanaka"]
CITIES = ["Boston", "Lyon", "Osaka", "San Francisco", "Lagos", "Berlin", "Austin"]
TAG = "+t0000@"
"""Every email of the template sheet holds this; each run replaces it with its own tag."""
LEAD_NUMBER = re.compile(r'"lead(\d+)\+')


@dataclass(frozen=True, slots=True)
class Scenario:
    """One push scenario: the sandbox's latency, the concurrency, rows per run, a target."""

    latency_ms: int
    concurrency: int
    rows: int
    target: float | None = None
    """The least share of the minimal client's rate the importer must reach."""
    ledger_cost: bool = False
    """Also run the importer with its ledger on tmpfs (fsync free), as the ledger's cost."""

    @property
    def name(self) -> str:
        """Return the scenario's words for the table."""
        latency = f"{self.latency_ms} ms (+ up to 50% jitter)" if self.latency_ms else "0 ms"
        return f"push at {latency}, concurrency {self.concurrency}"


SCENARIOS = (
    Scenario(50, 64, 4_000, target=0.90),
    Scenario(50, 16, 1_200),
    Scenario(0, 64, 8_000, target=0.40, ledger_cost=True),
    Scenario(0, 16, 6_000),
)


def bench_rows(settings: Settings) -> list[Row]:
    """Run every scenario ``settings.reps`` times; return the table's rows."""
    return [row for scenario in SCENARIOS for row in run_scenario(scenario, settings)]


def rows_of(scenario: Scenario, settings: Settings) -> int:
    """Return the rows a run of the scenario sends (a tenth with ``--quick``)."""
    return max(200, scenario.rows // 10) if settings.quick else scenario.rows


@dataclass(slots=True)
class Runs:
    """Each run's rate, by what ran."""

    importer: list[float] = field(default_factory=list)
    """Rows created per second of push, ledger durable."""
    stream: list[float] = field(default_factory=list)
    """The same runs' rows per second from reading the first row to the report."""
    minimal: list[float] = field(default_factory=list)
    on_tmpfs: list[float] = field(default_factory=list)
    """Rows created per second of push, the ledger's state folder on tmpfs."""


def run_scenario(scenario: Scenario, settings: Settings) -> list[Row]:
    """Alternate the importer and the minimal client on one sandbox; return the rows."""
    size = rows_of(scenario, settings)
    work = settings.work / f"push-{scenario.latency_ms}ms-c{scenario.concurrency}"
    work.mkdir(parents=True, exist_ok=True)
    sheet, bodies = template(settings.work, max(rows_of(each, settings) for each in SCENARIOS))
    sheet, bodies = first_rows(sheet, bodies, size, work)
    runs = Runs()
    with sandbox(scenario.latency_ms) as url:
        for rep in range(settings.reps):

            def minimal(rep: int = rep) -> None:
                tagged_bodies = tagged(bodies, work, "m", rep)
                runs.minimal.append(run_minimal(tagged_bodies, url, scenario.concurrency))

            def durable(rep: int = rep) -> None:
                rates = run_importer(tagged(sheet, work, "i", rep), url, scenario, work)
                runs.importer.append(rates[0])
                runs.stream.append(rates[1])

            def on_tmpfs(rep: int = rep) -> None:
                rates = run_importer(tagged(sheet, work, "t", rep), url, scenario, TMPFS)
                runs.on_tmpfs.append(rates[0])

            steps = [minimal, durable]
            if scenario.ledger_cost and TMPFS.is_dir():
                steps.append(on_tmpfs)
            for step in steps if rep % 2 == 0 else reversed(steps):
                step()
    return _rows(scenario, size, runs)


def _rows(scenario: Scenario, size: int, runs: Runs) -> list[Row]:
    share = median(runs.importer) / median(runs.minimal)
    rows = [
        Row(
            scenario=f"{scenario.name}, {size:,} rows",
            measured=median(runs.importer),
            unit="rows/s",
            baseline=median(runs.minimal),
            baseline_label="minimal aiohttp client",
            target=f"≥ {scenario.target:.0%} of the minimal client" if scenario.target else "",
            met=None if scenario.target is None else share >= scenario.target,
            runs=len(runs.importer),
            note=_note(
                spread(runs.importer, "rows/s"),
                f"minimal {spread(runs.minimal, 'rows/s')}" if len(runs.minimal) > 1 else "",
                f"read to report {median(runs.stream):,.0f} rows/s",
            ),
        )
    ]
    if runs.on_tmpfs:
        rows.append(
            Row(
                scenario=f"ledger's cost at {scenario.latency_ms} ms, concurrency "
                f"{scenario.concurrency}: durable (fsync'd) against its state on tmpfs",
                measured=median(runs.importer),
                unit="rows/s",
                baseline=median(runs.on_tmpfs),
                baseline_label="ledger on tmpfs (fsync free)",
                runs=len(runs.importer),
                note=_note(
                    f"on tmpfs {spread(runs.on_tmpfs, 'rows/s')}" if len(runs.on_tmpfs) > 1 else ""
                ),
            )
        )
    return rows


def _note(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def template(work: Path, rows: int) -> tuple[Path, Path]:
    """Return the template sheet and the bodies the importer sends for it (made once).

    The bodies are what a sandbox received from ``importer run`` on the sheet, each exactly as
    received (``GET /__sandbox__/records``), so the minimal client posts what the importer
    posts, however the importer's stages build it.
    """
    sheet, bodies = work / "leads.csv", work / "bodies.jsonl"
    if not bodies.exists():
        write_sheet(sheet, rows, seed=9)
        with sandbox(0) as url:
            run_importer(sheet, url, Scenario(0, 64, rows), work)
            with urllib.request.urlopen(f"{url}/__sandbox__/records", timeout=60) as answer:
                received = json.load(answer)
        if len(received) != rows:
            raise RuntimeError(f"the sandbox received {len(received)} of {rows} rows")
        lines = [json.dumps(body, ensure_ascii=False) + "\n" for body in received]
        bodies.write_text("".join(lines), encoding="utf-8")
    return sheet, bodies


def first_rows(sheet: Path, bodies: Path, rows: int, work: Path) -> tuple[Path, Path]:
    """Return the template's first ``rows`` rows, and their bodies, as files in ``work``."""
    lines = sheet.read_text(encoding="utf-8").splitlines(keepends=True)
    part_sheet = work / "leads.csv"
    part_sheet.write_text("".join(lines[: rows + 1]), encoding="utf-8")
    wanted = [
        line
        for line in bodies.read_text(encoding="utf-8").splitlines(keepends=True)
        if int(LEAD_NUMBER.search(line).group(1)) < rows  # type: ignore[union-attr]
    ]
    part_bodies = work / "bodies.jsonl"
    part_bodies.write_text("".join(wanted), encoding="utf-8")
    return part_sheet, part_bodies


def write_sheet(path: Path, rows: int, *, seed: int) -> None:
    """Write a lead sheet of ``rows`` valid rows, each with its own email."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for number in range(rows):
            writer.writerow(
                [
                    rng.choice(FIRST),
                    rng.choice(LAST),
                    f"lead{number}{TAG}example.com",
                    f"+1 415 555 {rng.randrange(10_000):04d}",
                    rng.choice(CITIES),
                    "US",
                    "met at the fair" if rng.random() < 0.3 else "",
                ]
            )


def tagged(template_file: Path, work: Path, who: str, rep: int) -> Path:
    """Return a copy of the template whose emails carry this run's tag (same length)."""
    tag = f"+{who}{rep:04d}@"
    assert len(tag) == len(TAG)
    copy = work / f"{who}{rep}{template_file.suffix}"
    copy.write_text(template_file.read_text(encoding="utf-8").replace(TAG, tag), "utf-8")
    return copy


@contextmanager
def sandbox(latency_ms: int) -> Iterator[str]:
    """Serve the leads sandbox as its own process; yield its base URL."""
    command = [python(), "-m", "importer", "sandbox", VENDOR, "--empty"]
    command += ["--latency-ms", str(latency_ms)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=ENV) as server:
        assert server.stdout is not None
        found = re.search(r"http://\S+", server.stdout.readline())
        try:
            if found is None:
                raise RuntimeError("the sandbox did not start")
            yield found.group(0)
        finally:
            server.terminate()


def run_importer(sheet: Path, url: str, scenario: Scenario, where: Path) -> tuple[float, float]:
    """Import ``sheet``, its state and report under ``where``; return rows created per second
    of push, and of the whole stream."""
    with tempfile.TemporaryDirectory(dir=where, prefix="bench-push-") as folder:
        state = Path(folder) / "state"
        out = Path(folder) / "out"
        command = [python(), "-m", "importer", "run", str(sheet), "--vendor", VENDOR]
        command += ["--base-url", url, "--state", str(state), "--out", str(out)]
        command += ["--concurrency", str(scenario.concurrency)]
        done = subprocess.run(command, env=ENV, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"importer exited {done.returncode}: {done.stderr[-2000:]}")
        summary = json.loads((out / "summary.json").read_text())
    created = float(summary["totals"]["created"])
    durations = summary["durations_seconds"]
    return created / durations["push"], created / durations["stream"]


def run_minimal(bodies: Path, url: str, concurrency: int) -> float:
    """Post the bodies with the minimal client; return rows answered 201 per second."""
    command = [python(), str(MINIMAL), "--base-url", url, "--path", PATH, "--bodies", str(bodies)]
    command += ["--header", f"x-api-key={KEY}", "--concurrency", str(concurrency)]
    done = subprocess.run(command, env=ENV, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout)
    return float(result["statuses"].get("201", 0)) / float(result["seconds"])


def main() -> None:
    """Run the scenarios alone and print the table (Markdown with ``--markdown``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows")
    parser.add_argument("--markdown", action="store_true", help="print the Markdown table")
    parser.add_argument("--only", choices=[f"{s.latency_ms}/{s.concurrency}" for s in SCENARIOS])
    args = parser.parse_args()
    chosen = [
        scenario
        for scenario in SCENARIOS
        if args.only in (None, f"{scenario.latency_ms}/{scenario.concurrency}")
    ]
    with tempfile.TemporaryDirectory(prefix="bench-push-") as folder:
        settings = Settings(work=Path(folder), reps=args.reps, quick=args.quick)
        rows = [row for scenario in chosen for row in run_scenario(scenario, settings)]
    if args.markdown:
        print(render(rows))
        return
    for row in rows:
        ratio = row.ratio_or_computed()
        print(
            f"{row.scenario}: {row.measured:,.0f} {row.unit}; {row.baseline_label} "
            f"{row.baseline or 0:,.0f} ({ratio or 0:.0%}); {row.note}"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
