"""The `retry` command: send again just the rows a run left failed or deferred."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from importer.cli.console import Console, credential_values, log_options
from importer.cli.params import state_option
from importer.cli.run import execute
from importer.errors import ImporterError
from importer.jobs.retry import plan_retry


@click.command()
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--out",
    "new_out",
    type=click.Path(path_type=Path),
    help="Folder for the retry's report (default: OUT_DIR-retry, beside OUT_DIR).",
)
@state_option
@click.option(
    "--resend-rejected",
    is_flag=True,
    help="Send again rows the vendor refused, even if they did not change.",
)
@log_options
def retry(  # noqa: PLR0917 (click passes every option)
    out_dir: Path,
    new_out: Path | None,
    state_dir: Path | str | None,
    resend_rejected: bool,
    log_format: str,
    verbose: bool,
) -> None:
    """Send again the rows that the run which wrote OUT_DIR left failed or deferred.

    The run's sheet is read again, so rows fixed in place are sent as they are now; rows are
    picked by their row number, so fix rows without inserting or deleting any (or import the
    run's to_fix.csv instead). Everything else is as that run was set up (vendor, URL,
    account, mapping, --set values); credentials come from the environment, as for run.
    Exit codes as for run.
    """
    console = Console.open(log_format, verbose=verbose, secrets=credential_values(os.environ))
    try:
        planned = plan_retry(
            out_dir, new_out=new_out, state_dir=state_dir, resend_rejected=resend_rejected
        )
    except ImporterError as error:
        console.fail(str(error))
    config = planned.config
    console.note(
        f"retrying {len(planned.rows):,} rows of run {planned.run_id} from "
        f"{config.sheet_path}; report in {config.out_dir}"
    )
    sys.exit(execute(config, console, env=os.environ).exit_code)
