"""Benchmark: how close a long rate-limited run stays to the vendor's limit, and its 429s.

Serves the OfferGrid leads sandbox with a server-side limit, imports a sheet big enough to run
for about ``--seconds``, and prints the achieved rate against the limit and the 429s drawn:
once with no client-side limit (the AIMD back-off alone), once with ``--rate-limit`` set just
under the server's. Run with ``make bench``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    """Run both scenarios and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit-per-second", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    rows = int(args.limit_per_second * args.seconds)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        sheet = work / "people.csv"
        with sheet.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["Name", "Email"])
            writer.writerows([f"P{i}", f"p{i}@example.com"] for i in range(rows))
        limit = f"{round(args.limit_per_second)}/s"
        print(
            f"server limit {args.limit_per_second:.1f}/s, {rows} rows, "
            f"concurrency {args.concurrency}"
        )
        for label, client_limit in (
            ("AIMD only", None),
            ("client limit 95%", args.limit_per_second * 0.95),
        ):
            extra = ["--rate-limit", f"{max(1, int(client_limit))}/s"] if client_limit else []
            summary = run(work / label.replace(" ", "-"), sheet, limit, args.concurrency, extra)
            seconds = summary["durations_seconds"]["stream"]
            rate = summary["totals"]["created"] / seconds
            print(
                f"{label:>17}: {rate:6.2f}/s = {rate / args.limit_per_second:6.1%} of the "
                f"limit over {seconds:.1f} s; 429s drawn: {summary['throttled_429']}; "
                f"created {summary['totals']['created']}/{rows}"
            )


def run(work: Path, sheet: Path, limit: str, concurrency: int, extra: list[str]) -> dict:  # type: ignore[type-arg]
    """Serve a rate-limited sandbox, import the sheet into it, return the summary."""
    env = {**os.environ, "OFFERGRID_API_KEY": "sandbox-offergrid-key", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "importer"]
    with subprocess.Popen(
        [*command, "sandbox", "offergrid-leads", "--empty", "--rate-limit", limit],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as sandbox:
        assert sandbox.stdout is not None
        url = re.search(r"http://\S+", sandbox.stdout.readline())
        assert url is not None
        subprocess.run(
            [
                *command,
                "run",
                str(sheet),
                "--vendor",
                "offergrid-leads",
                "--base-url",
                url.group(0),
                "--state",
                str(work / "state"),
                "--out",
                str(work),
                "--concurrency",
                str(concurrency),
                *extra,
            ],
            env=env,
            check=False,
            capture_output=True,
        )
        sandbox.terminate()
    return dict(json.loads((work / "summary.json").read_text()))


if __name__ == "__main__":
    main()
