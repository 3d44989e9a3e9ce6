"""Many workers, one import: `importer plan` once, `importer work` in several processes.

Real parts only: a private PostgreSQL server (``tests/postgres_server.py``), a sandbox process
over loopback, and worker processes that are killed with SIGKILL. The invariants are exact: the
vendor holds every row once, the report accounts for every row once; the throughput against the
rate limit is measured by ``bench/workers.py``, not asserted here.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from importer.ledger.interface import RunRow
from importer.ledger.postgres import PostgresLedger
from importer.ledger.work import BucketShape, SharedBucket, WorkItem, WorkQueue, enqueue
from importer.lifecycle import Reason, RowOutcome, State
from importer.payload import Record
from tests.chaos_trials import ENV, Process, kill_9, sandbox, spawn, stored_records
from tests.postgres_server import PostgresCluster

ROWS = 5_000
LEADS = "offergrid-leads"
PYTHON_IMPORTER = [sys.executable, "-m", "importer"]


def write_leads(path: Path, count: int, *, emails: bool = True) -> None:
    """Write a leads sheet of ``count`` distinct people (with or without an email column)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Full Name", "Email"] if emails else ["Full Name", "Phone"])
        for index in range(count):
            contact = f"person{index}@example.com" if emails else f"+1555{index:07d}"
            writer.writerow([f"Person {index}", contact])


def plan(sheet: Path, url: str, state: str, *extra: str) -> str:
    """Run `importer plan`; return the run id it prints last."""
    done = subprocess.run(
        [
            *PYTHON_IMPORTER, "plan", str(sheet), "--vendor", LEADS, "--base-url", url,
            "--state", state, *extra,
        ],
        capture_output=True, text=True, env=ENV, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def worker(run_id: str, state: str, out: Path, *extra: str) -> Process:
    """Start `importer work`; its stdout goes to ``out``.log."""
    args = ["work", run_id, "--state", state, "--out", str(out), *extra]
    return spawn(args, env=ENV, stdout=out.with_suffix(".log"))


def drew_429s(outs: list[Path]) -> int:
    """Return the 429 answers the workers drew, as each printed it."""
    said = " ".join(out.with_suffix(".log").read_text(encoding="utf-8") for out in outs)
    return sum(int(count) for count in re.findall(r"429s (\d+)", said))


def finish(process: Process, codes: tuple[int, ...] = (0,)) -> str:
    """Wait for a worker; return its stderr (it must have ended with one of ``codes``)."""
    _, errors = process.communicate(timeout=600)
    assert process.returncode in codes, errors
    return errors


def summary_of(outs: list[Path]) -> dict[str, Any]:
    """Return the summary.json of the one worker that ended the run."""
    written = [out / "summary.json" for out in outs if (out / "summary.json").exists()]
    assert len(written) == 1, written
    found: dict[str, Any] = json.loads(written[0].read_text(encoding="utf-8"))
    return found


def report_rows(out: Path) -> list[list[str]]:
    with (out / "rows.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))[1:]


PASSWORD = "W0rker-Secret-9d2"


@pytest.fixture
def state(postgres_server: PostgresCluster) -> str:
    """Return a fresh database's URL, with a password (the server trusts loopback)."""
    return postgres_server.url(postgres_server.create_database(), password=PASSWORD)


def test_three_workers_create_every_row_exactly_once(state: str, tmp_path: Path) -> None:
    sheet = tmp_path / "leads.csv"
    write_leads(sheet, ROWS)
    with sandbox("--rate-limit", "400/s") as url:
        run_id = plan(sheet, url, state, "--rate-limit", "400/s")
        outs = [tmp_path / f"out{index}" for index in range(3)]
        workers = [worker(run_id, state, out, "--concurrency", "8") for out in outs]
        logs = [finish(process) for process in workers]
        held = Counter(record["email"] for record in stored_records(url))
    assert len(held) == ROWS and set(held.values()) == {1}  # every row once, none twice
    summary = summary_of(outs)
    assert summary["totals"]["rows"] == ROWS
    assert summary["totals"]["created"] == ROWS
    rows = report_rows(next(out for out in outs if (out / "rows.csv").exists()))
    assert sorted(int(row[0]) for row in rows) == list(range(2, ROWS + 2))
    assert all(log == "" for log in logs), logs
    assert drew_429s(outs) < ROWS // 100  # the shared bucket keeps the workers under the limit
    for path in tmp_path.rglob("*"):  # the reports and the workers' output
        assert not path.is_file() or PASSWORD.encode() not in path.read_bytes(), path


def test_a_worker_killed_mid_run_loses_and_doubles_nothing(state: str, tmp_path: Path) -> None:
    """SIGKILL one of three workers; its rows are taken over once its 3-second lease ends."""
    sheet = tmp_path / "leads.csv"
    write_leads(sheet, ROWS)
    with sandbox("--rate-limit", "400/s", "--latency-ms", "10") as url:
        run_id = plan(sheet, url, state, "--rate-limit", "400/s")
        outs = [tmp_path / f"out{index}" for index in range(3)]
        lease = ("--lease-seconds", "3", "--concurrency", "8")
        workers = [worker(run_id, state, out, *lease) for out in outs]
        _wait_until(lambda: len(stored_records(url)) >= ROWS // 5)
        assert kill_9(workers[0])  # it was still working
        for process in workers[1:]:
            finish(process)
        held = Counter(record["email"] for record in stored_records(url))
    assert len(held) == ROWS and set(held.values()) == {1}
    summary = summary_of(outs[1:])
    totals = summary["totals"]
    assert totals["rows"] == ROWS
    # A row the dead worker sent but never settled is re-sent (leads detect duplicates by
    # email): created by it, or conflicted if the dead worker's request had been stored.
    assert totals["created"] + totals["conflicted"] == ROWS
    reasons = summary["reasons"]
    assert set(reasons) <= {"created", "created_by_earlier_run"}, reasons


def test_rows_a_dead_worker_left_in_doubt_are_never_sent_twice_where_unsafe(
    state: str, tmp_path: Path
) -> None:
    """Leads without an email cannot be re-sent safely: the takeover leaves them unknown."""
    sheet = tmp_path / "phones.csv"
    count = 1_500
    write_leads(sheet, count, emails=False)
    with sandbox("--rate-limit", "300/s", "--latency-ms", "10") as url:
        run_id = plan(sheet, url, state, "--rate-limit", "300/s")
        outs = [tmp_path / f"out{index}" for index in range(2)]
        lease = ("--lease-seconds", "3", "--concurrency", "8")
        first = worker(run_id, state, outs[0], *lease)
        _wait_until(lambda: len(stored_records(url)) >= count // 5)
        assert kill_9(first)
        finish(worker(run_id, state, outs[1], *lease), codes=(1,))  # it ended: rows failed
        held = Counter(record["fullName"] for record in stored_records(url))
    assert set(held.values()) == {1}  # nothing twice
    totals = summary_of(outs)["totals"]
    assert totals["rows"] == count
    unknown = totals["failed"]  # in doubt: left for a person (importer settle)
    assert totals["created"] + unknown == count
    assert 0 < unknown <= 2 * 8  # at most the rows the dead worker held
    assert len(held) >= totals["created"]  # an unknown row may or may not be at the vendor


# --- the queue and the bucket, without HTTP -------------------------------------------------


def _queue(state: str, name: str, lease: float = 1.0) -> WorkQueue:
    ledger = PostgresLedger(state, vendor=LEADS, account="a", lock="shared")
    return WorkQueue(ledger, "run-1", worker=name, lease_seconds=lease)


def _items(count: int, *, safe: bool) -> list[WorkItem]:
    return [
        WorkItem(row, f"key:{row}", "h", {"fullName": f"P {row}"}, resend_safe=safe)
        for row in range(2, count + 2)
    ]


def _plan_queue(state: str, items: list[WorkItem]) -> None:
    ledger = PostgresLedger(state, vendor=LEADS, account="a", lock=False)
    with ledger.transaction() as cursor:
        cursor.execute(
            "INSERT INTO importer.runs VALUES ('run-1', %s, 'a', 't', NULL, 'running', 'x',"
            " '[]', '{}', '{}')",
            (LEADS,),
        )
    ledger.plan(
        "run-1",
        [
            RunRow(RowOutcome(i.source_row, State.PLANNED, Reason.CUT_SHORT), i.row_key, ())
            for i in items
        ],
    )
    enqueue(ledger, "run-1", items)
    ledger.close()


@pytest.mark.parametrize("safe", [True, False])
def test_a_lease_is_taken_over_only_after_it_ends_under_the_crash_rules(
    state: str, safe: bool
) -> None:
    _plan_queue(state, _items(4, safe=safe))
    dead = _queue(state, "dead")
    sent, _ = dead.lease(10)
    assert [record.source_row for record in sent] == [2, 3, 4, 5]  # claimed: sending
    alive = _queue(state, "alive")
    assert alive.lease(10) == ([], [])  # the dead worker's lease has not ended
    assert _wait_until(lambda: _lease_ended(state))
    taken, settled = alive.lease(10)
    assert alive.taken_over == 4
    if safe:  # the vendor detects a re-send of these rows: sent again, marked in doubt
        assert [record.resent_doubt for record in taken] == [True] * 4
        assert settled == []
    else:  # never sent twice: left to a person
        assert taken == []
        assert {outcome.state for outcome in settled} == {State.UNKNOWN}
    late = RowOutcome(2, State.CREATED, Reason.CREATED, attempts=1)
    fenced = dead.settle([(Record(2, {}, safe), late, ())])
    assert fenced.dropped == [2] and fenced.counted == []  # the dead worker's word is dropped
    dead.ledger.close()
    alive.ledger.close()


def test_the_shared_bucket_hands_out_each_token_once_and_a_429_stops_every_taker(
    state: str,
) -> None:
    PostgresLedger(state, vendor=LEADS, account="a", lock=False).close()  # creates the ledger
    shape = BucketShape(rate=10.0)
    buckets = [SharedBucket(state, vendor=LEADS, account="a", shape=shape) for _ in range(4)]
    with psycopg.connect(state) as db:
        (created,) = db.execute("SELECT next_at FROM importer.buckets").fetchone() or (None,)
        firsts = [bucket.take(5)[0] for _ in range(2) for bucket in buckets]  # 40 tokens
        (scheduled,) = db.execute("SELECT next_at FROM importer.buckets").fetchone() or (None,)
    # 40 tokens at 10 a second fill at least 4 seconds of the schedule: none was handed twice.
    assert (scheduled - created).total_seconds() >= 4.0
    assert max(firsts) >= 3.4  # the last taker's tokens are due 3.5 s on (less time passed)
    assert buckets[0].take(1)[1] == pytest.approx(0.1)  # evenly spaced at the rate
    buckets[1].block(30)
    assert all(bucket.take(1)[0] > 25 for bucket in buckets)  # every taker backs off
    for bucket in buckets:
        bucket.close()


def _lease_ended(state: str) -> bool:
    with psycopg.connect(state) as db:
        row = db.execute(
            "SELECT bool_and(lease_until < now()) FROM importer.work WHERE run_id='run-1'"
        ).fetchone()
    return bool(row and row[0])


def _wait_until(check: Callable[[], bool], seconds: float = 120) -> bool:
    """Return whether ``check`` came true within ``seconds`` (polled; not a timing claim)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_only_a_planned_run_is_worked_on(state: str, tmp_path: Path) -> None:
    sheet = tmp_path / "leads.csv"
    write_leads(sheet, 3)
    ran = subprocess.run(
        [*PYTHON_IMPORTER, "run", str(sheet), "--vendor", LEADS, "--sandbox", "--state", state,
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=ENV, timeout=300, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    run_id = json.loads((tmp_path / "out" / "summary.json").read_text())["run_id"]
    refused = subprocess.run(
        [*PYTHON_IMPORTER, "work", run_id, "--state", state],
        capture_output=True, text=True, env=ENV, timeout=300, check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "was not planned for workers" in refused.stderr
    assert PASSWORD not in refused.stderr + refused.stdout


def test_a_planned_import_needs_a_postgres_ledger(tmp_path: Path) -> None:
    sheet = tmp_path / "leads.csv"
    write_leads(sheet, 3)
    done = subprocess.run(
        [*PYTHON_IMPORTER, "plan", str(sheet), "--vendor", LEADS, "--state", str(tmp_path)],
        capture_output=True, text=True, env=ENV, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "PostgreSQL ledger" in done.stderr
