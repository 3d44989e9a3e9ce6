"""End to end through the library: the sample sheets into the sandbox over loopback HTTP."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest
from openpyxl import Workbook

from importer.config import RunConfig
from importer.contracts.contract import RateLimit, load_contract
from importer.errors import MappingError, MissingCredential
from importer.lifecycle import Status
from importer.pipeline.run import client_rate_limits, run_import
from importer.push.settings import PushSettings
from importer.sandbox import EmbeddedSandbox
from tests.conftest import SAMPLE_DATA, stored_records

ENV = {"OFFERGRID_API_KEY": "sandbox-offergrid-key"}


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def expected_statuses() -> dict[str, tuple[str, str]]:
    return {
        row["source_row"]: (row["status"], row["reason"])
        for row in read_rows(SAMPLE_DATA / "leads.expected.csv")
    }


@pytest.mark.parametrize("sheet", ["leads.csv", "leads.xlsx"])
def test_sample_sheet_ends_with_the_expected_status_on_every_row(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox, sheet: str
) -> None:
    config = RunConfig(
        sheet_path=SAMPLE_DATA / sheet,
        vendor="offergrid-leads",
        out_dir=tmp_path / "out",
        base_url=leads_sandbox.base_url,
    )
    result = run_import(config, env=ENV)
    rows = read_rows(result.files.rows_csv)
    got = {row["source_row"]: (row["status"], row["reason"]) for row in rows}
    assert got == expected_statuses()
    assert [int(row["source_row"]) for row in rows] == sorted(int(key) for key in got)
    summary = json.loads(result.files.summary_json.read_text())
    totals = summary["totals"]
    assert (
        totals["rows"]
        == len(rows)
        == sum(
            totals[status] for status in ("created", "conflicted", "failed", "duplicate", "skipped")
        )
    )
    assert summary["unmapped_columns"] == ["Lead Owner"]
    assert result.exit_code == 1
    created = [row for row in rows if row["status"] == "created"]
    assert all(row["vendor_id"].startswith("cus_") for row in created)
    stored = stored_records(leads_sandbox.base_url)
    assert len(stored) == len(created)
    emails = [record.get("email") for record in stored if record.get("email")]
    assert len(emails) == len(set(emails))


def test_what_is_sent_is_normalized_and_unchanged_by_the_report(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    result = run_import(
        RunConfig(
            sheet_path=SAMPLE_DATA / "leads.xlsx",
            vendor="offergrid-leads",
            out_dir=tmp_path,
            base_url=leads_sandbox.base_url,
            constants={"source": "api_import"},
        ),
        env=ENV,
    )
    assert result.totals.created > 0
    stored = stored_records(leads_sandbox.base_url)
    eve = next(record for record in stored if record["fullName"] == "Eve Formula")
    assert eve["notes"] == '=HYPERLINK("http://evil.example","click me")'
    assert eve["phone"] == "+1-555-0100"
    assert all(record["source"] == "api_import" for record in stored)
    phones = [str(record["phone"]) for record in stored]
    assert not any(phone.endswith(".0") for phone in phones)
    assert any(record.get("postalCode") == "02134" for record in stored)
    assert any(record.get("tags") == ["newsletter", "webinar"] for record in stored)
    assert any(record["fullName"] == "Ren\u00e9e Lef\u00e8vre" for record in stored)
    rows = read_rows(result.files.rows_csv)
    eve_row = next(row for row in rows if row["First Name"] == "Eve")
    assert eve_row["Notes"].startswith("'=HYPERLINK")


def test_dry_run_sends_nothing_and_needs_no_credentials(tmp_path: Path) -> None:
    result = run_import(
        RunConfig(
            sheet_path=SAMPLE_DATA / "leads.csv",
            vendor="offergrid-leads",
            out_dir=tmp_path,
            base_url="http://127.0.0.1:9",
            dry_run=True,
        ),
        env={},
    )
    statuses = {row["status"] for row in read_rows(result.files.rows_csv)}
    assert statuses == {"skipped", "failed", "duplicate"}
    assert result.totals.skipped == 78  # 76 created + 2 conflicted when sent


def test_missing_credential_stops_before_any_row(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    config = RunConfig(
        sheet_path=SAMPLE_DATA / "leads.csv",
        vendor="offergrid-leads",
        out_dir=tmp_path / "out",
        base_url=leads_sandbox.base_url,
    )
    with pytest.raises(MissingCredential, match="OFFERGRID_API_KEY"):
        run_import(config, env={})
    assert stored_records(leads_sandbox.base_url) == []


def test_bad_credentials_abort_with_every_row_accounted_for(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    result = run_import(
        RunConfig(
            sheet_path=SAMPLE_DATA / "leads.csv",
            vendor="offergrid-leads",
            out_dir=tmp_path,
            base_url=leads_sandbox.base_url,
        ),
        env={"OFFERGRID_API_KEY": "not-the-key"},
    )
    assert result.exit_code == 2
    assert result.aborted is not None and "401" in result.aborted
    rows = read_rows(result.files.rows_csv)
    assert len(rows) == len(expected_statuses())
    assert result.totals.skipped == 78
    assert result.totals.created == 0
    assert "not-the-key" not in result.files.rows_csv.read_text(encoding="utf-8-sig")
    assert "not-the-key" not in result.files.summary_json.read_text()


def test_no_column_for_a_required_field_stops_the_run(tmp_path: Path) -> None:
    sheet = tmp_path / "emails.csv"
    sheet.write_text("Email,Phone\na@example.com,1\n")
    with pytest.raises(MappingError, match="fullName"):
        run_import(
            RunConfig(
                sheet_path=sheet, vendor="offergrid-leads", out_dir=tmp_path / "o", dry_run=True
            ),
            env={},
        )


def test_embedded_sandbox_and_chunks_give_the_same_report(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Full Name", "E-mail", "Mobile"])
    for index in range(30):
        sheet.append([f"Person {index}", f"p{index % 20}@example.com", 4155550100 + index])
    path = tmp_path / "people.xlsx"
    book.save(path)
    result = run_import(
        RunConfig(
            sheet_path=path,
            vendor="offergrid-leads",
            out_dir=tmp_path / "o",
            use_sandbox=True,
            chunk_rows=7,
            push=PushSettings(concurrency=3),
        ),
        env={},
    )
    rows = read_rows(result.files.rows_csv)
    assert [row["status"] for row in rows] == [Status.CREATED.value] * 20 + [
        Status.DUPLICATE.value
    ] * 10
    assert rows[20]["message"] == "same key as row 2, which was kept"


def test_extra_columns_go_into_the_open_object_on_request(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    sheet = tmp_path / "extra.csv"
    sheet.write_text("Name,Email,Lead Owner,utm.source\nAda,ada@example.com,ops@x.io,fair\n")
    result = run_import(
        RunConfig(
            sheet_path=sheet,
            vendor="offergrid-leads",
            out_dir=tmp_path / "o",
            base_url=leads_sandbox.base_url,
            extras_to_open_object=True,
        ),
        env=ENV,
    )
    assert result.totals.created == 1
    assert stored_records(leads_sandbox.base_url) == [
        {
            "fullName": "Ada",
            "email": "ada@example.com",
            "customFields": {"Lead Owner": "ops@x.io", "utm.source": "fair"},
        }
    ]


def test_client_rate_limit_is_the_vendors_on_production_only(tmp_path: Path) -> None:
    contract = load_contract("offergrid-leads")
    config = RunConfig(sheet_path=tmp_path / "x.csv", vendor=contract.id, out_dir=tmp_path)
    assert client_rate_limits(config, contract, "https://api.offergrid.io/") == [
        RateLimit(100, 60.0),
        RateLimit(10000, 3600.0),
    ]
    assert client_rate_limits(config, contract, "http://127.0.0.1:8080") == []
    chosen = replace(config, rate_limit=RateLimit(5, 1.0))
    assert client_rate_limits(chosen, contract, "http://127.0.0.1:8080") == [RateLimit(5, 1.0)]
