"""Benchmark: how many rows a second one PostgreSQL ledger leases, claims and settles.

No HTTP: each worker process loops ``WorkQueue.lease`` (lease + triage + claim, one
transaction) and ``WorkQueue.settle`` (every leased row ``created``, one transaction), as
``importer work`` does, until the queue is empty. A row costs one claim and one outcome, each
committed durably (a private server with PostgreSQL's default fsync and synchronous_commit).
Prints rows a second for each number of processes and batch size. Run:
``.venv/bin/python bench/ledger_pg.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from importer.ledger.interface import Run, RunRow
from importer.ledger.postgres import PostgresLedger
from importer.ledger.work import WorkItem, WorkQueue, enqueue
from importer.lifecycle import Reason, RowOutcome, State
from tests.postgres_server import PostgresCluster, server_bindir

VENDOR = "offergrid-leads"


def main() -> None:
    """Print rows a second per number of worker processes and lease batch."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--processes", default="1,2,4,8")
    parser.add_argument("--batches", default="8,64")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # clean up the server on a kill
    bindir = server_bindir()
    if bindir is None:
        sys.exit("PostgreSQL's server is not installed: apt-get install postgresql")
    print(f"{args.rows} rows a run; a row = one claim + one outcome, each committed")
    print(f"{'processes':>9} {'batch':>6} {'rows/s':>9} {'commits/s':>10}")
    with PostgresCluster(bindir) as cluster:
        for batch in (int(each) for each in args.batches.split(",")):
            for count in (int(each) for each in args.processes.split(",")):
                state = cluster.url(cluster.create_database())
                run_id = _plan(state, args.rows)
                seconds = _work(state, run_id, count, batch)
                rate = args.rows / seconds
                commits = 2 * args.rows / batch / seconds
                print(f"{count:>9} {batch:>6} {rate:>9.0f} {commits:>10.0f}", flush=True)


def _plan(state: str, rows: int) -> str:
    ledger = PostgresLedger(state, vendor=VENDOR, account="bench", lock=False)
    run_id = "bench-run"
    ledger.begin_run(
        Run(
            run_id=run_id,
            vendor=VENDOR,
            account="bench",
            started_at="2026-01-01T00:00:00",
            source_file="bench.csv",
            columns=("Email",),
        )
    )
    numbers = range(2, rows + 2)
    ledger.plan(
        run_id,
        [
            RunRow(RowOutcome(row, State.PLANNED, Reason.CUT_SHORT), f"key:{row}", (f"{row}",))
            for row in numbers
        ],
    )
    body = {"fullName": "Bench Person", "email": "bench@example.com", "kind": "lead"}
    enqueue(ledger, run_id, [WorkItem(row, f"key:{row}", "h", body, True) for row in numbers])
    ledger.close()
    return run_id


def _work(state: str, run_id: str, count: int, batch: int) -> float:
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(count + 1)
    processes = [
        context.Process(target=_worker, args=(state, run_id, f"w{index}", batch, ready))
        for index in range(count)
    ]
    for process in processes:
        process.start()
    ready.wait()
    started = time.perf_counter()
    for process in processes:
        process.join()
    return time.perf_counter() - started


def _worker(state: str, run_id: str, name: str, batch: int, ready: object) -> None:
    ledger = PostgresLedger(state, vendor=VENDOR, account="bench", lock="shared")
    queue = WorkQueue(ledger, run_id, worker=name, lease_seconds=60)
    ready.wait()  # type: ignore[attr-defined]
    while True:
        records, _ = queue.lease(batch)
        if not records:
            break
        created = [
            (
                record,
                RowOutcome(record.source_row, State.CREATED, Reason.CREATED, attempts=1),
                (),
            )
            for record in records
        ]
        queue.settle(created)
    ledger.close()


if __name__ == "__main__":
    main()
