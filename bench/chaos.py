"""Chaos: kill -9 an import at a random moment, resume until done, count what the vendor holds.

Each trial picks a vendor sheet (OfferGrid leads with and without an email column, OfferGrid
orders, signed customers, Commenda), starts `importer sandbox VENDOR` in its own process with
dropped answers (stored, then the connection cut) and 500s, starts `importer run`, kills it with
SIGKILL at a random moment, sometimes appends rows to the sheet, then resumes with
`importer run` until nothing is left in doubt, settling the rows in doubt between runs the way
a careful person would: looking at the vendor's records, filling unknown.csv, and passing it to
`importer settle`. Then it counts:

- records: what the vendor holds;
- duplicates: records of one row identity stored more than once (or of no row at all);
- unaccounted: input rows not in the final rows.csv exactly once, and valid rows the vendor
  lacks (rows refused by validation or by the vendor, and in-file duplicates, are accounted
  for by their status);
- misreported: rows whose final status is not what became of them.

Exits 1 if any trial has a duplicate, an unaccounted or a misreported row. Run with
``make chaos`` or ``.venv/bin/python bench/chaos.py --trials 100 --seed N``.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: bench/ is sys.path[0], not the repository
    sys.path.insert(0, str(REPO))

from tests.chaos_trials import (  # noqa: E402
    PENDING_REASONS,
    SCENARIOS,
    Fate,
    Forked,
    Launcher,
    Process,
    Scenario,
    Tally,
    importer_run,
    kill_9,
    read_csv,
    sandbox,
    settle_truthfully,
    spawn,
    stored_records,
    tally,
    wait_for_records,
)

MAX_RESUMES = 12
"""Runs after the kill before a trial gives up (each settles fewer rows in doubt)."""


@dataclass(frozen=True, slots=True)
class Trial:
    """One trial's dice: what it imports, how the sandbox misbehaves, when the kills come."""

    index: int
    scenario: Scenario
    rows: int
    first_rows: int
    """Rows in the sheet when the killed run starts (the rest are appended after the kill)."""
    sandbox_flags: tuple[str, ...]
    concurrency: int
    kills: tuple[float | None, ...]
    """When to kill each run before the resumes: seconds after the vendor got its first record
    (None: at a random moment of the run's start, before anything was sent)."""

    @classmethod
    def roll(cls, index: int, seed: int) -> Trial:
        """Roll trial ``index`` of a bench seeded with ``seed`` (vendors taken in turn)."""
        dice = random.Random(f"{seed}:{index}")
        names = sorted(SCENARIOS)
        rows = dice.randint(100, 300)
        flags = (
            "--drop-rate",
            f"{dice.uniform(0.02, 0.06):.3f}",
            "--fail-rate",
            f"{dice.uniform(0.02, 0.08):.3f}",
            "--latency-ms",
            str(dice.choice((0, 5, 10))),
            "--seed",
            str(dice.randrange(1 << 30)),
        )
        kills = [None if dice.random() < 0.1 else dice.uniform(0, 1.0)]
        if dice.random() < 0.25:  # the first resume is killed too
            kills.append(dice.uniform(0, 1.0))
        return cls(
            index=index,
            scenario=SCENARIOS[names[index % len(names)]],
            rows=rows,
            first_rows=rows if dice.random() < 0.5 else rows * 2 // 3,
            sandbox_flags=flags,
            concurrency=dice.choice((2, 4, 8)),
            kills=tuple(kills),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one trial did and left."""

    trial: Trial
    kills: int
    mid_send_kills: int
    """Kills that left the vendor with some of the sheet's records, not all."""
    runs: int
    settled: int
    tally: Tally
    error: str | None = None

    @property
    def bad(self) -> bool:
        """Return whether the trial found a duplicate, a row unaccounted for, or a lie."""
        counts = (self.tally.duplicates, self.tally.unaccounted, self.tally.misreported)
        return self.error is not None or any(counts)


def run_trial(trial: Trial, launch: Launcher) -> Outcome:
    """Run one trial in a folder of its own."""
    with tempfile.TemporaryDirectory(prefix=f"chaos-{trial.index}-") as folder:
        return _run_trial(trial, Path(folder), launch)


def _run_trial(trial: Trial, work: Path, launch: Launcher) -> Outcome:
    scenario, rows = trial.scenario, trial.scenario.rows(trial.rows)
    valid = sum(row.fate is Fate.STORED for row in rows)
    sheet, state, out = work / "sheet.csv", work / "state", work / "out"
    scenario.write(sheet, rows[: trial.first_rows])
    args = ("--concurrency", str(trial.concurrency), *scenario.run_args())
    dice = random.Random(trial.index)
    kills = mid_send = runs = settled = 0
    error = None
    with sandbox(*trial.sandbox_flags, vendor=scenario.vendor, launch=launch) as url:

        def start() -> Process:
            return importer_run(
                sheet, url, state, out, *args, vendor=scenario.vendor, launch=launch
            )

        for kill_after in trial.kills:
            process = start()
            runs += 1
            if kill_after is None:
                time.sleep(dice.uniform(0, 0.3))
            else:
                wait_for_records(url, len(stored_records(url)) + 1, process)
                time.sleep(kill_after)
            if kill_9(process):
                kills += 1
                mid_send += 0 < len(stored_records(url)) < valid
            scenario.write(sheet, rows)
        for _ in range(MAX_RESUMES):
            process = start()
            _, stderr = process.communicate(timeout=600)
            runs += 1
            if process.returncode not in (0, 1) or "Traceback" in stderr:
                error = f"run exited {process.returncode}: {stderr.strip()[-500:]}"
                break
            report = read_csv(out / "rows.csv")
            settled += settle_truthfully(scenario, rows, out, url, state, launch=launch)
            if not any(line["reason"] in PENDING_REASONS for line in report):
                break
        else:
            error = f"rows still in doubt after {MAX_RESUMES} resumes"
        if (out / "INCOMPLETE.txt").exists():
            error = error or "INCOMPLETE.txt left after a finished run"
        identities = [scenario.identity_of_record(record) for record in stored_records(url)]
    counted = tally(rows, read_csv(out / "rows.csv"), identities)
    return Outcome(trial, kills, mid_send, runs, settled, counted, error)


COLUMNS = (
    "scenario",
    "trials",
    "kills",
    "mid-send",
    "runs",
    "settled",
    "rows",
    "records",
    "duplicates",
    "unaccounted",
    "misreported",
)


def table(outcomes: Sequence[Outcome]) -> str:
    """Return the per-scenario table, with a total line."""
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.trial.scenario.name, []).append(outcome)
    lines = [_line(name, group) for name, group in sorted(groups.items())]
    lines.append(_line("total", list(outcomes)))
    widths = [max(len(str(cells[i])) for cells in [COLUMNS, *lines]) for i in range(len(COLUMNS))]

    def show(cells: Sequence[object]) -> str:
        first, *rest = (str(cell) for cell in cells)
        numbers = (cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=True))
        return "  ".join((first.ljust(widths[0]), *numbers))

    rule = "-" * len(show(COLUMNS))
    return "\n".join((show(COLUMNS), rule, *map(show, lines[:-1]), rule, show(lines[-1])))


def _line(name: str, group: Sequence[Outcome]) -> tuple[object, ...]:
    return (
        name,
        len(group),
        sum(each.kills for each in group),
        sum(each.mid_send_kills for each in group),
        sum(each.runs for each in group),
        sum(each.settled for each in group),
        sum(each.trial.rows for each in group),
        sum(each.tally.records for each in group),
        sum(each.tally.duplicates for each in group),
        sum(each.tally.unaccounted for each in group),
        sum(each.tally.misreported for each in group),
    )


def main() -> None:
    """Run the trials, print the table, and exit 1 if any trial went wrong."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=3, help="Trials at once.")
    parser.add_argument(
        "--spawn",
        action="store_true",
        help="Start every command as `python -m importer` (slower) rather than forked from a "
        "process that already imported it.",
    )
    args = parser.parse_args()
    started = time.monotonic()
    trials = [Trial.roll(index, args.seed) for index in range(args.trials)]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = []
        launch: Launcher = spawn if args.spawn else Forked
        for outcome in pool.map(lambda trial: run_trial(trial, launch), trials):
            outcomes.append(outcome)
            mark = "BAD" if outcome.bad else "ok"
            print(
                f"trial {outcome.trial.index:3d} {outcome.trial.scenario.name:<20} "
                f"{outcome.trial.rows:3d} rows, {outcome.kills} kill(s), {outcome.runs} runs, "
                f"{outcome.settled} settled, {outcome.tally.records} records: {mark}",
                flush=True,
            )
    print()
    print(table(outcomes))
    print(f"\n{args.trials} trials, seed {args.seed}, {time.monotonic() - started:.0f} s")
    bad = [outcome for outcome in outcomes if outcome.bad]
    for outcome in bad:
        print(f"trial {outcome.trial.index} ({outcome.trial.scenario.name}): {outcome.trial}")
        for problem in (*outcome.tally.problems, *filter(None, [outcome.error])):
            print(f"  {problem}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
