"""The `sync` command: run the imports saved in a job file, in order, with one summary."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click

from importer.cli.console import (
    EXIT_ABORTED,
    EXIT_CODES,
    Console,
    credential_values,
    log_options,
    worst,
)
from importer.cli.run import Ending, execute
from importer.errors import ImporterError
from importer.jobs import Job, load_job_file, prepare
from importer.lifecycle import Reason
from importer.report.totals import Totals

COLUMNS = ("rows", "created", "conflicted", "failed", "duplicate", "skipped", "unknown")
PROBLEM_WIDTH = 90


@dataclass(frozen=True, slots=True)
class JobLine:
    """One job's line in the summary."""

    name: str
    totals: Totals | None
    """None when the job did not run or could not start."""
    exit_code: int | None
    """None when the job was not run (the sync was interrupted before it)."""
    problem: str | None = None
    interrupted: bool = False

    def counts(self) -> dict[str, int] | None:
        """Return the summary's counts, ``unknown`` being the rows whose outcome is unknown."""
        if self.totals is None:
            return None
        unknown = self.totals.by_reason.get(Reason.OUTCOME_UNKNOWN.value, 0)
        return {**self.totals.as_dict(), "unknown": unknown}


@click.command()
@click.argument("job_file", type=click.Path(path_type=Path))
@click.option(
    "--job",
    "names",
    multiple=True,
    metavar="NAME",
    help="Run only this job (repeatable); default: every job, in the file's order.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Read, map, validate and dedupe each job's sheet; send nothing, touch no ledger.",
)
@log_options
def sync(
    job_file: Path, names: Sequence[str], dry_run: bool, log_format: str, verbose: bool
) -> None:
    """Run the imports saved in JOB_FILE (TOML), in order, then print one summary.

    Each [job.NAME] table holds what `importer run` would be given: sheet (a path, or a glob
    whose newest match is read), vendor, base_url or sandbox = true, account, mapping, set,
    concurrency, rate_limit, time_budget, state, out (with {job}, {date}, {stamp}), the NAMES
    of the variables holding credentials, and fail_if_failed_over ("5%" or a row count). See
    the README, "Nightly sync". A file that holds a secret is refused.

    A job that cannot start (no file matches its sheet, a credential variable unset, the
    vendor unreachable...) is reported and the next job runs; Ctrl-C or SIGTERM stops the sync
    after the job in progress has written its report.

    \b
    Exit codes, the worst job's, in this order:
      2  the job file is wrong (nothing ran), or a job could not start or was aborted
      3  a job had more failed rows than its fail_if_failed_over allows
      1  some rows failed (within thresholds)
      0  no row failed
    """
    console = Console.open(log_format, verbose=verbose, secrets=credential_values(os.environ))
    try:
        jobs = load_job_file(job_file, env=os.environ).select(names)
    except ImporterError as error:
        console.fail(str(error))
    listed = ", ".join(job.name for job in jobs)
    console.emit(
        "sync_started",
        f"sync {job_file}: {len(jobs)} job{'s' * (len(jobs) != 1)} ({listed})",
        file=str(job_file),
        jobs=[job.name for job in jobs],
        dry_run=dry_run,
    )
    previous = signal.getsignal(signal.SIGTERM)
    try:
        lines = _run_jobs(jobs, console, dry_run=dry_run)
    finally:
        signal.signal(signal.SIGTERM, previous)
    code = worst(line.exit_code for line in lines if line.exit_code is not None)
    _summary(console, lines, code)
    sys.exit(code)


def _run_jobs(jobs: Sequence[Job], console: Console, *, dry_run: bool) -> list[JobLine]:
    """Run the jobs in order until one is interrupted; return their summary lines."""
    lines: list[JobLine] = []
    for index, job in enumerate(jobs):
        lines.append(_run_job(job, console, dry_run=dry_run))
        if lines[-1].interrupted:
            lines += [JobLine(later.name, None, None, "not run") for later in jobs[index + 1 :]]
            break
    return lines


def _run_job(job: Job, console: Console, *, dry_run: bool) -> JobLine:
    """Run one job; a job that cannot start is reported, never raised."""
    job_console = console.bound(job=job.name).redacting(
        [os.environ[name] for name in job.credentials.values() if os.environ.get(name)],
        urls=[job.base_url],
    )
    job_console.line(f"job {job.name}:")
    # asyncio puts SIGTERM back to its default after each run: make it stop the sync politely.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        prepared = prepare(job, env=os.environ, now=datetime.now(UTC), dry_run=dry_run)
    except ImporterError as error:
        job_console.error(f"cannot start: {error}")
        return JobLine(job.name, None, EXIT_ABORTED, f"cannot start: {error}")
    except KeyboardInterrupt:
        job_console.error("interrupted")
        return JobLine(job.name, None, EXIT_ABORTED, "interrupted", interrupted=True)
    ending = execute(prepared.config, job_console, env=prepared.env, threshold=prepared.threshold)
    return _line(job.name, ending)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into the KeyboardInterrupt a run already handles."""
    raise KeyboardInterrupt


def _line(name: str, ending: Ending) -> JobLine:
    totals = ending.result.totals if ending.result is not None else None
    problem = ending.problem
    if ending.result is None and problem is not None and not ending.interrupted:
        problem = f"cannot start: {problem}"
    return JobLine(name, totals, ending.exit_code, problem, ending.interrupted)


def _summary(console: Console, lines: Sequence[JobLine], code: int) -> None:
    """Show one line per job (its counts and exit code) and the sync's exit code."""
    if not console.json:
        _table(console, lines)
    console.emit(
        "sync_finished",
        f"sync finished: exit {code} ({EXIT_CODES[code]})",
        level="info" if code == 0 else "warning" if code == 1 else "error",
        exit_code=code,
        jobs=[
            {
                "job": line.name,
                **(line.counts() or {}),
                "exit": line.exit_code,
                "problem": line.problem,
            }
            for line in lines
        ],
    )


def _table(console: Console, lines: Sequence[JobLine]) -> None:
    """Show the jobs as a table: name, counts, exit code, and what went wrong."""
    width = max(len("job"), *(len(line.name) for line in lines))
    header = "".join(f"{column:>11}" for column in COLUMNS)
    console.line(f"{'job':<{width}}{header}{'exit':>6}")
    for line in lines:
        counts = line.counts()
        cells = "".join(f"{(f'{counts[name]:,}' if counts else '-'):>11}" for name in COLUMNS)
        exit_code = "-" if line.exit_code is None else str(line.exit_code)
        problem = f"  {_shorten(line.problem)}" if line.problem else ""
        console.line(f"{line.name:<{width}}{cells}{exit_code:>6}{problem}")


def _shorten(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= PROBLEM_WIDTH else text[: PROBLEM_WIDTH - 1] + "…"
