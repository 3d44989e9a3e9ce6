"""A row's life: the lifecycle's words one by one, then whole nights of real ledger books.

The first half pins ``importer.lifecycle`` down function by function. The second drives the
real ``Bookkeeper`` over a real ``SqliteLedger`` through random nights against a vendor faked
at the HTTP edge (answers lost, 500s, throttling, rejections, refused credentials), with runs
killed mid-send, rows edited and appended, and a person settling rows in doubt with the truth.
After every night: every row has exactly one outcome, no row identity is held twice by the
vendor, nothing in doubt is sent again unless the vendor detects it, and what the books call
created is there. After a last calm night, every row of the sheet is at the vendor once.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from itertools import product
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from importer.dedupe import Deduper
from importer.ledger.books import Bookkeeper
from importer.ledger.interface import Run
from importer.ledger.settle import IN_DOUBT, Finding, settle_rows
from importer.ledger.sqlite import SqliteLedger
from importer.lifecycle import (
    MOVES,
    STATUS_OF,
    Answer,
    InvalidMove,
    Known,
    Reason,
    RowOutcome,
    State,
    Status,
    Verdict,
    account_of,
    content_hash,
    judge,
    kept_state,
    may_be_stored,
    may_send_again,
    move,
    resend_is_safe,
    row_key,
    settle_by_person,
    triage,
)
from importer.payload import Record

VENDOR = "fake-crm"
ACCOUNT = account_of("https://crm.example.com/")
Stop = tuple[Reason, str] | None
"""Why push stopped sending, if it did (reason, words)."""


def night_id(night: int) -> str:
    return f"night-{night:02d}"


@contextlib.contextmanager
def open_ledger(state_dir: Path) -> Iterator[SqliteLedger]:
    """Open the account's ledger under ``state_dir`` (with the run lock) for one block."""
    ledger = SqliteLedger(state_dir, vendor=VENDOR, account=ACCOUNT)
    try:
        yield ledger
    finally:
        ledger.close()


def begin(ledger: SqliteLedger, night: int, *, resend_rejected: bool = False) -> Bookkeeper:
    """Record that night ``night``'s run began, and return its books."""
    started = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=night)
    ledger.begin_run(
        Run(
            run_id=night_id(night),
            vendor=VENDOR,
            account=ACCOUNT,
            started_at=started.isoformat(),
            source_file="people.csv",
            columns=("email", "name"),
        )
    )
    return Bookkeeper(ledger, run_id=night_id(night), resend_rejected=resend_rejected)


ANN = Record(2, {"email": "a@x.io", "name": "Ann"}, resend_safe=True)
ANN_FRAME = pd.DataFrame({"email": ["a@x.io"], "name": ["Ann"]}, index=[2], dtype=object)

# --- moves ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "new"), list(product(State, State)))
def test_move_allows_exactly_the_moves_of_the_table(start: State, new: State) -> None:
    if new in MOVES[start]:
        assert move(start, new) is new
    else:
        with pytest.raises(InvalidMove, match=f"a {start} row cannot become {new}"):
            move(start, new)


@pytest.mark.parametrize("new", list(State))
def test_a_row_never_seen_moves_like_a_planned_one_or_to_planned(new: State) -> None:
    if new in MOVES[State.PLANNED] | {State.PLANNED}:
        assert move(None, new) is new
    else:
        with pytest.raises(InvalidMove):
            move(None, new)


def test_every_state_has_its_moves_and_a_report_status() -> None:
    assert set(MOVES) == set(State) == set(STATUS_OF)
    finished = {State.CREATED, State.CONFLICTED, State.DUPLICATE, State.SKIPPED}
    assert {state for state, moves in MOVES.items() if not moves} == finished
    assert STATUS_OF[State.UNKNOWN] is Status.FAILED
    assert STATUS_OF[State.PLANNED] is Status.SKIPPED


# --- accounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spellings",
    [
        (
            "https://api.example.com",
            "https://api.example.com/",
            "https://api.example.com//",
            "https://api.example.com:443",
            "https://API.Example.COM:443/",
            "HTTPS://api.example.com",
            "https://api.example.com.",
            "  https://api.example.com  ",
            "https://user:s3cr3t@api.example.com/",
            "https://api.example.com/?api_key=s3cr3t#top",
        ),
        ("http://api.example.com/v1", "http://api.example.com:80/v1/", "HTTP://API.EXAMPLE.COM/v1"),
        (
            "http://localhost:8080",
            "http://LOCALHOST:8080/",
            "http://127.0.0.1:8080",
            "http://127.0.0.2:8080",
            "http://[::1]:8080",
            "http://[0:0:0:0:0:0:0:1]:8080/",
            "http://app.localhost:8080",
            "http://me:pw@localhost:8080",
        ),
        ("https://localhost", "https://[::1]:443/", "https://127.0.0.1"),
        ("http://[2001:DB8::1]:80/", "http://[2001:db8::1]"),
    ],
)
def test_account_of_unifies_spellings_of_one_account(spellings: tuple[str, ...]) -> None:
    assert len({account_of(url) for url in spellings}) == 1


@pytest.mark.parametrize(
    ("url", "account"),
    [
        ("https://API.example.com:443/", "https://api.example.com"),
        ("http://localhost:8080/", "http://loopback:8080"),
        ("http://[::1]:8080", "http://loopback:8080"),
        ("http://[2001:DB8::1]:8080", "http://[2001:db8::1]:8080"),
        ("https://api.example.com/Tenant/V2/", "https://api.example.com/Tenant/V2"),
    ],
)
def test_account_of_spells_an_account_one_way(url: str, account: str) -> None:
    assert account_of(url) == account


@pytest.mark.parametrize(
    "urls",
    [
        ("https://api.example.com", "https://api.example.org"),
        ("https://api.example.com", "https://eu.api.example.com"),
        ("https://api.example.com", "https://api.example.com:8443"),
        ("https://api.example.com", "http://api.example.com"),
        ("http://api.example.com", "http://api.example.com:443"),
        ("https://api.example.com", "https://api.example.com:80"),
        ("https://api.example.com/v1", "https://api.example.com/v2"),
        ("https://api.example.com/v1", "https://api.example.com"),
        ("https://api.example.com/Tenant", "https://api.example.com/tenant"),
        ("http://localhost:8080", "http://localhost:8081"),
        ("http://localhost:8080", "http://10.0.0.1:8080"),
        ("http://[::1]:8080", "http://[::2]:8080"),
        ("http://localhost", "https://localhost"),
    ],
)
def test_account_of_keeps_different_accounts_apart(urls: tuple[str, str]) -> None:
    first, second = urls
    assert account_of(first) != account_of(second)


@pytest.mark.parametrize(
    "url",
    [
        "https://ops:s3cr3t@api.example.com/",
        "https://:s3cr3t@api.example.com",
        "https://s3cr3t@api.example.com",
        "https://api.example.com/v1?api_key=s3cr3t",
        "https://api.example.com/v1#s3cr3t",
        "http://ops:s3cr3t@[::1]:8080/",
        "https://ops:s3cr3t%40x@api.example.com:443/v1/?token=s3cr3t",
    ],
)
def test_an_account_never_contains_a_secret(url: str) -> None:
    account = account_of(url)
    assert "s3cr3t" not in account
    assert "ops" not in account
    assert "@" not in account
    assert "?" not in account


# --- row keys ---------------------------------------------------------------------------------

MISSING_KEYS = [None, float("nan"), pd.NA, "", "   "]


def test_a_row_with_a_key_is_known_by_it() -> None:
    assert row_key("a@x.io", "h", 1) == "key:a@x.io"
    assert row_key("a@x.io", "other", 7) == row_key("a@x.io", "h", 1)
    assert row_key("a@x.io", "h", 0) != row_key("b@x.io", "h", 0)


@pytest.mark.parametrize("missing", MISSING_KEYS, ids=repr)
def test_a_row_without_a_key_is_known_by_its_content_and_occurrence(missing: object) -> None:
    first, second = row_key(missing, "h1", 1), row_key(missing, "h1", 2)
    assert first == "content:h1#1"
    assert second == "content:h1#2"
    assert row_key(missing, "h2", 1) != first
    assert row_key(missing, "h1", 1) == first  # stable from run to run


def test_rows_without_a_key_never_collapse_whatever_spells_the_missing_key() -> None:
    keys = [row_key(missing, "h", occurrence) for occurrence, missing in enumerate(MISSING_KEYS)]
    assert len(set(keys)) == len(keys)
    assert all(key.startswith("content:") for key in keys)


def test_the_books_give_identical_keyless_rows_one_identity_each() -> None:
    frame = pd.DataFrame(
        {"email": [None, math.nan, "", "a@x.io", None], "name": ["Ann"] * 5},
        index=[2, 3, 4, 5, 6],
        dtype=object,
    )
    bodies = [{"name": "Ann"}] * 3 + [{"name": "Ann", "email": "a@x.io"}, {"name": "Ann"}]
    records = [Record(row, body) for row, body in zip(frame.index, bodies, strict=True)]
    keys: dict[int, object] = {2: None, 3: math.nan, 4: "", 5: "a@x.io", 6: "  "}
    with tempfile.TemporaryDirectory() as folder, open_ledger(Path(folder)) as ledger:
        to_send, decided = begin(ledger, 1).record(frame, {}, records, keys)
        identities = {row.outcome.source_row: row.row_key for row in ledger.run_rows(night_id(1))}
    assert (len(to_send), decided) == (5, {})
    digest = content_hash({"name": "Ann"})
    assert identities == {
        2: f"content:{digest}#1",
        3: f"content:{digest}#2",
        4: f"content:{digest}#3",
        5: "key:a@x.io",
        6: f"content:{digest}#4",
    }


def test_content_hash_ignores_key_order_only() -> None:
    assert content_hash({"a": 1, "b": "é"}) == content_hash({"b": "é", "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": "1"})
    assert content_hash({"a": {"b": 1}}) != content_hash({"a": {"b": 2}})


# --- re-sends ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detected_by", "body", "safe"),
    [
        ((), {"email": "a@x.io"}, False),
        (("email",), {"email": "a@x.io"}, True),
        (("email",), {"name": "Ann"}, False),
        (("email",), {"email": ""}, False),
        (("email",), {"email": None}, False),
        (("email",), {"email": []}, False),
        (("email",), {"email": {}}, False),
        (("email",), {"email": 0}, True),
        (("email",), {"email": False}, True),
        (("customerInfo.email",), {"customerInfo": {"email": "a@x.io"}}, True),
        (("customerInfo.email",), {"customerInfo": {"phone": "1"}}, False),
        (("customerInfo.email",), {"customerInfo": {"email": ""}}, False),
        (("customerInfo.email",), {"customerInfo": "a@x.io"}, False),
        (("customerInfo.email",), {"email": "a@x.io"}, False),
        (("customerInfo.email",), {"customerInfo.email": "a@x.io"}, False),
        (("items.offerId",), {"items": [{"offerId": "o1"}]}, False),
        (("a.b.c",), {"a": {"b": {"c": "x"}}}, True),
        (("a.b.c",), {"a": {"b": {}}}, False),
        (("email", "team"), {"email": "a@x.io", "team": "t"}, True),
        (("email", "team"), {"email": "a@x.io"}, False),
        (("email", "team"), {"email": "", "team": "t"}, False),
    ],
)
def test_a_resend_is_safe_only_where_the_row_carries_every_detected_field(
    detected_by: tuple[str, ...], body: dict[str, Any], safe: bool
) -> None:
    assert resend_is_safe(detected_by, body) is safe


# --- answers and outcomes ---------------------------------------------------------------------

CREATED = Answer(Verdict.CREATED, "", 201, "cus_1")
CONFLICT = Answer(Verdict.CONFLICT, "already in your list", 409)
REJECTED = Answer(Verdict.REJECTED, "fullName is required", 400)
FATAL = Answer(Verdict.FATAL, "invalid api key", 401)
THROTTLED = Answer(Verdict.RETRY_SAFE, "slow down", 429, retry_after=1.0)
UNREACHABLE = Answer(Verdict.RETRY_SAFE, "connection refused")
TIMED_OUT = Answer(Verdict.MAYBE_PROCESSED, "read timeout")
SERVER_ERROR = Answer(Verdict.MAYBE_PROCESSED, "internal error", 500)
DEFERRED = (Reason.DEFERRED, "the run's time budget ran out")
ABORTED = (Reason.ABORTED, "the vendor refused the credentials")


@pytest.mark.parametrize(
    ("answer", "safe", "again"),
    [
        (THROTTLED, False, True),
        (UNREACHABLE, False, True),
        (TIMED_OUT, False, False),
        (TIMED_OUT, True, True),
        (SERVER_ERROR, True, True),
        (CREATED, True, False),
        (CONFLICT, True, False),
        (REJECTED, True, False),
        (FATAL, True, False),
    ],
)
def test_may_send_again_only_where_nothing_was_stored_or_the_vendor_detects_it(
    answer: Answer, safe: bool, again: bool
) -> None:
    assert may_send_again(answer, resend_safe=safe) is again


def decide(
    answers: Sequence[Answer],
    *,
    safe: bool = False,
    doubt: bool = False,
    stopped: Stop = None,
    heard: bool = True,
) -> RowOutcome:
    return judge(
        7,
        answers,
        resend_safe=safe,
        resent_doubt=doubt,
        stopped=stopped,
        heard_from_vendor=heard,
    )


@pytest.mark.parametrize(
    ("answers", "options", "state", "reason"),
    [
        ([CREATED], {}, State.CREATED, Reason.CREATED),
        ([THROTTLED, UNREACHABLE, CREATED], {}, State.CREATED, Reason.CREATED),
        ([TIMED_OUT, CREATED], {"safe": True}, State.CREATED, Reason.CREATED),
        ([CONFLICT], {}, State.CONFLICTED, Reason.ALREADY_EXISTS),
        ([THROTTLED, CONFLICT], {}, State.CONFLICTED, Reason.ALREADY_EXISTS),
        ([CONFLICT], {"doubt": True}, State.CONFLICTED, Reason.CREATED_BY_EARLIER_RUN),
        (
            [TIMED_OUT, CONFLICT],
            {"safe": True},
            State.CONFLICTED,
            Reason.CREATED_BY_EARLIER_ATTEMPT,
        ),
        (
            [SERVER_ERROR, CONFLICT],
            {"safe": True, "doubt": True},
            State.CONFLICTED,
            Reason.CREATED_BY_EARLIER_ATTEMPT,
        ),
        ([REJECTED], {}, State.FAILED, Reason.VENDOR_REJECTED),
        ([TIMED_OUT], {}, State.UNKNOWN, Reason.OUTCOME_UNKNOWN),
        ([SERVER_ERROR], {}, State.UNKNOWN, Reason.OUTCOME_UNKNOWN),
        ([THROTTLED, TIMED_OUT], {}, State.UNKNOWN, Reason.OUTCOME_UNKNOWN),
        ([TIMED_OUT] * 3, {"safe": True}, State.FAILED, Reason.RETRIES_EXHAUSTED),
        ([THROTTLED] * 3, {}, State.FAILED, Reason.RETRIES_EXHAUSTED),
        ([UNREACHABLE] * 3, {"heard": False}, State.FAILED, Reason.RETRIES_EXHAUSTED),
        ([], {}, State.SKIPPED, Reason.ABORTED),
        ([], {"stopped": DEFERRED}, State.SKIPPED, Reason.DEFERRED),
        ([FATAL], {"stopped": ABORTED}, State.SKIPPED, Reason.ABORTED),
        ([FATAL], {}, State.SKIPPED, Reason.ABORTED),
        ([THROTTLED], {"stopped": DEFERRED}, State.SKIPPED, Reason.DEFERRED),
        ([TIMED_OUT], {"safe": True, "stopped": DEFERRED}, State.SKIPPED, Reason.DEFERRED),
        ([TIMED_OUT, FATAL], {"safe": True, "stopped": ABORTED}, State.SKIPPED, Reason.ABORTED),
        ([TIMED_OUT], {"stopped": DEFERRED}, State.UNKNOWN, Reason.OUTCOME_UNKNOWN),
        ([TIMED_OUT, FATAL], {"stopped": ABORTED}, State.UNKNOWN, Reason.OUTCOME_UNKNOWN),
        ([CREATED], {"stopped": ABORTED}, State.CREATED, Reason.CREATED),
        ([CONFLICT], {"stopped": DEFERRED}, State.CONFLICTED, Reason.ALREADY_EXISTS),
        ([REJECTED], {"stopped": DEFERRED}, State.FAILED, Reason.VENDOR_REJECTED),
    ],
)
def test_judge_makes_an_outcome_of_every_kind_of_answers(
    answers: list[Answer], options: dict[str, Any], state: State, reason: Reason
) -> None:
    outcome = decide(answers, **options)
    assert (outcome.source_row, outcome.state, outcome.reason) == (7, state, reason)
    assert outcome.attempts == len(answers)
    assert outcome.vendor_id == ("cus_1" if state is State.CREATED else None)
    if answers and state is not State.SKIPPED:
        assert outcome.http_status == answers[-1].http_status


def test_judge_words_say_what_to_do_next() -> None:
    assert "importer settle" in decide([TIMED_OUT]).message
    assert "importer settle" in decide([TIMED_OUT], stopped=DEFERRED).message
    assert decide([REJECTED]).message == "fullName is required"
    assert decide([THROTTLED] * 3).message == "gave up after 3 attempts: slow down"
    assert "earlier run" in decide([CONFLICT], doubt=True).message
    assert "earlier attempt" in decide([TIMED_OUT, CONFLICT], safe=True).message
    assert decide([], stopped=DEFERRED).message.startswith("not sent; the run's time budget")
    assert "a re-run sends it" in decide([THROTTLED], stopped=DEFERRED).message
    assert decide([UNREACHABLE], stopped=ABORTED, heard=False).message.startswith("not sent")
    assert decide([UNREACHABLE], stopped=ABORTED).message.startswith("no final answer after 1")


@pytest.mark.parametrize(
    ("answers", "options", "kept"),
    [
        ([CREATED], {}, State.CREATED),
        ([CONFLICT], {}, State.CONFLICTED),
        ([TIMED_OUT], {}, State.UNKNOWN),
        ([REJECTED], {}, State.FAILED),
        ([THROTTLED] * 3, {}, State.PLANNED),
        ([TIMED_OUT] * 3, {"safe": True}, State.SENDING),
        ([TIMED_OUT], {"safe": True, "stopped": DEFERRED}, State.SENDING),
        ([THROTTLED], {"stopped": DEFERRED}, State.PLANNED),
        ([FATAL], {"stopped": ABORTED}, State.PLANNED),
        ([], {"stopped": DEFERRED}, State.PLANNED),
    ],
)
def test_the_ledger_keeps_a_row_in_doubt_while_it_may_be_at_the_vendor(
    answers: list[Answer], options: dict[str, Any], kept: State
) -> None:
    assert kept_state(decide(answers, **options), answers) is kept
    assert (kept is State.SENDING) is (may_be_stored(answers) and options.get("safe", False))


def test_kept_states_are_moves_from_sending_and_never_final_report_words() -> None:
    kinds = [CREATED, CONFLICT, REJECTED, FATAL, THROTTLED, UNREACHABLE, TIMED_OUT, SERVER_ERROR]
    for length in range(3):
        for answers in product(kinds, repeat=length):
            for safe, doubt, stopped in product((False, True), (False, True), (None, DEFERRED)):
                outcome = decide(answers, safe=safe, doubt=doubt, stopped=stopped)
                kept = kept_state(outcome, answers)
                assert move(State.SENDING, kept) is kept
                assert kept not in (State.SKIPPED, State.DUPLICATE)


# --- triage -----------------------------------------------------------------------------------


def known(state: State, **changes: Any) -> Known:
    entry = Known("key:a@x.io", "h1", state, Reason.CREATED, "run-0", 4, vendor_id="cus_9")
    return replace(entry, **changes)


def test_triage_sends_a_row_the_ledger_never_saw_or_planned_again() -> None:
    assert triage(3, None, content_hash="h1", resend_safe=False).send
    planned = known(State.PLANNED, reason=Reason.MISSING_AT_VENDOR)
    assert triage(3, planned, content_hash="h1", resend_safe=False) == triage(
        3, None, content_hash="h1", resend_safe=False
    )


@pytest.mark.parametrize("state", [State.CREATED, State.CONFLICTED])
@pytest.mark.parametrize("safe", [False, True])
def test_triage_skips_a_synced_row_changed_or_not(state: State, safe: bool) -> None:
    same = triage(3, known(state), content_hash="h1", resend_safe=safe)
    assert not same.send
    assert same.outcome is not None
    assert (same.outcome.state, same.outcome.reason) == (State.SKIPPED, Reason.ALREADY_SYNCED)
    assert same.outcome.vendor_id == "cus_9"
    assert "run run-0 (row 4)" in same.outcome.message
    changed = triage(3, known(state), content_hash="h2", resend_safe=safe, resend_rejected=True)
    assert not changed.send
    assert changed.outcome is not None
    assert changed.outcome.reason is Reason.CHANGED_SINCE_SYNC
    assert (same.settles, changed.settles) == (None, None)


def test_triage_does_not_resend_an_unchanged_rejected_row_unless_asked() -> None:
    rejected = known(
        State.FAILED, reason=Reason.VENDOR_REJECTED, message="bad source", http_status=400
    )
    kept = triage(3, rejected, content_hash="h1", resend_safe=False)
    assert not kept.send
    assert kept.outcome is not None
    assert (kept.outcome.state, kept.outcome.reason) == (State.FAILED, Reason.VENDOR_REJECTED)
    assert kept.outcome.http_status == 400
    assert kept.outcome.message.startswith("bad source (unchanged since run run-0 (row 4)")
    assert triage(3, rejected, content_hash="h2", resend_safe=False) == triage(
        3, None, content_hash="h2", resend_safe=False
    )
    asked = triage(3, rejected, content_hash="h1", resend_safe=False, resend_rejected=True)
    assert (asked.send, asked.resent_doubt, asked.outcome) == (True, False, None)
    other = known(State.FAILED, reason=Reason.RETRIES_EXHAUSTED)
    assert triage(3, other, content_hash="h1", resend_safe=False).send


@pytest.mark.parametrize("changed", [False, True])
def test_triage_resends_a_row_in_doubt_only_where_the_vendor_detects_it(changed: bool) -> None:
    digest = "h2" if changed else "h1"
    sending = known(State.SENDING, reason=Reason.CUT_SHORT)
    safe = triage(3, sending, content_hash=digest, resend_safe=True)
    assert (safe.send, safe.resent_doubt, safe.outcome, safe.settles) == (True, True, None, None)
    unsafe = triage(3, sending, content_hash=digest, resend_safe=False)
    assert not unsafe.send
    assert unsafe.outcome is not None
    assert (unsafe.outcome.state, unsafe.outcome.reason) == (State.UNKNOWN, Reason.OUTCOME_UNKNOWN)
    assert unsafe.settles is State.UNKNOWN
    assert "importer settle" in unsafe.outcome.message


@pytest.mark.parametrize("safe", [False, True])
def test_triage_waits_for_a_person_on_an_unknown_row(safe: bool) -> None:
    unknown = known(State.UNKNOWN, reason=Reason.OUTCOME_UNKNOWN, message="read timeout")
    verdict = triage(3, unknown, content_hash="h1", resend_safe=safe, resend_rejected=True)
    assert not verdict.send
    assert verdict.outcome is not None
    assert (verdict.outcome.state, verdict.outcome.status) == (State.UNKNOWN, Status.FAILED)
    assert verdict.outcome.message.endswith("first seen: read timeout")
    assert verdict.settles is State.UNKNOWN


# --- a person's word --------------------------------------------------------------------------


@pytest.mark.parametrize("state", IN_DOUBT)
def test_a_row_found_at_the_vendor_is_created_with_the_id_given(state: State) -> None:
    entry = known(state, reason=Reason.OUTCOME_UNKNOWN, vendor_id=None)
    settled = settle_by_person(entry, found=True, vendor_id="cus_42")
    assert (settled.state, settled.reason, settled.vendor_id) == (
        State.CREATED,
        Reason.FOUND_BY_PERSON,
        "cus_42",
    )
    assert (settled.row_key, settled.content_hash, settled.run_id) == ("key:a@x.io", "h1", "run-0")


def test_a_row_found_without_an_id_keeps_the_id_the_ledger_had() -> None:
    entry = known(State.UNKNOWN, reason=Reason.OUTCOME_UNKNOWN, vendor_id=None)
    assert settle_by_person(entry, found=True, vendor_id=None).vendor_id is None
    assert (
        settle_by_person(replace(entry, vendor_id="cus_1"), found=True, vendor_id=None).vendor_id
        == "cus_1"
    )


@pytest.mark.parametrize("state", IN_DOUBT)
def test_a_row_missing_at_the_vendor_is_planned_again(state: State) -> None:
    settled = settle_by_person(known(state), found=False, vendor_id="ignored")
    assert (settled.state, settled.reason) == (State.PLANNED, Reason.MISSING_AT_VENDOR)
    assert "next run sends it" in settled.message


@pytest.mark.parametrize(
    "state", [State.CREATED, State.CONFLICTED, State.PLANNED, State.FAILED, State.SKIPPED]
)
@pytest.mark.parametrize("found", [False, True])
def test_a_row_not_in_doubt_cannot_be_settled(state: State, found: bool) -> None:
    with pytest.raises(InvalidMove):
        settle_by_person(known(state), found=found, vendor_id="cus_2")


def test_settle_rows_refuses_a_created_row_and_changes_nothing() -> None:
    with tempfile.TemporaryDirectory() as folder, open_ledger(Path(folder)) as ledger:
        books = begin(ledger, 1)
        (record,), _ = books.record(ANN_FRAME, {}, [ANN], {2: "a@x.io"})
        assert books.commit([record], []) == [True]
        books.commit([], [(record, decide([CREATED]), [CREATED])])
        before = ledger.known(["key:a@x.io"])
        findings = [Finding(2, found=False), Finding(9, found=True)]
        settled = settle_rows(ledger, night_id(1), findings)
        after = ledger.known(["key:a@x.io"])
    assert settled.refused == {2: "not in doubt: the ledger says created", 9: "not in this run"}
    assert (settled.there, settled.missing) == ([], [])
    assert after == before
    assert after["key:a@x.io"].state is State.CREATED


# --- a row that may be at the vendor stays in doubt ---------------------------------------------
#
# Found by the property test below: ``kept_state`` once kept ``failed`` for a lost answer then a
# 400, and ``planned``/``failed`` for a row re-sent in doubt whose re-send stored nothing. The
# rule: a row whose earlier send may have been stored stays in doubt (``sending`` or
# ``unknown``) until a 2xx, a 409 or a person settles it, whatever else the vendor answers.


def one_night(
    folder: Path,
    night: int,
    answers: Sequence[Answer] | None,
    stopped: Stop = None,
    *,
    record: Record = ANN,
    key: str = "a@x.io",
) -> RowOutcome | None:
    """Run a night of one row; return its outcome (None: the run died after claiming it)."""
    with open_ledger(folder) as ledger:
        books = begin(ledger, night)
        frame = pd.DataFrame({"key": [key]}, index=[2], dtype=object)
        to_send, outcomes = books.record(frame, {}, [record], {2: key})
        if not to_send:
            return outcomes[2]
        (sent,) = to_send
        assert books.commit([sent], []) == [True]
        if answers is None:
            return None
        outcome = judge(
            2,
            answers,
            resend_safe=sent.resend_safe,
            resent_doubt=sent.resent_doubt,
            stopped=stopped,
            heard_from_vendor=True,
        )
        books.commit([], [(sent, outcome, answers)])
        return outcome


def ledger_state(folder: Path, key: str = "key:a@x.io") -> State:
    with open_ledger(folder) as ledger:
        return ledger.known([key])[key].state


@pytest.mark.parametrize(
    ("died_first", "answers", "stopped"),
    [
        (False, [TIMED_OUT, REJECTED], None),
        (True, [THROTTLED] * 3, None),
        (True, [THROTTLED], DEFERRED),
        (True, [FATAL], ABORTED),
        (True, [REJECTED], None),
    ],
    ids=[
        "lost-answer-then-rejected",
        "died-then-retries-exhausted",
        "died-then-time-budget",
        "died-then-credentials-refused",
        "died-then-rejected",
    ],
)
def test_a_row_that_may_be_at_the_vendor_stays_in_doubt(
    died_first: bool, answers: list[Answer], stopped: Stop
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        if died_first:
            one_night(Path(folder), 1, None)  # the request left, the vendor stored it; kill -9
            assert ledger_state(Path(folder)) is State.SENDING
        one_night(Path(folder), 2, answers, stopped)  # nothing stored by these answers
        assert ledger_state(Path(folder)) is State.SENDING


def test_the_409_after_an_interrupted_resend_says_an_earlier_run_created_the_record() -> None:
    with tempfile.TemporaryDirectory() as folder:
        one_night(Path(folder), 1, None)
        one_night(Path(folder), 2, [THROTTLED] * 3)
        outcome = one_night(Path(folder), 3, [CONFLICT])
    assert outcome is not None
    assert outcome.reason is Reason.CREATED_BY_EARLIER_RUN


def test_a_row_that_may_be_at_the_vendor_is_not_sent_blindly_after_an_edit() -> None:
    # A vendor that detects duplicates by email, and a sheet deduped by its CRM id.
    lead = Record(2, {"crm_id": "7", "email": "a@x.io"}, resend_safe=True)
    edited = Record(2, {"crm_id": "7"}, resend_safe=resend_is_safe(("email",), {"crm_id": "7"}))
    with tempfile.TemporaryDirectory() as folder:
        first = one_night(Path(folder), 1, [TIMED_OUT, REJECTED], record=lead, key="7")
        second = one_night(Path(folder), 2, [CREATED], record=edited, key="7")
    assert first is not None
    assert (first.state, first.reason) == (State.FAILED, Reason.VENDOR_REJECTED)
    assert second is not None
    assert second.state is State.UNKNOWN


# === whole nights ==============================================================================

EMAILS = ("a@x.io", "b@x.io", "c@x.io", "d@x.io")
NAMES = ("Ann", "Bob", "Cy")
MAX_ATTEMPTS = 2
"""Attempts per row and run, 429s aside (they spend time, not attempts)."""
MAX_ANSWERS = 4
"""Answers per row and run, 429s included (the row's time budget)."""


class Fault(Enum):
    """What happens to one attempt on its way to the vendor and back."""

    NONE = "normal"
    ANSWER_LOST = "stored, answer lost"
    SERVER_ERROR = "500, not stored"
    THROTTLED = "429"
    UNREACHABLE = "connect error"
    REJECTED = "400"
    REFUSED = "401"


class FakeVendor:
    """The vendor at the HTTP edge: stores bodies, and detects a duplicate by email or nothing.

    It also keeps the test's truth: which row identity sent each record it holds, and which
    identities the client must think maybe stored (sent, and not surely refused since).
    """

    def __init__(self, *, detects: bool) -> None:
        self.detects = detects
        self.records: dict[str, tuple[str, dict[str, Any]]] = {}
        self.maybe_stored: set[str] = set()
        self.breaches: list[str] = []

    def receive(self, identity: str, body: Mapping[str, Any], fault: Fault) -> Answer:
        """Answer one request of row ``identity``, meeting ``fault`` on the way."""
        if identity in self.maybe_stored and not self.catches(body):
            self.breaches.append(f"{identity} was sent again: an earlier send may be stored")
        if fault is Fault.UNREACHABLE:
            return Answer(Verdict.RETRY_SAFE, "connection refused")
        if fault is Fault.THROTTLED:
            return Answer(Verdict.RETRY_SAFE, "slow down", 429, retry_after=0.0)
        if fault is Fault.REJECTED:
            return Answer(Verdict.REJECTED, "name is not allowed", 400)
        if fault is Fault.REFUSED:
            return Answer(Verdict.FATAL, "invalid api key", 401)
        self.maybe_stored.add(identity)
        if fault is Fault.SERVER_ERROR:
            return Answer(Verdict.MAYBE_PROCESSED, "internal server error", 500)
        answer = self._store(identity, body)
        if fault is Fault.ANSWER_LOST:
            return Answer(Verdict.MAYBE_PROCESSED, "read timeout")
        return answer

    def catches(self, body: Mapping[str, Any]) -> bool:
        """Return whether this vendor would answer a re-send of ``body`` with a 409."""
        return self.detects and bool(body.get("email"))

    def ids_of(self, identity: str) -> list[str]:
        return [vendor_id for vendor_id, (held, _) in self.records.items() if held == identity]

    def held(self) -> Counter[str]:
        return Counter(identity for identity, _ in self.records.values())

    def found_missing(self, identity: str) -> None:
        """Learn that a person truthfully found ``identity`` missing: it may be sent again."""
        assert not self.ids_of(identity)
        self.maybe_stored.discard(identity)

    def _store(self, identity: str, body: Mapping[str, Any]) -> Answer:
        email = body.get("email")
        if self.catches(body) and any(
            each.get("email") == email for _, each in self.records.values()
        ):
            return Answer(Verdict.CONFLICT, "email already in your list", 409)
        vendor_id = f"v{len(self.records) + 1}"
        self.records[vendor_id] = (identity, dict(body))
        return Answer(Verdict.CREATED, "", 201, vendor_id)


@dataclass(frozen=True)
class Person:
    """One sheet row: an email (its dedupe key) or none, and a name."""

    email: str | None
    name: str

    def body(self) -> dict[str, Any]:
        return {"name": self.name} | ({"email": self.email} if self.email else {})


@dataclass(frozen=True)
class Night:
    """One run of the import, and what goes wrong during it."""

    faults: tuple[Fault, ...] = ()
    """Each attempt meets the next fault; once they run out, all goes well."""
    chunk_rows: int = 3
    kill_after: int | None = None
    """The process dies after pushing this many records (None: it does not)."""
    in_flight: tuple[bool, ...] = ()
    """Records claimed when it dies; True: the request reached the vendor (answer lost)."""
    budget: int | None = None
    """Attempts after which the run's time budget runs out (None: no budget)."""
    missing_key: str = "none"
    """How the dedupe stage spells a missing key: none, nan or empty."""


@dataclass(frozen=True)
class Edit:
    """A non-key field of one row changes (``row`` is taken modulo the sheet's length)."""

    row: int
    name: str


@dataclass(frozen=True)
class Append:
    """Rows are added at the bottom of the sheet."""

    people: tuple[Person, ...]


@dataclass(frozen=True)
class Settle:
    """A person checks the vendor for up to ``count`` rows in doubt and tells the ledger."""

    count: int | None


Change = Edit | Append | Settle
AT_VENDOR = (State.CREATED, State.CONFLICTED, State.SENDING, State.UNKNOWN)
"""What the ledger may say of a row the vendor holds: there, or in doubt."""


@dataclass(frozen=True)
class Day:
    """What happens between two nights, then the night."""

    changes: tuple[Change, ...]
    night: Night


SPELLINGS: Mapping[str, object] = {"none": None, "nan": math.nan, "empty": ""}


@dataclass
class Tonight:
    """One night in progress: its books, what push knows, and what became of each row."""

    books: Bookkeeper
    spec: Night
    identities: Mapping[int, str]
    faults: list[Fault]
    attempts: int = 0
    heard: bool = False
    stopped: Stop = None
    recorded: list[int] = field(default_factory=list)
    decided: dict[int, RowOutcome] = field(default_factory=dict)
    pushed: dict[int, RowOutcome] = field(default_factory=dict)
    in_flight: list[int] = field(default_factory=list)
    killed: bool = False

    def next_fault(self) -> Fault:
        return self.faults.pop(0) if self.faults else Fault.NONE

    def stop(self, reason: Reason, message: str) -> None:
        if self.stopped is None:
            self.stopped = (reason, message)

    def out_of_time(self) -> bool:
        """Return whether push sends nothing more (stopping it when its budget ran out)."""
        if self.spec.budget is not None and self.attempts >= self.spec.budget:
            self.stop(Reason.DEFERRED, "the run's time budget ran out before it was sent")
        return self.stopped is not None


class Nights:
    """A sheet, its ledger and its vendor, night after night."""

    def __init__(
        self,
        state_dir: Path,
        vendor: FakeVendor,
        sheet: Iterable[Person],
        *,
        check_doubts: bool = False,
    ) -> None:
        """Start with ``sheet``; ``check_doubts``: also check the ledger keeps every doubt."""
        self.state_dir = state_dir
        self.vendor = vendor
        self.sheet = list(sheet)
        self.check_doubts = check_doubts
        self.count = 0
        self.every_identity: set[str] = set()
        self.reported_created: list[tuple[str, str | None]] = []

    def live(self, day: Day) -> None:
        for change in day.changes:
            if isinstance(change, Edit):
                row = change.row % len(self.sheet)
                self.sheet[row] = replace(self.sheet[row], name=change.name)
            elif isinstance(change, Append):
                self.sheet.extend(change.people)
            else:
                self.settle(change.count)
        self.night(day.night)

    def identities(self) -> dict[int, str]:
        """Return the identity of every row the books should see (first of its email)."""
        identities: dict[int, str] = {}
        emails: set[str] = set()
        occurrences: Counter[str] = Counter()
        for source_row, person in enumerate(self.sheet, start=2):
            if person.email in emails:
                continue
            if person.email:
                emails.add(person.email)
                identities[source_row] = f"key:{person.email}"
                continue
            digest = content_hash(person.body())
            occurrences[digest] += 1
            identities[source_row] = f"content:{digest}#{occurrences[digest]}"
        return identities

    def night(self, spec: Night, *, resend_rejected: bool = False) -> Tonight:
        self.count += 1
        identities = self.identities()
        self.every_identity.update(identities.values())
        with open_ledger(self.state_dir) as ledger:
            books = begin(ledger, self.count, resend_rejected=resend_rejected)
            tonight = Tonight(books, spec, identities, list(spec.faults))
            asyncio.run(self._run(tonight))
            run_id = night_id(self.count)
            if not tonight.killed:
                ledger.end_run(run_id, ending="finished", totals={})
            self.check_night(ledger, run_id, tonight)
        return tonight

    async def _run(self, tonight: Tonight) -> None:
        frame = pd.DataFrame(
            {
                "email": [person.email for person in self.sheet],
                "name": [person.name for person in self.sheet],
            },
            index=range(2, len(self.sheet) + 2),
            dtype=object,
        )
        deduper = Deduper(("email",))
        for start in range(0, len(frame), tonight.spec.chunk_rows):
            to_send = self._record(
                tonight, frame.iloc[start : start + tonight.spec.chunk_rows], deduper
            )
            for index, record in enumerate(to_send):
                if len(tonight.pushed) == tonight.spec.kill_after:
                    await self._die(tonight, to_send[index:])
                    return
                tonight.pushed[record.source_row] = await self._push(tonight, record)

    def _record(self, tonight: Tonight, chunk: pd.DataFrame, deduper: Deduper) -> list[Record]:
        """Dedupe a chunk, build its records, and record it in the books (as the pipeline)."""
        deduped = deduper.split(chunk)
        decided = {
            row: RowOutcome(
                row, State.DUPLICATE, Reason.DUPLICATE_IN_FILE, f"same key as row {kept}"
            )
            for row, kept in deduped.duplicates.items()
        }
        detected_by = ("email",) if self.vendor.detects else ()
        records = []
        for source_row in deduped.kept.index:
            body = self.sheet[source_row - 2].body()
            records.append(Record(source_row, body, resend_safe=resend_is_safe(detected_by, body)))
        missing = SPELLINGS[tonight.spec.missing_key]
        keys = {
            row: missing if key is None else key for row, key in deduper.keys(deduped.kept).items()
        }
        to_send, outcomes = tonight.books.record(chunk, decided, records, keys)
        tonight.recorded.extend(chunk.index)
        tonight.decided.update(outcomes)
        return to_send

    async def _push(self, tonight: Tonight, record: Record) -> RowOutcome:
        """Send one record as push does: claim, attempt, retry what is safe, judge, settle."""
        answers: list[Answer] = []
        while not tonight.out_of_time():
            if not answers:  # intent before send: claimed (committed) before the first attempt
                assert tonight.books.commit([record], []) == [True]
            identity = tonight.identities[record.source_row]
            answer = self.vendor.receive(identity, record.body, tonight.next_fault())
            answers.append(answer)
            tonight.attempts += 1
            tonight.heard |= answer.http_status is not None
            if answer.verdict is Verdict.FATAL:
                tonight.stop(Reason.ABORTED, "the vendor refused the credentials")
            throttled = sum(each.http_status == 429 for each in answers)
            if (
                not may_send_again(answer, resend_safe=record.resend_safe)
                or len(answers) - throttled >= MAX_ATTEMPTS
                or len(answers) >= MAX_ANSWERS
            ):
                break
        last = answers[-1] if answers else None
        if last and not tonight.heard and may_send_again(last, resend_safe=record.resend_safe):
            tonight.stop(Reason.ABORTED, "cannot reach the vendor")
        outcome = judge(
            record.source_row,
            answers,
            resend_safe=record.resend_safe,
            resent_doubt=record.resent_doubt,
            stopped=tonight.stopped,
            heard_from_vendor=tonight.heard,
        )
        tonight.books.commit([], [(record, outcome, answers)])
        return outcome

    async def _die(self, tonight: Tonight, left: Sequence[Record]) -> None:
        """Claim the records in flight, let some requests reach the vendor, and drop it all."""
        tonight.killed = True
        if tonight.stopped is not None:
            return
        for record, reached in zip(left, tonight.spec.in_flight, strict=False):
            assert tonight.books.commit([record], []) == [True]
            if reached:
                identity = tonight.identities[record.source_row]
                self.vendor.receive(identity, record.body, Fault.ANSWER_LOST)
            tonight.in_flight.append(record.source_row)

    def settle(self, count: int | None) -> None:
        """Let a person check the vendor for rows in doubt, from the newest run showing each."""
        with open_ledger(self.state_dir) as ledger:
            entries = ledger.known(sorted(self.every_identity))
            doubts = sorted(key for key, entry in entries.items() if entry.state in IN_DOUBT)
            left = set(doubts[:count])
            findings: dict[str, dict[int, str]] = defaultdict(dict)
            for run in ledger.runs():
                for row in ledger.run_rows(run.run_id):
                    if row.row_key in left:
                        left.discard(row.row_key)
                        findings[run.run_id][row.outcome.source_row] = row.row_key
            assert not left, f"rows in doubt that no run shows: {left}"
            for run_id, rows in findings.items():
                self._settle_run(ledger, run_id, rows)
            self.check_ledger(ledger)

    def _settle_run(self, ledger: SqliteLedger, run_id: str, rows: Mapping[int, str]) -> None:
        truth = {source_row: self.vendor.ids_of(key) for source_row, key in rows.items()}
        settled = settle_rows(
            ledger,
            run_id,
            [
                Finding(source_row, found=bool(ids), vendor_id=ids[0] if ids else None)
                for source_row, ids in truth.items()
            ],
        )
        assert settled.refused == {}
        assert sorted(settled.there) == sorted(row for row, ids in truth.items() if ids)
        for source_row in settled.missing:
            self.vendor.found_missing(rows[source_row])

    # --- invariants ---------------------------------------------------------------------------

    def check_night(self, ledger: SqliteLedger, run_id: str, tonight: Tonight) -> None:
        decided, pushed = set(tonight.decided), set(tonight.pushed)
        assert not decided & pushed, "a row has two outcomes"
        assert not (decided | pushed) & set(tonight.in_flight)
        sheet_rows = list(range(2, len(self.sheet) + 2))
        if not tonight.killed:
            assert sorted(decided | pushed) == sheet_rows, "every row has exactly one outcome"
        recorded = {row.outcome.source_row: row for row in ledger.run_rows(run_id)}
        assert list(recorded) == tonight.recorded, "a run records every row it read, once"
        outcomes = tonight.decided | tonight.pushed
        for source_row, row in recorded.items():
            if source_row in outcomes:
                assert row.outcome == outcomes[source_row]
            elif source_row in tonight.in_flight:
                assert (row.outcome.state, row.outcome.reason) == (State.SENDING, Reason.CUT_SHORT)
            else:
                assert (row.outcome.state, row.outcome.reason) == (State.PLANNED, Reason.CUT_SHORT)
            assert row.row_key == tonight.identities.get(source_row)
        self.reported_created.extend(
            (tonight.identities[row], outcome.vendor_id)
            for row, outcome in tonight.pushed.items()
            if outcome.state is State.CREATED
        )
        self.check_vendor()
        self.check_ledger(ledger)

    def check_vendor(self) -> None:
        assert self.vendor.breaches == []
        assert [key for key, count in self.vendor.held().items() if count > 1] == []
        for identity, vendor_id in self.reported_created:
            assert vendor_id in self.vendor.records, f"{identity} reported created, not there"
            assert self.vendor.records[vendor_id][0] == identity

    def check_ledger(self, ledger: SqliteLedger) -> None:
        """The ledger never says a row is at the vendor when it is not (nor the reverse)."""
        entries = ledger.known(sorted(self.every_identity))
        for key, entry in entries.items():
            there = self.vendor.ids_of(key)
            if entry.state in (State.CREATED, State.CONFLICTED):
                assert there, f"the ledger says {key} is {entry.state}; the vendor lacks it"
            if entry.state is State.CREATED and entry.vendor_id is not None:
                assert there == [entry.vendor_id]
        if self.check_doubts:
            said = {key: entries[key].state for key in self.vendor.held()}
            forgot = {key: state for key, state in said.items() if state not in AT_VENDOR}
            assert forgot == {}, "the vendor holds rows the ledger calls surely not sent"

    def check_calm_night(self, tonight: Tonight) -> None:
        """After a calm night with every doubt settled, every row is at the vendor once."""
        calm = {
            (State.CREATED, Reason.CREATED),
            # A 409 tonight means a doubt was forgotten (the bug above): there, all the same.
            (State.CONFLICTED, Reason.ALREADY_EXISTS),
            (State.CONFLICTED, Reason.CREATED_BY_EARLIER_RUN),
            (State.SKIPPED, Reason.ALREADY_SYNCED),
            (State.SKIPPED, Reason.CHANGED_SINCE_SYNC),
            (State.DUPLICATE, Reason.DUPLICATE_IN_FILE),
        }
        outcomes = tonight.decided | tonight.pushed
        odd = {row: (each.state, each.reason) for row, each in outcomes.items()}
        assert {row: said for row, said in odd.items() if said not in calm} == {}
        held = self.vendor.held()
        identities = set(self.identities().values())
        assert {key: held[key] for key in identities} == dict.fromkeys(identities, 1)


# --- scenarios --------------------------------------------------------------------------------

FAULTS = [Fault.NONE, Fault.ANSWER_LOST, Fault.ANSWER_LOST, Fault.SERVER_ERROR, Fault.THROTTLED]
FAULTS += [Fault.THROTTLED, Fault.UNREACHABLE, Fault.REJECTED, Fault.REJECTED, Fault.REFUSED]
RAM = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
"""Where the nights' ledgers live: every claim is an fsync, which costs nothing in RAM."""
people = st.builds(Person, email=st.none() | st.sampled_from(EMAILS), name=st.sampled_from(NAMES))
nights = st.builds(
    Night,
    faults=st.lists(st.sampled_from(FAULTS), max_size=10).map(tuple),
    chunk_rows=st.integers(min_value=1, max_value=4),
    kill_after=st.none() | st.integers(min_value=0, max_value=3),
    in_flight=st.lists(st.booleans(), min_size=1, max_size=3).map(tuple),
    budget=st.none() | st.none() | st.integers(min_value=0, max_value=8),
    missing_key=st.sampled_from(sorted(SPELLINGS)),
)
changes = st.one_of(
    st.builds(Edit, row=st.integers(min_value=0, max_value=20), name=st.sampled_from(NAMES)),
    st.builds(Append, people=st.lists(people, min_size=1, max_size=3).map(tuple)),
    st.builds(Settle, count=st.integers(min_value=1, max_value=3)),
)
days = st.builds(Day, changes=st.lists(changes, max_size=3).map(tuple), night=nights)


def live_nights(
    detects: bool, sheet: list[Person], story: list[Day], *, check_doubts: bool
) -> None:
    """Live the story, settle every doubt truthfully, and end with a calm night."""
    with tempfile.TemporaryDirectory(dir=RAM) as folder:
        vendor = FakeVendor(detects=detects)
        nights = Nights(Path(folder) / "state", vendor, sheet, check_doubts=check_doubts)
        for day in story:
            nights.live(day)
        nights.settle(None)
        nights.check_calm_night(nights.night(Night(), resend_rejected=True))


stories = {
    "detects": st.booleans(),
    "sheet": st.lists(people, min_size=1, max_size=7),
    "story": st.lists(days, min_size=1, max_size=5),
}
ANN_AT = Person("a@x.io", "Ann")
DIED_IN_FLIGHT = Night(kill_after=0, in_flight=(True,))
"""The process dies with the first record's request at the vendor (stored, no answer)."""


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**stories)
@example(detects=True, sheet=[ANN_AT], story=[Day((), DIED_IN_FLIGHT)])
@example(
    detects=False,
    sheet=[Person(None, "Ann"), Person(None, "Ann"), ANN_AT],
    story=[
        Day((), Night(faults=(Fault.NONE, Fault.SERVER_ERROR), kill_after=2, in_flight=(True,))),
        Day((Settle(1), Edit(0, "Bob"), Append((ANN_AT, Person(None, "Ann")))), Night()),
    ],
)
def test_nights_never_send_a_row_twice_and_end_with_every_row_once_at_the_vendor(
    detects: bool, sheet: list[Person], story: list[Day]
) -> None:
    live_nights(detects, sheet, story, check_doubts=False)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # the bug is known: skip shrinking
)
@given(**stories)
@example(  # the first answer is lost (stored), the re-send is refused: kept failed
    detects=True,
    sheet=[ANN_AT],
    story=[Day((), Night(faults=(Fault.ANSWER_LOST, Fault.REJECTED)))],
)
@example(  # the re-send after a run died gets only 429s: kept planned
    detects=True,
    sheet=[ANN_AT],
    story=[Day((), DIED_IN_FLIGHT), Day((), Night(faults=(Fault.THROTTLED,) * MAX_ANSWERS))],
)
def test_the_ledger_never_calls_a_row_at_the_vendor_surely_not_sent(
    detects: bool, sheet: list[Person], story: list[Day]
) -> None:
    live_nights(detects, sheet, story, check_doubts=True)
