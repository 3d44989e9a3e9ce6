"""The ledger in a PostgreSQL database (``--state postgresql://user@host/db``), shared by workers.

The same records and promises as the SQLite ledger, for workers on several machines and for
containers whose disk is wiped after each run. Everything lives in the schema ``importer`` of
the database; its version is kept in ``importer.meta`` and migrated in place under an
advisory lock (two workers starting together migrate once), and a ledger
written by a newer importer is refused, never altered.

- **Claims** are compare-and-set: the identities a batch touches are locked (``FOR UPDATE``,
  in key order, so two batches never deadlock on each other), each claim wins only if its row
  is still as the claimer saw it, and a row the ledger did not know is inserted with ``ON
  CONFLICT DO NOTHING``, so of two workers claiming a new row at once exactly one wins.
- **The run lock** is a session advisory lock per vendor and account: exclusive for a run (or a
  person's settlement), shared for the workers of a planned import (``importer.ledger.work``).
  The server releases it when the holder's connection ends, so a killed run never leaves it
  held, and ``history`` tells a live run from a killed one through ``pg_locks``, taking nothing.
- Transactions commit with the server's ``synchronous_commit`` (on by default: durable when
  ``commit`` returns). One connection per ledger, shared by the pipeline and push's writer
  thread under a lock.
- The URL's password is never shown (``redact.safe_url``); give it in the URL or in libpq's
  own ``PGPASSWORD`` or ``~/.pgpass``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from importer.errors import ConfigError
from importer.ledger.interface import (
    CUT_SHORT,
    TOTALS,
    Claim,
    LedgerTooNew,
    Run,
    RunLocked,
    RunRow,
    Settlement,
    UnknownRun,
)
from importer.lifecycle import STATUS_OF, Known, Reason, RowOutcome, State, move
from importer.redact import safe_url

SCHEMA_VERSION = 1
LOCK_CLASS = 0x494D50  # "IMP": the first key of every advisory lock the importer takes
MIGRATION_LOCK = 0
CONNECT_TIMEOUT_SECONDS = 10
PAGE_ROWS = 5_000
RETRIES = 5
"""How often a transaction is tried again when the server broke a deadlock by ending it."""

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS importer;
CREATE TABLE importer.rows (
    vendor TEXT NOT NULL,
    account TEXT NOT NULL,
    row_key TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    run_id TEXT NOT NULL,
    source_row INTEGER NOT NULL,
    http_status INTEGER,
    vendor_id TEXT,
    message TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (vendor, account, row_key)
);
CREATE TABLE importer.runs (
    run_id TEXT PRIMARY KEY,
    vendor TEXT NOT NULL,
    account TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    ending TEXT NOT NULL,
    source_file TEXT NOT NULL,
    columns TEXT NOT NULL,
    arguments TEXT NOT NULL,
    totals TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX runs_by_account ON importer.runs (vendor, account, started_at);
CREATE TABLE importer.run_rows (
    run_id TEXT NOT NULL,
    source_row INTEGER NOT NULL,
    row_key TEXT,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    http_status INTEGER,
    vendor_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    cells TEXT NOT NULL,
    PRIMARY KEY (run_id, source_row)
);
CREATE TABLE importer.work (
    run_id TEXT NOT NULL,
    source_row INTEGER NOT NULL,
    row_key TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    body TEXT NOT NULL,
    resend_safe BOOLEAN NOT NULL,
    worker TEXT,
    lease_until TIMESTAMPTZ,
    PRIMARY KEY (run_id, source_row)
);
CREATE TABLE importer.buckets (
    vendor TEXT NOT NULL,
    account TEXT NOT NULL,
    rate DOUBLE PRECISION NOT NULL,
    next_at TIMESTAMPTZ NOT NULL,
    blocked_until TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (vendor, account)
);
CREATE TABLE importer.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
"""Version 1. ``work`` holds the rows of a planned import still to send, with their request
bodies and leases; ``buckets`` the rate limit each account's workers share (see
``importer.ledger.work``). JSON is kept as text: PostgreSQL's ``jsonb`` refuses a NUL
character, which a hostile sheet's cell may hold."""

_KNOWN_COLUMNS = (
    "row_key, content_hash, state, reason, run_id, source_row, http_status, vendor_id, message"
)
_RUN_COLUMNS = (
    "run_id, vendor, account, started_at, finished_at, ending, source_file, columns, arguments,"
    " totals"
)
_OUTCOME_COLUMNS = ("state", "reason", "message", "http_status", "vendor_id", "attempts")


def connect(url: str) -> psycopg.Connection[Any]:
    """Open an autocommit connection to the ledger's database.

    Raises:
        ConfigError: when the server cannot be reached or refuses the connection (the message
            shows the URL without its password).
    """
    try:
        return psycopg.connect(
            url.strip(),
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="importer",
        )
    except psycopg.Error as error:
        raise ConfigError(
            f"cannot use the ledger at {safe_url(url)}: {_first_line(error)}"
        ) from None


class PostgresLedger:
    """The ledger of one vendor account in a PostgreSQL database, with the account's run lock."""

    def __init__(self, url: str, *, vendor: str, account: str, lock: bool | str = True) -> None:
        """Connect to (creating and migrating) the ledger at ``url``.

        Args:
            url: ``postgresql://user[:password]@host[:port]/database`` (libpq's URL).
            vendor: The vendor id.
            account: The account (``lifecycle.account_of`` or a name the user gave).
            lock: ``True`` takes the account's run lock alone (a run, a person's settlement),
                ``"shared"`` together with the other workers of a planned import, ``False``
                none (reading a report back).

        Raises:
            RunLocked: when another run of the account holds the lock.
            LedgerTooNew: when a newer importer wrote the ledger.
            ConfigError: when the database cannot be reached or used.
        """
        self.vendor = vendor
        self.account = account
        self.url = url
        self._guard = threading.RLock()  # push's writer thread and the pipeline share it
        self._db: psycopg.Connection[Any] | None = connect(url)
        try:
            migrate(self.db, url)
            if lock:
                self._take_lock(shared=lock == "shared")
        except BaseException:
            self.close()
            raise

    @property
    def db(self) -> psycopg.Connection[Any]:
        """Return the open connection.

        Raises:
            RuntimeError: when the ledger was closed.
        """
        if self._db is None:
            raise RuntimeError("the ledger is closed")
        return self._db

    # --- runs -----------------------------------------------------------------------------

    def begin_run(self, run: Run) -> None:
        """Record that a run started."""
        with self._transaction() as cursor:
            cursor.execute(
                f"INSERT INTO importer.runs ({_RUN_COLUMNS})"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                (
                    run.run_id,
                    run.vendor,
                    run.account,
                    run.started_at,
                    run.finished_at,
                    run.ending,
                    _text(run.source_file),
                    _json(list(run.columns)),
                    _json(dict(run.arguments)),
                    _json(dict(run.totals)),
                ),
            )

    def end_run(self, run_id: str, *, ending: str, totals: Mapping[str, Any]) -> None:
        """Record how a run ended and its totals."""
        with self._transaction() as cursor:
            cursor.execute(
                "UPDATE importer.runs SET ending=%s, finished_at=%s, totals=%s WHERE run_id=%s",
                (ending, _now(), _json(dict(totals)), run_id),
            )

    def runs(self, limit: int | None = None) -> list[Run]:
        """Return the account's runs, newest first."""
        with self._guard:
            rows = self.db.execute(
                f"SELECT {_RUN_COLUMNS} FROM importer.runs WHERE vendor=%s AND account=%s"
                " ORDER BY started_at DESC, run_id DESC LIMIT %s",
                (self.vendor, self.account, limit),
            ).fetchall()
        return [_run(row) for row in rows]

    def run(self, run_id: str) -> Run:
        """Return one run of any account in this ledger.

        Raises:
            UnknownRun: when there is no such run.
        """
        with self._guard:
            return find_run(self.db, run_id)

    def history(self, *, vendor: str | None = None, limit: int | None = None) -> list[Run]:
        """Return the runs of every account (only ``vendor``'s, if given), newest first."""
        with self._guard:
            return run_history(self.db, vendor=vendor, limit=limit)

    # --- rows -----------------------------------------------------------------------------

    def known(self, row_keys: Sequence[str]) -> dict[str, Known]:
        """Return what the ledger knows of those row identities."""
        with self._guard:
            rows = self.db.execute(
                f"SELECT {_KNOWN_COLUMNS} FROM importer.rows"
                " WHERE vendor=%s AND account=%s AND row_key = ANY(%s)",
                (self.vendor, self.account, list(row_keys)),
            ).fetchall()
        return {row[0]: known_from_row(row) for row in rows}

    def plan(self, run_id: str, rows: Sequence[RunRow]) -> None:
        """Record rows of a run as it reads them, each with its state so far."""
        if not rows:
            return
        columns = list(zip(*(_run_row_values(row) for row in rows), strict=True))
        with self._transaction() as cursor:
            cursor.execute(
                "INSERT INTO importer.run_rows (run_id, source_row, row_key, state, reason,"
                " message, http_status, vendor_id, attempts, cells)"
                " SELECT %s, * FROM unnest(%s::int[], %s::text[], %s::text[], %s::text[],"
                " %s::text[], %s::int[], %s::text[], %s::int[], %s::text[])"
                " ON CONFLICT (run_id, source_row) DO UPDATE SET row_key=EXCLUDED.row_key,"
                " state=EXCLUDED.state, reason=EXCLUDED.reason, message=EXCLUDED.message,"
                " http_status=EXCLUDED.http_status, vendor_id=EXCLUDED.vendor_id,"
                " attempts=EXCLUDED.attempts, cells=EXCLUDED.cells",
                (run_id, *map(list, columns)),
            )

    def claim(self, run_id: str, claims: Sequence[Claim]) -> list[bool]:
        """Commit the intent to send each row; return, per claim, whether it was won."""
        return self.commit(run_id, claims, ())

    def settle(self, run_id: str, settlements: Sequence[Settlement]) -> None:
        """Commit row outcomes and what the account keeps of each identity."""
        self.commit(run_id, (), settlements)

    def commit(
        self, run_id: str, claims: Sequence[Claim], settlements: Sequence[Settlement]
    ) -> list[bool]:
        """Claim rows and settle others in one transaction; return, per claim, whether it was won.

        Raises:
            InvalidMove: when a move is not the lifecycle's; nothing of the batch is committed.
        """

        def attempt() -> list[bool]:
            with self._transaction() as cursor:
                return self.commit_in(cursor, run_id, claims, settlements)

        won: list[bool] = retrying(attempt)
        return won

    def commit_in(
        self,
        cursor: psycopg.Cursor[Any],
        run_id: str,
        claims: Sequence[Claim],
        settlements: Sequence[Settlement],
    ) -> list[bool]:
        """Claim and settle inside the caller's transaction (see ``commit``)."""
        states = self._lock_states(
            cursor,
            [claim.row_key for claim in claims]
            + [each.row_key for each in settlements if each.kept is not None],
        )
        now = _now()
        won = self._claim_rows(cursor, run_id, claims, states, now)
        self._settle_rows(cursor, run_id, settlements, states, now)
        return won

    def _claim_rows(
        self,
        cursor: psycopg.Cursor[Any],
        run_id: str,
        claims: Sequence[Claim],
        states: dict[str, State],
        now: str,
    ) -> list[bool]:
        known_before = set(states)
        won: list[bool] = []
        entries: list[Known] = []
        for claim in claims:
            current = states.get(claim.row_key)
            if current is not claim.expected:
                won.append(False)
                continue
            states[claim.row_key] = move(current, State.SENDING)
            entries.append(
                Known(
                    claim.row_key,
                    claim.content_hash,
                    State.SENDING,
                    Reason.CUT_SHORT,  # until settled: a run cut short while sending it
                    run_id,
                    claim.source_row,
                )
            )
            won.append(True)
        # A row nobody knew was locked by nobody: of two claimers, the first insert wins.
        fresh = [entry for entry in entries if entry.row_key not in known_before]
        lost = self._insert_new(cursor, fresh, now)
        self._put(cursor, [entry for entry in entries if entry.row_key not in lost], now)
        if lost:
            won = [
                each and claim.row_key not in lost for each, claim in zip(won, claims, strict=True)
            ]
        claimed = [entry for entry in entries if entry.row_key not in lost]
        cursor.execute(
            "UPDATE importer.run_rows SET state=%s, reason=%s"
            " WHERE run_id=%s AND source_row = ANY(%s)",
            (
                State.SENDING.value,
                Reason.CUT_SHORT.value,
                run_id,
                [entry.source_row for entry in claimed],
            ),
        )
        return won

    def _settle_rows(
        self,
        cursor: psycopg.Cursor[Any],
        run_id: str,
        settlements: Sequence[Settlement],
        states: dict[str, State],
        now: str,
    ) -> None:
        entries: list[Known] = []
        for each in settlements:
            if each.kept is None:
                continue
            outcome = each.outcome
            states[each.row_key] = move(states.get(each.row_key), each.kept)
            entries.append(
                Known(
                    each.row_key,
                    each.content_hash,
                    each.kept,
                    outcome.reason,
                    run_id,
                    outcome.source_row,
                    outcome.http_status,
                    outcome.vendor_id,
                    outcome.message,
                )
            )
        self._put(cursor, entries, now)
        self.record_outcomes(cursor, run_id, [each.outcome for each in settlements])

    @staticmethod
    def record_outcomes(
        cursor: psycopg.Cursor[Any], run_id: str, outcomes: Sequence[RowOutcome]
    ) -> None:
        """Write run rows' outcomes (inside the caller's transaction)."""
        if not outcomes:
            return
        columns = list(zip(*(_outcome_values(outcome) for outcome in outcomes), strict=True))
        cursor.execute(
            "UPDATE importer.run_rows AS r SET state=u.state, reason=u.reason,"
            " message=u.message, http_status=u.http_status, vendor_id=u.vendor_id,"
            " attempts=u.attempts"
            " FROM unnest(%s::int[], %s::text[], %s::text[], %s::text[], %s::int[],"
            " %s::text[], %s::int[])"
            " AS u(source_row, state, reason, message, http_status, vendor_id, attempts)"
            " WHERE r.run_id=%s AND r.source_row=u.source_row",
            (*map(list, columns), run_id),
        )

    def keep(self, entries: Sequence[Known]) -> None:
        """Replace what the ledger knows of identities (a person's word, a doubt resolved).

        Raises:
            InvalidMove: when an entry's new state is not a lifecycle move from its old one.
        """

        def attempt() -> None:
            with self._transaction() as cursor:
                states = self._lock_states(cursor, [entry.row_key for entry in entries])
                for entry in entries:
                    current = states.get(entry.row_key)
                    if current is not entry.state:
                        states[entry.row_key] = move(current, entry.state)
                self._put(cursor, entries, _now())

        retrying(attempt)

    def run_rows(self, run_id: str) -> Iterator[RunRow]:
        """Yield every recorded row of a run, in sheet order (read a page at a time)."""
        after = -1
        while True:
            with self._guard:
                page = self.db.execute(
                    "SELECT source_row, row_key, state, reason, message, http_status, vendor_id,"
                    " attempts, cells FROM importer.run_rows WHERE run_id=%s AND source_row > %s"
                    " ORDER BY source_row LIMIT %s",
                    (run_id, after, PAGE_ROWS),
                ).fetchall()
            yield from map(_run_row, page)
            if len(page) < PAGE_ROWS:
                return
            after = page[-1][0]

    def close(self) -> None:
        """Close the connection (which releases the run lock); calling it again does nothing."""
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(psycopg.Error):
                db.close()

    # --- helpers --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        """Run a block in one transaction, committed on exit."""
        with self._guard, self.db.transaction(), self.db.cursor() as cursor:
            yield cursor

    def transaction(self) -> contextlib.AbstractContextManager[psycopg.Cursor[Any]]:
        """Return a context manager for one transaction on the ledger's connection."""
        return self._transaction()

    def lock_states(self, cursor: psycopg.Cursor[Any], row_keys: Sequence[str]) -> dict[str, State]:
        """Lock the identities the ledger knows among ``row_keys``; return their states."""
        return self._lock_states(cursor, row_keys)

    def _lock_states(
        self, cursor: psycopg.Cursor[Any], row_keys: Sequence[str]
    ) -> dict[str, State]:
        if not row_keys:
            return {}
        cursor.execute(
            "SELECT row_key, state FROM importer.rows WHERE vendor=%s AND account=%s"
            " AND row_key = ANY(%s) ORDER BY row_key FOR UPDATE",
            (self.vendor, self.account, sorted(set(row_keys))),
        )
        return {key: State(state) for key, state in cursor.fetchall()}

    def _insert_new(
        self, cursor: psycopg.Cursor[Any], entries: Sequence[Known], now: str
    ) -> set[str]:
        """Insert identities no one knew; return those another transaction inserted first."""
        if not entries:
            return set()
        cursor.execute(
            "INSERT INTO importer.rows SELECT * FROM unnest("
            "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
            " %s::int[], %s::int[], %s::text[], %s::text[], %s::text[])"
            " ON CONFLICT DO NOTHING RETURNING row_key",
            self._columns(entries, now),
        )
        inserted = {row[0] for row in cursor.fetchall()}
        return {entry.row_key for entry in entries} - inserted

    def _put(self, cursor: psycopg.Cursor[Any], entries: Sequence[Known], now: str) -> None:
        if not entries:
            return
        cursor.execute(
            "INSERT INTO importer.rows SELECT * FROM unnest("
            "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
            " %s::int[], %s::int[], %s::text[], %s::text[], %s::text[])"
            " ON CONFLICT (vendor, account, row_key) DO UPDATE SET"
            " content_hash=EXCLUDED.content_hash, state=EXCLUDED.state, reason=EXCLUDED.reason,"
            " run_id=EXCLUDED.run_id, source_row=EXCLUDED.source_row,"
            " http_status=EXCLUDED.http_status, vendor_id=EXCLUDED.vendor_id,"
            " message=EXCLUDED.message, updated_at=EXCLUDED.updated_at",
            self._columns(_last_per_key(entries), now),
        )

    def _columns(self, entries: Sequence[Known], now: str) -> list[list[Any]]:
        return [
            [self.vendor] * len(entries),
            [self.account] * len(entries),
            [_text(entry.row_key) for entry in entries],
            [entry.content_hash for entry in entries],
            [entry.state.value for entry in entries],
            [entry.reason.value for entry in entries],
            [entry.run_id for entry in entries],
            [entry.source_row for entry in entries],
            [entry.http_status for entry in entries],
            [_text(entry.vendor_id) for entry in entries],
            [_text(entry.message) or "" for entry in entries],
            [now] * len(entries),
        ]

    def _take_lock(self, *, shared: bool) -> None:
        """Take the account's run lock for this connection's life.

        Raises:
            RunLocked: when another run holds it (or, for a shared lock, a run holds it alone).
        """
        function = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
        with self._guard:
            row = self.db.execute(
                f"SELECT {function}(%s, %s)", (LOCK_CLASS, lock_key(self.vendor, self.account))
            ).fetchone()
        if not (row and row[0]):
            raise RunLocked(
                f"another run of {self.vendor} for account {self.account} is using the ledger at "
                f"{safe_url(self.url)}; wait for it to finish"
            )


def lock_key(vendor: str, account: str) -> int:
    """Return the second key of an account's advisory run lock (a stable 31-bit hash)."""
    digest = hashlib.blake2b(f"{vendor}\0{account}".encode(), digest_size=4).digest()
    return int.from_bytes(digest) & 0x7FFFFFFF


def lock_held(db: psycopg.Connection[Any], vendor: str, account: str) -> bool:
    """Return whether any session holds the account's run lock (alone or shared) right now."""
    row = db.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype='advisory' AND granted"
        " AND database=(SELECT oid FROM pg_database WHERE datname=current_database())"
        " AND classid=%s::int::oid AND objid=%s::int::oid AND objsubid=2)",
        (LOCK_CLASS, lock_key(vendor, account)),
    ).fetchone()
    return bool(row and row[0])


# --- opening a run, history ------------------------------------------------------------------


def open_run(url: str, run_id: str, *, lock: bool | str) -> tuple[PostgresLedger, Run]:
    """Open the ledger of the account that ran ``run_id``, and that run's history.

    Raises:
        UnknownRun: when the ledger holds no such run (or there is no ledger yet).
        ConfigError: when the database cannot be reached.
    """
    reader = open_history(url)
    if reader is None:
        raise UnknownRun(f"no ledger at {safe_url(url)}: give the --state the run used")
    try:
        run = find_run(reader.db, run_id)
    finally:
        reader.close()
    return PostgresLedger(url, vendor=run.vendor, account=run.account, lock=lock), run


class PostgresHistory:
    """The runs of a PostgreSQL ledger, read without any lock."""

    def __init__(self, db: psycopg.Connection[Any]) -> None:
        """Read runs through ``db``."""
        self._db: psycopg.Connection[Any] | None = db

    @property
    def db(self) -> psycopg.Connection[Any]:
        """Return the open connection.

        Raises:
            RuntimeError: when the history was closed.
        """
        if self._db is None:
            raise RuntimeError("the ledger is closed")
        return self._db

    def history(self, *, vendor: str | None = None, limit: int | None = None) -> list[Run]:
        """Return the runs of every account (only ``vendor``'s, if given), newest first."""
        return run_history(self.db, vendor=vendor, limit=limit)

    def close(self) -> None:
        """Close the connection; calling it again does nothing."""
        db, self._db = self._db, None
        if db is not None:
            db.close()


def open_history(url: str) -> PostgresHistory | None:
    """Connect to the ledger at ``url`` to list its runs; None when it holds no ledger.

    Creates nothing, changes nothing and takes no lock.

    Raises:
        LedgerTooNew: when a newer importer wrote the ledger.
        ConfigError: when the database cannot be reached.
    """
    db = connect(url)
    try:
        version = schema_version(db)
        if version is None:
            db.close()
            return None
        _refuse_newer(version, url)
    except BaseException:
        db.close()
        raise
    return PostgresHistory(db)


def run_history(db: psycopg.Connection[Any], *, vendor: str | None, limit: int | None) -> list[Run]:
    """Return the ledger's runs, newest first, each with its ending and totals made whole.

    A run the ledger calls ``running`` is still running while rows of it wait in the work
    queue (a planned import, whatever its workers), or while it is its account's newest run and
    a live session holds the account's run lock; otherwise it was ``CUT_SHORT``.
    """
    where, params = ("WHERE vendor=%s", [vendor]) if vendor else ("", [])
    rows = db.execute(
        f"SELECT {_RUN_COLUMNS}, EXISTS (SELECT 1 FROM importer.work w"
        "  WHERE w.run_id = r.run_id) AS queued"
        f" FROM importer.runs r {where} ORDER BY started_at DESC, run_id DESC LIMIT %s",
        (*params, limit),
    ).fetchall()
    runs: list[Run] = []
    seen: set[tuple[str, str]] = set()
    for *columns, queued in rows:
        found = _run(columns)
        newest = (found.vendor, found.account) not in seen
        seen.add((found.vendor, found.account))
        ending = found.ending
        if ending == "running" and not (
            queued or (newest and lock_held(db, found.vendor, found.account))
        ):
            ending = CUT_SHORT
        run = replace(found, ending=ending)
        runs.append(replace(run, totals=_whole_totals(db, run)))
    return runs


def still_running(url: str, run: Run) -> bool:
    """Return whether ``run`` may still be running: rows of it queued, or its lock held."""
    db = connect(url)
    try:
        queued = db.execute(
            "SELECT EXISTS (SELECT 1 FROM importer.work WHERE run_id=%s)", (run.run_id,)
        ).fetchone()
        return bool(queued and queued[0]) or lock_held(db, run.vendor, run.account)
    finally:
        db.close()


def _whole_totals(db: psycopg.Connection[Any], run: Run) -> dict[str, int]:
    """Return the run's counts per status and in doubt: as it ended, else from its rows."""
    stored = run.totals
    reasons = stored.get("reasons")
    if run.ending in ("finished", "aborted") and isinstance(reasons, Mapping):
        statuses = {name: int(stored.get(name, 0)) for name in TOTALS if name != "unknown"}
        unknown = int(reasons.get(Reason.OUTCOME_UNKNOWN.value, 0))
        return {"rows": sum(statuses.values()), **statuses, "unknown": unknown}
    counts = dict.fromkeys(("rows", *TOTALS), 0)
    for state, count in db.execute(
        "SELECT state, COUNT(*) FROM importer.run_rows WHERE run_id=%s GROUP BY state",
        (run.run_id,),
    ):
        counts["rows"] += count
        counts[STATUS_OF[State(state)].value] += count
        if state == State.UNKNOWN.value:
            counts["unknown"] += count
    return counts


def find_run(db: psycopg.Connection[Any], run_id: str) -> Run:
    """Return a run's history from an open ledger.

    Raises:
        UnknownRun: when there is no such run.
    """
    row = db.execute(
        f"SELECT {_RUN_COLUMNS} FROM importer.runs WHERE run_id=%s", (run_id,)
    ).fetchone()
    if row is None:
        latest = db.execute(
            "SELECT run_id FROM importer.runs ORDER BY started_at DESC LIMIT 3"
        ).fetchall()
        hint = ", ".join(each[0] for each in latest) or "none"
        raise UnknownRun(f"no run {run_id!r} in this ledger (latest runs: {hint})")
    return _run(row)


# --- migrations -----------------------------------------------------------------------------


def schema_version(db: psycopg.Connection[Any]) -> int | None:
    """Return the ledger's schema version; None when the database holds no ledger."""
    row = db.execute("SELECT to_regclass('importer.meta')").fetchone()
    if row is None or row[0] is None:
        return None
    found = db.execute("SELECT value FROM importer.meta WHERE key='schema_version'").fetchone()
    return int(found[0]) if found else 0


def migrate(db: psycopg.Connection[Any], url: str) -> None:
    """Bring the ledger to ``SCHEMA_VERSION`` in place, one step per version, atomically.

    Workers that start together wait on one advisory lock, so the ledger is migrated once.

    Raises:
        LedgerTooNew: when a newer importer wrote it.
        ConfigError: when the database refuses (no right to create the schema, say).
    """
    version = schema_version(db) or 0
    _refuse_newer(version, url)
    if version == SCHEMA_VERSION:
        return
    try:
        # A session lock taken before the transaction: a transaction that starts after the
        # lock was granted sees the tables the previous holder created.
        db.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_CLASS, MIGRATION_LOCK))
        try:
            with db.transaction():
                version = schema_version(db) or 0
                _refuse_newer(version, url)
                for step in MIGRATIONS[version:]:
                    step(db)
                db.execute(
                    "INSERT INTO importer.meta VALUES ('schema_version', %s)"
                    " ON CONFLICT (key) DO UPDATE SET value=EXCLUDED.value",
                    (str(SCHEMA_VERSION),),
                )
        finally:
            db.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, MIGRATION_LOCK))
    except psycopg.Error as error:
        raise ConfigError(
            f"cannot create the ledger at {safe_url(url)}: {_first_line(error)}"
        ) from None


def _refuse_newer(version: int, url: str) -> None:
    if version > SCHEMA_VERSION:
        raise LedgerTooNew(
            f"the ledger at {safe_url(url)} has schema version {version}, newer than this "
            f"importer knows ({SCHEMA_VERSION}): upgrade importer, or give another --state"
        )


def _create(db: psycopg.Connection[Any]) -> None:
    """Version 0 → 1: every table of the ledger."""
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


MIGRATIONS: tuple[Callable[[psycopg.Connection[Any]], None], ...] = (_create,)
"""Step ``n`` takes a ledger from version ``n`` to ``n + 1``."""


# --- values ---------------------------------------------------------------------------------


def retrying(attempt: Callable[[], Any]) -> Any:
    """Call ``attempt`` (one transaction), again when the server ended it to break a deadlock."""
    for remaining in range(RETRIES, 0, -1):
        try:
            return attempt()
        except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure):
            if remaining == 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _last_per_key(entries: Sequence[Known]) -> list[Known]:
    """Return one entry per identity, the last (an upsert cannot touch a row twice)."""
    return list({entry.row_key: entry for entry in entries}.values())


def _run_row_values(row: RunRow) -> tuple[Any, ...]:
    return (
        row.outcome.source_row,
        _text(row.row_key),
        *_outcome_values(row.outcome)[1:],
        _json(list(row.cells)),
    )


def _outcome_values(outcome: RowOutcome) -> tuple[Any, ...]:
    return (
        outcome.source_row,
        outcome.state.value,
        outcome.reason.value,
        _text(outcome.message) or "",
        outcome.http_status,
        _text(outcome.vendor_id),
        outcome.attempts,
    )


def _run_row(row: Sequence[Any]) -> RunRow:
    source_row, key, state, reason, message, status, vendor_id, attempts, cells = row
    outcome = RowOutcome(
        source_row, State(state), Reason(reason), message, status, vendor_id, attempts
    )
    return RunRow(outcome, key, tuple(json.loads(cells)))


def known_from_row(row: Sequence[Any]) -> Known:
    """Return a ``Known`` from a row of the ledger's identities (``_KNOWN_COLUMNS``)."""
    key, digest, state, reason, run_id, source_row, http_status, vendor_id, message = row
    return Known(
        key,
        digest,
        State(state),
        Reason(reason),
        run_id,
        source_row,
        http_status,
        vendor_id,
        message,
    )


def _run(row: Sequence[Any]) -> Run:
    run_id, vendor, account, started, finished, ending, source, columns, arguments, totals = row
    return Run(
        run_id=run_id,
        vendor=vendor,
        account=account,
        started_at=started,
        finished_at=finished,
        ending=ending,
        source_file=source,
        columns=tuple(json.loads(columns)),
        arguments=json.loads(arguments),
        totals=json.loads(totals),
    )


def _json(value: Any) -> str:
    """Return JSON text (NUL escaped as ``\\u0000``, which a text column can hold)."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _text(value: str | None) -> str | None:
    """Return ``value`` as PostgreSQL text can hold it: a NUL character becomes U+FFFD."""
    return None if value is None else value.replace("\x00", "\ufffd")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
