"""`importer history`: past runs from a real ledger, written by real runs into the sandbox."""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from importer.cli import main
from importer.config import RunConfig
from importer.contracts.contract import Contract
from importer.ledger.interface import Run, RunRow
from importer.ledger.sqlite import LEDGER_FILE, SqliteLedger, open_history
from importer.lifecycle import Reason, RowOutcome, State
from importer.pipeline.progress import NullObserver
from importer.pipeline.run import RunResult, run_import
from importer.sandbox import EmbeddedSandbox, SandboxOptions
from tests.conftest import SAMPLE_DATA

STATUSES = ("created", "conflicted", "failed", "duplicate", "skipped")


def run(sheet: Path, vendor: str, state: Path, out: Path) -> dict[str, Any]:
    """Import ``sheet`` into the vendor's embedded sandbox; return its summary.json."""
    args = ["run", str(sheet), "--vendor", vendor, "--sandbox", "--state", str(state)]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code in {0, 1}, result.output
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return summary


def history(*args: str) -> Result:
    return CliRunner().invoke(main, ["history", *args])


def listed(state: Path, *args: str) -> list[dict[str, Any]]:
    result = history("--state", str(state), "--json", *args)
    assert result.exit_code == 0, result.output
    runs: list[dict[str, Any]] = json.loads(result.stdout)
    return runs


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """Run leads, org-console, then leads again into one state folder; oldest first."""
    folder = tmp_path_factory.mktemp("history")
    state = folder / "state"
    sheets = [
        (SAMPLE_DATA / "leads.csv", "offergrid-leads"),
        (SAMPLE_DATA / "org-console.csv", "org-console"),
        (SAMPLE_DATA / "leads.csv", "offergrid-leads"),
    ]
    summaries = [
        run(sheet, vendor, state, folder / f"out{index}")
        for index, (sheet, vendor) in enumerate(sheets)
    ]
    return state, summaries


def test_runs_are_listed_newest_first_with_their_totals(
    three_runs: tuple[Path, list[dict[str, Any]]],
) -> None:
    state, summaries = three_runs
    runs = listed(state)
    assert [each["run_id"] for each in runs] == [s["run_id"] for s in reversed(summaries)]
    for each, summary in zip(runs, reversed(summaries), strict=True):
        assert each["vendor"] == summary["vendor"]
        assert each["account"] == summary["account"]
        assert each["source_file"] == summary["source_file"]
        assert each["status"] == "finished"
        assert each["totals"] == {**summary["totals"], "unknown": 0}


def test_the_table_shows_one_line_per_run_under_its_header(
    three_runs: tuple[Path, list[dict[str, Any]]],
) -> None:
    state, summaries = three_runs
    result = history("--state", str(state))
    assert result.exit_code == 0, result.output
    header, *lines = result.stdout.splitlines()
    assert header.split() == [
        "started",
        "(UTC)",
        "run",
        "vendor",
        "account",
        "file",
        "status",
        *STATUSES,
        "unknown",
    ]
    assert len(lines) == 3
    for line, summary, each in zip(lines, reversed(summaries), listed(state), strict=True):
        words = line.split()
        assert f"{words[0]}T{words[1]}" == each["started_at"][:19]
        assert words[2:7] == [
            summary["run_id"],
            summary["vendor"],
            summary["account"],
            Path(summary["source_file"]).name,
            "finished",
        ]
        assert words[7:] == [f"{summary['totals'][name]:,}" for name in STATUSES] + ["0"]


def test_vendor_and_limit_narrow_the_list(
    three_runs: tuple[Path, list[dict[str, Any]]],
) -> None:
    state, summaries = three_runs
    leads = [s["run_id"] for s in reversed(summaries) if s["vendor"] == "offergrid-leads"]
    assert [each["run_id"] for each in listed(state, "--vendor", "offergrid-leads")] == leads
    assert [each["run_id"] for each in listed(state, "--limit", "1")] == [leads[0]]
    result = history("--state", str(state), "--limit", "2")
    assert result.stdout.splitlines()[-1] == "(the newest 2 shown; --limit N lists more)"
    nothing = history("--state", str(state), "--vendor", "commenda")
    assert (nothing.exit_code, nothing.stdout) == (
        0,
        f"no runs of commenda in the ledger in {state}\n",
    )


def test_no_ledger_is_one_line_and_exit_0_and_nothing_is_created(tmp_path: Path) -> None:
    state = tmp_path / "never-used"
    result = history("--state", str(state))
    assert result.exit_code == 0
    assert result.stdout == (
        f"no runs to list: no ledger in {state} (give --state the folder your runs used)\n"
    )
    as_json = history("--state", str(state), "--json")
    assert (as_json.exit_code, as_json.stdout) == (0, "[]\n")
    assert not state.exists()


class _Paused(NullObserver):
    """Hold a run after its first rows are in the ledger, until the test lets it go."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()

    def rows_done(self, outcomes: Iterable[RowOutcome]) -> None:
        if not self.reached.is_set():
            self.reached.set()
            assert self.release.wait(timeout=60)


def test_a_run_in_progress_is_listed_and_neither_waits_for_the_other(tmp_path: Path) -> None:
    state = tmp_path / "state"
    earlier = run(SAMPLE_DATA / "leads.csv", "offergrid-leads", state, tmp_path / "earlier")
    reader = open_history(state)  # a reader left open holds no lock
    assert reader is not None
    observer = _Paused()
    config = RunConfig(
        sheet_path=SAMPLE_DATA / "leads.csv",
        vendor="offergrid-leads",
        out_dir=tmp_path / "now",
        use_sandbox=True,
        state_dir=state,
    )
    results: list[RunResult] = []
    worker = threading.Thread(
        target=lambda: results.append(run_import(config, env={}, observer=observer))
    )
    worker.start()
    try:
        assert observer.reached.wait(timeout=60)
        now, before = listed(state, "--vendor", "offergrid-leads")
        assert now["status"] == "running"
        assert now["totals"]["rows"] > 0  # counted from the rows the ledger holds so far
        assert before["run_id"] == earlier["run_id"]
    finally:
        observer.release.set()
        worker.join(timeout=120)
    [result] = results
    assert result.exit_code == 1  # the run went on and finished: some sample rows fail
    assert [each.run_id for each in reader.history()] == [result.run_id, earlier["run_id"]]
    reader.close()
    [now, _] = listed(state)
    assert now["status"] == "finished"
    assert now["totals"] == {**result.totals.as_dict(), "unknown": 0}


def test_a_run_that_was_killed_is_cut_short_with_the_rows_it_recorded(tmp_path: Path) -> None:
    state = tmp_path / "state"
    killed = SqliteLedger(state, vendor="offergrid-leads", account="acme")
    killed.begin_run(
        Run(
            run_id="run-killed",
            vendor="offergrid-leads",
            account="acme",
            started_at="2020-01-01T00:00:00.000+00:00",
            source_file="/sheets/leads.csv",
            columns=("Email",),
        )
    )
    outcomes = [
        RowOutcome(2, State.CREATED, Reason.CREATED),
        RowOutcome(3, State.UNKNOWN, Reason.OUTCOME_UNKNOWN),
        RowOutcome(4, State.PLANNED, Reason.CUT_SHORT),
    ]
    killed.plan("run-killed", [RunRow(outcome, None, ("x",)) for outcome in outcomes])
    killed.close()  # as kill -9 would: no end_run, the lock let go
    [cut] = listed(state)
    assert cut["status"] == "cut short"
    assert cut["totals"] == {
        "rows": 3,
        "created": 1,
        "conflicted": 0,
        "failed": 1,
        "duplicate": 0,
        "skipped": 1,
        "unknown": 1,
    }
    newer = run(SAMPLE_DATA / "leads.csv", "offergrid-leads", state, tmp_path / "out")
    assert [each["run_id"] for each in listed(state)] == [newer["run_id"], "run-killed"]


def test_rows_in_doubt_are_counted_as_unknown(
    tmp_path: Path, leads_contract: Contract, monkeypatch: pytest.MonkeyPatch
) -> None:
    blind = replace(leads_contract, duplicates_detected_by=())  # a re-send is not safe
    monkeypatch.setattr("importer.pipeline.run.load_contract", lambda vendor: blind)
    sheet = tmp_path / "people.csv"
    with sheet.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows(
            [["Name", "Email"], *([f"P{i}", f"p{i}@example.com"] for i in range(30))]
        )
    # the sandbox stores 40% of the records and drops the connection before answering
    with EmbeddedSandbox(blind, SandboxOptions(drop_rate=0.4, seed=5, preload=False)) as sandbox:
        config = RunConfig(
            sheet_path=sheet,
            vendor="offergrid-leads",
            out_dir=tmp_path / "out",
            base_url=sandbox.base_url,
            state_dir=tmp_path / "state",
        )
        result = run_import(config, env={"OFFERGRID_API_KEY": "sandbox-offergrid-key"})
    in_doubt = result.totals.by_reason.get(Reason.OUTCOME_UNKNOWN.value, 0)
    assert in_doubt > 0
    [each] = listed(tmp_path / "state")
    assert each["totals"]["unknown"] == in_doubt
    assert each["totals"]["failed"] == result.totals.failed >= in_doubt


def test_a_ledger_from_a_newer_importer_is_refused_in_one_line(tmp_path: Path) -> None:
    state = tmp_path / "state"
    SqliteLedger(state, vendor="offergrid-leads", account="acme").close()
    with sqlite3.connect(state / LEDGER_FILE) as db:
        db.execute("PRAGMA user_version=99")
    result = history("--state", str(state))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("importer: error: the ledger in")
    assert "newer than this importer" in result.stderr


def test_a_file_name_with_a_line_break_stays_on_its_line(tmp_path: Path) -> None:
    sheet = tmp_path / "two\nlines\x1b[31m.csv"
    sheet.write_bytes((SAMPLE_DATA / "leads.csv").read_bytes())
    run(sheet, "offergrid-leads", tmp_path / "state", tmp_path / "out")
    lines = history("--state", str(tmp_path / "state")).stdout.splitlines()
    assert len(lines) == 2
    assert "two?lines?[31m.csv" in lines[1]
