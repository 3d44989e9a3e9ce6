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
- **Rate limit**: one row per vendor account in ``importer.buckets``, a token bucket that
  every worker updates atomically (one ``UPDATE ... RETURNING``), taking a few tokens at a
  time; a 429 empties it and moves its refill past the vendor's Retry-After, so every worker
  backs off together.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from importer.contracts.contract import RateLimit
from importer.ledger.interface import Claim, Settlement
from importer.ledger.postgres import PostgresLedger, connect, known_from_row
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
"""The share of the vendor's limit the bucket refills at: the rest absorbs network jitter."""
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
        self._lease = lease_seconds
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
                (self._lease, self._run_id, self.worker),
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
            (self.worker, self._lease, self._run_id, limit),
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
    return outcome.state is State.SKIPPED and outcome.reason in (Reason.ABORTED, Reason.DEFERRED)


# --- the shared rate limit ------------------------------------------------------------------

_AVAILABLE = (
    "LEAST(burst, tokens + rate * GREATEST(0, EXTRACT(EPOCH FROM clock_timestamp() - updated_at)))"
)
_GRANTED = f"GREATEST(0, LEAST(%(wanted)s, FLOOR({_AVAILABLE})))::int"


@dataclass(frozen=True, slots=True)
class BucketShape:
    """How fast a bucket refills (tokens a second) and how many it holds at most."""

    rate: float
    burst: float

    @classmethod
    def for_limits(cls, limits: Sequence[RateLimit]) -> BucketShape:
        """Return the bucket that keeps every one of ``limits`` (the strictest rate wins).

        A vendor that counts a sliding window of W seconds accepts at most L requests in any
        W seconds; a bucket sends at most ``burst + rate * W`` in W seconds, so it refills at
        ``SAFETY`` of L/W and holds a burst of 2% of L (at least one request).
        """
        if not limits:
            return cls(UNLIMITED, UNLIMITED)
        strictest = min(limits, key=lambda limit: limit.requests / limit.per_seconds)
        burst = max(1.0, math.floor(strictest.requests * 0.02))
        rate = (strictest.requests - burst) * SAFETY / strictest.per_seconds
        return cls(max(rate, 1e-6), burst)


class SharedBucket:
    """An account's rate limit, one row every worker takes tokens from; own connection."""

    def __init__(self, url: str, *, vendor: str, account: str, shape: BucketShape) -> None:
        """Connect, and create or reshape the account's bucket (full when new).

        Raises:
            ConfigError: when the database cannot be reached.
        """
        self._vendor = vendor
        self._account = account
        self._db: psycopg.Connection[Any] | None = connect(url)
        self._db.execute(
            "INSERT INTO importer.buckets (vendor, account, rate, burst, tokens, updated_at,"
            " blocked_until) VALUES (%s, %s, %s, %s, %s, clock_timestamp(), clock_timestamp())"
            " ON CONFLICT (vendor, account) DO UPDATE SET rate=EXCLUDED.rate,"
            " burst=EXCLUDED.burst, tokens=LEAST(importer.buckets.tokens, EXCLUDED.burst)",
            (vendor, account, shape.rate, shape.burst, shape.burst),
        )

    def take(self, wanted: int) -> tuple[int, float]:
        """Take up to ``wanted`` tokens at once; return (taken, seconds to wait when none).

        One atomic ``UPDATE ... RETURNING``: concurrent takers queue on the row's lock, and
        each sees the tokens the one before left.
        """
        row = (
            self._connection()
            .execute(
                "UPDATE importer.buckets SET"
                f" granted = {_GRANTED},"
                f" tokens = {_AVAILABLE} - {_GRANTED},"
                " updated_at = GREATEST(updated_at, clock_timestamp())"
                " WHERE vendor=%(vendor)s AND account=%(account)s"
                " RETURNING granted, tokens, rate,"
                " EXTRACT(EPOCH FROM updated_at - clock_timestamp())::float8",
                {"wanted": wanted, "vendor": self._vendor, "account": self._account},
            )
            .fetchone()
        )
        assert row is not None, "the bucket row is created on connect"
        granted, tokens, rate, ahead = row
        if granted:
            return int(granted), 0.0
        return 0, max(float(ahead), (1.0 - float(tokens)) / float(rate), 0.001)

    def block(self, seconds: float) -> None:
        """Empty the bucket and refill nothing for ``seconds`` (a 429): every worker waits."""
        self._connection().execute(
            "UPDATE importer.buckets SET tokens = 0, blocked_until = GREATEST(blocked_until,"
            " clock_timestamp() + make_interval(secs => %s)),"
            " updated_at = GREATEST(updated_at, clock_timestamp() + make_interval(secs => %s))"
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
