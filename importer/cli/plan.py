"""The `plan` command: read a sheet into a PostgreSQL ledger once, for `importer work` to send."""

from __future__ import annotations

import os
from pathlib import Path

import click

from importer.cli.console import fail
from importer.cli.params import RateType, sheet_options, state_option
from importer.config import RunConfig
from importer.contracts.contract import RateLimit
from importer.errors import ImporterError
from importer.ledger import state_shown
from importer.pipeline.run import plan_for_workers


@click.command()
@click.argument("sheet", type=click.Path(path_type=Path))
@click.option("--vendor", required=True, metavar="ID", help="Vendor id (see `importer vendors`).")
@click.option("--base-url", help="Vendor API base URL (default: the vendor's production URL).")
@state_option
@click.option("--account", help="Name the vendor account in the ledger (as for `run`).")
@sheet_options
@click.option(
    "--rate-limit",
    type=RateType(),
    default=None,
    help="The account's limit, shared by every worker, e.g. 100/min (default: the vendor's "
    "documented limit on its production URL, none elsewhere).",
)
@click.option("--resend-rejected", is_flag=True, help="Send again rows the vendor refused.")
def plan(  # noqa: PLR0917 (click passes every option)
    sheet: Path,
    vendor: str,
    base_url: str | None,
    state_dir: Path | str | None,
    account: str | None,
    constants: dict[str, str],
    mapping_file: Path | None,
    sheet_name: str | None,
    header_row: int | None,
    rate_limit: RateLimit | None,
    resend_rejected: bool,
    extras_to_open_object: bool,
) -> None:
    """Plan an import of SHEET into VENDOR for workers: read, map, validate and dedupe it once.

    Nothing is sent. Every row is recorded in the PostgreSQL ledger given by --state
    (postgresql://USER@HOST/DB), and those to send wait there for `importer work RUN_ID`, run on
    as many machines as you like. The run id is the last line printed.

    Exit codes: 0 planned; 2 the plan could not be made (file, mapping, credentials, ledger).
    """
    config = RunConfig(
        sheet_path=sheet,
        vendor=vendor,
        out_dir=Path(os.devnull),  # no report: the worker that ends the run writes it
        base_url=base_url,
        state_dir=state_dir,
        constants=constants,
        mapping_file=mapping_file,
        sheet_name=sheet_name,
        header_row=header_row,
        extras_to_open_object=extras_to_open_object,
        resend_rejected=resend_rejected,
        account=account.strip() if account else None,
        rate_limit=rate_limit,
    )
    try:
        planned = plan_for_workers(config, env=os.environ)
    except ImporterError as error:
        fail(str(error))
    decided = ", ".join(
        f"{name} {count}" for name, count in planned.decided.as_dict().items() if name != "rows"
    )
    click.echo(f"{planned.queued} rows queued for workers; settled now: {decided}")
    click.echo(
        f"start workers: importer work {planned.run_id} --state {state_shown(state_dir or '')}"
    )
    click.echo(planned.run_id)
