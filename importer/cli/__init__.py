"""The command line: parse, build the config, call the library, render, pick the exit code.

This module holds only the click group; each command lives in its own module and is
registered here.

Exit codes: 0 no row failed; 1 some rows failed; 2 the run could not start or was aborted.
"""

from __future__ import annotations

import click

from importer.cli import inspect, report, run, sandbox, settle, vendors
from importer.cli.history import history


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="importer")
def main() -> None:
    """Import CSV and Excel sheets into vendors' HTTP APIs, accounting for every row.

    Exit codes: 0 no row failed, 1 some rows failed, 2 the run could not start or was aborted.
    """


main.add_command(vendors.vendors)
main.add_command(vendors.fields)
main.add_command(sandbox.sandbox)
main.add_command(inspect.inspect)
main.add_command(run.run)
main.add_command(settle.settle)
main.add_command(report.report)
main.add_command(history)

__all__ = ["main"]
