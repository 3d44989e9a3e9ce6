"""Keep the books of one run against the ledger: what to send, and every step durably.

``triage`` decides, before anything is sent, what the ledger says about each record: already
synced, changed since it was created, refused before and unchanged, in doubt from a run that
died, or to be sent. As ``PushHooks``, the bookkeeper commits a row's intent before its first
request and its outcome after the last answer, before the outcome counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from importer.contracts.contract import Contract
from importer.ledger.sqlite import Entry, Ledger, LedgerState, content_hash
from importer.lifecycle import Reason, RowOutcome, Status
from importer.payload import Record
from importer.push.classify import Answer, Verdict

SETTLED_STATES = {
    Status.CREATED: LedgerState.CREATED,
    Status.CONFLICTED: LedgerState.CONFLICTED,
}


@dataclass(frozen=True, slots=True)
class Identity:
    """A record's key in the ledger and the hash of what it sends."""

    row_key: str
    content_hash: str


class Bookkeeper:
    """The ledger's view of one run: triage before sending, intent and outcome while sending."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        contract: Contract,
        run_id: str,
        resend_rejected: bool = False,
        resend_unknown: bool = False,
    ) -> None:
        """Keep the books of run ``run_id`` for ``contract`` in ``ledger``.

        With ``resend_rejected``, rows the vendor refused before are sent again even unchanged
        (an offer that has become available, a fixed account). With ``resend_unknown``, rows
        whose outcome was unknown are sent again: a person has checked the vendor lacks them.
        """
        self._resend_rejected = resend_rejected
        self._resend_unknown = resend_unknown
        self._ledger = ledger
        self._contract = contract
        self._run_id = run_id
        self._identities: dict[int, Identity] = {}
        self._in_doubt: set[int] = set()
        self._occurrences: Counter[str] = Counter()

    def triage(
        self, records: Sequence[Record], keys: Mapping[int, str | None]
    ) -> tuple[list[Record], dict[int, RowOutcome]]:
        """Split records into those to send and the outcomes of those the ledger settles.

        ``keys`` holds each record's dedupe key (None for a row without one).
        """
        for record in records:
            self._identities[record.source_row] = self._identify(
                record, keys.get(record.source_row)
            )
        entries = self._ledger.entries(
            [self._identities[record.source_row].row_key for record in records]
        )
        to_send: list[Record] = []
        settled: dict[int, RowOutcome] = {}
        unknown: list[Entry] = []
        for record in records:
            identity = self._identities[record.source_row]
            entry = entries.get(identity.row_key)
            outcome = self._decide(record.source_row, identity, entry)
            if outcome is None:
                to_send.append(record)
                if entry is not None and entry.state is LedgerState.SENDING:
                    self._in_doubt.add(record.source_row)
            else:
                settled[record.source_row] = outcome
                if entry is not None and entry.state is LedgerState.SENDING:
                    unknown.append(
                        self._entry(record.source_row, outcome, LedgerState.OUTCOME_UNKNOWN)
                    )
        self._ledger.write(unknown)
        return to_send, settled

    async def before_attempt(self, record: Record, attempt: int) -> None:
        """Commit the intent to send before the first request leaves."""
        if attempt == 1:
            identity = self._identities[record.source_row]
            self._ledger.write(
                [
                    Entry(
                        identity.row_key,
                        identity.content_hash,
                        LedgerState.SENDING,
                        self._run_id,
                        record.source_row,
                        None,
                        None,
                        "",
                    )
                ]
            )

    async def after_attempt(self, record: Record, answer: Answer) -> None:
        """Learn nothing per attempt: only outcomes are booked."""

    def settle(self, record: Record, outcome: RowOutcome, answers: Sequence[Answer]) -> RowOutcome:
        """Commit the outcome, telling a 409 for a row in doubt as the earlier run's creation."""
        if record.source_row in self._in_doubt and outcome.status is Status.CONFLICTED:
            outcome = RowOutcome(
                outcome.source_row,
                Status.CONFLICTED,
                Reason.CREATED_BY_EARLIER_RUN,
                f"{outcome.message} (an earlier run was interrupted while sending this row; "
                "it created this record)",
                http_status=outcome.http_status,
                attempts=outcome.attempts,
            )
        state = _state_of(outcome, answers)
        if state is not None:
            self._ledger.write([self._entry(record.source_row, outcome, state)])
        elif answers:
            self._forget_intent(record.source_row)
        return outcome

    def _identify(self, record: Record, key: str | None) -> Identity:
        digest = content_hash(record.body)
        if key is not None:
            return Identity(f"key:{key}", digest)
        self._occurrences[digest] += 1
        return Identity(f"content:{digest}#{self._occurrences[digest]}", digest)

    def _decide(
        self, source_row: int, identity: Identity, entry: Entry | None
    ) -> RowOutcome | None:
        if entry is None or entry.state is LedgerState.RETRYABLE:
            return None
        same = entry.content_hash == identity.content_hash
        earlier = f"run {entry.run_id} (row {entry.source_row})"
        if entry.state in (LedgerState.CREATED, LedgerState.CONFLICTED):
            if same:
                what = f"vendor id {entry.vendor_id}" if entry.vendor_id else "the vendor had it"
                return RowOutcome(
                    source_row,
                    Status.SKIPPED,
                    Reason.ALREADY_SYNCED,
                    f"already synced by {earlier}; {what}",
                    vendor_id=entry.vendor_id,
                )
            return RowOutcome(
                source_row,
                Status.SKIPPED,
                Reason.CHANGED_SINCE_SYNC,
                f"changed since {earlier} synced it; the vendor has no update "
                "endpoint, so the change was not sent",
                vendor_id=entry.vendor_id,
            )
        if entry.state is LedgerState.REJECTED:
            if same and not self._resend_rejected:
                return RowOutcome(
                    source_row,
                    Status.FAILED,
                    Reason.VENDOR_REJECTED,
                    f"{entry.message} (unchanged since {earlier}; not re-sent: "
                    "--resend-rejected sends it again)",
                    http_status=entry.http_status,
                )
            return None
        if self._resend_unknown or (
            entry.state is LedgerState.SENDING and self._contract.resend_is_safe
        ):
            return None
        return RowOutcome(
            source_row,
            Status.FAILED,
            Reason.OUTCOME_UNKNOWN,
            f"{earlier} sent this row and got no answer; the vendor may have stored it and "
            "cannot detect a re-send, so it is not sent again: check at the vendor, then "
            "--resend-unknown sends the rows it lacks",
        )

    def _entry(self, source_row: int, outcome: RowOutcome, state: LedgerState) -> Entry:
        identity = self._identities[source_row]
        return Entry(
            identity.row_key,
            identity.content_hash,
            state,
            self._run_id,
            source_row,
            outcome.http_status,
            outcome.vendor_id,
            outcome.message,
        )

    def _forget_intent(self, source_row: int) -> None:
        """Mark a row that was never processed as retryable (it may have had intent booked)."""
        identity = self._identities[source_row]
        self._ledger.write(
            [
                Entry(
                    identity.row_key,
                    identity.content_hash,
                    LedgerState.RETRYABLE,
                    self._run_id,
                    source_row,
                    None,
                    None,
                    "",
                )
            ]
        )


def _state_of(outcome: RowOutcome, answers: Sequence[Answer]) -> LedgerState | None:
    """Return what the ledger should remember of an outcome (None: the row was not processed)."""
    if outcome.status in SETTLED_STATES:
        return SETTLED_STATES[outcome.status]
    if outcome.reason is Reason.VENDOR_REJECTED:
        return LedgerState.REJECTED
    if outcome.reason is Reason.OUTCOME_UNKNOWN:
        return LedgerState.OUTCOME_UNKNOWN
    if any(answer.verdict is Verdict.MAYBE_PROCESSED for answer in answers):
        return LedgerState.SENDING  # in doubt: the next run resolves it like an interrupted send
    return None
