"""The SQLite ledger: durable entries, and one run per vendor and state directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from importer.ledger.sqlite import Entry, LedgerState, RunLocked, SqliteLedger, content_hash


def entry(key: str, state: LedgerState, digest: str = "h1") -> Entry:
    return Entry(key, digest, state, "run-1", 2, 201, "cus_1", "")


def test_entries_survive_reopening(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path, vendor="v", account="a")
    ledger.write([entry("key:a@x.io", LedgerState.SENDING)])
    ledger.write(
        [entry("key:a@x.io", LedgerState.CREATED), entry("key:b@x.io", LedgerState.REJECTED)]
    )
    ledger.close()
    reopened = SqliteLedger(tmp_path, vendor="v", account="a")
    found = reopened.entries(["key:a@x.io", "key:b@x.io", "key:c@x.io"])
    reopened.close()
    assert set(found) == {"key:a@x.io", "key:b@x.io"}
    assert found["key:a@x.io"].state is LedgerState.CREATED
    assert found["key:a@x.io"].vendor_id == "cus_1"


def test_accounts_and_vendors_do_not_see_each_other(tmp_path: Path) -> None:
    first = SqliteLedger(tmp_path, vendor="v", account="a")
    first.write([entry("key:a@x.io", LedgerState.CREATED)])
    first.close()
    other_account = SqliteLedger(tmp_path, vendor="v", account="b")
    assert other_account.entries(["key:a@x.io"]) == {}
    other_account.close()
    other_vendor = SqliteLedger(tmp_path, vendor="w", account="a")
    assert other_vendor.entries(["key:a@x.io"]) == {}
    other_vendor.close()


def test_second_run_of_a_vendor_is_refused_until_the_first_ends(tmp_path: Path) -> None:
    first = SqliteLedger(tmp_path, vendor="v", account="a")
    with pytest.raises(RunLocked, match="another run of v is using state directory"):
        SqliteLedger(tmp_path, vendor="v", account="other")
    other_vendor = SqliteLedger(tmp_path, vendor="w", account="a")
    other_vendor.close()
    first.close()
    SqliteLedger(tmp_path, vendor="v", account="a").close()


def test_many_keys_are_looked_up_in_batches(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path, vendor="v", account="a")
    ledger.write(entry(f"key:{index}", LedgerState.CREATED) for index in range(1200))
    assert len(ledger.entries([f"key:{index}" for index in range(0, 2400, 2)])) == 600
    ledger.close()


def test_content_hash_ignores_key_order() -> None:
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})
