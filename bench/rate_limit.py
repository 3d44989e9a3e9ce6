"""Benchmark: how close a long rate-limited run stays to the vendor's limit, and its 429s.

Serves the OfferGrid leads sandbox with a server-side limit, imports a sheet big enough to run
for about ``--seconds``, and prints the achieved rate against the limit and the 429s drawn:
once with no client-side limit (the AIMD back-off alone: it finds the limit by drawing 429s),
once with ``--rate-limit`` the server's own limit, as when a vendor documents it (the target
applies to this one). Run with ``make bench``.
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

from table import Row, Settings


def main() -> None:
    """Run both scenarios and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit-per-second", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    rows = int(args.limit_per_second * args.seconds)
    print(
        f"server limit {args.limit_per_second:.1f}/s, {rows} rows, concurrency {args.concurrency}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for label, summary in scenarios(
            Path(folder), args.limit_per_second, rows, args.concurrency
        ):
            seconds = summary["durations_seconds"]["stream"]
            rate = summary["totals"]["created"] / seconds
            print(
                f"{label:>17}: {rate:6.2f}/s = {rate / args.limit_per_second:6.1%} of the "
                f"limit over {seconds:.1f} s; 429s drawn: {summary['throttled_429']}; "
                f"created {summary['totals']['created']}/{rows}"
            )


def bench_rows(settings: Settings) -> list[Row]:
    """Return the two rate-limited runs as rows of ``make bench``'s table."""
    limit, concurrency = 20.0, 16
    seconds = 10.0 if settings.quick else BENCH_SECONDS
    rows = int(limit * seconds)
    result = []
    for label, summary in scenarios(settings.work, limit, rows, concurrency):
        streamed = summary["durations_seconds"]["stream"]
        created = summary["totals"]["created"]
        throttled = summary["throttled_429"]
        share = created / streamed / limit
        refused = throttled / max(1, created + throttled)
        known = label != "AIMD only"  # the target is for a limit the client knows
        result.append(
            Row(
                scenario=f"rate-limited run, {label} (server limit {limit:g}/s, {rows:,} rows)",
                measured=100 * share,
                unit="%",
                baseline_label="the server's limit",
                ratio=share,
                target="≥ 95% of the limit, < 1% 429" if known else "",
                met=(share >= 0.95 and refused < 0.01) if known else None,
                note=f"{throttled} 429s ({refused:.1%} of requests), {streamed:.0f} s",
            )
        )
    return result


BENCH_SECONDS = 60.0
"""How long each rate-limited run of ``make bench`` lasts."""


def scenarios(
    work: Path, limit_per_second: float, rows: int, concurrency: int
) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    """Import ``rows`` rows into a rate-limited sandbox twice; return each run's summary."""
    sheet = work / "people.csv"
    with sheet.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Name", "Email"])
        writer.writerows([f"P{i}", f"p{i}@example.com"] for i in range(rows))
    limit = f"{round(limit_per_second)}/s"
    summaries = []
    for label, client_limit in (("AIMD only", None), ("client limit at the server's", limit)):
        extra = ["--rate-limit", client_limit] if client_limit else []
        summary = run(work / label.replace(" ", "-"), sheet, limit, concurrency, extra)
        summaries.append((label, summary))
    return summaries


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
