"""A row's life: its states, the moves between them, and what each answer makes of it.

This module is the whole of a row's fate. Push, the ledger and the report speak only its
words; a report's status is derived from a row's state here, never decided elsewhere::

    planned ──> sending ──> created | conflicted | failed(reason) | unknown
       │           │  └──> sending  (re-sent: only where the vendor detects this row's duplicate)
       │           └──> planned | skipped(reason)   (nothing reached the vendor: try again later)
       └──> failed(validation) | duplicate | skipped(reason) | unknown (an earlier send in doubt)
    failed ──> sending                     (a later run sends a changed or --resend-rejected row)
    unknown ──(a person)──> created (the vendor has it) | planned (it does not: send again)

A row is known across runs by its **identity**: the vendor **account** (the vendor and its
normalized base URL, or a name the user gives; never a secret) and the **row key** (its dedupe
key, or for a row without one its content and its occurrence among identical rows). The rule
this module exists to keep: a row whose earlier send may have been stored is never sent again,
unless the vendor detects the duplicate by a field this very row carries.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

SOURCE_ROW = "source_row"
"""Name of the index of every chunk: the row number a spreadsheet app shows (header = 1)."""


class State(StrEnum):
    """Where a row is in its life."""

    PLANNED = "planned"
    SENDING = "sending"
    CREATED = "created"
    CONFLICTED = "conflicted"
    FAILED = "failed"
    UNKNOWN = "unknown"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"


MOVES: Mapping[State, frozenset[State]] = {
    State.PLANNED: frozenset(
        {State.SENDING, State.FAILED, State.DUPLICATE, State.SKIPPED, State.UNKNOWN}
    ),
    State.SENDING: frozenset(
        {
            State.CREATED,
            State.CONFLICTED,
            State.FAILED,
            State.UNKNOWN,
            State.PLANNED,
            State.SKIPPED,
            State.SENDING,
        }
    ),
    State.FAILED: frozenset({State.SENDING}),
    State.UNKNOWN: frozenset({State.CREATED, State.PLANNED}),
    State.CREATED: frozenset(),
    State.CONFLICTED: frozenset(),
    State.DUPLICATE: frozenset(),
    State.SKIPPED: frozenset(),
}
"""Every allowed move; a state missing from a set is a move the lifecycle refuses."""


class InvalidMove(RuntimeError):
    """Raised when code asks a row to move where its lifecycle does not allow (a bug)."""


def move(current: State | None, new: State) -> State:
    """Return ``new`` if a row in ``current`` (None: never seen) may move there.

    Raises:
        InvalidMove: when the lifecycle has no such move.
    """
    start = State.PLANNED if current is None else current
    if new not in MOVES[start] and not (current is None and new is State.PLANNED):
        raise InvalidMove(f"a {start} row cannot become {new}")
    return new


class Status(StrEnum):
    """Where a row ended up in a run's report (derived from its state)."""

    CREATED = "created"
    CONFLICTED = "conflicted"
    FAILED = "failed"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"


class Reason(StrEnum):
    """Why a row has its state (closed list; the README documents each code)."""

    CREATED = "created"
    ALREADY_EXISTS = "already_exists"
    CREATED_BY_EARLIER_ATTEMPT = "created_by_earlier_attempt"
    CREATED_BY_EARLIER_RUN = "created_by_earlier_run"
    FOUND_BY_PERSON = "found_by_person"
    VALIDATION = "validation"
    MALFORMED_ROW = "malformed_row"
    VENDOR_REJECTED = "vendor_rejected"
    RETRIES_EXHAUSTED = "retries_exhausted"
    OUTCOME_UNKNOWN = "outcome_unknown"
    DUPLICATE_IN_FILE = "duplicate_in_file"
    ALREADY_SYNCED = "already_synced"
    CHANGED_SINCE_SYNC = "changed_since_sync"
    ABORTED = "aborted"
    DEFERRED = "deferred"
    DRY_RUN = "dry_run"
    MISSING_AT_VENDOR = "missing_at_vendor"
    CUT_SHORT = "cut_short"


STATUS_OF: Mapping[State, Status] = {
    State.CREATED: Status.CREATED,
    State.CONFLICTED: Status.CONFLICTED,
    State.FAILED: Status.FAILED,
    State.UNKNOWN: Status.FAILED,
    State.DUPLICATE: Status.DUPLICATE,
    State.SKIPPED: Status.SKIPPED,
    State.PLANNED: Status.SKIPPED,
    State.SENDING: Status.FAILED,
}
"""A row's report status; ``planned`` and ``sending`` appear only in a run cut short."""


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """A row's state in one run, with why, for the report and the ledger."""

    source_row: int
    state: State
    reason: Reason
    message: str = ""
    http_status: int | None = None
    vendor_id: str | None = None
    attempts: int = 0

    @property
    def status(self) -> Status:
        """Return the report status this state is shown as."""
        return STATUS_OF[self.state]


def as_reported(outcome: RowOutcome) -> RowOutcome:
    """Return how a run cut short reports a row it left ``planned`` or ``sending``."""
    if outcome.state is State.PLANNED:
        return replace(
            outcome,
            reason=Reason.CUT_SHORT,
            message="the run was cut short before this row was sent; a re-run sends it",
        )
    if outcome.state is State.SENDING:
        return replace(
            outcome,
            reason=Reason.CUT_SHORT,
            message="the run was cut short while sending this row; the next run resolves it",
        )
    return outcome


# --- What one answer says -------------------------------------------------------------------


class Verdict(StrEnum):
    """What one HTTP attempt's answer means for the row (``push.classify`` decides it)."""

    CREATED = "created"
    CONFLICT = "conflict"
    REJECTED = "rejected"
    FATAL = "fatal"
    RETRY_SAFE = "retry_safe"
    MAYBE_PROCESSED = "maybe_processed"


@dataclass(frozen=True, slots=True)
class Answer:
    """One attempt's outcome, classified."""

    verdict: Verdict
    message: str
    http_status: int | None = None
    vendor_id: str | None = None
    retry_after: float | None = None


def may_be_stored(answers: Sequence[Answer]) -> bool:
    """Return whether any answer leaves open that the vendor stored the record."""
    return any(answer.verdict is Verdict.MAYBE_PROCESSED for answer in answers)


def may_send_again(answer: Answer, *, resend_safe: bool) -> bool:
    """Return whether a row may be sent again after this answer (in this run)."""
    if answer.verdict is Verdict.RETRY_SAFE:
        return True
    return answer.verdict is Verdict.MAYBE_PROCESSED and resend_safe


def judge(
    source_row: int,
    answers: Sequence[Answer],
    *,
    resend_safe: bool,
    resent_doubt: bool,
    stopped: tuple[Reason, str] | None,
    heard_from_vendor: bool,
) -> RowOutcome:
    """Return a row's outcome after its last attempt of this run.

    Args:
        source_row: The row's number in the sheet.
        answers: Every answer of this run's attempts, in order (empty: never sent).
        resend_safe: Whether the vendor detects a duplicate of this very row.
        resent_doubt: Whether an earlier run's send of this row was in doubt.
        stopped: Why the run stopped sending, if it did (reason, words).
        heard_from_vendor: Whether any HTTP answer came back during the run.
    """
    last = answers[-1] if answers else None
    if (
        last is None
        or last.verdict is Verdict.FATAL
        or (stopped is not None and may_send_again(last, resend_safe=resend_safe))
    ):
        return _not_sent(source_row, answers, stopped, heard_from_vendor, resend_safe)
    state, reason, message = _answered(last, answers, resend_safe, resent_doubt)
    vendor_id = last.vendor_id if state is State.CREATED else None
    return RowOutcome(source_row, state, reason, message, last.http_status, vendor_id, len(answers))


def _answered(
    last: Answer, answers: Sequence[Answer], resend_safe: bool, resent_doubt: bool
) -> tuple[State, Reason, str]:
    """Return the state, reason and message of a row whose last attempt was answered."""
    if last.verdict is Verdict.CREATED:
        return State.CREATED, Reason.CREATED, ""
    if last.verdict is Verdict.CONFLICT:
        return (State.CONFLICTED, *_conflict(last, answers, resent_doubt))
    if last.verdict is Verdict.REJECTED:
        return State.FAILED, Reason.VENDOR_REJECTED, last.message
    if may_be_stored(answers) and not resend_safe:
        message = (
            f"{last.message}; the vendor may have stored it and cannot detect a re-send of this "
            "row: check at the vendor, then tell the ledger with 'importer settle'"
        )
        return State.UNKNOWN, Reason.OUTCOME_UNKNOWN, message
    return (
        State.FAILED,
        Reason.RETRIES_EXHAUSTED,
        f"gave up after {len(answers)} attempts: {last.message}",
    )


def _conflict(last: Answer, answers: Sequence[Answer], resent_doubt: bool) -> tuple[Reason, str]:
    if may_be_stored(answers[:-1]):
        why = "an earlier attempt of this run got no answer; it created this record"
        return Reason.CREATED_BY_EARLIER_ATTEMPT, f"{last.message} ({why})"
    if resent_doubt:
        why = "an earlier run was interrupted while sending this row; it created this record"
        return Reason.CREATED_BY_EARLIER_RUN, f"{last.message} ({why})"
    return Reason.ALREADY_EXISTS, last.message


def _not_sent(
    source_row: int,
    answers: Sequence[Answer],
    stopped: tuple[Reason, str] | None,
    heard_from_vendor: bool,
    resend_safe: bool,
) -> RowOutcome:
    reason, words = stopped or (Reason.ABORTED, "the run stopped")
    last = answers[-1] if answers else None
    if last is not None and last.verdict is not Verdict.FATAL and heard_from_vendor:
        what = f"no final answer after {len(answers)} attempt(s), last: {last.message}"
    else:
        what = "not sent"
    if may_be_stored(answers) and not resend_safe:
        message = f"{what}; {words}; the vendor may have stored it: check, then 'importer settle'"
        return RowOutcome(
            source_row,
            State.UNKNOWN,
            Reason.OUTCOME_UNKNOWN,
            message,
            http_status=last.http_status if last else None,
            attempts=len(answers),
        )
    return RowOutcome(
        source_row,
        State.SKIPPED,
        reason,
        f"{what}; {words}; a re-run sends it",
        http_status=last.http_status if last else None,
        attempts=len(answers),
    )


# --- What the ledger keeps of a row across runs ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Known:
    """The ledger's last word on one row identity of an account."""

    row_key: str
    content_hash: str
    state: State
    reason: Reason
    run_id: str
    source_row: int
    http_status: int | None = None
    vendor_id: str | None = None
    message: str = ""


def kept_state(
    outcome: RowOutcome, answers: Sequence[Answer], *, resent_doubt: bool = False
) -> State:
    """Return what the ledger keeps of a row identity after this run's outcome.

    A row that may be at the vendor (an answer of this run was lost, or it was re-sent because
    an earlier run's send was in doubt) stays ``sending``, in doubt, unless this run settled it
    (``created``, ``conflicted``) or left it to a person (``unknown``), whatever else the
    vendor answered since. A row the vendor refused is ``failed``; a row that surely never
    reached the vendor is ``planned`` again.
    """
    if outcome.state in (State.CREATED, State.CONFLICTED, State.UNKNOWN):
        return outcome.state
    if resent_doubt or may_be_stored(answers):
        return State.SENDING
    if outcome.reason is Reason.VENDOR_REJECTED:
        return State.FAILED
    return State.PLANNED


@dataclass(frozen=True, slots=True)
class Triage:
    """What a run does with a valid row, given what the ledger knows of it."""

    send: bool
    outcome: RowOutcome | None = None
    """The row's outcome when it is not sent."""
    resent_doubt: bool = False
    """The row is sent although an earlier send may have stored it (its vendor detects that)."""
    settles: State | None = None
    """What the ledger's entry becomes now, before anything is sent (an in-doubt row)."""


def triage(
    source_row: int,
    known: Known | None,
    *,
    content_hash: str,
    resend_safe: bool,
    resend_rejected: bool = False,
) -> Triage:
    """Decide whether this run sends a valid row, from what the ledger knows of its identity."""
    if known is None or known.state is State.PLANNED:
        return Triage(send=True)
    same = known.content_hash == content_hash
    earlier = f"run {known.run_id} (row {known.source_row})"
    if known.state in (State.CREATED, State.CONFLICTED):
        if same:
            what = f"vendor id {known.vendor_id}" if known.vendor_id else "the vendor had it"
            message, reason = f"already synced by {earlier}; {what}", Reason.ALREADY_SYNCED
        else:
            message = (
                f"changed since {earlier} synced it; the vendor has no update endpoint, so the "
                "change was not sent"
            )
            reason = Reason.CHANGED_SINCE_SYNC
        outcome = RowOutcome(source_row, State.SKIPPED, reason, message, vendor_id=known.vendor_id)
        return Triage(send=False, outcome=outcome)
    if known.state is State.FAILED:
        if same and not resend_rejected and known.reason is Reason.VENDOR_REJECTED:
            message = (
                f"{known.message} (unchanged since {earlier}; not re-sent: --resend-rejected "
                "sends it again)"
            )
            outcome = RowOutcome(
                source_row, State.FAILED, known.reason, message, http_status=known.http_status
            )
            return Triage(send=False, outcome=outcome)
        return Triage(send=True)
    if known.state is State.SENDING and resend_safe:
        return Triage(send=True, resent_doubt=True)
    message = (
        f"{earlier} sent this row and got no answer; the vendor may have stored it and cannot "
        "detect a re-send of this row, so it is not sent again: check at the vendor, then tell "
        "the ledger with 'importer settle' (only rows marked missing are sent again)"
    )
    if known.state is State.UNKNOWN and known.message:
        message = f"{message}; first seen: {known.message}"
    outcome = RowOutcome(source_row, State.UNKNOWN, Reason.OUTCOME_UNKNOWN, message)
    return Triage(send=False, outcome=outcome, settles=State.UNKNOWN)


def settle_by_person(known: Known, *, found: bool, vendor_id: str | None) -> Known:
    """Return the ledger's entry after a person checked the vendor for an ``unknown`` row.

    Raises:
        InvalidMove: when the row is not in doubt (``unknown``, or ``sending`` from a run that
            died); a settled row cannot be settled again.
    """
    start = State.UNKNOWN if known.state is State.SENDING else known.state
    if found:
        return replace(
            known,
            state=move(start, State.CREATED),
            reason=Reason.FOUND_BY_PERSON,
            vendor_id=vendor_id or known.vendor_id,
            message="a person found it at the vendor",
        )
    return replace(
        known,
        state=move(start, State.PLANNED),
        reason=Reason.MISSING_AT_VENDOR,
        message="a person found it missing at the vendor; the next run sends it",
    )


# --- Identities ------------------------------------------------------------------------------

DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK = "loopback"


def account_of(base_url: str) -> str:
    """Return the account a base URL names: what a user calls "the same vendor account".

    Scheme and host are lower-cased, the default port, any user, query and trailing slash are
    dropped, and every loopback name (``localhost``, ``127.0.0.1``, ``::1``) is one. A secret is
    never part of an account.
    """
    parts = urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if _is_loopback(host):
        host = LOOPBACK
    elif ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc}{path}"


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def content_hash(body: Mapping[str, Any]) -> str:
    """Return a short, stable hash of a request body."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def row_key(dedupe_key: object, content: str, occurrence: int) -> str:
    """Return a row's key in the ledger.

    A row with a dedupe key is known by it (``key:...``). A row without one (an empty or
    missing key field) is known by the hash of what it sends and its occurrence among identical
    rows of the sheet (``content:<hash>#2``): rows never collapse into one, appended rows are
    new, and an edited row is a new row (sent again as a new record).
    """
    if isinstance(dedupe_key, str) and dedupe_key.strip():
        return f"key:{dedupe_key}"
    return f"content:{content}#{occurrence}"


def resend_is_safe(detected_by: Sequence[str], body: Mapping[str, Any]) -> bool:
    """Return whether the vendor would detect a re-send of this row as a duplicate.

    Only where the contract says the vendor detects duplicates by fields (``detected_by``) and
    this row carries every one of them.
    """
    return bool(detected_by) and all(_has(body, path) for path in detected_by)


def _has(body: Mapping[str, Any], path: str) -> bool:
    node: Any = body
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return node not in (None, "", [], {})
