"""Sheets shaped the way CRMs export them, imported as a new user would (issue 8).

Each export below copies the header of a real export (HubSpot, Salesforce, Zoho, Pipedrive,
Mailchimp, Google Contacts, Outlook, Instagram lead ads, a datablist lead sheet): numbered
columns, generic columns that collide with a vendor field, multi-value cells, no email column.
Every row goes to a real sandbox over loopback; the test checks what the vendor stored and
that every column of the sheet is either sent or named as unused.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from importer.config import RunConfig
from importer.contracts.contract import load_contract
from importer.mapping import load_mapping_file
from importer.pipeline.inspect import inspect_sheet
from importer.pipeline.run import RunResult, run_import
from importer.sandbox import EmbeddedSandbox
from tests.conftest import stored_records

ENV = {"OFFERGRID_API_KEY": "sandbox-offergrid-key"}

EXPORTS: dict[str, tuple[list[str], list[list[str]], list[dict[str, Any]]]] = {
    # name: (header, rows, what the vendor should store for each row, in order)
    "hubspot": (
        ["First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number",
         "Street Address", "City", "State/Region", "Postal Code", "Country/Region",
         "Lifecycle Stage", "Lead Status", "Contact owner"],
        [["Ada", "Lovelace", "ada@example.com", "", "+1 415 555 0101", "1 Main St", "Boston",
          "MA", "02134", "United States", "lead", "New", "Sam"]],
        [{"fullName": "Ada Lovelace", "email": "ada@example.com", "phone": "+1 415 555 0101",
          "addressLine1": "1 Main St", "city": "Boston", "state": "MA", "postalCode": "02134",
          "country": "United States"}],
    ),
    "salesforce": (
        ["FIRSTNAME", "LASTNAME", "EMAIL", "PHONE", "MOBILEPHONE", "BILLINGSTREET",
         "BILLINGCITY", "BILLINGSTATE", "BILLINGPOSTALCODE", "BILLINGCOUNTRY", "LEADSOURCE",
         "STATUS"],
        [["Bo", "Diddley", "bo@example.com", "555-0102", "555-0199", "2 Elm", "Austin", "TX",
          "73301", "USA", "Web", "Open - Not Contacted"]],
        [{"fullName": "Bo Diddley", "email": "bo@example.com", "phone": "555-0102",
          "addressLine1": "2 Elm", "city": "Austin", "state": "TX", "postalCode": "73301",
          "country": "USA"}],
    ),
    "zoho": (
        ["First Name", "Last Name", "Email", "Secondary Email", "Phone", "Mobile",
         "Mailing Street", "Mailing City", "Mailing State", "Mailing Zip", "Mailing Country",
         "Lead Source", "Description"],
        [["Cy", "Young", "", "cy@example.com", "", "555-0103", "3 Oak", "Denver", "CO",
          "80202", "US", "Trade Show", "met at the fair"]],
        [{"fullName": "Cy Young", "email": "cy@example.com", "phone": "555-0103",
          "addressLine1": "3 Oak", "city": "Denver", "state": "CO", "postalCode": "80202",
          "country": "US", "notes": "met at the fair"}],
    ),
    "pipedrive": (
        ["Person - Name", "Person - Email - Work", "Person - Email - Home",
         "Person - Phone - Work", "Person - Phone - Mobile", "Organization - Name",
         "Person - Label"],
        [["Di Prince", "", "di@example.com", "", "555-0104", "Themyscira", "Hot lead"]],
        [{"fullName": "Di Prince", "email": "di@example.com", "phone": "555-0104"}],
    ),
    "mailchimp": (
        ["Email Address", "First Name", "Last Name", "Address", "Phone Number", "TAGS",
         "MEMBER_RATING", "OPTIN_TIME"],
        [["ed@example.com", "Ed", "Wood", "4 Pine", "555-0105", '"VIP","Newsletter"', "2",
          "2024-01-01 10:00:00"]],
        [{"fullName": "Ed Wood", "email": "ed@example.com", "phone": "555-0105",
          "addressLine1": "4 Pine", "tags": ["VIP", "Newsletter"]}],
    ),
    "google": (
        ["Name", "Given Name", "Family Name", "E-mail 1 - Type", "E-mail 1 - Value",
         "E-mail 2 - Type", "E-mail 2 - Value", "Phone 1 - Type", "Phone 1 - Value",
         "Labels"],
        [["Flo Jo", "Flo", "Jo", "* Home", "flo@example.com ::: flo@work.example", "", "",
          "Mobile", "555-0106", "* myContacts ::: Friends"],
         ["Gil Scott", "Gil", "Scott", "", "", "Work", "gil@example.com", "", "", ""]],
        [{"fullName": "Flo Jo", "email": "flo@example.com", "phone": "555-0106",
          "tags": ["* myContacts", "Friends"]},
         {"fullName": "Gil Scott", "email": "gil@example.com"}],
    ),
    "outlook": (
        ["First Name", "Last Name", "E-mail Address", "E-mail 2 Address", "Business Phone",
         "Business Phone 2", "Mobile Phone", "Business Street", "Business City",
         "Business State", "Business Postal Code", "Business Country/Region", "Categories"],
        [["Hal", "Jordan", "", "hal@example.com", "", "", "555-0107", "5 Ash", "Coast City",
          "CA", "90001", "United States", "Pilots;Green"]],
        [{"fullName": "Hal Jordan", "email": "hal@example.com", "phone": "555-0107",
          "addressLine1": "5 Ash", "city": "Coast City", "state": "CA", "postalCode": "90001",
          "country": "United States"}],
    ),
    "instagram": (
        ["id", "created_time", "ad_name", "platform", "full_name", "email", "phone_number"],
        [["l:1", "2025-07-01T09:30:00+0000", "Summer", "ig", "Ivy Green", "ivy@example.com",
          "+15555550108"]],
        [{"fullName": "Ivy Green", "email": "ivy@example.com", "phone": "+15555550108"}],
    ),
    "no email": (
        ["Full Name", "Phone 1", "Phone 2", "City"],
        [["Jo March", "", "555-0109", "Concord"], ["Amy March", "555-0110", "", "Concord"]],
        [{"fullName": "Jo March", "phone": "555-0109", "city": "Concord"},
         {"fullName": "Amy March", "phone": "555-0110", "city": "Concord"}],
    ),
}  # fmt: skip


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run(sheet: Path, sandbox: EmbeddedSandbox, out: Path, **overrides: Any) -> RunResult:
    config = RunConfig(
        sheet_path=sheet,
        vendor="offergrid-leads",
        out_dir=out,
        base_url=sandbox.base_url,
        state_dir=out.parent / "state",
    )
    return run_import(replace(config, **overrides), env=ENV)


def stored(sandbox: EmbeddedSandbox) -> list[dict[str, Any]]:
    return [
        {key: value for key, value in record.items() if key not in ("id", "createdAt")}
        for record in stored_records(sandbox.base_url)
    ]


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_export_reaches_the_vendor_whole_and_names_every_unused_column(
    name: str, tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    header, rows, expected = EXPORTS[name]
    sheet = write_csv(tmp_path / f"{name}.csv", header, rows)
    result = run(sheet, leads_sandbox, tmp_path / "out")
    assert result.totals.created == len(rows), result.files.rows_csv.read_text("utf-8-sig")
    # The vendor stores rows in the order they arrive, which concurrency may shuffle.
    by_name = sorted(stored(leads_sandbox), key=lambda record: str(record["fullName"]))
    assert by_name == sorted(expected, key=lambda record: str(record["fullName"]))
    summary = json.loads(result.files.summary_json.read_text("utf-8"))
    found = inspect_sheet(RunConfig(sheet_path=sheet, vendor="offergrid-leads", out_dir=tmp_path))
    fates = found.used_by()
    assert set(fates) == set(header)
    unused = [column for column, fate in fates.items() if fate == "unused"]
    assert unused == summary["unmapped_columns"]
    # A column is unused only if no field of the vendor could take it.
    assert all(column in summary["unmapped_columns"] for column in unused)


def test_a_generic_source_column_is_held_back_with_the_remedy_not_failing_every_row(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    header = ["Name", "Email", "Source", "Type", "Status"]
    rows = [[f"P{i}", f"p{i}@example.com", "Google Ads", "Lead", "Open"] for i in range(20)]
    sheet = write_csv(tmp_path / "datablist.csv", header, rows)
    result = run(sheet, leads_sandbox, tmp_path / "out")
    assert result.totals.created == 20
    assert all("source" not in record for record in stored(leads_sandbox))
    summary = json.loads(result.files.summary_json.read_text("utf-8"))
    assert summary["unmapped_columns"] == ["Source", "Status"]
    (note,) = summary["held_back"].values()
    assert "'Google Ads' (20)" in note
    assert "--write-mapping" in note
    assert "--set source=VALUE" in note


def test_written_mapping_maps_enum_values_and_leaves_columns_out(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    header = ["Name", "Email", "Source", "Owner"]
    rows = [
        ["Ann", "ann@example.com", "Google Ads", "Sam"],
        ["Ben", "ben@example.com", "Trade show", "Sam"],
        ["Cat", "cat@example.com", "Unknown", "Sam"],
    ]
    sheet = write_csv(tmp_path / "leads.csv", header, rows)
    found = inspect_sheet(RunConfig(sheet_path=sheet, vendor="offergrid-leads", out_dir=tmp_path))
    assert dict(found.refused_values["source"]) == {"Google Ads": 1, "Trade show": 1, "Unknown": 1}
    text = found.mapping_file(load_contract("offergrid-leads"))
    edited = (
        text.replace("Google Ads: null", "Google Ads: link")
        .replace("Trade show: null", "Trade show: event")
        .replace("ignore: []", "ignore: [Owner]")
    )
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(edited, encoding="utf-8")
    assert load_mapping_file(mapping).ignore == ("Owner",)
    result = run(sheet, leads_sandbox, tmp_path / "out", mapping_file=mapping)
    assert result.totals.created == 3
    sources = {record["email"]: record.get("source") for record in stored(leads_sandbox)}
    assert sources == {
        "ann@example.com": "link",
        "ben@example.com": "event",
        "cat@example.com": None,
    }
    summary = json.loads(result.files.summary_json.read_text("utf-8"))
    assert summary["unmapped_columns"] == []
    assert summary["ignored_columns"] == ["Owner"]


def test_set_on_the_dedupe_key_warns(tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "s.csv", ["Name"], [["A"], ["B"]])
    config = RunConfig(
        sheet_path=sheet, vendor="offergrid-leads", out_dir=tmp_path, constants={"email": "x@y.io"}
    )
    (note,) = inspect_sheet(config).plan.notes
    assert "every row after the first will be reported as a duplicate" in note


def rows_of(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_fixed_rows_come_back_exactly_as_typed(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    header = ["Name", "Email", "Phone", "Status", "Message", "Kind"]
    rows = [
        ["Ann", "ann@example.com", "+1 415 555 0101", "Open", "=call me", "lead"],
        ["Ben", "ben@example.com", "-5", "Open", "hi", "prospect"],
        ["Cat", "not-an-email", "+44 20 7946 0000", "Won", "@home", "customer"],
    ]
    sheet = write_csv(tmp_path / "leads.csv", header, rows)
    first = run(sheet, leads_sandbox, tmp_path / "one")
    assert (first.totals.created, first.totals.failed) == (1, 2)
    for report in (first.files.rows_csv, first.files.unknown_csv, first.files.to_fix_csv):
        if report is not None:
            names = [name.casefold() for name in rows_of(report)[0]]
            assert len(names) == len(set(names)), f"{report.name} repeats a column name"
    assert first.files.to_fix_csv is not None
    to_fix = rows_of(first.files.to_fix_csv)
    assert to_fix[0] == [*header, "importer_row", "importer_reason", "importer_message"]
    assert [line[:6] for line in to_fix[1:]] == [
        ["Ben", "ben@example.com", "'-5", "Open", "hi", "prospect"],
        ["Cat", "not-an-email", "'+44 20 7946 0000", "Won", "'@home", "customer"],
    ]
    assert [line[6:8] for line in to_fix[1:]] == [["3", "validation"], ["4", "validation"]]
    # The person fixes the two rows in their spreadsheet program and imports the file again.
    to_fix[1][5] = "lead"
    to_fix[2][1] = "cat@example.com"
    fixed = tmp_path / "to_fix.csv"
    with fixed.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(to_fix)
    second = run(fixed, leads_sandbox, tmp_path / "two")
    assert (second.totals.created, second.totals.failed) == (2, 0)
    sent = {record["email"]: record for record in stored(leads_sandbox)}
    assert sent["ben@example.com"]["phone"] == "-5"
    assert sent["cat@example.com"]["phone"] == "+44 20 7946 0000"
    assert "importer_reason" not in json.dumps(sent)
    assert rows_of(second.files.rows_csv)[0][7:] == header
    summary = json.loads(second.files.summary_json.read_text("utf-8"))
    assert summary["tool_columns"] == ["importer_row", "importer_reason", "importer_message"]
    assert summary["unmapped_columns"] == ["Status", "Message"]


def test_rows_csv_given_back_as_a_sheet_imports_its_own_columns_only(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    sheet = write_csv(
        tmp_path / "s.csv", ["Name", "Email", "Phone"], [["Ann", "ann@example.com", "+1 555"]]
    )
    first = run(sheet, leads_sandbox, tmp_path / "one")
    found = inspect_sheet(
        RunConfig(sheet_path=first.files.rows_csv, vendor="offergrid-leads", out_dir=tmp_path)
    )
    assert found.plan.tool_columns[:2] == ("source_row", "status")
    assert [body for _, body in found.preview] == [
        {"fullName": "Ann", "email": "ann@example.com", "phone": "+1 555"}
    ]


def test_to_fix_workbook_edited_in_a_spreadsheet_program_comes_back_as_typed(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    header = ["Name", "Email", "Phone", "Kind"]
    rows = [
        ["Ann", "ann@example.com", "+1 415 555 0101", "lead"],
        ["Ben", "ben@example.com", "+1 415 555 0102", "prospect"],
    ]
    first = run(write_csv(tmp_path / "leads.csv", header, rows), leads_sandbox, tmp_path / "one")
    assert first.files.to_fix_xlsx is not None
    book = openpyxl.load_workbook(first.files.to_fix_xlsx)
    sheet = book["to fix"]
    assert [cell.value for cell in sheet[1]] == [
        *header,
        "importer_row",
        "importer_reason",
        "importer_message",
    ]
    assert [cell.value for cell in sheet[2]][:5] == [
        "Ben",
        "ben@example.com",
        "'+1 415 555 0102",
        "prospect",
        "3",
    ]
    sheet["D2"] = "customer"  # the person's fix, saved by their spreadsheet program
    fixed = tmp_path / "fixed.xlsx"
    book.save(fixed)
    second = run(fixed, leads_sandbox, tmp_path / "two")
    assert (second.totals.created, second.totals.failed) == (1, 0)
    ben = next(r for r in stored(leads_sandbox) if r["email"] == "ben@example.com")
    assert (ben["phone"], ben["kind"]) == ("+1 415 555 0102", "customer")
