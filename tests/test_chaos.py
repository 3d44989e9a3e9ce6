"""Chaos: real importer and sandbox processes over loopback, killed and faulted (issue 4).

In every scenario the sandbox's stored records must equal the rows reported created (in this
run or an earlier one), no email may be stored twice, and the totals must add up.
"""

from __future__ import annotations

import csv
import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.chaos_trials import (
    SYNCED_REASONS,
    importer_run,
    sandbox,
    stored_records,
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
        time.sleep(2.5)
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
