"""importer retry: send again just the rows a run left failed, as that run was set up."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from importer.cli import main
from importer.config import RunConfig
from importer.errors import ConfigError
from importer.jobs.retry import plan_retry
from importer.pipeline.run import run_import
from importer.sandbox import EmbeddedSandbox
from tests.conftest import stored_records

ENV = {"OFFERGRID_API_KEY": "sandbox-offergrid-key"}


def write_sheet(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Name", "Email", "Kind"])
        writer.writerows(rows)
    return path


def test_retry_sends_the_fixed_rows_only_with_the_runs_settings(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    sheet = write_sheet(
        tmp_path / "leads.csv",
        [
            ["Ann", "ann@example.com", "lead"],
            ["Ben", "ben@example", "lead"],
            ["Cat", "cat@example.com", "prospect"],
            ["Dan", "dan@example.com", "customer"],
        ],
    )
    out = tmp_path / "out"
    first = run_import(
        RunConfig(
            sheet_path=sheet,
            vendor="offergrid-leads",
            out_dir=out,
            base_url=leads_sandbox.base_url,
            state_dir=tmp_path / "state",
            constants={"source": "manual"},
        ),
        env=ENV,
    )
    assert (first.totals.created, first.totals.failed) == (2, 2)
    # The person fixes Ben's address in the sheet, in place; Cat's kind stays wrong.
    write_sheet(
        sheet,
        [
            ["Ann", "ann@example.com", "lead"],
            ["Ben", "ben@example.com", "lead"],
            ["Cat", "cat@example.com", "prospect"],
            ["Dan", "dan@example.com", "customer"],
        ],
    )
    planned = plan_retry(out)
    assert planned.rows == {3, 4}
    assert planned.config.out_dir == tmp_path / "out-retry"
    assert planned.config.constants == {"source": "manual"}
    assert planned.config.base_url == leads_sandbox.base_url
    again = run_import(planned.config, env=ENV)
    assert again.totals.as_dict()["rows"] == 2
    assert (again.totals.created, again.totals.failed) == (1, 1)
    emails = [record["email"] for record in stored_records(leads_sandbox.base_url)]
    assert sorted(emails) == ["ann@example.com", "ben@example.com", "dan@example.com"]
    assert all(record["source"] == "manual" for record in stored_records(leads_sandbox.base_url))
    with again.files.rows_csv.open(encoding="utf-8-sig", newline="") as handle:
        assert [line[:2] for line in list(csv.reader(handle))[1:]] == [
            ["3", "created"],
            ["4", "failed"],
        ]


def test_retry_refuses_what_it_cannot_retry(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no summary\.json"):
        plan_retry(tmp_path)
    sheet = write_sheet(tmp_path / "s.csv", [["Ann", "ann@example.com", "lead"]])
    for options, message in (
        ({"dry_run": True}, "a dry run"),
        ({"use_sandbox": True}, "embedded sandbox"),
    ):
        out = tmp_path / str(len(message))
        config = RunConfig(sheet_path=sheet, vendor="offergrid-leads", out_dir=out, **options)
        run_import(config, env=ENV)
        with pytest.raises(ConfigError, match=message):
            plan_retry(out)


def test_retry_command_says_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"run_id": "r1"}), encoding="utf-8")
    result = CliRunner().invoke(main, ["retry", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"importer: error: {tmp_path / 'summary.json'} was written by an older importer that "
        "did not record the run's settings; run importer run again with the same options"
    ]
