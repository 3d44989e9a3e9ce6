"""Never twice, never lost, on real-shaped sheets: identities, settling unknowns, honest reports.

Each test runs whole imports in-process against a sandbox over loopback HTTP, with a real
SQLite ledger and real files.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from importer.cli import main
from importer.config import RunConfig
from importer.contracts.contract import load_contract
from importer.ledger.interface import RunLocked
from importer.ledger.sqlite import SqliteLedger
from importer.lifecycle import account_of
from importer.pipeline.run import RunResult, run_import
from importer.push.settings import PushSettings
from importer.report.writer import INCOMPLETE
from importer.sandbox import EmbeddedSandbox, SandboxOptions
from tests.conftest import SAMPLE_DATA, stored_records

OFFERGRID = {"OFFERGRID_API_KEY": "sandbox-offergrid-key"}
ROTATED = {"OFFERGRID_API_KEY": "sandbox-offergrid-key-rotated"}
ORDERS = {"constants": {"serviceAddress.country": "US"}}
PATIENT = PushSettings(
    concurrency=4, max_attempts=8, backoff_initial_seconds=0.001, backoff_max_seconds=0.01
)


def run(  # noqa: PLR0917 (the scenario reads best positionally)
    sheet: Path,
    vendor: str,
    base_url: str,
    state: Path,
    out: Path,
    env: dict[str, str] = OFFERGRID,
    **overrides: Any,
) -> RunResult:
    config = RunConfig(
        sheet_path=sheet,
        vendor=vendor,
        out_dir=out,
        base_url=base_url,
        state_dir=state,
        push=PATIENT,
    )
    return run_import(replace(config, **overrides), env=env)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: Path, header: list[str], body: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(body)
    return path


def test_a_sheet_without_an_email_column_keeps_every_row_and_sends_appended_rows(
    tmp_path: Path,
) -> None:
    """An Instagram-style export: names and handles, no email, two identical rows."""
    people = [
        ["Ada Lovelace", "@ada", "555-0100"],
        ["Bo Diddley", "@bo", ""],
        ["Cy Young", "@cy", "555-0102"],
        ["Cy Young", "@cy", "555-0102"],  # a real second person with the same name, or not
    ]
    sheet = write_csv(tmp_path / "instagram.csv", ["Full Name", "Handle", "Phone"], people)
    contract = load_contract("offergrid-leads")
    with EmbeddedSandbox(contract, SandboxOptions(preload=False)) as sandbox:
        first = run(sheet, contract.id, sandbox.base_url, tmp_path / "state", tmp_path / "one")
        assert first.totals.created == 4
        appended = [*people, ["Di Prima", "@di", ""], ["Ed Sheeran", "@ed", "555-0105"]]
        write_csv(sheet, ["Full Name", "Handle", "Phone"], appended)
        second = run(sheet, contract.id, sandbox.base_url, tmp_path / "state", tmp_path / "two")
        stored = stored_records(sandbox.base_url)
    assert [row["reason"] for row in rows(second.files.rows_csv)] == [
        *["already_synced"] * 4,
        "created",
        "created",
    ]
    assert (second.exit_code, len(stored)) == (0, 6)


def test_the_same_account_spelled_another_way_or_with_a_rotated_key_sends_nothing_twice(
    tmp_path: Path,
) -> None:
    """Orders: the vendor detects no duplicate, so a second send is a second order."""
    contract = load_contract("offergrid-orders")
    sheet = SAMPLE_DATA / "offergrid-orders.csv"
    with EmbeddedSandbox(contract, SandboxOptions(preload=False)) as sandbox:
        port = sandbox.base_url.rsplit(":", 1)[1]
        first = run(
            sheet, contract.id, sandbox.base_url, tmp_path / "state", tmp_path / "0", **ORDERS
        )
        stored = len(stored_records(sandbox.base_url))
        spellings = [
            (f"http://localhost:{port}/", OFFERGRID),
            (f"HTTP://LOCALHOST:{port}", ROTATED),
            (f"http://127.0.0.1:{port}/", ROTATED),
        ]
        later = [
            run(sheet, contract.id, url, tmp_path / "state", tmp_path / str(n), env=env, **ORDERS)
            for n, (url, env) in enumerate(spellings, start=1)
        ]
        assert len(stored_records(sandbox.base_url)) == stored
    assert first.totals.created == stored > 0
    for result in later:
        assert result.totals.created == 0
        assert result.totals.skipped == stored
        summary = json.loads(result.files.summary_json.read_text())
        assert summary["account"] == f"http://loopback:{port}"
        assert "rotated" not in result.files.summary_json.read_text()


def test_a_named_account_survives_a_changed_url(tmp_path: Path) -> None:
    contract = load_contract("offergrid-leads")
    sheet = SAMPLE_DATA / "leads.csv"
    with EmbeddedSandbox(contract, SandboxOptions(preload=False)) as sandbox:
        first = run(
            sheet, contract.id, sandbox.base_url, tmp_path / "s", tmp_path / "1", account="acme"
        )
        # The same vendor account behind another address (a proxy, a renamed host).
        second = run(
            sheet,
            contract.id,
            sandbox.base_url.replace("127.0.0.1", "127.0.0.2"),
            tmp_path / "s",
            tmp_path / "2",
            account="acme",
        )
    assert first.totals.created > 0
    assert second.totals.created == 0
    assert second.totals.skipped == first.totals.created + first.totals.conflicted


def test_unknown_rows_are_settled_by_a_person_and_only_missing_ones_are_sent(
    tmp_path: Path,
) -> None:
    """Orders with lost answers: some were stored, some not; a person checks and says which."""
    contract = load_contract("offergrid-orders")
    header = ["First Name", "Last Name", "Email", "Phone", "Service Street", "City", "State"]
    header += ["Zip", "Offer IDs"]
    offer = "123e4567-e89b-12d3-a456-426614174000"
    orders = [
        ["Pat", f"No{n}", f"pat{n}@example.com", "4155550123", f"{n} Main St", "Austin", "TX"]
        for n in range(40)
    ]
    orders = [[*order, "73301", offer] for order in orders]
    sheet = write_csv(tmp_path / "orders.csv", header, orders)
    faults = SandboxOptions(preload=False, drop_rate=0.35, fail_rate=0.25, seed=11)
    with EmbeddedSandbox(contract, faults) as sandbox:
        first = run(
            sheet, contract.id, sandbox.base_url, tmp_path / "state", tmp_path / "one", **ORDERS
        )
        stored_after_first = stored_records(sandbox.base_url)
        assert first.files.unknown_csv is not None
        in_doubt = rows(first.files.unknown_csv)
        assert in_doubt
        truth = {_order_key(record) for record in stored_after_first}
        marked = []
        for row in in_doubt:
            row["found"] = "there" if _row_order_key(row) in truth else "missing"
            marked.append(row)
        assert {row["found"] for row in marked} == {"there", "missing"}  # both cases seen
        filled = tmp_path / "unknown-filled.csv"
        write_csv(filled, list(marked[0]), [list(row.values()) for row in marked])
        settled = CliRunner().invoke(
            main, ["settle", str(filled), "--state", str(tmp_path / "state")]
        )
        assert settled.exit_code == 0, settled.output
        there = sum(row["found"] == "there" for row in marked)
        missing = len(marked) - there
        assert f"{there} found there (now created), {missing} missing" in settled.output
        second = run(
            sheet, contract.id, sandbox.base_url, tmp_path / "state", tmp_path / "two", **ORDERS
        )
        stored = stored_records(sandbox.base_url)
    by_row = {row["source_row"]: row for row in rows(second.files.rows_csv)}
    for row in marked:
        again = by_row[row["source_row"]]
        if row["found"] == "there":
            assert (again["reason"], again["attempts"]) == ("already_synced", "0")
        else:
            assert int(again["attempts"]) >= 1  # sent again, and only these
    keys = [_order_key(record) for record in stored]
    assert len(keys) == len(set(keys))  # no order placed twice


def test_settle_refuses_a_row_that_is_not_in_doubt(tmp_path: Path) -> None:
    contract = load_contract("offergrid-leads")
    with EmbeddedSandbox(contract, SandboxOptions(preload=False)) as sandbox:
        result = run(
            SAMPLE_DATA / "leads.csv", contract.id, sandbox.base_url, tmp_path / "s", tmp_path / "o"
        )
    created = next(r for r in rows(result.files.rows_csv) if r["status"] == "created")
    outcome = CliRunner().invoke(
        main,
        [
            "settle",
            "--state",
            str(tmp_path / "s"),
            "--run",
            result.run_id,
            "--missing",
            created["source_row"],
        ],
    )
    assert outcome.exit_code == 2
    assert f"row {created['source_row']} not settled: not in doubt: the ledger says created" in (
        outcome.output
    )


def test_resend_unknown_is_gone_with_a_pointer_to_settle(tmp_path: Path) -> None:
    outcome = CliRunner().invoke(
        main,
        [
            "run",
            str(SAMPLE_DATA / "leads.csv"),
            "--vendor",
            "offergrid-leads",
            "--sandbox",
            "--out",
            str(tmp_path),
            "--resend-unknown",
        ],
    )
    assert outcome.exit_code == 2
    assert "importer settle" in outcome.output
    assert not any(tmp_path.iterdir())


def test_org_console_already_exists_is_conflicted_and_the_nightly_job_exits_0(
    tmp_path: Path,
) -> None:
    contract = load_contract("org-console")
    sheet = write_csv(
        tmp_path / "orgs.csv",
        ["Organization Name", "VAT Number"],
        [["ACME Distribution SpA", "IT12345678901"], ["Nuova Srl", "IT11111111111"]],
    )
    env = {"ORG_CONSOLE_TOKEN": "sandbox-org-console-token"}
    with EmbeddedSandbox(contract, SandboxOptions()) as sandbox:
        nights = [
            run(sheet, contract.id, sandbox.base_url, tmp_path / "s", tmp_path / str(n), env=env)
            for n in range(2)
        ]
        assert len(stored_records(sandbox.base_url)) == 1  # Nuova; ACME was there before
    first = rows(nights[0].files.rows_csv)
    assert [(row["status"], row["reason"]) for row in first] == [
        ("conflicted", "already_exists"),
        ("created", "created"),
    ]
    assert [result.exit_code for result in nights] == [0, 0]
    assert nights[1].totals.skipped == 2


def test_a_run_refused_by_the_lock_changes_nothing_in_out(tmp_path: Path) -> None:
    contract = load_contract("offergrid-leads")
    with EmbeddedSandbox(contract, SandboxOptions(preload=False)) as sandbox:
        out = tmp_path / "out"
        run(SAMPLE_DATA / "leads.csv", contract.id, sandbox.base_url, tmp_path / "s", out)
        before = {path.name: path.read_bytes() for path in out.iterdir()}
        holder = SqliteLedger(
            tmp_path / "s", vendor=contract.id, account=account_of(sandbox.base_url)
        )
        try:
            with pytest.raises(RunLocked):
                run(SAMPLE_DATA / "leads.csv", contract.id, sandbox.base_url, tmp_path / "s", out)
        finally:
            holder.close()
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_a_run_that_dies_mid_report_leaves_the_last_report_and_can_be_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contract = load_contract("offergrid-leads")
    out, state = tmp_path / "out", tmp_path / "state"
    with EmbeddedSandbox(contract, SandboxOptions(preload=False)) as sandbox:
        first = run(SAMPLE_DATA / "leads.csv", contract.id, sandbox.base_url, state, out)
        before = {path.name: path.read_bytes() for path in out.iterdir()}

        def die(*args: object) -> None:
            raise MemoryError("the machine ran out of memory building report.xlsx")

        monkeypatch.setattr("importer.report.writer.write_xlsx", die)
        with pytest.raises(MemoryError):
            run(SAMPLE_DATA / "leads.csv", contract.id, sandbox.base_url, state, out)
        monkeypatch.undo()
    after = {path.name: path.read_bytes() for path in out.iterdir()}
    note = after.pop(INCOMPLETE).decode()
    assert after == before  # the first run's complete report, intact
    assert f"complete report of run {first.run_id}" in note
    killed = note.split()[1]
    rebuilt = CliRunner().invoke(
        main, ["report", "--run", killed, "--state", str(state), "--out", str(tmp_path / "re")]
    )
    assert rebuilt.exit_code == 0, rebuilt.output
    again = rows(tmp_path / "re" / "rows.csv")
    assert len(again) == first.totals.rows
    assert {row["reason"] for row in again} <= {
        "already_synced",
        "validation",
        "duplicate_in_file",
        "malformed_row",
    }
    summary = json.loads((tmp_path / "re" / "summary.json").read_text())
    assert summary["rebuilt_from_ledger"] is True
    assert summary["ending"] == "cut short"
    assert summary["totals"]["rows"] == first.totals.rows


def _order_key(record: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    info = record["customerInfo"]
    return info["email"].lower(), tuple(sorted(item["offerId"] for item in record["items"]))


def _row_order_key(row: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    email = next(v for k, v in row.items() if "email" in k.lower()).strip().lower()
    offers = next(v for k, v in row.items() if "offer" in k.lower())
    return email, tuple(sorted(part.strip() for part in offers.replace("|", ";").split(";")))


def test_settle_reads_its_own_columns_when_the_sheet_repeats_their_names(tmp_path: Path) -> None:
    """A sheet with columns named found and source_row must not steer which rows are settled."""
    sheet = write_csv(
        tmp_path / "tricky.csv",
        ["Full Name", "found", "source_row"],
        [["Ada", "there", "99"], ["Bo", "there", "98"]],
    )
    contract = load_contract("offergrid-leads")
    with EmbeddedSandbox(contract, SandboxOptions(preload=False, drop_rate=1.0)) as sandbox:
        result = run(sheet, contract.id, sandbox.base_url, tmp_path / "s", tmp_path / "o")
    assert result.files.unknown_csv is not None
    with result.files.unknown_csv.open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    filled = [lines[0], *[["missing", *line[1:]] for line in lines[1:]]]
    with (tmp_path / "filled.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(filled)
    outcome = CliRunner().invoke(
        main, ["settle", str(tmp_path / "filled.csv"), "--state", str(tmp_path / "s")]
    )
    assert outcome.exit_code == 0, outcome.output
    assert "0 found there (now created), 2 missing" in outcome.output
