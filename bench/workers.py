"""Benchmark: throughput of one planned import against the number of workers, up to the limit.

Starts a private PostgreSQL server (durable: fsync on, as shipped) and an OfferGrid leads
sandbox process with a rate limit and latency, so that one worker cannot reach the limit on
its own. For each number of workers it plans a fresh sheet (``importer plan``), starts that
many ``importer work`` processes and prints, from the ledger, the rows per second between the
first and the last settled row, that rate as a share of the vendor's limit, and the 429s the
workers drew. Run: ``.venv/bin/python bench/workers.py`` (about three minutes).
"""

from __future__ import annotations

import argparse
import csv
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.chaos_trials import ENV, sandbox, stored_records
from tests.postgres_server import PostgresCluster, server_bindir

IMPORTER = [sys.executable, "-m", "importer"]


def main() -> None:
    """Plan and work one import per number of workers; print one line each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit-per-second", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight a worker")
    parser.add_argument("--seconds", type=float, default=15.0, help="per run at the limit")
    parser.add_argument("--workers", default="1,2,3,4,6")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # clean up the server on a kill
    bindir = server_bindir()
    if bindir is None:
        sys.exit("PostgreSQL's server is not installed: apt-get install postgresql")
    rows = int(args.limit_per_second * args.seconds)
    limit = f"{args.limit_per_second}/s"
    print(
        f"vendor limit {limit}, latency {args.latency_ms} ms (+ up to 50% jitter), {rows} rows a "
        f"run, concurrency {args.concurrency} per worker"
    )
    print(f"{'workers':>7} {'rows/s':>8} {'of limit':>8} {'429s':>6} {'429 %':>6} {'wall s':>7}")
    sandbox_flags = ("--rate-limit", limit, "--latency-ms", str(args.latency_ms))
    with (
        PostgresCluster(bindir) as cluster,
        sandbox(*sandbox_flags) as url,
        tempfile.TemporaryDirectory() as folder,
    ):
        state = cluster.url(cluster.create_database())
        for count in (int(each) for each in args.workers.split(",")):
            sheet = Path(folder) / f"leads-{count}.csv"
            _write(sheet, rows, prefix=f"w{count}")
            run_id = _plan(sheet, url, state, limit)
            wall, throttled = _work(run_id, state, count, args.concurrency, Path(folder))
            rate = rows / _settling_seconds(state, run_id)
            share = rate / args.limit_per_second
            print(
                f"{count:>7} {rate:>8.1f} {share:>8.1%} {throttled:>6} "
                f"{throttled / rows:>6.2%} {wall:>7.1f}",
                flush=True,
            )
        emails = [record["email"] for record in stored_records(url)]
        print(f"vendor holds {len(emails)} records, {len(emails) - len(set(emails))} duplicates")


def _write(path: Path, count: int, *, prefix: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Full Name", "Email"])
        for index in range(count):
            writer.writerow([f"Person {index}", f"{prefix}.person{index}@example.com"])


def _plan(sheet: Path, url: str, state: str, limit: str) -> str:
    done = subprocess.run(
        [
            *IMPORTER, "plan", str(sheet), "--vendor", "offergrid-leads", "--base-url", url,
            "--state", state, "--rate-limit", limit,
        ],
        capture_output=True, text=True, env=ENV, check=True,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


def _work(run_id: str, state: str, count: int, concurrency: int, folder: Path) -> tuple[float, int]:
    """Run ``count`` workers to the end; return the wall time and the 429s they drew."""
    started = time.monotonic()
    logs = [folder / f"{run_id}-{index}.log" for index in range(count)]
    processes = []
    command = [*IMPORTER, "work", run_id, "--state", state, "--concurrency", str(concurrency)]
    for log in logs:
        with log.open("w") as output:
            processes.append(
                subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=ENV)
            )
    for process in processes:
        process.wait()
    said = " ".join(log.read_text() for log in logs)
    return time.monotonic() - started, sum(int(n) for n in re.findall(r"429s (\d+)", said))


def _settling_seconds(state: str, run_id: str) -> float:
    """Return the seconds between the run's first and last settled row, from the ledger."""
    with psycopg.connect(state) as db:
        first, last = db.execute(
            "SELECT min(updated_at), max(updated_at) FROM importer.rows WHERE run_id=%s",
            (run_id,),
        ).fetchone() or (None, None)
    return (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()


if __name__ == "__main__":
    main()
