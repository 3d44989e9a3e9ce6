"""The `importer` command in a subprocess: what scripts and ops staff rely on."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import SAMPLE_DATA


def importer(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {key: value for key, value in os.environ.items() if key != "OFFERGRID_API_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "importer", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=120,
        check=False,
    )


def run_leads(
    out: Path,
    *options: str,
    sheet: Path = SAMPLE_DATA / "leads.csv",
    vendor: str = "offergrid-leads",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `importer run SHEET --vendor VENDOR --out OUT OPTIONS...`."""
    return importer("run", str(sheet), "--vendor", vendor, "--out", str(out), *options, env=env)


def test_vendors_lists_endpoint_and_credential_variables() -> None:
    result = importer("vendors")
    assert result.returncode == 0
    assert "offergrid-leads\tPOST /reseller/customers\tOFFERGRID_API_KEY" in result.stdout


def test_fields_lists_what_a_sheet_can_fill() -> None:
    result = importer("fields", "signed-customers")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert "* customer\tstring; 1 to 255 characters; CRM headers for company" in lines[0]
    assert any(line.startswith("  contacts[].name\t") for line in lines)
    assert importer("fields", "nope").returncode == 2


def test_run_into_embedded_sandbox(tmp_path: Path) -> None:
    result = run_leads(
        tmp_path,
        "--sandbox",
        "--concurrency",
        "4",
    )
    assert result.returncode == 1, result.stderr
    assert "104 rows: created 76, conflicted 2, failed 16, duplicate 10, skipped 0" in result.stdout
    assert f"report: {tmp_path / 'report.xlsx'}" in result.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["totals"] == {
        "rows": 104,
        "created": 76,
        "conflicted": 2,
        "failed": 16,
        "duplicate": 10,
        "skipped": 0,
    }
    with (tmp_path / "rows.csv").open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle))
    assert header[:7] == [
        "source_row",
        "status",
        "reason",
        "message",
        "http_status",
        "vendor_id",
        "attempts",
    ]
    assert header[7:9] == ["First Name", "Last Name"]
    assert "Traceback" not in result.stderr


def test_dry_run_exit_code_and_no_network(tmp_path: Path) -> None:
    result = run_leads(
        tmp_path,
        "--dry-run",
        "--base-url",
        "http://127.0.0.1:9",
        sheet=SAMPLE_DATA / "leads.xlsx",
    )
    assert result.returncode == 1
    assert "skipped 78" in result.stdout


def test_bad_credentials_exit_2_without_leaking_them(tmp_path: Path) -> None:
    result = run_leads(
        tmp_path,
        "--sandbox",
        env={"OFFERGRID_API_KEY": "s3cret-wrong"},
    )
    assert result.returncode == 2
    assert "run aborted: the vendor refused the credentials (401 Unauthorized" in result.stderr
    for text in (
        result.stdout,
        result.stderr,
        *(p.read_text("utf-8-sig", "replace") for p in tmp_path.iterdir() if p.suffix != ".xlsx"),
    ):
        assert "s3cret-wrong" not in text


def test_errors_that_stop_a_run_are_one_line_with_exit_2(tmp_path: Path) -> None:
    missing_key = run_leads(
        tmp_path,
        "--base-url",
        "http://127.0.0.1:9",
    )
    cases = {
        "OFFERGRID_API_KEY is not set": missing_key,
        "unknown vendor 'nope'": run_leads(
            tmp_path,
            "--dry-run",
            vendor="nope",
        ),
        "no-such.csv": run_leads(
            tmp_path,
            "--dry-run",
            sheet=tmp_path / "no-such.csv",
        ),
        "--set needs FIELD=VALUE": run_leads(
            tmp_path,
            "--dry-run",
            "--set",
            "kind",
        ),
        "is not an http(s) URL": run_leads(
            tmp_path,
            "--base-url",
            "api.example.com",
        ),
        "no field 'knd'": run_leads(
            tmp_path,
            "--dry-run",
            "--set",
            "knd=lead",
        ),
    }
    for expected, result in cases.items():
        assert result.returncode == 2, (expected, result.stderr)
        assert expected in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_usage_errors_exit_2() -> None:
    result = importer("run", "x.csv", "--vendor", "offergrid-leads")
    assert result.returncode == 2
    assert "--out" in result.stderr
