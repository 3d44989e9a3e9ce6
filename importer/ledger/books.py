"""Keep one run's books in the ledger: every row as it is read, claimed, and settled.

``record`` takes a chunk after dedupe: it gives each valid record its identity, asks the
lifecycle what the ledger's word on that identity means for this run (``lifecycle.triage``),
and records every row of the chunk with its state so far. As push's books, it claims a row
(its intent, committed) before the first request leaves, and settles its outcome after the
last answer, before the outcome counts: in batches (``commit``), one ledger transaction for
every row that queued while the previous one was written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import pandas as pd

from importer.ledger.interface import Claim, Ledger, RunRow, Settlement
from importer.lifecycle import (
    Answer,
    Known,
    Reason,
    RowOutcome,
    State,
    content_hash,
    kept_state,
    row_key,
    triage,
)
from importer.payload import Record


@dataclass(frozen=True, slots=True)
class _Identity:
    row_key: str
    content_hash: str
    seen: State | None


class Bookkeeper:
    """The ledger's view of one run."""

    def __init__(self, ledger: Ledger, *, run_id: str, resend_rejected: bool = False) -> None:
        """Keep the books of run ``run_id`` in ``ledger``.

        With ``resend_rejected``, rows the vendor refused before are sent again even unchanged
        (an offer that has become available, a fixed account).
        """
        self._ledger = ledger
        self._run_id = run_id
        self._resend_rejected = resend_rejected
        self._identities: dict[int, _Identity] = {}
        self._claimed: set[int] = set()
        self._occurrences: Counter[str] = Counter()

    def record(
        self,
        frame: pd.DataFrame,
        decided: Mapping[int, RowOutcome],
        records: Sequence[Record],
        keys: Mapping[int, object],
    ) -> tuple[list[Record], dict[int, RowOutcome]]:
        """Record a chunk's rows; return the records to send and every other row's outcome.

        Args:
            frame: The chunk as read (its cells are kept, so any report can be rebuilt).
            decided: Outcomes of rows already settled (malformed, invalid, duplicate).
            records: The valid, first-of-their-key rows, ready to send.
            keys: Each record's dedupe key (None or NaN where the row has none).
        """
        known = self._identify(records, keys)
        outcomes = dict(decided)
        to_send: list[Record] = []
        resolved: list[Known] = []
        for record in records:
            identity = self._identities[record.source_row]
            entry = known.get(identity.row_key)
            verdict = triage(
                record.source_row,
                entry,
                content_hash=identity.content_hash,
                resend_safe=record.resend_safe,
                resend_rejected=self._resend_rejected,
            )
            if verdict.send:
                to_send.append(replace(record, resent_doubt=verdict.resent_doubt))
                continue
            assert verdict.outcome is not None
            outcomes[record.source_row] = verdict.outcome
            if entry is not None and verdict.settles not in (None, entry.state):
                resolved.append(replace(entry, state=verdict.settles))
        if resolved:
            self._ledger.keep(resolved)
        self._ledger.plan(self._run_id, list(self._run_rows(frame, outcomes)))
        return to_send, outcomes

    def identity(self, source_row: int) -> tuple[str, str]:
        """Return the ledger identity (row key, content hash) of a row ``record`` returned."""
        found = self._identities[source_row]
        return found.row_key, found.content_hash

    def commit(
        self,
        claims: Sequence[Record],
        settled: Sequence[tuple[Record, RowOutcome, Sequence[Answer]]],
    ) -> list[bool]:
        """Claim rows and settle others' outcomes in one ledger commit; return the claims won.

        Push's writer thread calls it with every claim and outcome queued since its last
        commit: a row is sent only once the commit holding its claim returned (intent before
        send), and an outcome (with the answers that led to it) counts only once committed. A
        claim is lost (False) when another worker changed the row since this run looked.
        """
        bids = [self._claim(record) for record in claims]
        settlements = [self._settlement(*each) for each in settled]
        won = self._ledger.commit(self._run_id, bids, settlements)
        self._claimed.update(
            record.source_row for record, claimed in zip(claims, won, strict=True) if claimed
        )
        return won

    def _claim(self, record: Record) -> Claim:
        identity = self._identities[record.source_row]
        return Claim(identity.row_key, identity.content_hash, record.source_row, identity.seen)

    def _settlement(
        self, record: Record, outcome: RowOutcome, answers: Sequence[Answer]
    ) -> Settlement:
        """Return the outcome, and what the account keeps of the row's identity if it was sent."""
        identity = self._identities[record.source_row]
        kept = None  # never sent: the identity stays as it was
        if record.source_row in self._claimed:
            kept = kept_state(outcome, answers, resent_doubt=record.resent_doubt)
        return Settlement(identity.row_key, identity.content_hash, kept, outcome)

    def _identify(self, records: Sequence[Record], keys: Mapping[int, object]) -> dict[str, Known]:
        pending: dict[int, tuple[str, str]] = {}
        for record in records:
            digest = content_hash(record.body)
            key = keys.get(record.source_row)
            occurrence = 0
            if not isinstance(key, str) or not key.strip():
                self._occurrences[digest] += 1
                occurrence = self._occurrences[digest]
            pending[record.source_row] = (row_key(key, digest, occurrence), digest)
        known = self._ledger.known([key for key, _ in pending.values()])
        for source_row, (key, digest) in pending.items():
            entry = known.get(key)
            self._identities[source_row] = _Identity(key, digest, entry.state if entry else None)
        return known

    def _run_rows(self, frame: pd.DataFrame, outcomes: Mapping[int, RowOutcome]) -> list[RunRow]:
        rows = []
        cells = frame.astype(object).where(frame.notna(), None)
        for source_row, values in zip(
            frame.index.tolist(), cells.itertuples(index=False, name=None), strict=True
        ):
            outcome = outcomes.get(source_row) or RowOutcome(
                source_row, State.PLANNED, Reason.CUT_SHORT
            )
            identity = self._identities.get(source_row)
            rows.append(RunRow(outcome, identity.row_key if identity else None, tuple(values)))
        return rows
