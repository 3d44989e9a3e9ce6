"""Re-runs against the same state: never twice, never lost (issue 4)."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest

from importer.config import RunConfig
from importer.contracts.contract import Contract, load_contract
from importer.ledger.sqlite import SqliteLedger
from importer.pipeline.run import RunResult, run_import
from importer.push.settings import PushSettings
from importer.sandbox import EmbeddedSandbox, SandboxOptions
from tests.conftest import SAMPLE_DATA, stored_records

ENV = {"OFFERGRID_API_KEY": "sandbox-offergrid-key"}
PATIENT = PushSettings(
    concurrency=6, max_attempts=15, backoff_initial_seconds=0.001, backoff_max_seconds=0.01
)


def run(sheet: Path, base_url: str, state: Path, out: Path, **overrides: object) -> RunResult:
    config = RunConfig(
        sheet_path=sheet,
        vendor="offergrid-leads",
        out_dir=out,
        base_url=base_url,
        state_dir=state,
        push=PATIENT,
    )
    return run_import(replace(config, **overrides), env=ENV)


def rows(result: RunResult) -> list[dict[str, str]]:
    with result.files.rows_csv.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write_sheet(path: Path, people: list[tuple[str, str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Name", "Email", "Phone"])
        writer.writerows(people)
    return path


def test_second_run_sends_nothing_already_synced(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    first = run(
        SAMPLE_DATA / "leads.csv", leads_sandbox.base_url, tmp_path / "state", tmp_path / "one"
    )
    stored_after_first = stored_records(leads_sandbox.base_url)
    second = run(
        SAMPLE_DATA / "leads.csv", leads_sandbox.base_url, tmp_path / "state", tmp_path / "two"
    )
    assert stored_records(leads_sandbox.base_url) == stored_after_first
    assert second.totals.skipped == first.totals.created + first.totals.conflicted == 78
    assert second.totals.by_reason["already_synced"] == 78
    assert second.totals.failed == first.totals.failed
    by_row = {row["source_row"]: row for row in rows(second)}
    for row in rows(first):
        if row["status"] == "created":
            assert by_row[row["source_row"]]["vendor_id"] == row["vendor_id"]
            assert "already synced by run" in by_row[row["source_row"]]["message"]


def test_growing_sheet_sends_only_new_rows_and_reports_changes(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    people = [(f"Person {index}", f"p{index}@example.com", "1") for index in range(5)]
    sheet = write_sheet(tmp_path / "night.csv", people)
    run(sheet, leads_sandbox.base_url, tmp_path / "state", tmp_path / "n1")
    people[1] = ("Person 1", "p1@example.com", "2")
    people += [("Person 5", "p5@example.com", "1"), ("No Mail", "", "")]
    write_sheet(sheet, people)
    second = run(sheet, leads_sandbox.base_url, tmp_path / "state", tmp_path / "n2")
    reasons = [row["reason"] for row in rows(second)]
    assert reasons == [
        "already_synced",
        "changed_since_sync",
        "already_synced",
        "already_synced",
        "already_synced",
        "created",
        "created",
    ]
    third = run(sheet, leads_sandbox.base_url, tmp_path / "state", tmp_path / "n3")
    assert third.totals.created == 0
    assert len(stored_records(leads_sandbox.base_url)) == 7


def test_dropped_answers_are_resent_safely_for_a_vendor_that_answers_409(
    tmp_path: Path, leads_contract: Contract
) -> None:
    people = [(f"P{index}", f"p{index}@example.com", "1") for index in range(40)]
    sheet = write_sheet(tmp_path / "drops.csv", people)
    options = SandboxOptions(drop_rate=0.3, fail_rate=0.2, seed=3, preload=False)
    with EmbeddedSandbox(leads_contract, options) as sandbox:
        result = run(sheet, sandbox.base_url, tmp_path / "state", tmp_path / "out")
        stored = stored_records(sandbox.base_url)
    emails = [record["email"] for record in stored]
    assert sorted(emails) == sorted(email for _, email, _ in people)
    reasons = {row["reason"] for row in rows(result)}
    assert reasons <= {"created", "created_by_earlier_attempt"}
    assert "created_by_earlier_attempt" in reasons


def test_vendor_without_duplicate_detection_never_resends_an_unknown_outcome(
    tmp_path: Path, leads_contract: Contract, monkeypatch: pytest.MonkeyPatch
) -> None:
    blind = replace(leads_contract, duplicates_detected_by=())
    monkeypatch.setattr("importer.pipeline.run.load_contract", lambda vendor: blind)
    people = [(f"P{index}", f"p{index}@example.com", "1") for index in range(30)]
    sheet = write_sheet(tmp_path / "blind.csv", people)
    with EmbeddedSandbox(blind, SandboxOptions(drop_rate=0.3, seed=5, preload=False)) as sandbox:
        first = run(sheet, sandbox.base_url, tmp_path / "state", tmp_path / "one")
        unknown = {row["source_row"] for row in rows(first) if row["reason"] == "outcome_unknown"}
        assert unknown
        assert first.files.unknown_csv is not None
        stored_count = len(stored_records(sandbox.base_url))
        assert stored_count == len(people)  # dropped answers were stored nonetheless
        second = run(sheet, sandbox.base_url, tmp_path / "state", tmp_path / "two")
        assert len(stored_records(sandbox.base_url)) == stored_count
    again = {row["source_row"] for row in rows(second) if row["reason"] == "outcome_unknown"}
    assert again == unknown
    assert all(
        "check at the vendor" in row["message"]
        for row in rows(second)
        if row["reason"] == "outcome_unknown"
    )


def test_a_concurrent_run_of_the_same_vendor_is_refused(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    holder = SqliteLedger(tmp_path / "state", vendor="offergrid-leads", account="x")
    try:
        with pytest.raises(Exception, match="another run of offergrid-leads"):
            run(
                SAMPLE_DATA / "leads.csv",
                leads_sandbox.base_url,
                tmp_path / "state",
                tmp_path / "out",
            )
    finally:
        holder.close()
    assert stored_records(leads_sandbox.base_url) == []


def test_time_budget_defers_the_rest(tmp_path: Path, leads_contract: Contract) -> None:
    people = [(f"P{index}", f"p{index}@example.com", "1") for index in range(20)]
    sheet = write_sheet(tmp_path / "slow.csv", people)
    with EmbeddedSandbox(leads_contract, SandboxOptions(fail_rate=1.0, preload=False)) as sandbox:
        result = run(
            sheet,
            sandbox.base_url,
            tmp_path / "state",
            tmp_path / "out",
            push=PushSettings(
                concurrency=2, max_attempts=10, backoff_initial_seconds=2, max_run_seconds=1
            ),
        )
    assert result.exit_code == 0
    deferred = [row for row in rows(result) if row["reason"] == "deferred"]
    assert len(deferred) == 20
    assert all(row["status"] == "skipped" for row in deferred)


def test_deferred_rows_go_before_new_rows_in_the_next_run(
    tmp_path: Path, leads_contract: Contract
) -> None:
    people = [(f"P{index}", f"p{index}@example.com", "1") for index in range(30)]
    sheet = write_sheet(tmp_path / "nightly.csv", people)
    with EmbeddedSandbox(leads_contract, SandboxOptions(latency_ms=60, preload=False)) as sandbox:
        first = run(
            sheet,
            sandbox.base_url,
            tmp_path / "state",
            tmp_path / "one",
            push=PushSettings(concurrency=1, max_run_seconds=0.6),
        )
        deferred = [row["Email"] for row in rows(first) if row["reason"] == "deferred"]
        sent_first = len(stored_records(sandbox.base_url))
        assert deferred
        assert sent_first + len(deferred) == 30
        people += [(f"New{index}", f"new{index}@example.com", "1") for index in range(5)]
        write_sheet(sheet, people)
        second = run(
            sheet,
            sandbox.base_url,
            tmp_path / "state",
            tmp_path / "two",
            push=PushSettings(concurrency=1),
        )
        arrival = [record["email"] for record in stored_records(sandbox.base_url)]
    assert arrival[sent_first:] == deferred + [f"new{index}@example.com" for index in range(5)]
    assert second.totals.by_reason["already_synced"] == sent_first


def test_refused_rows_are_resent_only_when_changed_or_asked(tmp_path: Path) -> None:
    sheet = tmp_path / "orders.csv"
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "Full Name",
                "Email",
                "Phone",
                "Street",
                "City",
                "State",
                "Zip",
                "Country",
                "Offer IDs",
            ]
        )
        writer.writerow(
            [
                "Ada",
                "ada@example.com",
                "1",
                "1 Main St",
                "SF",
                "CA",
                "94102",
                "US",
                "not-in-catalog",
            ]
        )
    orders = load_contract("offergrid-orders")
    with EmbeddedSandbox(orders, SandboxOptions(preload=False)) as sandbox:
        config = RunConfig(
            sheet_path=sheet,
            vendor="offergrid-orders",
            out_dir=tmp_path / "a",
            base_url=sandbox.base_url,
            state_dir=tmp_path / "state",
        )
        first = run_import(config, env=ENV)
        second = run_import(replace(config, out_dir=tmp_path / "b"), env=ENV)
        third = run_import(replace(config, out_dir=tmp_path / "c", resend_rejected=True), env=ENV)
    assert [rows(result)[0]["reason"] for result in (first, second, third)] == [
        "vendor_rejected"
    ] * 3
    assert [rows(result)[0]["attempts"] for result in (first, second, third)] == ["1", "0", "1"]
    assert "not re-sent: --resend-rejected sends it again" in rows(second)[0]["message"]
    assert "404 Not Found" in rows(third)[0]["message"]
