"""The `work` command: one worker of a planned import, on any machine."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from importer.cli.console import fail
from importer.cli.params import state_option
from importer.errors import ImporterError
from importer.ledger import is_database_url
from importer.ledger.interface import LEASE_SECONDS
from importer.push.settings import PushSettings
from importer.report.totals import Totals

if TYPE_CHECKING:
    from importer.pipeline.work import WorkResult


@click.command()
@click.argument("run_id")
@state_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Where to write the run's report if this worker settles its last row.",
)
@click.option("--base-url", help="Vendor API base URL, if not the one the run was planned with.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=PushSettings().concurrency,
    show_default=True,
    help="Requests this worker keeps in flight (the account's rate limit is shared by all).",
)
@click.option(
    "--lease-seconds",
    type=click.FloatRange(min=1),
    default=LEASE_SECONDS,
    show_default=True,
    help="How long rows this worker holds stay its own if it stops renewing them (dies); "
    "then another worker takes them over.",
)
def work(  # noqa: PLR0917 (click passes every option)
    run_id: str,
    state_dir: Path | str | None,
    out_dir: Path | None,
    base_url: str | None,
    concurrency: int,
    lease_seconds: float,
) -> None:
    """Work on planned run RUN_ID (`importer plan`) until none of its rows is left.

    Leases rows from the PostgreSQL ledger given by --state, sends them within the account's
    rate limit shared by every worker, and settles each outcome. Rows of a worker that died
    are taken over once its lease ends. The worker that settles the run's last row ends the
    run and, with --out, writes its report (`importer report --run RUN_ID` rebuilds it
    anywhere). Credentials come from the environment, as for `run`.

    Exit codes: 0 done (or the run had ended); 1 this worker ended a run with failed rows;
    2 the worker could not start or was stopped (SIGINT/SIGTERM, refused credentials).
    """
    if not isinstance(state_dir, str) or not is_database_url(state_dir):
        fail("workers share a run through a PostgreSQL ledger: give --state postgresql://...")
    from importer.pipeline.work import WorkConfig  # noqa: PLC0415 (psycopg, httpx and aiohttp)
    from importer.pipeline.work import work as work_on  # noqa: PLC0415

    config = WorkConfig(
        state=state_dir,
        run_id=run_id,
        out_dir=out_dir,
        base_url=base_url,
        push=PushSettings(concurrency=concurrency),
        lease_seconds=lease_seconds,
    )
    try:
        result = work_on(config, env=os.environ)
    except ImporterError as error:
        fail(str(error))
    _render(result)
    sys.exit(result.exit_code)


def _render(result: WorkResult) -> None:
    click.echo(
        f"worker {result.worker}: {_counts(result.counted)}; taken over {result.taken_over}, "
        f"dropped {result.dropped}, 429s {result.throttled}"
    )
    if result.aborted:
        click.echo(f"importer: error: worker stopped: {result.aborted}", err=True)
    if result.ended_run and result.run_totals is not None:
        click.echo(f"run {result.run_id} finished: {_counts(result.run_totals)}")
    if result.files is not None:
        click.echo(f"summary: {result.files.summary_json}")


def _counts(totals: Totals) -> str:
    parts = ", ".join(
        f"{name} {count}" for name, count in totals.as_dict().items() if name != "rows"
    )
    return f"{totals.rows} rows: {parts}"
