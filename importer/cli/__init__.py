"""The command line: parse, build the config, call the library, render, pick the exit code.

This module holds only the click group; each command lives in its own module and is
registered here.

Exit codes are listed once, in ``importer.cli.console.EXIT_CODES``; ``main``'s help repeats them.
"""

from __future__ import annotations

import click

from importer.cli import inspect, plan, report, retry, run, sandbox, settle, sync, vendors, work
from importer.cli.history import history


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="importer")
def main() -> None:
    """Import CSV and Excel sheets into vendors' HTTP APIs, accounting for every row.

    \b
    Exit codes (sync exits with its worst job's):
      0  no row failed (each was created, conflicted, a duplicate or skipped)
      1  some rows failed (see rows.csv); the others were imported
      2  the run could not start or was aborted: usage, file, mapping, credentials, the
         vendor unreachable or refusing the credentials, state busy, Ctrl-C/SIGTERM
      3  more rows failed than --fail-if-failed-over (a job's fail_if_failed_over) allows
    """


main.add_command(vendors.vendors)
main.add_command(vendors.fields)
main.add_command(sandbox.sandbox)
main.add_command(inspect.inspect)
main.add_command(run.run)
main.add_command(settle.settle)
main.add_command(retry.retry)
main.add_command(report.report)
main.add_command(history)
main.add_command(sync.sync)
main.add_command(plan.plan)
main.add_command(work.work)

__all__ = ["main"]
