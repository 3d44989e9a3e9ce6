"""Nightly imports as Dagster assets: one asset per job of a job file, on a cron schedule.

Dagster runs each asset's coroutine in its own event loop; the import runs inside it through
``importer.run_import_async``. Point ``IMPORTER_JOB_FILE`` at the job file that
``importer sync`` reads, then::

    pip install dagster dagster-webserver
    IMPORTER_JOB_FILE=jobs.toml dagster dev -f examples/dagster_jobs.py

Credentials come from the environment of the Dagster process, named by each job as for
``importer sync``. A job that cannot start, is aborted, or fails more rows than its
``fail_if_failed_over`` allows fails its asset, so Dagster's alerting sees it; the report
folder and the totals are the asset's metadata.
"""

# No `from __future__ import annotations`: Dagster reads the context's annotation at run time.
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from importer import ImporterError, run_import_async
from importer.jobs.file import Job, load_job_file
from importer.jobs.sync import prepare

NIGHTLY = "0 2 * * *"
"""When the schedule runs every job: 02:00, in the schedule's time zone."""


def job_assets(job_file: Path, *, env: Mapping[str, str] | None = None) -> list[Any]:
    """Return one asset per job of ``job_file``, each running that job's import."""
    environment = os.environ if env is None else env
    return [_asset(job, environment) for job in load_job_file(job_file, env=environment).jobs]


def definitions(job_file: Path, *, cron: str = NIGHTLY) -> dg.Definitions:
    """Return the assets of a job file and a schedule that materializes them all."""
    assets = job_assets(job_file)
    nightly = dg.define_asset_job("nightly_imports", selection=dg.AssetSelection.assets(*assets))
    return dg.Definitions(
        assets=assets,
        jobs=[nightly],
        schedules=[dg.ScheduleDefinition(job=nightly, cron_schedule=cron)],
    )


def _asset(job: Job, env: Mapping[str, str]) -> Any:
    name = "import_" + re.sub(r"\W+", "_", job.name).strip("_").lower()

    @dg.asset(name=name, description=f"importer job {job.name!r}: {job.vendor}")
    async def imported(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        try:
            prepared = prepare(job, env=env, now=datetime.now(UTC), dry_run=False)
            result = await run_import_async(prepared.config, env=prepared.env)
        except ImporterError as error:
            raise dg.Failure(f"job {job.name} could not start: {error}") from None
        totals = result.totals.as_dict()
        context.log.info(f"job {job.name}: {totals}")
        if result.aborted:
            raise dg.Failure(f"job {job.name} was aborted: {result.aborted}")
        over = prepared.threshold.crossed(result.totals) if prepared.threshold else None
        if over:
            raise dg.Failure(f"job {job.name} is over its failure threshold: {over}")
        return dg.MaterializeResult(
            metadata={
                **{name: dg.MetadataValue.int(count) for name, count in totals.items()},
                "run_id": result.run_id,
                "report": dg.MetadataValue.path(str(result.files.summary_json.parent)),
            }
        )

    return imported


if "IMPORTER_JOB_FILE" in os.environ:  # loaded by `dagster dev -f examples/dagster_jobs.py`
    defs = definitions(Path(os.environ["IMPORTER_JOB_FILE"]))
