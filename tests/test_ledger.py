"""The SQLite ledger: claims, settlements, run history, migrations, locks and permissions."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from importer.ledger.interface import Claim, LedgerTooNew, Run, RunLocked, RunRow, Settlement
from importer.ledger.sqlite import SCHEMA_VERSION, SqliteLedger, open_run
from importer.lifecycle import InvalidMove, Known, Reason, RowOutcome, State, content_hash


def open_ledger(path: Path, account: str = "https://api.example.com") -> SqliteLedger:
    return SqliteLedger(path, vendor="v", account=account)


def begin(ledger: SqliteLedger, run_id: str = "run-1") -> None:
    ledger.begin_run(
        Run(
            run_id=run_id,
            vendor="v",
            account=ledger.account,
            started_at=f"2026-01-01T00:00:0{run_id[-1]}",
            source_file="leads.csv",
            columns=("Email",),
        )
    )


def send(ledger: SqliteLedger, key: str, row: int, run_id: str = "run-1") -> bool:
    """Plan, claim and return whether the claim was won."""
    ledger.plan(run_id, [RunRow(RowOutcome(row, State.PLANNED, Reason.CUT_SHORT), key, ("x",))])
    expected = ledger.known([key]).get(key)
    claim = Claim(key, "h1", row, expected.state if expected else None)
    (won,) = ledger.claim(run_id, [claim])
    return won


def settle(ledger: SqliteLedger, key: str, row: int, state: State, run_id: str = "run-1") -> None:
    outcome = RowOutcome(row, state, Reason.CREATED, vendor_id="cus_1", attempts=1)
    ledger.settle(run_id, [Settlement(key, "h1", state, outcome)])


def test_a_claimed_and_settled_row_survives_reopening(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    begin(ledger)
    assert send(ledger, "key:a@x.io", 2)
    assert ledger.known(["key:a@x.io"])["key:a@x.io"].state is State.SENDING
    settle(ledger, "key:a@x.io", 2, State.CREATED)
    ledger.close()
    reopened = open_ledger(tmp_path)
    found = reopened.known(["key:a@x.io", "key:b@x.io"])
    assert set(found) == {"key:a@x.io"}
    assert (found["key:a@x.io"].state, found["key:a@x.io"].vendor_id) == (State.CREATED, "cus_1")
    (row,) = reopened.run_rows("run-1")
    assert (row.outcome.state, row.row_key, row.cells) == (State.CREATED, "key:a@x.io", ("x",))
    reopened.close()


def test_a_claim_is_refused_when_the_row_changed_since_it_was_seen(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    begin(ledger)
    stale = Claim("key:a@x.io", "h1", 2, None)
    assert send(ledger, "key:a@x.io", 2)
    assert ledger.claim("run-1", [stale]) == [False]  # another worker won it first
    settle(ledger, "key:a@x.io", 2, State.CREATED)
    with pytest.raises(InvalidMove, match="created row cannot become sending"):
        ledger.claim("run-1", [Claim("key:a@x.io", "h1", 2, State.CREATED)])
    ledger.close()


def test_a_move_the_lifecycle_refuses_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    begin(ledger)
    assert send(ledger, "key:a@x.io", 2)
    settle(ledger, "key:a@x.io", 2, State.CREATED)
    back = Settlement(
        "key:a@x.io", "h1", State.SENDING, RowOutcome(2, State.SENDING, Reason.CUT_SHORT)
    )
    with pytest.raises(InvalidMove, match="created row cannot become sending"):
        ledger.settle("run-1", [back])
    assert ledger.known(["key:a@x.io"])["key:a@x.io"].state is State.CREATED
    ledger.close()


def test_accounts_and_vendors_do_not_see_each_other(tmp_path: Path) -> None:
    first = open_ledger(tmp_path, "https://a.example.com")
    begin(first)
    send(first, "key:a@x.io", 2)
    first.close()
    other_account = open_ledger(tmp_path, "https://b.example.com")
    assert other_account.known(["key:a@x.io"]) == {}
    other_account.close()
    other_vendor = SqliteLedger(tmp_path, vendor="w", account="https://a.example.com")
    assert other_vendor.known(["key:a@x.io"]) == {}
    other_vendor.close()


def test_second_run_of_a_vendor_is_refused_until_the_first_ends(tmp_path: Path) -> None:
    first = open_ledger(tmp_path)
    with pytest.raises(RunLocked, match="another run of v is using state directory"):
        open_ledger(tmp_path, "other")
    SqliteLedger(tmp_path, vendor="w", account="a").close()
    first.close()
    open_ledger(tmp_path).close()


def test_many_keys_are_looked_up_in_batches(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    entries = [
        Known(f"key:{index}", "h", State.SENDING, Reason.CUT_SHORT, "run-0", index)
        for index in range(1200)
    ]
    ledger.keep(entries)
    assert len(ledger.known([f"key:{index}" for index in range(0, 2400, 2)])) == 600
    ledger.close()


def test_run_history_is_kept_newest_first_and_found_by_id(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    begin(ledger, "run-1")
    ledger.end_run("run-1", ending="finished", totals={"rows": 3, "created": 3})
    begin(ledger, "run-2")
    runs = ledger.runs()
    assert [run.run_id for run in runs] == ["run-2", "run-1"]
    assert (runs[1].ending, runs[1].totals["rows"], runs[0].ending) == ("finished", 3, "running")
    ledger.close()
    reader, run = open_run(tmp_path, "run-1", lock=False)
    assert (run.account, run.columns) == ("https://api.example.com", ("Email",))
    reader.close()


def test_state_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ledger = open_ledger(state)
    begin(ledger)
    ledger.close()
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for path in state.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_a_ledger_from_a_newer_importer_is_refused_untouched(tmp_path: Path) -> None:
    open_ledger(tmp_path).close()
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(LedgerTooNew, match="newer than this importer knows"):
        open_ledger(tmp_path)
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_an_unversioned_ledger_is_migrated_and_rotated_keys_merge(tmp_path: Path) -> None:
    """The 0.1 ledger keyed accounts by URL and key fingerprint; rotating a key split them."""
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        db.execute(
            "CREATE TABLE rows (vendor TEXT, account TEXT, row_key TEXT, content_hash TEXT,"
            " state TEXT, run_id TEXT, source_row INTEGER, http_status INTEGER, vendor_id TEXT,"
            " message TEXT, updated_at TEXT, PRIMARY KEY (vendor, account, row_key))"
        )
        old = [
            ("https://API.example.com:443/|aaaa", "key:a@x.io", "created", "cus_1"),
            ("https://api.example.com|bbbb", "key:a@x.io", "retryable", None),
            ("https://api.example.com|bbbb", "key:b@x.io", "outcome_unknown", None),
            ("https://api.example.com|bbbb", "key:c@x.io", "rejected", None),
        ]
        db.executemany(
            "INSERT INTO rows VALUES ('v', ?, ?, 'h', ?, 'r0', 2, NULL, ?, '', 't')",
            old,
        )
    ledger = open_ledger(tmp_path)
    found = ledger.known(["key:a@x.io", "key:b@x.io", "key:c@x.io"])
    assert found["key:a@x.io"].state is State.CREATED
    assert found["key:a@x.io"].vendor_id == "cus_1"
    assert found["key:b@x.io"].state is State.UNKNOWN
    assert (found["key:c@x.io"].state, found["key:c@x.io"].reason) == (
        State.FAILED,
        Reason.VENDOR_REJECTED,
    )
    ledger.close()


def test_content_hash_ignores_key_order() -> None:
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})


def test_a_commit_claims_and_settles_a_batch_in_one_transaction(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    begin(ledger)
    assert send(ledger, "key:a@x.io", 2)
    ledger.plan("run-1", [RunRow(RowOutcome(3, State.PLANNED, Reason.CUT_SHORT), "key:b", ())])
    created = RowOutcome(2, State.CREATED, Reason.CREATED, vendor_id="cus_1", attempts=1)
    claims = [Claim("key:b", "h2", 3, None), Claim("key:b", "h2", 3, None)]
    won = ledger.commit("run-1", claims, [Settlement("key:a@x.io", "h1", State.CREATED, created)])
    assert won == [True, False]  # the same identity twice in a batch: the second claim loses
    found = ledger.known(["key:a@x.io", "key:b"])
    assert (found["key:a@x.io"].state, found["key:b"].state) == (State.CREATED, State.SENDING)
    assert [row.outcome.state for row in ledger.run_rows("run-1")] == [
        State.CREATED,
        State.SENDING,
    ]
    ledger.close()


def test_a_batch_with_a_refused_move_commits_none_of_its_claims(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    begin(ledger)
    assert send(ledger, "key:a@x.io", 2)
    settle(ledger, "key:a@x.io", 2, State.CREATED)
    back = Settlement(
        "key:a@x.io", "h1", State.SENDING, RowOutcome(2, State.SENDING, Reason.CUT_SHORT)
    )
    with pytest.raises(InvalidMove):
        ledger.commit("run-1", [Claim("key:b", "h2", 3, None)], [back])
    assert ledger.known(["key:b"]) == {}
    ledger.close()
