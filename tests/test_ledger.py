"""The ledger contract, on both backends: claims, settlements, run history, migrations, locks.

Every test taking ``state`` runs against the SQLite ledger (a folder) and the PostgreSQL one (a
fresh database on the session's private server, see ``tests/postgres_server.py``); what only
one backend has (file permissions, the 0.1 SQLite ledger, advisory locks) is tested apart.
"""

from __future__ import annotations

import random
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from importer.errors import ConfigError
from importer.ledger import StateLocation, open_history, open_run, postgres, sqlite
from importer.ledger import open_ledger as open_at
from importer.ledger.interface import (
    Claim,
    Ledger,
    LedgerTooNew,
    Run,
    RunLocked,
    RunRow,
    Settlement,
)
from importer.lifecycle import InvalidMove, Known, Reason, RowOutcome, State, content_hash
from tests.postgres_server import unavailable


@pytest.fixture(params=["sqlite", "postgres"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> StateLocation:
    """Return where a ledger lives: a folder, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path
    url: str = request.getfixturevalue("postgres_url")
    return url


def open_ledger(state: StateLocation, account: str = "https://api.example.com") -> Ledger:
    return open_at(state, vendor="v", account=account)


def begin(ledger: Ledger, run_id: str = "run-1") -> None:
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


def send(ledger: Ledger, key: str, row: int, run_id: str = "run-1") -> bool:
    """Plan, claim and return whether the claim was won."""
    ledger.plan(run_id, [RunRow(RowOutcome(row, State.PLANNED, Reason.CUT_SHORT), key, ("x",))])
    expected = ledger.known([key]).get(key)
    claim = Claim(key, "h1", row, expected.state if expected else None)
    (won,) = ledger.claim(run_id, [claim])
    return won


def settle(ledger: Ledger, key: str, row: int, state: State, run_id: str = "run-1") -> None:
    outcome = RowOutcome(row, state, Reason.CREATED, vendor_id="cus_1", attempts=1)
    ledger.settle(run_id, [Settlement(key, "h1", state, outcome)])


def test_a_claimed_and_settled_row_survives_reopening(state: StateLocation) -> None:
    ledger = open_ledger(state)
    begin(ledger)
    assert send(ledger, "key:a@x.io", 2)
    assert ledger.known(["key:a@x.io"])["key:a@x.io"].state is State.SENDING
    settle(ledger, "key:a@x.io", 2, State.CREATED)
    ledger.close()
    reopened = open_ledger(state)
    found = reopened.known(["key:a@x.io", "key:b@x.io"])
    assert set(found) == {"key:a@x.io"}
    assert (found["key:a@x.io"].state, found["key:a@x.io"].vendor_id) == (State.CREATED, "cus_1")
    (row,) = reopened.run_rows("run-1")
    assert (row.outcome.state, row.row_key, row.cells) == (State.CREATED, "key:a@x.io", ("x",))
    reopened.close()


def test_a_claim_is_refused_when_the_row_changed_since_it_was_seen(state: StateLocation) -> None:
    ledger = open_ledger(state)
    begin(ledger)
    stale = Claim("key:a@x.io", "h1", 2, None)
    assert send(ledger, "key:a@x.io", 2)
    assert ledger.claim("run-1", [stale]) == [False]  # another worker won it first
    settle(ledger, "key:a@x.io", 2, State.CREATED)
    with pytest.raises(InvalidMove, match="created row cannot become sending"):
        ledger.claim("run-1", [Claim("key:a@x.io", "h1", 2, State.CREATED)])
    ledger.close()


def test_a_move_the_lifecycle_refuses_is_refused_and_changes_nothing(state: StateLocation) -> None:
    ledger = open_ledger(state)
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


def test_accounts_and_vendors_do_not_see_each_other(state: StateLocation) -> None:
    first = open_ledger(state, "https://a.example.com")
    begin(first)
    send(first, "key:a@x.io", 2)
    first.close()
    other_account = open_ledger(state, "https://b.example.com")
    assert other_account.known(["key:a@x.io"]) == {}
    other_account.close()
    other_vendor = open_at(state, vendor="w", account="https://a.example.com")
    assert other_vendor.known(["key:a@x.io"]) == {}
    other_vendor.close()


def test_second_run_of_an_account_is_refused_until_the_first_ends(state: StateLocation) -> None:
    first = open_ledger(state)
    with pytest.raises(RunLocked, match="another run of v"):
        open_ledger(state)
    open_at(state, vendor="w", account="https://api.example.com").close()
    first.close()
    open_ledger(state).close()


def test_a_sqlite_run_lock_holds_the_whole_folder_for_a_vendor(tmp_path: Path) -> None:
    first = open_ledger(tmp_path)
    with pytest.raises(RunLocked, match="another run of v is using state directory"):
        open_ledger(tmp_path, "other")
    first.close()


def test_a_postgres_run_lock_is_per_account_and_shared_by_workers(postgres_url: str) -> None:
    first = open_ledger(postgres_url)
    other_account = open_ledger(postgres_url, "https://b.example.com")
    with pytest.raises(RunLocked, match=r"account https://api\.example\.com"):
        open_at(postgres_url, vendor="v", account="https://api.example.com", lock="shared")
    first.close()
    workers = [
        open_at(postgres_url, vendor="v", account="https://api.example.com", lock="shared")
        for _ in range(2)
    ]
    with pytest.raises(RunLocked):
        open_ledger(postgres_url)  # a run alone waits for the workers to end
    for each in (*workers, other_account):
        each.close()
    open_ledger(postgres_url).close()


def test_many_keys_are_looked_up_in_batches(state: StateLocation) -> None:
    ledger = open_ledger(state)
    entries = [
        Known(f"key:{index}", "h", State.SENDING, Reason.CUT_SHORT, "run-0", index)
        for index in range(1200)
    ]
    ledger.keep(entries)
    assert len(ledger.known([f"key:{index}" for index in range(0, 2400, 2)])) == 600
    ledger.close()


def test_run_history_is_kept_newest_first_and_found_by_id(state: StateLocation) -> None:
    ledger = open_ledger(state)
    begin(ledger, "run-1")
    ledger.end_run("run-1", ending="finished", totals={"rows": 3, "created": 3})
    begin(ledger, "run-2")
    runs = ledger.runs()
    assert [run.run_id for run in runs] == ["run-2", "run-1"]
    assert (runs[1].ending, runs[1].totals["rows"], runs[0].ending) == ("finished", 3, "running")
    ledger.close()
    reader, run = open_run(state, "run-1", lock=False)
    assert (run.account, run.columns) == ("https://api.example.com", ("Email",))
    reader.close()
    history = open_history(state)
    assert history is not None
    assert [each.run_id for each in history.history(vendor="v")] == ["run-2", "run-1"]
    assert history.history(vendor="w") == []
    history.close()


def test_state_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ledger = open_ledger(state)
    begin(ledger)
    ledger.close()
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for path in state.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_a_ledger_from_a_newer_importer_is_refused_untouched(state: StateLocation) -> None:
    open_ledger(state).close()
    _set_version(state, _version(state) + 1)
    with pytest.raises(LedgerTooNew, match="newer than this importer knows"):
        open_ledger(state)
    with pytest.raises(LedgerTooNew, match="newer than this importer knows"):
        open_history(state)
    assert _version(state) == _current_version(state) + 1


def _current_version(state: StateLocation) -> int:
    return postgres.SCHEMA_VERSION if isinstance(state, str) else sqlite.SCHEMA_VERSION


def _version(state: StateLocation) -> int:
    if isinstance(state, str):
        with psycopg.connect(state) as db:
            version = postgres.schema_version(db)
            assert version is not None
            return version
    with sqlite3.connect(Path(state) / "ledger.sqlite") as db:
        found: int = db.execute("PRAGMA user_version").fetchone()[0]
        return found


def _set_version(state: StateLocation, version: int) -> None:
    if isinstance(state, str):
        with psycopg.connect(state) as db:
            db.execute(
                "UPDATE importer.meta SET value=%s WHERE key='schema_version'", (str(version),)
            )
        return
    with sqlite3.connect(Path(state) / "ledger.sqlite") as db:
        db.execute(f"PRAGMA user_version={version}")


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


def test_a_commit_claims_and_settles_a_batch_in_one_transaction(state: StateLocation) -> None:
    ledger = open_ledger(state)
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


def test_a_batch_with_a_refused_move_commits_none_of_its_claims(state: StateLocation) -> None:
    ledger = open_ledger(state)
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


def test_of_workers_claiming_the_same_new_rows_at_once_exactly_one_wins_each(
    postgres_url: str,
) -> None:
    """Eight connections race for 300 rows no one knew, each in its own order and batches."""
    keys = [f"key:{index}@x.io" for index in range(300)]
    wins: list[list[str]] = []

    def worker(seed: int) -> None:
        ledger = open_at(postgres_url, vendor="v", account="a", lock=False)
        order = random.Random(seed).sample(keys, len(keys))
        mine: list[str] = []
        for start in range(0, len(order), 25):
            batch = [Claim(key, "h", 2, None) for key in order[start : start + 25]]
            won = ledger.claim("run-1", batch)
            mine.extend(claim.row_key for claim, ok in zip(batch, won, strict=True) if ok)
        wins.append(mine)
        ledger.close()

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [key for mine in wins for key in mine]
    assert sorted(claimed) == sorted(keys)  # every row won once, none twice


_HOLDER = """
import sys, time
from importer.ledger import open_ledger
ledger = open_ledger(sys.argv[1], vendor="v", account="https://api.example.com")
print("locked", flush=True)
time.sleep(600)
"""


def test_a_killed_run_releases_its_postgres_lock_and_history_calls_it_cut_short(
    postgres_url: str,
) -> None:
    ledger = open_ledger(postgres_url)
    begin(ledger)
    ledger.close()
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, postgres_url], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            with pytest.raises(RunLocked):
                open_ledger(postgres_url)
            history = open_history(postgres_url)
            assert history is not None
            assert [run.ending for run in history.history()] == ["running"]
        finally:
            holder.kill()
    # The server ends the dead client's session (and its lock) once it reads the closed socket.
    assert _eventually(lambda: [run.ending for run in history.history()] == ["cut short"])
    history.close()
    open_ledger(postgres_url).close()  # the server released the dead session's lock


def _eventually(check: Callable[[], bool], seconds: float = 30) -> bool:
    """Return whether ``check`` comes true within ``seconds`` (polled; not a timing claim)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_postgres_url_password_is_never_shown() -> None:
    url = "postgresql://importer:S3cretPassw0rd@127.0.0.1:1/nowhere"
    with pytest.raises(ConfigError) as refused:
        open_ledger(url)
    assert "S3cretPassw0rd" not in str(refused.value)
    assert "postgresql://127.0.0.1:1/nowhere" in str(refused.value)


def test_no_ledger_in_an_empty_database_is_no_history(postgres_url: str) -> None:
    assert open_history(postgres_url) is None
    with pytest.raises(Exception, match="no ledger at"):
        open_run(postgres_url, "run-1", lock=False)


def test_without_a_server_the_postgres_tests_skip_unless_ci_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no initdb"):
        unavailable("no initdb")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        unavailable("no initdb")
