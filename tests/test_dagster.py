"""An orchestrator runs the nightly jobs: Dagster assets from a job file (issue 11).

Dagster runs each asset's coroutine in an event loop of its own, so this is the import inside
an orchestrator's loop, against a real sandbox, with the ledger keeping the second night from
sending anything twice.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from importer.sandbox import EmbeddedSandbox
from tests.conftest import REPO, stored_records

dg = pytest.importorskip("dagster", reason="dagster is a dev dependency: pip install -e '.[dev]'")
sys.path.insert(0, str(REPO / "examples"))
from dagster_jobs import definitions, job_assets  # noqa: E402

ENV = {"ACME_OFFERGRID_KEY": "sandbox-offergrid-key"}


def job_file(folder: Path, base_url: str) -> Path:
    with (folder / "leads.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Name", "Email"])
        writer.writerows([f"P{i}", f"p{i}@example.com"] for i in range(30))
        writer.writerow(["Broken", "not-an-email"])
    path = folder / "nightly.toml"
    path.write_text(
        "[defaults]\n"
        'state = "state"\n'
        'out = "reports/{job}/{stamp}"\n'
        "[job.leads]\n"
        'sheet = "leads.csv"\n'
        'vendor = "offergrid-leads"\n'
        f'base_url = "{base_url}"\n'
        'credentials = { OFFERGRID_API_KEY = "ACME_OFFERGRID_KEY" }\n'
        'fail_if_failed_over = "10%"\n',
        encoding="utf-8",
    )
    return path


def test_the_job_files_jobs_run_as_dagster_assets(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    path = job_file(tmp_path, leads_sandbox.base_url)
    first = dg.materialize(job_assets(path, env=ENV), raise_on_error=False)
    assert first.success
    (event,) = first.asset_materializations_for_node("import_leads")
    metadata = {key: value.value for key, value in event.metadata.items()}
    assert (metadata["created"], metadata["failed"], metadata["rows"]) == (30, 1, 31)
    assert len(stored_records(leads_sandbox.base_url)) == 30
    second = dg.materialize(job_assets(path, env=ENV), raise_on_error=False)
    assert second.success
    (event,) = second.asset_materializations_for_node("import_leads")
    assert (event.metadata["created"].value, event.metadata["skipped"].value) == (0, 30)
    assert len(stored_records(leads_sandbox.base_url)) == 30


def test_an_asset_fails_when_its_job_crosses_the_threshold_or_cannot_start(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    path = job_file(tmp_path, leads_sandbox.base_url)
    path.write_text(path.read_text().replace('"10%"', "0"), encoding="utf-8")
    over = dg.materialize(job_assets(path, env=ENV), raise_on_error=False)
    assert not over.success
    failure = over.failure_data_for_node("import_leads")
    assert failure is not None
    assert "over its failure threshold: 1 row failed" in str(failure.error)
    unset = dg.materialize(job_assets(path, env={}), raise_on_error=False)
    assert not unset.success
    assert "could not start" in str(unset.failure_data_for_node("import_leads").error)


def test_the_schedule_runs_every_job_nightly(tmp_path: Path) -> None:
    defs = definitions(job_file(tmp_path, "http://127.0.0.1:9"))
    (schedule,) = defs.schedules
    assert schedule.cron_schedule == "0 2 * * *"
    assert defs.resolve_job_def("nightly_imports") is not None
