"""`--state postgresql://...`: run, history, report and settle on a real PostgreSQL ledger.

The URL carries a password (the private server trusts loopback, so any password works): it
must never appear in what a command prints, in the report, nor in the ledger itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
from click.testing import CliRunner, Result

from importer.cli import main
from tests.conftest import SAMPLE_DATA
from tests.postgres_server import PostgresCluster

PASSWORD = "Pg-S3cret-7f1c"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_runs_history_report_and_settle_share_one_postgres_ledger(
    postgres_server: PostgresCluster, tmp_path: Path
) -> None:
    url = postgres_server.url(postgres_server.create_database(), password=PASSWORD)
    sheet = str(SAMPLE_DATA / "leads.csv")
    common = ["--vendor", "offergrid-leads", "--sandbox", "--account", "demo", "--state", url]
    first = invoke("run", sheet, *common, "--out", str(tmp_path / "first"))
    assert first.exit_code in {0, 1}, first.output
    again = invoke("run", sheet, *common, "--out", str(tmp_path / "again"))
    assert again.exit_code in {0, 1}, again.output
    summary = _summary(tmp_path / "first")
    later = _summary(tmp_path / "again")
    assert summary["totals"]["created"] > 0
    # The second run (another embedded sandbox, the same account) found every row in the ledger.
    assert later["totals"]["created"] == 0
    synced = summary["totals"]["created"] + summary["totals"]["conflicted"]
    assert later["reasons"]["already_synced"] == synced

    listed = invoke("history", "--state", url, "--json")
    assert listed.exit_code == 0, listed.output
    runs = json.loads(listed.stdout)
    assert [run["run_id"] for run in runs] == [later["run_id"], summary["run_id"]]
    assert [run["status"] for run in runs] == ["finished", "finished"]

    rebuilt = invoke(
        "report", "--run", summary["run_id"], "--state", url, "--out", str(tmp_path / "rebuilt")
    )
    assert rebuilt.exit_code == 0, rebuilt.output
    assert _summary(tmp_path / "rebuilt")["totals"] == summary["totals"]

    refused = invoke("settle", "--run", summary["run_id"], "--there", "3", "--state", url)
    assert refused.exit_code == 2  # row 3 was created, not in doubt
    assert "not in doubt" in refused.output

    outputs = [first, again, listed, rebuilt, refused]
    assert all(PASSWORD not in result.output for result in outputs)
    assert "postgresql://127.0.0.1" in summary["state_dir"]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    with psycopg.connect(url) as db:
        for (arguments,) in db.execute("SELECT arguments FROM importer.runs"):
            assert PASSWORD not in arguments


def test_a_database_that_cannot_be_reached_is_one_line_and_exit_2(tmp_path: Path) -> None:
    url = f"postgresql://importer:{PASSWORD}@127.0.0.1:1/nowhere"
    result = invoke(
        "run", str(SAMPLE_DATA / "leads.csv"), "--vendor", "offergrid-leads", "--sandbox",
        "--state", url, "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "cannot use the ledger at postgresql://127.0.0.1:1/nowhere" in result.output
    assert PASSWORD not in result.output
    assert "Traceback" not in result.output


def _summary(out: Path) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return summary


def test_a_job_file_keeps_its_ledger_in_postgres_and_never_its_password(
    postgres_server: PostgresCluster, tmp_path: Path
) -> None:
    url = postgres_server.url(postgres_server.create_database())  # the password: PGPASSWORD
    sheet = SAMPLE_DATA / "leads.csv"
    job = tmp_path / "jobs.toml"
    job.write_text(
        f'[job.leads]\nsheet = "{sheet}"\nvendor = "offergrid-leads"\nsandbox = true\n'
        f'account = "demo"\nstate = "{url}"\nout = "reports/{{job}}"\n',
        encoding="utf-8",
    )
    synced = invoke("sync", str(job))
    assert synced.exit_code in {0, 1}, synced.output
    listed = invoke("history", "--state", url, "--json")
    assert [run["vendor"] for run in json.loads(listed.stdout)] == ["offergrid-leads"]
    secret = url.replace("importer@", f"importer:{PASSWORD}@")
    job.write_text(job.read_text(encoding="utf-8").replace(url, secret), encoding="utf-8")
    refused = invoke("sync", str(job))
    assert refused.exit_code == 2
    assert "state carries a password" in refused.output
    assert PASSWORD not in refused.output
