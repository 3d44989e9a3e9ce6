"""Many workers, one import: a planned run's rows as a work queue, and a shared rate limit.

An import is planned once (``importer plan``): every row to send waits in ``importer.work``
with its request body and ledger identity. Any number of workers (``importer work RUN_ID``, on
any machine) then take rows with PostgreSQL's own locking, no queue engine::

    lease ──> triage + claim ──> send ──> settle (the work row goes) | release (it waits again)
      (FOR UPDATE SKIP LOCKED, a lease that ends)       fenced: only while the lease is held

- **Lease**: a worker takes up to N rows nobody holds, or whose holder's lease ran out (a
  worker that died or stalled), and renews its leases while it works. In the same
  transaction each row is triaged against the ledger (``lifecycle.triage``) and, if it is to
  be sent, claimed (compare-and-set, ``sending``) before any request leaves. A row a dead
  worker left ``sending`` is in doubt: the triage re-sends it only where the vendor detects a
  duplicate of this very row, else it is ``unknown`` for a person (the same rules as a crash).
- **Settle** is fenced: an outcome counts only if its worker still holds the row's lease (a
  worker whose lease was taken over learns that its outcome was dropped). A row not sent
  because the worker stopped (a signal, refused credentials) is released for another worker.
- **The run ends** when its last row is settled: exactly one worker wins the run's end (an
  update that only succeeds while no work row is left) and records its totals.
- **Rate limit**: one row per vendor account in ``importer.buckets``, a token bucket kept as
  the time its next token is due, that every worker updates atomically (one ``UPDATE ...
  RETURNING``), taking a few tokens at a time; a 429 moves that time past the vendor's
  Retry-After, so every worker backs off together.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from importer.contracts.contract import RateLimit
from importer.ledger.interface import Claim, Settlement
from importer.ledger.postgres import PostgresLedger, connect, known_from_row, retrying
from importer.lifecycle import (
    Answer,
    Known,
    Reason,
    RowOutcome,
    State,
    kept_state,
    triage,
)
from importer.payload import Record

SAFETY = 0.97
"""The share of the vendor's limit the workers pace themselves at: the rest absorbs the jitter
between a token's time and the request's arrival at the vendor (up to 3% of the vendor's
window: 30 ms of a one-second window, 1.8 s of a one-minute one)."""
UNLIMITED = 1e9
"""The bucket's rate when no limit is known: only a 429 slows the workers."""


@dataclass(frozen=True, slots=True)
class WorkItem:
    """A planned row waiting for a worker: its identity and its request body."""

    source_row: int
    row_key: str
    content_hash: str
    body: dict[str, Any]
    resend_safe: bool


def enqueue(ledger: PostgresLedger, run_id: str, items: Sequence[WorkItem]) -> None:
    """Queue a planned run's rows to send (a row already queued stays as it is)."""
    if not items:
        return
    with ledger.transaction() as cursor:
        cursor.execute(
            "INSERT INTO importer.work (run_id, source_row, row_key, content_hash, body,"
            " resend_safe) SELECT %s, * FROM unnest(%s::int[], %s::text[], %s::text[],"
            " %s::text[], %s::bool[]) ON CONFLICT DO NOTHING",
            (
                run_id,
                [item.source_row for item in items],
                [item.row_key for item in items],
                [item.content_hash for item in items],
                [json.dumps(item.body, ensure_ascii=False) for item in items],
                [item.resend_safe for item in items],
            ),
        )


def remaining(ledger: PostgresLedger, run_id: str) -> int:
    """Return how many rows of the run are still queued or leased."""
    with ledger.transaction() as cursor:
        cursor.execute("SELECT count(*) FROM importer.work WHERE run_id=%s", (run_id,))
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@dataclass(slots=True)
class Fenced:
    """What a worker's settlements became: counted, or dropped because its lease was lost."""

    counted: list[RowOutcome]
    dropped: list[int]


class WorkQueue:
    """One worker's view of a planned run's queue."""

    def __init__(
        self,
        ledger: PostgresLedger,
        run_id: str,
        *,
        worker: str,
        lease_seconds: float,
        resend_rejected: bool = False,
    ) -> None:
        """Work on run ``run_id`` of ``ledger``'s account as ``worker``."""
        self._ledger = ledger
        self._run_id = run_id
        self.worker = worker
        self._lease_seconds = lease_seconds
        self._resend_rejected = resend_rejected
        self._items: dict[int, WorkItem] = {}
        self.taken_over = 0
        """Rows this worker leased after another worker's lease on them ran out."""

    @property
    def ledger(self) -> PostgresLedger:
        """Return the ledger this queue is in."""
        return self._ledger

    def lease(self, limit: int) -> tuple[list[Record], list[RowOutcome]]:
        """Lease up to ``limit`` rows; claim those to send, settle the others.

        Returns the records to send (each claimed, committed) and the outcomes of rows the
        triage settled without sending (already synced meanwhile, in doubt and unsafe to send).
        """
        leased: tuple[list[Record], list[RowOutcome]] = retrying(lambda: self._lease(limit))
        return leased

    def _lease(self, limit: int) -> tuple[list[Record], list[RowOutcome]]:
        with self._ledger.transaction() as cursor:
            items = self._take(cursor, limit)
            if not items:
                return [], []
            known = self._known(cursor, [item.row_key for item in items])
            records, claims, settled = self._triage(items, known)
            won = self._ledger.commit_in(cursor, self._run_id, claims, settled)
            lost = [claim.source_row for claim, ok in zip(claims, won, strict=True) if not ok]
            self._forget(cursor, [each.outcome.source_row for each in settled])
            self._release(cursor, lost)
        sent = [record for record in records if record.source_row not in set(lost)]
        self._items.update((item.source_row, item) for item in items)
        return sent, [each.outcome for each in settled]

    def settle(self, settled: Sequence[tuple[Record, RowOutcome, Sequence[Answer]]]) -> Fenced:
        """Commit outcomes of rows this worker sent, while it holds their leases.

        A row not sent because the worker stopped goes back to the queue for another worker.
        """
        fenced: Fenced = retrying(lambda: self._settle(settled))
        return fenced

    def _settle(self, settled: Sequence[tuple[Record, RowOutcome, Sequence[Answer]]]) -> Fenced:
        with self._ledger.transaction() as cursor:
            held = self._held(cursor, [record.source_row for record, _, _ in settled])
            fenced = Fenced([], [])
            settlements: list[Settlement] = []
            done: list[int] = []
            back: list[int] = []
            for record, outcome, answers in settled:
                if record.source_row not in held:
                    fenced.dropped.append(record.source_row)
                    continue
                item = self._items[record.source_row]
                kept = kept_state(outcome, answers, resent_doubt=record.resent_doubt)
                recorded = outcome
                if _not_sent_yet(outcome):
                    recorded = RowOutcome(outcome.source_row, State.PLANNED, Reason.CUT_SHORT)
                    back.append(record.source_row)
                else:
                    done.append(record.source_row)
                    fenced.counted.append(outcome)
                settlements.append(Settlement(item.row_key, item.content_hash, kept, recorded))
            self._ledger.commit_in(cursor, self._run_id, (), settlements)
            self._forget(cursor, done)
            self._release(cursor, back)
        for row in (*done, *back, *fenced.dropped):
            self._items.pop(row, None)
        return fenced

    def release(self, records: Sequence[Record]) -> None:
        """Give back rows this worker claimed but will not send (it is stopping)."""
        settled = [
            (record, RowOutcome(record.source_row, State.SKIPPED, Reason.ABORTED), ())
            for record in records
        ]
        self.settle(settled)

    def renew(self) -> int:
        """Extend this worker's leases; return how many rows it holds."""
        with self._ledger.transaction() as cursor:
            cursor.execute(
                "UPDATE importer.work SET lease_until = now() + make_interval(secs => %s)"
                " WHERE run_id=%s AND worker=%s",
                (self._lease_seconds, self._run_id, self.worker),
            )
            return cursor.rowcount

    def finish(self) -> bool:
        """Mark the run's end if no row is left; return whether this worker did (only one does)."""
        with self._ledger.transaction() as cursor:
            cursor.execute(
                "UPDATE importer.runs SET finished_at = to_char(now() AT TIME ZONE 'UTC',"
                " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS+00:00') WHERE run_id=%s AND ending='running'"
                " AND finished_at IS NULL"
                " AND NOT EXISTS (SELECT 1 FROM importer.work WHERE run_id=%s)",
                (self._run_id, self._run_id),
            )
            return cursor.rowcount == 1

    # --- helpers --------------------------------------------------------------------------

    def _take(self, cursor: psycopg.Cursor[Any], limit: int) -> list[WorkItem]:
        cursor.execute(
            "UPDATE importer.work AS w SET worker=%s,"
            " lease_until = now() + make_interval(secs => %s)"
            " FROM (SELECT run_id, source_row, worker IS NOT NULL AS held FROM importer.work"
            "  WHERE run_id=%s AND (lease_until IS NULL OR lease_until < now())"
            "  ORDER BY source_row LIMIT %s FOR UPDATE SKIP LOCKED) AS free"
            " WHERE w.run_id = free.run_id AND w.source_row = free.source_row"
            " RETURNING w.source_row, w.row_key, w.content_hash, w.body, w.resend_safe, free.held",
            (self.worker, self._lease_seconds, self._run_id, limit),
        )
        rows = cursor.fetchall()
        self.taken_over += sum(1 for *_, held in rows if held)
        return sorted(
            (
                WorkItem(row, key, digest, json.loads(body), safe)
                for row, key, digest, body, safe, _ in rows
            ),
            key=lambda item: item.source_row,
        )

    def _known(self, cursor: psycopg.Cursor[Any], row_keys: Sequence[str]) -> dict[str, Known]:
        cursor.execute(
            "SELECT row_key, content_hash, state, reason, run_id, source_row, http_status,"
            " vendor_id, message FROM importer.rows WHERE vendor=%s AND account=%s"
            " AND row_key = ANY(%s) ORDER BY row_key FOR UPDATE",
            (self._ledger.vendor, self._ledger.account, sorted(set(row_keys))),
        )
        return {row[0]: known_from_row(row) for row in cursor.fetchall()}

    def _triage(
        self, items: Sequence[WorkItem], known: dict[str, Known]
    ) -> tuple[list[Record], list[Claim], list[Settlement]]:
        records: list[Record] = []
        claims: list[Claim] = []
        settled: list[Settlement] = []
        for item in items:
            entry = known.get(item.row_key)
            verdict = triage(
                item.source_row,
                entry,
                content_hash=item.content_hash,
                resend_safe=item.resend_safe,
                resend_rejected=self._resend_rejected,
            )
            if verdict.send:
                expected = entry.state if entry else None
                claims.append(Claim(item.row_key, item.content_hash, item.source_row, expected))
                records.append(
                    Record(item.source_row, item.body, item.resend_safe, verdict.resent_doubt)
                )
                continue
            assert verdict.outcome is not None
            kept = verdict.settles if entry and verdict.settles is not entry.state else None
            settled.append(Settlement(item.row_key, item.content_hash, kept, verdict.outcome))
        return records, claims, settled

    def _held(self, cursor: psycopg.Cursor[Any], rows: Sequence[int]) -> set[int]:
        cursor.execute(
            "SELECT source_row FROM importer.work WHERE run_id=%s AND worker=%s"
            " AND source_row = ANY(%s) FOR UPDATE",
            (self._run_id, self.worker, list(rows)),
        )
        return {row[0] for row in cursor.fetchall()}

    def _forget(self, cursor: psycopg.Cursor[Any], rows: Sequence[int]) -> None:
        if rows:
            cursor.execute(
                "DELETE FROM importer.work WHERE run_id=%s AND source_row = ANY(%s)",
                (self._run_id, list(rows)),
            )

    def _release(self, cursor: psycopg.Cursor[Any], rows: Sequence[int]) -> None:
        if rows:
            cursor.execute(
                "UPDATE importer.work SET worker=NULL, lease_until=NULL"
                " WHERE run_id=%s AND source_row = ANY(%s)",
                (self._run_id, list(rows)),
            )


def _not_sent_yet(outcome: RowOutcome) -> bool:
    """Return whether a row was left unsent by a stopping worker (another may send it)."""
    if outcome.state is State.PLANNED:  # claimed ahead by push, then not sent
        return True
    return outcome.state is State.SKIPPED and outcome.reason in (Reason.ABORTED, Reason.DEFERRED)


# --- the shared rate limit ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BucketShape:
    """How many requests a second the account's workers may send together."""

    rate: float

    @classmethod
    def for_limits(cls, limits: Sequence[RateLimit]) -> BucketShape:
        """Return the pace that keeps every one of ``limits`` (the strictest rate wins).

        A vendor that counts a sliding window of W seconds accepts at most L requests in any
        W seconds. Tokens handed out evenly at ``rate`` put at most ``rate * W + 1`` requests
        in a window, so the rate is ``SAFETY`` of (L - 1) / W: the rest absorbs the jitter
        between a token's time and the request's arrival at the vendor.
        """
        if not limits:
            return cls(UNLIMITED)
        strictest = min(limits, key=lambda limit: limit.requests / limit.per_seconds)
        rate = max(strictest.requests - 1, 1) * SAFETY / strictest.per_seconds
        return cls(rate)


class SharedBucket:
    """An account's rate limit, one row every worker takes tokens from; own connection.

    The bucket is kept as the time its next token is due (GCRA, the virtual-scheduling form
    of a token bucket): taking k tokens moves that time k / rate ahead and hands the taker k
    evenly spaced times to send at. A worker that wakes late loses nothing to another, and
    no burst builds up while nobody sends.
    """

    def __init__(self, url: str, *, vendor: str, account: str, shape: BucketShape) -> None:
        """Connect, and create the account's bucket or give it this shape's rate.

        Raises:
            ConfigError: when the database cannot be reached.
        """
        self._vendor = vendor
        self._account = account
        self._db: psycopg.Connection[Any] | None = connect(url)
        self._db.execute(
            "INSERT INTO importer.buckets (vendor, account, rate, next_at, blocked_until)"
            " VALUES (%s, %s, %s, clock_timestamp(), clock_timestamp())"
            " ON CONFLICT (vendor, account) DO UPDATE SET rate=EXCLUDED.rate",
            (vendor, account, shape.rate),
        )

    def take(self, wanted: int) -> tuple[float, float]:
        """Take ``wanted`` tokens; return when the first is due (seconds from now) and the step.

        One atomic ``UPDATE ... RETURNING``: concurrent takers queue on the row's lock, and
        each gets the tokens after those the one before took.
        """
        row = (
            self._connection()
            .execute(
                "UPDATE importer.buckets SET next_at = GREATEST(next_at, clock_timestamp())"
                " + make_interval(secs => %(wanted)s / rate)"
                " WHERE vendor=%(vendor)s AND account=%(account)s"
                " RETURNING EXTRACT(EPOCH FROM next_at - clock_timestamp())::float8"
                " - %(wanted)s / rate, 1 / rate",
                {"wanted": wanted, "vendor": self._vendor, "account": self._account},
            )
            .fetchone()
        )
        assert row is not None, "the bucket row is created on connect"
        first, step = row
        return max(0.0, float(first)), float(step)

    def block(self, seconds: float) -> None:
        """Hand out no token for ``seconds`` (a 429): every worker's next take waits."""
        self._connection().execute(
            "UPDATE importer.buckets SET"
            " next_at = GREATEST(next_at, clock_timestamp() + make_interval(secs => %s)),"
            " blocked_until = GREATEST(blocked_until,"
            "  clock_timestamp() + make_interval(secs => %s))"
            " WHERE vendor=%s AND account=%s",
            (seconds, seconds, self._vendor, self._account),
        )

    def close(self) -> None:
        """Close the connection; calling it again does nothing."""
        db, self._db = self._db, None
        if db is not None:
            db.close()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._db is None:
            raise RuntimeError("the bucket is closed")
        return self._db
