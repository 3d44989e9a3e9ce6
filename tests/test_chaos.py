"""Chaos: real importer and sandbox processes over loopback, killed and faulted (issue 4).

In every scenario the sandbox's stored records must equal the rows reported created (in this
run or an earlier one), no row may be stored twice (an email, an order, or a row without a key
known by its content and occurrence), and the totals must add up. Rows whose send is in doubt
are settled the way a person would, from the sandbox's records, with `importer settle`; a
killed run leaves one whole report in --out, and `importer report` rebuilds its own.
``tests/chaos_trials.py`` holds the sheets and helpers these tests share with bench/chaos.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from openpyxl import load_workbook

from tests.chaos_trials import (
    ENV,
    PENDING_REASONS,
    SCENARIOS,
    SYNCED_REASONS,
    Fate,
    Process,
    Row,
    Scenario,
    importer,
    importer_env,
    importer_run,
    kill_9,
    read_csv,
    sandbox,
    settle_truthfully,
    stored_records,
    synced_identities,
    tally,
    wait_for_records,
)


def write_people(path: Path, count: int, *, start: int = 0) -> set[str]:
    """Write a lead sheet with a few duplicates and bad rows; return its valid unique emails."""
    emails = set()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Name", "Email"])
        for index in range(start, start + count):
            email = f"person{index}@example.com"
            writer.writerow([f"Person {index}", email])
            emails.add(email)
            if index % 50 == 0:
                writer.writerow([f"Person {index} again", f" {email.upper()} "])
            if index % 70 == 0:
                writer.writerow([f"Broken {index}", "not-an-email"])
    return emails


def stored_emails(base_url: str) -> list[str]:
    return [str(record["email"]) for record in stored_records(base_url)]


def check_reconciles(out: Path, base_url: str, expected: set[str]) -> dict[str, int]:
    """Assert the final report and the vendor agree row by row; return the totals."""
    stored = stored_emails(base_url)
    assert len(stored) == len(set(stored)), "an email was stored twice"
    assert set(stored) == expected
    with (out / "rows.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    synced = [row for row in rows if row["reason"] in SYNCED_REASONS]
    assert {row["Email"].strip().lower() for row in synced} == set(stored)
    assert len(synced) == len(stored)
    totals = json.loads((out / "summary.json").read_text())["totals"]
    assert (
        totals["rows"]
        == len(rows)
        == sum(totals[name] for name in ("created", "conflicted", "failed", "duplicate", "skipped"))
    )
    return dict(totals)


def finish(sheet: Path, base_url: str, state: Path, out: Path) -> subprocess.CompletedProcess[str]:
    process = importer_run(sheet, base_url, state, out, "--concurrency", "8")
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1, stderr  # the bad-email rows fail
    assert "Traceback" not in stderr
    return subprocess.CompletedProcess(process.args, process.returncode, "", stderr)


def test_kill_9_at_random_moments_then_resume(tmp_path: Path) -> None:
    dice = random.Random(20261123)
    sheet = tmp_path / "people.csv"
    # More rows than four kill windows can send: the sandbox's latency caps a run near 200 rows/s
    expected = write_people(sheet, 1200)
    kills = 0
    with sandbox("--latency-ms", "20") as url:
        for trial in range(4):
            process = importer_run(
                sheet, url, tmp_path / "state", tmp_path / f"out{trial}", "--concurrency", "4"
            )
            time.sleep(dice.uniform(0.8, 2.5))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.communicate(timeout=60)
        finish(sheet, url, tmp_path / "state", tmp_path / "final")
        totals = check_reconciles(tmp_path / "final", url, expected)
    assert kills >= 3
    assert totals["duplicate"] == 24


def test_server_errors_and_dropped_connections(tmp_path: Path) -> None:
    sheet = tmp_path / "people.csv"
    expected = write_people(sheet, 300)
    with sandbox("--fail-rate", "0.2", "--drop-rate", "0.05", "--seed", "11") as url:
        process = importer_run(
            sheet, url, tmp_path / "state", tmp_path / "out", "--concurrency", "8"
        )
        _, stderr = process.communicate(timeout=300)
        with (tmp_path / "out" / "rows.csv").open(encoding="utf-8-sig", newline="") as handle:
            reasons = {row["reason"] for row in csv.DictReader(handle)}
        if "retries_exhausted" in reasons:  # a row can lose every dice roll: the next run sends it
            finish(sheet, url, tmp_path / "state", tmp_path / "out")
        check_reconciles(tmp_path / "out", url, expected)
    assert "Traceback" not in stderr
    assert "created_by_earlier_attempt" in reasons


def test_a_429_storm_backs_off_and_completes(tmp_path: Path) -> None:
    sheet = tmp_path / "people.csv"
    expected = write_people(sheet, 120)
    with sandbox("--rate-limit", "20/s") as url:
        finish(sheet, url, tmp_path / "state", tmp_path / "out")
        check_reconciles(tmp_path / "out", url, expected)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["throttled_429"] > 0
    assert summary["totals"]["created"] == len(expected)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_finishes_in_flight_requests_and_writes_the_report(
    tmp_path: Path, signum: signal.Signals
) -> None:
    sheet = tmp_path / "people.csv"
    expected = write_people(sheet, 400)
    with sandbox("--latency-ms", "40") as url:
        process = importer_run(
            sheet, url, tmp_path / "state", tmp_path / "stopped", "--concurrency", "4"
        )
        # Signal once it is sending (its handler is in place by then), however slow the start.
        deadline = time.monotonic() + 60
        while not stored_emails(url) and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 2, stderr
        assert f"run aborted: the run was interrupted ({signum.name})" in stderr
        summary = json.loads((tmp_path / "stopped" / "summary.json").read_text())
        assert summary["totals"]["skipped"] > 0
        assert summary["totals"]["rows"] == 400 + 8 + 6
        assert set(stored_emails(url)) < expected
        finish(sheet, url, tmp_path / "state", tmp_path / "final")
        check_reconciles(tmp_path / "final", url, expected)


def test_nightly_sync_of_a_growing_sheet_with_kills_and_faults(tmp_path: Path) -> None:
    dice = random.Random(7)
    sheet = tmp_path / "nightly.csv"
    expected: set[str] = set()
    with sandbox(
        "--fail-rate", "0.1", "--drop-rate", "0.03", "--latency-ms", "5", "--seed", "3"
    ) as url:
        for night in range(3):
            expected = write_people(sheet, 150 * (night + 1))
            process = importer_run(
                sheet, url, tmp_path / "state", tmp_path / f"killed{night}", "--concurrency", "4"
            )
            time.sleep(dice.uniform(0.8, 2.0))
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=60)
            for attempt in range(3):
                out = tmp_path / f"night{night}-{attempt}"
                finish(sheet, url, tmp_path / "state", out)
                with (out / "rows.csv").open(encoding="utf-8-sig", newline="") as handle:
                    if not any(
                        row["reason"] == "retries_exhausted" for row in csv.DictReader(handle)
                    ):
                        break
            check_reconciles(out, url, expected)


# --- Rows the vendor cannot tell apart: never sent twice, settled by a person ------------------


def finish_run(process: Process, out: Path, codes: Sequence[int] = (0, 1)) -> list[dict[str, str]]:
    """Wait for a run that must end on its own; return the lines of its rows.csv in ``out``."""
    _, stderr = process.communicate(timeout=300)
    assert process.returncode in codes, stderr
    assert "Traceback" not in stderr
    return read_csv(out / "rows.csv")


def identities_at(scenario: Scenario, base_url: str) -> list[Hashable]:
    return [scenario.identity_of_record(record) for record in stored_records(base_url)]


def assert_never_twice(rows: Sequence[Row], held: Sequence[Hashable]) -> None:
    """Assert the vendor holds no more records of any identity than the sheet has rows of it."""
    extra = Counter(held) - Counter(row.identity for row in rows if row.fate is Fate.STORED)
    assert not extra, f"stored more often than the sheet holds it: {dict(extra)}"


@pytest.mark.parametrize("name", ["leads-without-email", "orders"])
def test_rows_the_vendor_cannot_detect_are_never_sent_twice(tmp_path: Path, name: str) -> None:
    """Leads from a sheet with no email column, and orders (OfferGrid detects no duplicate).

    Dropped answers and a kill -9 leave rows in doubt: they are reported failed/outcome_unknown
    and never sent again, until a person looks at the vendor and settles them; then the rows
    found missing are sent, once.
    """
    scenario = SCENARIOS[name]
    rows = scenario.rows(130)
    sheet, state, out = tmp_path / "sheet.csv", tmp_path / "state", tmp_path / "out"
    scenario.write(sheet, rows[:100])
    flags = ("--drop-rate", "0.08", "--latency-ms", "5", "--seed", "5")
    with sandbox(*flags, vendor=scenario.vendor) as url:

        def run() -> Process:
            return importer_run(
                sheet,
                url,
                state,
                out,
                "--concurrency",
                "4",
                *scenario.run_args(),
                vendor=scenario.vendor,
            )

        killed = run()
        wait_for_records(url, 25, killed)
        assert kill_9(killed), "the run ended before it was killed"
        before = identities_at(scenario, url)
        assert_never_twice(rows, before)
        scenario.write(sheet, rows)  # rows appended since
        report = finish_run(run(), out)
        after = identities_at(scenario, url)
        assert_never_twice(rows, after)
        assert not synced_identities(rows, report) - Counter(after), "reported created, not stored"
        in_doubt = [line for line in report if line["reason"] == "outcome_unknown"]
        assert {line["status"] for line in in_doubt} == {"failed"}
        assert any(line["attempts"] == "0" for line in in_doubt), "the kill left none in doubt"
        sent = [
            line
            for line in report
            if line["attempts"] not in ("", "0")
            and rows[int(line["source_row"]) - 2].fate is Fate.STORED
        ]
        assert len(after) - len(before) == len(sent), "a row was sent twice, or a row in doubt"
        assert settle_truthfully(scenario, rows, out, url, state) == len(in_doubt)
        for _ in range(4):  # the sandbox still drops answers: re-run, settle, until none is left
            report = finish_run(run(), out)
            assert_never_twice(rows, identities_at(scenario, url))
            settle_truthfully(scenario, rows, out, url, state)
            if not any(line["reason"] in PENDING_REASONS for line in report):
                break
        counted = tally(rows, report, identities_at(scenario, url))
    assert counted.problems == ()
    assert counted.records == sum(row.fate is Fate.STORED for row in rows)


# --- One account, however its URL is spelled and whichever key it uses ---------------------------


def test_url_spellings_and_a_rotated_key_are_one_account(tmp_path: Path) -> None:
    scenario = SCENARIOS["orders"]
    rows = [row for row in scenario.rows(45) if row.fate is Fate.STORED]
    sheet, state = tmp_path / "orders.csv", tmp_path / "state"
    scenario.write(sheet, rows[:-5])
    rotated = importer_env(rotated=True)
    assert rotated["OFFERGRID_API_KEY"] != ENV["OFFERGRID_API_KEY"]
    accounts = set()
    with sandbox(vendor=scenario.vendor) as url:
        port = urlsplit(url).port
        assert url == f"http://127.0.0.1:{port}"
        for index, base_url in enumerate(
            (url, f"http://localhost:{port}/", f"HTTP://LOCALHOST:{port}")
        ):
            out = tmp_path / f"out{index}"
            process = importer_run(
                sheet, base_url, state, out, *scenario.run_args(), vendor=scenario.vendor
            )
            reasons = [line["reason"] for line in finish_run(process, out, codes=(0,))]
            assert reasons == ["created" if index == 0 else "already_synced"] * (len(rows) - 5)
            assert len(stored_records(url)) == len(rows) - 5
            accounts.add(json.loads((out / "summary.json").read_text())["account"])
        scenario.write(sheet, rows)  # five rows more, sent with the rotated key
        out = tmp_path / "rotated"
        process = importer_run(
            sheet, url, state, out, *scenario.run_args(), vendor=scenario.vendor, env=rotated
        )
        report = finish_run(process, out, codes=(0,))
        assert [line["reason"] for line in report] == ["already_synced"] * (len(rows) - 5) + [
            "created"
        ] * 5
        accounts.add(json.loads((out / "summary.json").read_text())["account"])
        counted = tally(rows, report, identities_at(scenario, url))
    assert accounts == {f"http://loopback:{port}"}
    assert counted.problems == ()


# --- A run refused for a busy --out leaves it alone ---------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Return every path under ``folder`` with its bytes (None for a folder)."""
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() else None
        for path in sorted(folder.rglob("*"))
    }


def test_a_run_refused_while_another_writes_its_out_changes_nothing(tmp_path: Path) -> None:
    sheet, state, out = tmp_path / "people.csv", tmp_path / "state", tmp_path / "out"
    with sandbox("--latency-ms", "100") as url:
        write_people(sheet, 20)
        finish_run(importer_run(sheet, url, state, out, "--concurrency", "8"), out)  # a report
        expected = write_people(sheet, 150)  # A sends for 6 s: the refused runs start in it
        run_a = importer_run(sheet, url, state, out, "--concurrency", "2")
        wait_for_records(url, 22, run_a)  # run A is sending
        before = snapshot(out)
        refused = [
            importer_run(sheet, url, state, out),  # the same ledger and the same --out
            importer_run(sheet, url, tmp_path / "another-state", out),  # the same --out
        ]
        for run_b in refused:
            _, stderr = run_b.communicate(timeout=60)
            assert run_b.returncode == 2, stderr
            assert re.fullmatch(r"importer: error: another run [^\n]+\n", stderr), stderr
        assert run_a.poll() is None, "run A ended before the runs it locks out: give it more rows"
        assert snapshot(out) == before
        report = finish_run(run_a, out)
        check_reconciles(out, url, expected)
    assert len(report) == 150 + 3 + 3  # and 3 repeated emails, 3 broken ones
    assert not (out / "INCOMPLETE.txt").exists()
    assert not list(out.glob(".run-*"))
    book = load_workbook(out / "report.xlsx", read_only=True)
    try:
        assert book.sheetnames[0] == "Summary"
        lines = [len(list(book[name].iter_rows(min_row=2))) for name in book.sheetnames[1:]]
        assert sum(lines) == len(report)
    finally:
        book.close()


# --- A kill while the report is written: one whole report, and the ledger rebuilds it ------------

REPORT_FILES = ("rows.csv", "report.xlsx", "summary.json")
WIDE = 1300
"""Rows of the wide sheet before any is appended."""


def write_wide(path: Path, count: int) -> int:
    """Write a wide sheet whose report takes a while to build; return its valid rows.

    Most of the first ``WIDE`` rows fail validation (nothing to send, everything to report);
    every row after them is valid, so rows appended later are sent.
    """
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Name", "Email", *(f"Note {column}" for column in range(8))])
        for index in range(count):
            valid = index % 20 == 0 or index >= WIDE
            email = f"wide{index}@example.com" if valid else f"wide{index}-at-example.com"
            notes = (f"note {column} of row {index}, " * 3 for column in range(8))
            writer.writerow([f"Person {index}", email, *notes])
    return sum(index % 20 == 0 or index >= WIDE for index in range(count))


def wait_until(ready: Any, process: Process) -> None:
    """Poll ``ready()`` every millisecond until it is true (or the process ended)."""
    while process.poll() is None and not ready():
        time.sleep(0.001)


def run_folder(out: Path, process: Process, stale: set[Path]) -> str:
    """Wait for the run's hidden folder in ``out`` (not one in ``stale``); return its run id."""
    found: list[Path] = []
    wait_until(lambda: found.extend(set(out.glob(".run-*")) - stale) or found, process)
    assert found, "the run ended before it began its report"
    return found[0].name.removeprefix(".run-")


def whole_report(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in REPORT_FILES}


def check_one_whole_report(
    out: Path, previous: tuple[str, dict[str, bytes]], killed: str, rows: int
) -> tuple[str, dict[str, bytes]]:
    """Assert what ``out`` holds after a kill, and that it says so; return the report now there.

    Either the previous report and a note naming the killed run as cut short; or the killed
    run's whole report and no note; or, killed while moving its files in (several files cannot
    move in one step), a note saying so, naming both runs, beside files each of which is one
    run's or the other's.
    """
    now = whole_report(out)
    note = out / "INCOMPLETE.txt"
    if note.exists():
        text = note.read_text(encoding="utf-8")
        if f"Run {killed} finished and began moving" in text:
            assert f"or run {previous[0]}'s" in text
            summary = json.loads(now["summary.json"])
            assert summary["run_id"] in (killed, previous[0])
            count = len(read_csv(out / "rows.csv"))
            assert count in (rows, len(read_csv_bytes(previous[1]["rows.csv"])))
            return "mixed", now
        assert f"Run {killed} started" in text
        if previous[0] != "mixed":
            assert f"the complete report of run {previous[0]}." in text
            assert now == previous[1], f"INCOMPLETE.txt beside files not run {previous[0]}'s"
        else:
            assert "No complete report of an earlier run is known to be here." in text
        return previous
    summary = json.loads(now["summary.json"])
    assert summary["run_id"] == killed
    lines = read_csv(out / "rows.csv")
    assert [int(line["source_row"]) for line in lines] == list(range(2, rows + 2))
    assert summary["totals"]["rows"] == rows
    return killed, now


def read_csv_bytes(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def check_rebuilt(state: Path, run_id: str, folder: Path, rows: int, base_url: str) -> None:
    """Rebuild a run's report from the ledger and assert it holds every row, adding up."""
    process = importer_run_report(run_id, state, folder)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    lines = read_csv(folder / "rows.csv")
    assert [int(line["source_row"]) for line in lines] == list(range(2, rows + 2))
    totals = json.loads((folder / "summary.json").read_text())["totals"]
    statuses = Counter(line["status"] for line in lines)
    assert totals["rows"] == rows == sum(statuses.values())
    assert all(totals[status] == count for status, count in statuses.items())
    created = {line["Email"] for line in lines if line["reason"] == "created"}
    assert created <= set(stored_emails(base_url))


def importer_run_report(run_id: str, state: Path, folder: Path) -> Process:
    return importer("report", "--run", run_id, "--state", str(state), "--out", str(folder))


def test_a_kill_while_the_report_is_written_leaves_one_whole_report(tmp_path: Path) -> None:
    """Kill -9 a run while it writes rows.csv aside, as it saves report.xlsx, and at a random
    moment after its last row was sent; ``importer report`` rebuilds each killed run's report."""
    dice = random.Random(17)
    sheet, state, out = tmp_path / "wide.csv", tmp_path / "state", tmp_path / "out"
    count = WIDE
    write_wide(sheet, count)
    cut_short = 0
    with sandbox() as url:
        finish_run(importer_run(sheet, url, state, out, "--concurrency", "8"), out)
        report = (json.loads((out / "summary.json").read_text())["run_id"], whole_report(out))
        for attempt, moment in enumerate(("rows.csv", "report.xlsx", "tail")):
            count += 5
            valid = write_wide(sheet, count)  # five rows appended, to send
            stale = set(out.glob(".run-*"))  # left by the run killed before
            process = importer_run(sheet, url, state, out, "--concurrency", "8")
            killed = run_folder(out, process, stale)
            aside = out / f".run-{killed}"
            if moment == "rows.csv":  # sending is over: rows.csv is written aside, then the xlsx
                wait_until(lambda: _size(aside / "rows.csv") > 64_000, process)  # noqa: B023
                time.sleep(dice.uniform(0, 0.2))
            elif moment == "report.xlsx":  # report.xlsx is being saved aside
                wait_until((aside / "report.xlsx").exists, process)
            else:  # just after its last row was sent, or a little later
                wait_for_records(url, valid, process)
                time.sleep(dice.uniform(0, 0.8))
            kill_9(process)
            left_short = (out / "INCOMPLETE.txt").exists()
            report = check_one_whole_report(out, report, killed, count)
            if left_short:
                check_rebuilt(state, killed, tmp_path / f"rebuilt{attempt}", count, url)
                cut_short += 1
    assert cut_short, "no kill landed before the report was complete"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _can_strace() -> bool:
    strace = shutil.which("strace")
    if strace is None:
        return False
    probe = subprocess.run([strace, "-o", "/dev/null", "true"], check=False, capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_strace(), reason="needs strace (ptrace) to hold a run at one moment")
@pytest.mark.parametrize(
    "held",
    [
        # rename(2) #1 writes INCOMPLETE.txt (started), #2 rewrites it (moving), #3 moves
        # rows.csv, #4 report.xlsx, #5 summary.json
        pytest.param("rename:delay_enter=8s:when=4", id="rows.csv-moved-report.xlsx-not-yet"),
        # then unlink(2) drops INCOMPLETE.txt, and rmdir(2) the run's hidden folder
        pytest.param("rmdir:delay_enter=8s", id="all-moved-hidden-folder-not-yet-dropped"),
    ],
)
def test_a_kill_while_the_report_is_moved_into_place_leaves_one_whole_report(
    tmp_path: Path, held: str
) -> None:
    """Kill -9 a run between two steps of moving its finished report into --out.

    strace holds the run at the next step's system call for a few seconds (as a slow disk
    could), so the kill lands in that window every time rather than once in ten thousand.
    """
    sheet, state, out = tmp_path / "people.csv", tmp_path / "state", tmp_path / "out"
    with sandbox() as url:
        write_people(sheet, 20)
        finish_run(importer_run(sheet, url, state, out), out)
        report = (json.loads((out / "summary.json").read_text())["run_id"], whole_report(out))
        write_people(sheet, 25)
        call = held.partition(":")[0]
        hold = ["--seccomp-bpf", "-e", f"trace={call}", "-e", f"inject={held}"]
        with subprocess.Popen(
            [
                str(shutil.which("strace")),
                "-f",
                "-o",
                os.devnull,
                *hold,
                sys.executable,
                "-m",
                "importer",
                "run",
                str(sheet),
                "--vendor",
                "offergrid-leads",
                "--base-url",
                url,
                "--state",
                str(state),
                "--out",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=ENV,
        ) as strace:
            killed = run_folder(out, strace, set())
            wait_until(lambda: len(read_csv(out / "rows.csv")) == 27, strace)
            time.sleep(0.5)  # the run reaches the held call
            assert strace.poll() is None, "the run was not held"
            children = Path(f"/proc/{strace.pid}/task/{strace.pid}/children").read_text()
            os.kill(int(children.split()[0]), signal.SIGKILL)
            time.sleep(0.1)
            strace.kill()  # rather than wait for its timer
        check_one_whole_report(out, report, killed, 27)
        check_rebuilt(state, killed, tmp_path / "rebuilt", 27, url)
